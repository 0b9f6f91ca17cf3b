package dev.kvasir.model.exec;

/**
 * A token sampled for a sequence, with its log-probability under the model's raw distribution
 * and, when asked, the most likely alternatives ({@code topTokens}/{@code topLogprobs}, best first).
 */
public record SampledToken(long sequenceId, int token, float logprob, int[] topTokens, float[] topLogprobs) {
}
