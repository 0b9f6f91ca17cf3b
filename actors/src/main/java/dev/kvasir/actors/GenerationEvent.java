package dev.kvasir.actors;

/**
 * What the requester of a {@link RouterCommand.Submit} receives. Order per request: {@link Accepted},
 * then per sample its {@link Token}s (index 0, 1, ... without gaps) and one {@link Finished};
 * samples interleave. A refused request gets only {@link Rejected}; an engine failure may also end an
 * accepted request with {@link Rejected} ({@code internal}).
 */
public sealed interface GenerationEvent {

    String requestId();

    /** The request is queued. {@code promptTokens} is the prompt length; {@code samples} = n. */
    record Accepted(String requestId, int promptTokens, int samples, long seed) implements GenerationEvent {
    }

    /**
     * One generated token of one sample.
     *
     * @param index        position among the sample's generated tokens, from 0 without gaps
     * @param text         the text this token makes visible: may be empty while bytes of a UTF-8
     *                     character or a possible stop string are held back
     * @param logprob      log-probability of the token under the raw distribution; NaN unless asked
     * @param topLogprobs  the most likely alternatives, best first; empty unless asked
     */
    record Token(String requestId, int sampleIndex, int index, int tokenId, String text, float logprob,
                 java.util.List<TopLogprob> topLogprobs) implements GenerationEvent {
    }

    /**
     * A sample is done.
     *
     * @param trailingText       text held back until the end (an unfinished stop-string prefix or an
     *                           incomplete UTF-8 character), to append after the last token's text; usually empty
     * @param cachedPromptTokens prompt tokens whose KV came from the prefix cache instead of being computed
     */
    record Finished(String requestId, int sampleIndex, FinishReason finishReason, int promptTokens, int completionTokens,
                    int cachedPromptTokens, String trailingText) implements GenerationEvent {
    }

    /** The request was refused (or failed); no more events follow for it. */
    record Rejected(String requestId, RejectCode code, String message) implements GenerationEvent {
    }

    /** An alternative token with its log-probability. */
    record TopLogprob(int tokenId, String text, float logprob) {
    }
}
