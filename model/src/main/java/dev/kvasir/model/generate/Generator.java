package dev.kvasir.model.generate;

import dev.kvasir.model.cpu.CpuStepExecutor;
import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.tokenizer.Tokenizer;

/**
 * Generates one sequence on the CPU engine: {@link StepGenerator}'s loop over a
 * {@link CpuStepExecutor} sized for this one sequence, so the CLI, the serving core and the GPU
 * backend share one generation loop and one set of stopping rules.
 */
public final class Generator {
    private static final int BLOCK_SIZE = 16;
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
        int context = model.config().contextLength();
        int prompt = request.promptTokens().length;
        if (prompt > context) throw new PromptTooLongException(prompt, context);
        int positions = Math.min(context, prompt + request.maxTokens());
        int blocks = Math.max(1, (positions + BLOCK_SIZE - 1) / BLOCK_SIZE);
        try (CpuStepExecutor executor = new CpuStepExecutor(model, BLOCK_SIZE, blocks)) {
            return new StepGenerator(executor, tokenizer).generate(request, sink);
        }
    }
}
