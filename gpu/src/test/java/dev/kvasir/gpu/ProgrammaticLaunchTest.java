package dev.kvasir.gpu;

import dev.kvasir.gpu.tools.BatchGeneration;
import dev.kvasir.model.SharedData;
import dev.kvasir.model.Stories260KReference;
import dev.kvasir.model.weights.ModelLoader;
import dev.kvasir.model.weights.ModelWeights;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Programmatic dependent launch changes when kernels start, never what they compute: with it on
 * (each kernel starting while the one before drains, the decode products streaming weights before
 * they wait) the logits of stories260K equal those of plain launches bit for bit — decode steps of
 * 1–4 rows (the GEMV paths, in CUDA graphs) and larger ones (the batched products, prefill attention)
 * — for fp32, INT8 and INT4 weights, and so do greedy continuations. A kernel that read its
 * predecessor's output before grid_wait() would, now and then, read stale values here.
 */
@GpuTest
class ProgrammaticLaunchTest {
    private static final Logger log = LoggerFactory.getLogger(ProgrammaticLaunchTest.class);
    private static final int[] CHUNK_LENGTHS = {1, 2, 3, 4, 9, 33, 100};

    @Test
    void programmaticLaunchComputesTheSameBitsAsPlainLaunches() {
        Gpu.assume();
        Assumptions.assumeTrue(GpuDevices.list().getFirst().computeMajor() >= 9, "programmatic launch needs sm_90 or newer");
        Stories260KReference ref = Stories260KReference.load();
        List<int[]> prompts = ref.promptIds();
        int steps = ref.commonGreedySteps();
        // the prompts, each followed by its reference continuation: a stretch of real text to score
        int[] text = IntStream.range(0, prompts.size())
                .flatMap(p -> IntStream.concat(Arrays.stream(prompts.get(p)), Arrays.stream(ref.prompts().get(p).greedyIds())))
                .toArray();
        try (ModelWeights w = ModelLoader.load(SharedData.require("models/stories260K/stories260K-f32.gguf"))) {
            for (String quantization : new String[]{"none", "int8", "int4"}) {
                Run on = run(w, quantization, true, text, prompts, steps);
                Run off = run(w, quantization, false, text, prompts, steps);
                for (int i = 0; i < CHUNK_LENGTHS.length; i++) {
                    float[] a = on.logits.get(i), b = off.logits.get(i);
                    assertEquals(b.length, a.length);
                    for (int j = 0; j < a.length; j++) {
                        if (Float.floatToRawIntBits(a[j]) != Float.floatToRawIntBits(b[j])) {
                            throw new AssertionError(quantization + ", " + CHUNK_LENGTHS[i] + " rows: logit " + j + " is " + a[j]
                                    + " with programmatic launch, " + b[j] + " without");
                        }
                    }
                }
                for (int p = 0; p < prompts.size(); p++) {
                    assertArrayEquals(off.batch[p], on.batch[p], quantization + ", prompt " + p + " in the batch");
                    assertArrayEquals(off.alone[p], on.alone[p], quantization + ", prompt " + p + " alone");
                }
                log.info("programmatic vs plain launches, {} weights: logits of {} step sizes and greedy tokens of {} prompts identical",
                        quantization, CHUNK_LENGTHS.length, prompts.size());
            }
        }
    }

    private record Run(List<float[]> logits, int[][] batch, int[][] alone) {
    }

    private static Run run(ModelWeights w, String quantization, boolean programmatic, int[] text, List<int[]> prompts, int steps) {
        GpuStepExecutor gpu = Gpu.withProperties(Map.of("kvasir.gpu.pdl", Boolean.toString(programmatic)),
                () -> GpuStepExecutor.create(w, GpuOptions.defaults().withMaxKvBlocks(256).withQuantization(quantization)));
        try (gpu) {
            assertEquals(programmatic, gpu.programmaticLaunch());
            GpuChunkScorer scorer = new GpuChunkScorer(gpu);
            List<float[]> logits = new ArrayList<>();
            for (int n : CHUNK_LENGTHS) {
                assertTrue(n <= text.length, "the reference text holds " + text.length + " tokens");
                logits.add(scorer.logits(Arrays.copyOf(text, n)));
            }
            int[][] batch = new BatchGeneration(gpu).generate(prompts, steps);
            int[][] alone = new int[prompts.size()][];
            for (int p = 0; p < prompts.size(); p++) alone[p] = new BatchGeneration(gpu).generate(List.of(prompts.get(p)), steps)[0];
            return new Run(logits, batch, alone);
        }
    }
}
