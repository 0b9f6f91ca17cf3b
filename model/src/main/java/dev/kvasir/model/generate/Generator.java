package dev.kvasir.model.generate;

import dev.kvasir.model.cpu.KvCache;
import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.sampling.Sampler;
import dev.kvasir.model.tokenizer.StreamingDetokenizer;
import dev.kvasir.model.tokenizer.Tokenizer;

import java.util.Arrays;

/**
 * Generates one sequence on the CPU engine: prefill the prompt, then sample token by token until
 * an end-of-generation token, a stop string, max_tokens or the end of the context window.
 */
public final class Generator {
    private final LlamaCpuModel model;
    private final Tokenizer tokenizer;

    public Generator(LlamaCpuModel model, Tokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** Encodes a prompt as the model's tokenizer does it (BOS when the model says so). */
    public int[] encodePrompt(String prompt) {
        return tokenizer.encode(prompt, tokenizer.addBosByDefault(), false);
    }

    public GenerationResult generate(GenerationRequest request, TokenSink sink) {
        int[] prompt = request.promptTokens();
        int context = model.config().contextLength();
        if (prompt.length > context) throw new PromptTooLongException(prompt.length, context);
        int budget = Math.min(request.maxTokens(), context - prompt.length);
        int[] history = Arrays.copyOf(prompt, prompt.length + budget);
        int length = prompt.length;

        KvCache cache = model.newCache(Math.min(context, prompt.length + budget));
        Sampler sampler = new Sampler(request.sampling());
        StreamingDetokenizer detok = tokenizer.streamingDetokenizer();
        StopStrings stops = new StopStrings(request.stop());

        long t0 = System.nanoTime();
        float[] logits = budget > 0 ? model.forward(prompt, cache, false) : null;
        long t1 = System.nanoTime();
        FinishReason reason = FinishReason.LENGTH;
        int generated = 0;
        while (generated < budget) {
            int token = sampler.sample(logits, history, length, prompt.length);
            if (tokenizer.isEndOfGeneration(token)) {
                reason = FinishReason.STOP;
                break;
            }
            history[length++] = token;
            String visible = stops.append(detok.push(token));
            sink.accept(generated, token, visible);
            generated++;
            if (stops.matched()) {
                reason = FinishReason.STOP;
                break;
            }
            if (generated < budget) logits = model.forward(new int[]{token}, cache, false);
        }
        if (!stops.matched()) {
            String tail = stops.append(detok.flush()) + stops.finish();
            if (!tail.isEmpty()) sink.flush(tail);
        }
        long t2 = System.nanoTime();
        return new GenerationResult(prompt, Arrays.copyOfRange(history, prompt.length, length), stops.text(), reason,
                t1 - t0, t2 - t1);
    }
}
