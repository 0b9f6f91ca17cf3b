package dev.kvasir.gpu;

import dev.kvasir.gpu.tools.BatchGeneration;
import dev.kvasir.model.SharedData;
import dev.kvasir.model.Stories260KReference;
import dev.kvasir.model.cpu.ComputePool;
import dev.kvasir.model.cpu.CpuStepExecutor;
import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.sampling.SamplingParams;
import dev.kvasir.model.weights.ModelLoader;
import dev.kvasir.model.weights.ModelWeights;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * stories260K (f32) on the GPU: greedy outputs equal the independent references
 * ({@code reference/stories260K.json}) and the CPU engine, every prompt in one batch.
 */
@GpuTest
class GpuStories260KTest {
    private static final Logger log = LoggerFactory.getLogger(GpuStories260KTest.class);

    @Test
    void greedyOutputsEqualTheReferenceAndTheCpuEngine() {
        Gpu.assume();
        Stories260KReference ref = Stories260KReference.load();
        List<int[]> prompts = new ArrayList<>();
        int steps = Integer.MAX_VALUE;
        for (Stories260KReference.Prompt p : ref.prompts()) {
            prompts.add(p.promptIds());
            steps = Math.min(steps, p.greedyIds().length);
        }
        try (ModelWeights w = ModelLoader.load(SharedData.require("models/stories260K/stories260K-f32.gguf"));
             GpuStepExecutor gpu = GpuStepExecutor.create(w, GpuOptions.defaults().withMaxKvBlocks(256));
             ComputePool pool = ComputePool.ofAvailableCores();
             CpuStepExecutor cpu = new CpuStepExecutor(new LlamaCpuModel(w.config(), w.weights(), pool), 16, 256)) {
            int[][] onGpu = new BatchGeneration(gpu).generate(prompts, steps);
            int[][] onCpu = new BatchGeneration(cpu).generate(prompts, steps);
            for (int i = 0; i < prompts.size(); i++) {
                int[] expected = Arrays.copyOf(ref.prompts().get(i).greedyIds(), steps);
                log.info("prompt {}: gpu {}", i, Arrays.toString(onGpu[i]));
                assertArrayEquals(expected, onGpu[i], "prompt " + i + ": GPU vs reference");
                assertArrayEquals(onCpu[i], onGpu[i], "prompt " + i + ": GPU vs CPU engine");
            }
            // decode without CUDA graphs gives the same tokens as with them
            gpu.useGraphs(false);
            int[][] plain = new BatchGeneration(gpu).generate(prompts, steps);
            gpu.useGraphs(true);
            for (int i = 0; i < prompts.size(); i++) assertArrayEquals(onGpu[i], plain[i], "prompt " + i + ": graphs vs plain launches");
            // prefill through the per-token attention kernel instead of the tiled one: the same tokens
            gpu.useTiledPrefill(false);
            int[][] untiled = new BatchGeneration(gpu).generate(prompts, steps);
            gpu.useTiledPrefill(true);
            for (int i = 0; i < prompts.size(); i++) assertArrayEquals(onGpu[i], untiled[i], "prompt " + i + ": tiled vs per-token prefill attention");
            // sampling (temperature, top-k, top-p, min-p) on the device: the GPU executor's draws equal the CPU engine's
            SamplingParams sampled = SamplingParams.of(0.8f, 40, 0.9f, null).withMinP(0.02f);
            int[][] drawnGpu = new BatchGeneration(gpu, sampled, 1234).generate(prompts, 64);
            int[][] drawnCpu = new BatchGeneration(cpu, sampled, 1234).generate(prompts, 64);
            for (int i = 0; i < prompts.size(); i++) assertArrayEquals(drawnCpu[i], drawnGpu[i], "prompt " + i + ": sampled tokens, GPU vs CPU");
            // and with penalties (applied on the device too)
            SamplingParams penalized = SamplingParams.of(0.9f, 0, 0.95f, null).withPenalties(1.3f, 0.4f, 0.2f);
            int[][] penGpu = new BatchGeneration(gpu, penalized, 99).generate(prompts, 64);
            int[][] penCpu = new BatchGeneration(cpu, penalized, 99).generate(prompts, 64);
            for (int i = 0; i < prompts.size(); i++) assertArrayEquals(penCpu[i], penGpu[i], "prompt " + i + ": penalized sampled tokens, GPU vs CPU");
            // one prompt alone gives the same tokens as inside the batch
            int[][] alone = new BatchGeneration(gpu).generate(List.of(prompts.get(0)), steps);
            assertArrayEquals(onGpu[0], alone[0], "batch of one vs batch of all");
        }
    }
}
