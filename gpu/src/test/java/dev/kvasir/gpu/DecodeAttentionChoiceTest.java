package dev.kvasir.gpu;

import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.arch.RopeLayout;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which decode attention kernel a head shape and step size get (host side, no GPU needed). */
class DecodeAttentionChoiceTest {

    @Test
    void llama3ShapesTakeTheLaneKernelForFullStepsAndTheGroupedOneForSmallOnes() {
        ModelConfig llama3 = shape(32, 8, 128);
        assertEquals("attention_g4w_", GpuForwardPass.decodeAttention(llama3, 1));
        assertEquals("attention_g4w_", GpuForwardPass.decodeAttention(llama3, 16));
        assertEquals("attention_lpw_", GpuForwardPass.decodeAttention(llama3, 17));
        assertEquals(256, GpuForwardPass.decodeAttentionThreads("attention_lpw_"));
        assertEquals(512, GpuForwardPass.decodeAttentionThreads("attention_g4w_"));
    }

    @Test
    void otherShapesTakeTheKernelThatFitsThem() {
        assertEquals("attention_g4_", GpuForwardPass.decodeAttention(shape(32, 8, 64), 64));
        assertEquals("attention_g8_", GpuForwardPass.decodeAttention(shape(40, 8, 128), 1));
        assertEquals("attention_g8_", GpuForwardPass.decodeAttention(shape(16, 2, 256), 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GpuForwardPass.decodeAttention(shape(32, 2, 128), 1));
        assertTrue(e.getMessage().contains("16"), e.getMessage());
    }

    /** A Llama config with these heads, kv heads and head size (the rest does not matter here). */
    private static ModelConfig shape(int heads, int kvHeads, int headDim) {
        return new ModelConfig("llama", "shape", heads * headDim, 4 * heads * headDim, 2, heads, kvHeads, headDim, 1000, 4096,
                1e-5f, 10000f, headDim, RopeLayout.INTERLEAVED, null);
    }
}
