package dev.kvasir.gpu;

import dev.kvasir.gpu.tools.BatchGeneration;
import dev.kvasir.model.SharedData;
import dev.kvasir.model.Stories260KReference;
import dev.kvasir.model.cpu.ComputePool;
import dev.kvasir.model.cpu.CpuStepExecutor;
import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.exec.HostKvBlock;
import dev.kvasir.model.sampling.SamplingParams;
import dev.kvasir.model.weights.ModelLoader;
import dev.kvasir.model.weights.ModelWeights;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * stories260K (f32) on the GPU: greedy outputs equal the independent references
 * ({@code reference/stories260K.json}) and the CPU engine, every prompt in one batch, with each
 * decode step queued before the last one's tokens are back and one step at a time.
 */
@GpuTest
class GpuStories260KTest {
    private static final Logger log = LoggerFactory.getLogger(GpuStories260KTest.class);

    @Test
    void greedyOutputsEqualTheReferenceAndTheCpuEngine() {
        Gpu.assume();
        Stories260KReference ref = Stories260KReference.load();
        List<int[]> prompts = ref.promptIds();
        int steps = ref.commonGreedySteps();
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
            // each step queued while the one before runs, its tokens taken on the device (BatchGeneration's default),
            // gives the tokens of one step at a time
            int[][] stepByStep = new BatchGeneration(gpu).stepByStep().generate(prompts, steps);
            for (int i = 0; i < prompts.size(); i++) assertArrayEquals(stepByStep[i], onGpu[i], "prompt " + i + ": queued steps vs one at a time");
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

    /**
     * The same greedy generation with each smaller KV type (the weights stay f32): logs, per type,
     * how many prompts give exactly the CPU engine's tokens and where the others first differ. With
     * fp16 K/V the first token of every prompt must still be the CPU's. A block swapped out and back
     * in (to another block) comes back bit for bit, its scales included.
     */
    @Test
    void greedyWithSmallerKvCacheTypes() {
        Gpu.assume();
        Stories260KReference ref = Stories260KReference.load();
        List<int[]> prompts = ref.promptIds();
        int steps = ref.commonGreedySteps();
        GpuDeviceInfo card = GpuDevices.list().getFirst();
        try (ModelWeights w = ModelLoader.load(SharedData.require("models/stories260K/stories260K-f32.gguf"));
             ComputePool pool = ComputePool.ofAvailableCores();
             CpuStepExecutor cpu = new CpuStepExecutor(new LlamaCpuModel(w.config(), w.weights(), pool), 16, 256)) {
            int[][] onCpu = new BatchGeneration(cpu).generate(prompts, steps);
            for (KvCacheDtype t : new KvCacheDtype[]{KvCacheDtype.FP16, KvCacheDtype.BF16, KvCacheDtype.INT8, KvCacheDtype.FP8}) {
                if (t.unsupportedReason(card.computeMajor(), card.computeMinor()) != null) {
                    log.info("{} KV skipped on {}", t, card);
                    continue;
                }
                try (GpuStepExecutor gpu = GpuStepExecutor.create(w, GpuOptions.defaults().withMaxKvBlocks(256).withKvCacheDtype(t.toString()))) {
                    assertEquals(t, gpu.kvCacheDtype());
                    int[][] onGpu = new BatchGeneration(gpu).generate(prompts, steps);
                    int identical = 0;
                    StringBuilder firstDiffs = new StringBuilder();
                    for (int i = 0; i < prompts.size(); i++) {
                        int at = Arrays.mismatch(onCpu[i], onGpu[i]);
                        if (at < 0) identical++;
                        firstDiffs.append(i == 0 ? "" : ",").append(at);
                        if (t == KvCacheDtype.FP16) assertEquals(onCpu[i][0], onGpu[i][0], "prompt " + i + ": first token with fp16 KV");
                    }
                    log.info("stories260K greedy, {} steps, {} KV: {} of {} prompts identical to the CPU engine (first difference per prompt, -1 = none: {})",
                            steps, t, identical, prompts.size(), firstDiffs);
                    HostKvBlock out = gpu.swapOut(3);
                    long expectedBytes = PagedKvPool.bytesPerBlock(w.config(), 16, t);
                    assertEquals((expectedBytes + 3) / 4, out.data().length, t + ": a swapped-out block holds data and scales");
                    gpu.swapIn(out, 200);
                    HostKvBlock back = gpu.swapOut(200);
                    for (int i = 0; i < out.data().length; i++) {
                        assertTrue(Float.floatToRawIntBits(out.data()[i]) == Float.floatToRawIntBits(back.data()[i]), t + ": swapped block word " + i);
                    }
                }
            }
        }
    }
}
