package dev.kvasir.model.exec;

import dev.kvasir.model.sampling.SamplingParams;

/**
 * How to sample a sequence's next token. {@code history[0 .. historyLength)} is prompt plus
 * generated ids (generated from index {@code generatedFrom}), read for penalties and to make the
 * draw depend only on (seed, token index). {@code topLogprobs} > 0 asks for that many alternatives.
 */
public record SamplingRequest(SamplingParams params, long seed, int[] history, int historyLength, int generatedFrom,
                              boolean logprobs, int topLogprobs) {
}
