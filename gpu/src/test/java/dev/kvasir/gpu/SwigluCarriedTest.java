package dev.kvasir.gpu;

import dev.kvasir.gpu.tools.BatchGeneration;
import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.synth.ModelShape;
import dev.kvasir.model.synth.SyntheticModelWriter;
import dev.kvasir.model.weights.ModelLoader;
import dev.kvasir.model.weights.ModelWeights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The forward pass with a one-token step's SwiGLU carried by the gate/up GEMV
 * (Matmuls.carriesSwiglu) computes the bits of the pass with swiglu_q8 launched after it: the
 * logits of a one-token step and a greedy continuation of one prompt (batch-1 decode in CUDA graphs),
 * INT8 and INT4 weights quantized on load from a synthetic tinystories-15m (stories260K's hidden size,
 * 172, is no multiple of 32, so its down projection is never quantized). QuantKernelCheckTest checks
 * the kernels; this checks the wiring (buffers, the int8 activations' hand-over, the carried norms).
 * Both runs take the "rows" GEMV layout, whose order of summation the carrying kernel shares, and
 * carry the SwiGLU for INT8 too (by default only INT4 weights do).
 */
@GpuTest
class SwigluCarriedTest {
    private static final Logger log = LoggerFactory.getLogger(SwigluCarriedTest.class);

    @Test
    void carriedSwigluDecodesTheSameBitsAsItsOwnLaunch(@TempDir Path dir) {
        Gpu.assume();
        Path file = dir.resolve("tinystories-15m-bf16.gguf");
        SyntheticModelWriter.write(ModelShape.named("tinystories-15m"), GgmlType.BF16, 11, file);
        try (ModelWeights w = ModelLoader.load(file)) {
            int[] prompt = {1, 400, 2711, 9013, 315, 77, 31000, 4096, 12345, 600, 281, 19999};
            for (String quantization : new String[]{"int8", "int4"}) {
                Run launched = run(w, quantization, null, prompt);
                // the form that streams its weights before its wait three times (a read that races its producer
                // showed now and then: quant.cuh, QUANT_GEMV_GLU32_KERNEL), then the one that waits first
                for (int round = 0; round < 4; round++) {
                    Run carried = run(w, quantization, round < 3 ? "true" : "false", prompt);
                    assertEquals(launched.logits.length, carried.logits.length);
                    for (int j = 0; j < carried.logits.length; j++) {
                        if (Float.floatToRawIntBits(carried.logits[j]) != Float.floatToRawIntBits(launched.logits[j])) {
                            throw new AssertionError(quantization + ": logit " + j + " is " + carried.logits[j] + " with the SwiGLU carried, "
                                    + launched.logits[j] + " with its own launch");
                        }
                    }
                    assertArrayEquals(launched.greedy, carried.greedy, quantization + ": greedy continuation, round " + round);
                }
                log.info("{}: SwiGLU carried by the GEMVs and launched on its own: the same logits and greedy tokens", quantization);
            }
        }
    }

    private record Run(float[] logits, int[] greedy) {}

    /** gluEarly: null for the SwiGLU's own launch, else kvasir.gpu.glu-early of the carrying GEMV. */
    private static Run run(ModelWeights w, String quantization, String gluEarly, int[] prompt) {
        GpuStepExecutor gpu = Gpu.withProperties(Map.of("kvasir.gpu.fuse-swiglu", Boolean.toString(gluEarly != null), "kvasir.gpu.qgemv", "rows",
                        "kvasir.gpu.glu-early", gluEarly == null ? "true" : gluEarly),
                () -> GpuStepExecutor.create(w, GpuOptions.defaults().withMaxKvBlocks(64).withQuantization(quantization)));
        try (gpu) {
            float[] logits = new GpuChunkScorer(gpu).logits(new int[]{prompt[0]});
            int[] greedy = new BatchGeneration(gpu).generate(List.of(prompt), 16)[0];
            return new Run(logits, greedy);
        }
    }
}
