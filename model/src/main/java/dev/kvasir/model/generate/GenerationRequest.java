package dev.kvasir.model.generate;

import dev.kvasir.model.sampling.SamplingParams;

import java.util.List;

/** One generation: the encoded prompt, how many tokens at most, how to sample, where to stop. */
public record GenerationRequest(int[] promptTokens, int maxTokens, SamplingParams sampling, List<String> stop) {
    public GenerationRequest {
        if (promptTokens.length == 0) throw new IllegalArgumentException("the prompt encodes to no tokens");
        if (maxTokens < 0) throw new IllegalArgumentException("max_tokens must be >= 0, got " + maxTokens);
        stop = stop == null ? List.of() : List.copyOf(stop);
        for (String s : stop) if (s.isEmpty()) throw new IllegalArgumentException("stop strings must not be empty");
    }
}
