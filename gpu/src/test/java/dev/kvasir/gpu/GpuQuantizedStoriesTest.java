package dev.kvasir.gpu;

import dev.kvasir.gpu.tools.BatchGeneration;
import dev.kvasir.model.SharedData;
import dev.kvasir.model.Stories260KReference;
import dev.kvasir.model.cpu.ComputePool;
import dev.kvasir.model.cpu.CpuStepExecutor;
import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.exec.Step;
import dev.kvasir.model.weights.ModelLoader;
import dev.kvasir.model.weights.ModelWeights;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * stories260K's Q8_0 and Q4_0 files on the GPU with their matrices repacked to INT8 / INT4
 * (quantization auto) against the CPU engine: the prompts' last logits (relative error, bounded
 * loosely) and greedy continuations (agreement reported, not required).
 * <p>
 * Why not exact: both engines use the same stored weights and both round decode activations to
 * int8 per 32 columns, but the GPU's prefill runs on the bf16 copy of the weights with tf32
 * activations (the CPU: int8 activations), sums in another order and keeps the KV cache in fp32
 * (the CPU: fp16 for quantized models). Logits then differ by ~1e-3..1e-2 relative, enough to flip
 * a greedy choice between two near-equal tokens, after which the continuations part.
 */
@GpuTest
class GpuQuantizedStoriesTest {
    private static final Logger log = LoggerFactory.getLogger(GpuQuantizedStoriesTest.class);
    private static final int STEPS = 24;

    @Test
    void q8_0AsInt8() {
        compare("models/stories260K/stories260K-q8_0.gguf", "INT8/G32 ×15");
    }

    @Test
    void q4_0AsInt4() {
        compare("models/stories260K/stories260K-q4_0.gguf", "INT4/G32 ×15");
    }

    private void compare(String file, String expectedLayouts) {
        Gpu.assume();
        Stories260KReference ref = Stories260KReference.load();
        List<int[]> prompts = new ArrayList<>();
        for (Stories260KReference.Prompt p : ref.prompts()) prompts.add(p.promptIds());
        try (ModelWeights w = ModelLoader.load(SharedData.require(file));
             GpuStepExecutor gpu = GpuStepExecutor.create(w, GpuOptions.defaults().withMaxKvBlocks(256));
             GpuStepExecutor dense = GpuStepExecutor.create(w, GpuOptions.defaults().withQuantization("none").withMaxKvBlocks(256));
             ComputePool pool = ComputePool.ofAvailableCores();
             CpuStepExecutor cpu = new CpuStepExecutor(new LlamaCpuModel(w.config(), w.weights(), pool), 16, 256)) {
            // q/k/v, o, gate/up and the output (tied: the embedding) per layer; ffn_down is F16 in these files
            String layouts = gpu.describeWeights();
            log.info("{}: {}", file, layouts);
            assertTrue(layouts.contains(expectedLayouts), layouts);
            assertTrue(gpu.weightBytes() < dense.weightBytes(), "quantized matrices stream fewer bytes");

            LlamaCpuModel model = new LlamaCpuModel(w.config(), w.weights(), pool);
            float[] quantized = lastLogits(gpu, prompts);
            float[] bf16 = lastLogits(dense, prompts);
            int vocab = w.config().vocabSize();
            double worstQ = 0, worstB = 0;
            for (int i = 0; i < prompts.size(); i++) {
                float[] c = model.forward(prompts.get(i), model.newCache(256), false);
                double[] ref64 = new double[vocab];
                for (int v = 0; v < vocab; v++) ref64[v] = c[v];
                worstQ = Math.max(worstQ, KernelCheckTest.relativeError(Arrays.copyOfRange(quantized, i * vocab, (i + 1) * vocab), ref64));
                worstB = Math.max(worstB, KernelCheckTest.relativeError(Arrays.copyOfRange(bf16, i * vocab, (i + 1) * vocab), ref64));
            }
            log.info("{}: last-position logits vs the CPU engine, worst relative error: quantized {}, bf16 {}", file, worstQ, worstB);
            assertTrue(worstQ < 5e-2, "quantized logits vs CPU: " + worstQ);

            // one prompt at a time: decode steps of one token take the dp4a GEMV
            int agreeing = 0, total = 0;
            for (int i = 0; i < prompts.size(); i++) {
                int[] g = new BatchGeneration(gpu).generate(List.of(prompts.get(i)), STEPS)[0];
                int[] c = new BatchGeneration(cpu).generate(List.of(prompts.get(i)), STEPS)[0];
                int same = 0;
                while (same < STEPS && g[same] == c[same]) same++;
                log.info("{} prompt {}: GPU and CPU greedy agree on the first {} of {} tokens\n  gpu {}\n  cpu {}", file, i, same, STEPS,
                        Arrays.toString(g), Arrays.toString(c));
                agreeing += same;
                total += STEPS;
            }
            log.info("{}: greedy agreement {} of {} leading tokens", file, agreeing, total);
            // all prompts in one batch: decode steps of more than four tokens take the bf16 copy of the matrices
            int[][] batchGpu = new BatchGeneration(gpu).generate(prompts, STEPS);
            int[][] batchCpu = new BatchGeneration(cpu).generate(prompts, STEPS);
            int batchAgreeing = 0;
            for (int i = 0; i < prompts.size(); i++) {
                int same = 0;
                while (same < STEPS && batchGpu[i][same] == batchCpu[i][same]) same++;
                batchAgreeing += same;
            }
            log.info("{}: greedy agreement in one batch of {}: {} of {} leading tokens", file, prompts.size(), batchAgreeing, total);
        }
    }

    /** The last position's logits of each prompt, all prompts in one prefill step. */
    private static float[] lastLogits(GpuStepExecutor e, List<int[]> prompts) {
        return e.logits(Step.greedyPrefill(prompts, e.kvGeometry()));
    }
}
