package dev.kvasir.actors;

import dev.kvasir.model.exec.HostKvBlock;
import dev.kvasir.model.generate.StopStrings;
import dev.kvasir.model.tokenizer.StreamingDetokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * One sample of a request as the scheduler sees it: its tokens (prompt, then generated), how many
 * of them have KV in the cache, and where it is in its life. Mutable, owned by the router actor.
 */
final class Sequence {
    enum Status { WAITING, RUNNING, SWAPPING_OUT, SWAPPED, FINISHED }

    final long id;
    final ActiveRequest request;
    final int sampleIndex;
    final long seed;
    final int promptLength;
    final StreamingDetokenizer detokenizer;
    final StopStrings stops;
    private int[] tokens;
    private int length;
    /** Positions whose keys and values are in the KV cache. */
    int computed;
    Status status = Status.WAITING;
    /** An n > 1 request's single sequence before its prompt is in the cache; it forks then. */
    boolean forkPending;
    int cachedPromptTokens;
    long lastTokenNanos;
    /** Contents of the blocks swapped out to host memory, in table order. */
    List<HostKvBlock> swappedBlocks;

    /** {@code resumed}: output generated before (elsewhere); it follows the prompt and counts as generated. */
    Sequence(long id, ActiveRequest request, int sampleIndex, long seed, int[] prompt, int[] resumed,
             StreamingDetokenizer detokenizer, StopStrings stops) {
        this.id = id;
        this.request = request;
        this.sampleIndex = sampleIndex;
        this.seed = seed;
        this.promptLength = prompt.length;
        this.tokens = Arrays.copyOf(prompt, prompt.length + resumed.length + 16);
        System.arraycopy(resumed, 0, tokens, prompt.length, resumed.length);
        this.length = prompt.length + resumed.length;
        this.detokenizer = detokenizer;
        this.stops = stops;
    }

    int length() {
        return length;
    }

    int[] tokens() {
        return tokens;
    }

    int generated() {
        return length - promptLength;
    }

    void append(int token) {
        if (length == tokens.length) tokens = Arrays.copyOf(tokens, tokens.length * 2);
        tokens[length++] = token;
    }

    /** How far the next steps should compute: all tokens, or the prompt less one before an n > 1 fork. */
    int target() {
        return forkPending ? promptLength - 1 : length;
    }

    boolean live() {
        return status != Status.FINISHED;
    }

    @Override
    public String toString() {
        return "Sequence[" + request.requestId + "#" + sampleIndex + ", id " + id + ", " + status + ", " + computed + "/" + length + "]";
    }
}
