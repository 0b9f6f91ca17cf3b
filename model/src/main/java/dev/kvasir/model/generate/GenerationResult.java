package dev.kvasir.model.generate;

/**
 * What a generation produced. {@code tokens} are the sampled ids (an end-of-generation token that
 * stopped it is not among them); {@code text} is their text, cut before a stop string.
 */
public record GenerationResult(int[] promptTokens, int[] tokens, String text, FinishReason finishReason,
                               long prefillNanos, long decodeNanos) {

    /** Generated tokens per second of decoding (prefill excluded). */
    public double tokensPerSecond() {
        if (tokens.length <= 1 || decodeNanos <= 0) return 0;
        return (tokens.length - 1) / (decodeNanos / 1e9);
    }
}
