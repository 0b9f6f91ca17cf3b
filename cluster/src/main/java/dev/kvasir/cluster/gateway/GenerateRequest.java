package dev.kvasir.cluster.gateway;

import dev.kvasir.model.sampling.SamplingParams;

import java.util.List;

/**
 * A validated generation request, as both the HTTP API and WebSocket frames give it.
 *
 * @param model        the model asked for; null = the node's model
 * @param maxTokens    most tokens per sample; null = up to the end of the context window
 * @param logprobs     report log-probabilities of the chosen tokens
 * @param topLogprobs  and this many alternatives per token
 * @param includeUsage streaming: send a last chunk with {@code usage} ({@code stream_options.include_usage})
 */
public record GenerateRequest(String model, PromptInput prompt, Integer maxTokens, SamplingParams sampling,
                              List<String> stop, int n, boolean logprobs, int topLogprobs, boolean stream,
                              boolean includeUsage) {
    public GenerateRequest {
        stop = List.copyOf(stop);
    }
}
