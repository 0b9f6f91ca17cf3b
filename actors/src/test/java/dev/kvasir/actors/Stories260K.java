package dev.kvasir.actors;

import dev.kvasir.model.LoadedModel;
import dev.kvasir.model.SharedData;
import dev.kvasir.model.cpu.ComputePool;
import dev.kvasir.model.cpu.CpuStepExecutor;
import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.generate.GenerationRequest;
import dev.kvasir.model.generate.Generator;
import dev.kvasir.model.generate.TokenSink;
import dev.kvasir.model.sampling.SamplingParams;

import java.util.List;
import java.util.Random;

/** The stories260K test model with an oracle: the single-sequence {@link Generator}. */
public final class Stories260K implements AutoCloseable {
    public final LoadedModel model;
    public final ComputePool pool = new ComputePool(2);
    private final Generator generator;

    public Stories260K() {
        this.model = LoadedModel.open(SharedData.require("models/stories260K/stories260K-f32.gguf"));
        this.generator = new Generator(new LlamaCpuModel(model.weights().config(), model.weights().weights(), pool), model.tokenizer());
    }

    public CpuStepExecutor executor(int blockSize, int blocks) {
        return new CpuStepExecutor(new LlamaCpuModel(model.weights().config(), model.weights().weights(), pool), blockSize, blocks);
    }

    public int contextLength() {
        return model.weights().config().contextLength();
    }

    /** What the request produces when run alone. */
    public int[] alone(int[] prompt, int maxTokens, SamplingParams sampling, List<String> stop) {
        return generator.generate(new GenerationRequest(prompt, maxTokens, sampling, stop), TokenSink.NONE).tokens();
    }

    /** A BOS-led prompt of {@code length} ordinary tokens, reproducible from {@code seed}. */
    public static int[] prompt(long seed, int length) {
        Random r = new Random(seed);
        int[] p = new int[length];
        p[0] = 1;
        for (int i = 1; i < length; i++) p[i] = 3 + r.nextInt(509);
        return p;
    }

    @Override
    public void close() {
        pool.close();
        model.close();
    }
}
