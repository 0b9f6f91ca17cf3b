package dev.kvasir.gpu;

import dev.kvasir.model.arch.Architecture;
import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.arch.RopeLayout;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which decode attention kernel a head shape and step size get (host side, no GPU needed). */
class DecodeAttentionChoiceTest {

    @Test
    void llama3ShapesTakeTheLaneKernelForFullStepsAndThePerHeadGroupedOrSplitOneForSmallOnes() {
        ModelConfig llama3 = shape(32, 8, 128);
        int longContext = GpuForwardPass.SPLIT_FROM_CONTEXT;
        assertEquals("attention_h16_", GpuForwardPass.decodeAttention(llama3, 1, 80));
        assertEquals("attention_h16_", GpuForwardPass.decodeAttention(llama3, GpuForwardPass.PER_HEAD_MAX_SEQUENCES, 80));
        assertEquals("attention_g4w_", GpuForwardPass.decodeAttention(llama3, GpuForwardPass.PER_HEAD_MAX_SEQUENCES + 1, 80));
        assertEquals(512, GpuForwardPass.decodeAttentionThreads("attention_h16_"));
        assertEquals("attention_h16q_", GpuForwardPass.int8Output("attention_h16_"));
        assertEquals(512, GpuForwardPass.decodeAttentionThreads("attention_h16q_"));
        assertThrows(IllegalArgumentException.class, () -> GpuForwardPass.int8Output("attention_g4w_"));
        assertTrue(GpuForwardPass.blockPerHead("attention_h16_") && !GpuForwardPass.blockPerHead("attention_g4w_"));
        // the forms with the step's RoPE and K/V write inside
        assertEquals("attention_h16r_", GpuForwardPass.withRope("attention_h16_"));
        assertEquals("attention_h16rq_", GpuForwardPass.withRope(GpuForwardPass.int8Output("attention_h16_")));
        assertEquals("attention_h16rbq_", GpuForwardPass.withRope(GpuForwardPass.int8Output("attention_h16_"), false));
        assertEquals(512, GpuForwardPass.decodeAttentionThreads("attention_h16r_"));
        assertEquals(512, GpuForwardPass.decodeAttentionThreads("attention_h16rq_"));
        assertTrue(GpuForwardPass.blockPerHead("attention_h16rq_"));
        assertThrows(IllegalArgumentException.class, () -> GpuForwardPass.withRope("attention_g4w_"));
        assertEquals("attention_h16rqc_", GpuForwardPass.fixedShape("attention_h16rq_"));
        assertEquals("attention_h16rc_", GpuForwardPass.fixedShape("attention_h16r_"));
        assertEquals(512, GpuForwardPass.decodeAttentionThreads("attention_h16rqc_"));
        assertThrows(IllegalArgumentException.class, () -> GpuForwardPass.fixedShape("attention_h16rbq_"));
        assertTrue(GpuForwardPass.fitsFixedShape(llama3, 16));
        assertFalse(GpuForwardPass.fitsFixedShape(rotary(128, 64, RopeLayout.INTERLEAVED), 16));
        assertFalse(GpuForwardPass.fitsFixedShape(rotary(128, 128, RopeLayout.HALVES), 16));
        assertFalse(GpuForwardPass.fitsFixedShape(shape(32, 8, 64), 16));
        assertFalse(GpuForwardPass.fitsFixedShape(llama3, 32));
        assertThrows(IllegalArgumentException.class, () -> GpuForwardPass.withRope("attention_h16r_"));
        assertThrows(IllegalArgumentException.class, () -> GpuForwardPass.withRope("attention_h16rb_"));
        assertEquals("attention_g4s_", GpuForwardPass.decodeAttention(llama3, 1, longContext));
        assertEquals("attention_g4s_", GpuForwardPass.decodeAttention(llama3, 16, longContext));
        assertEquals("attention_lpw_", GpuForwardPass.decodeAttention(llama3, 17, longContext));
        assertEquals("attention_lpw_", GpuForwardPass.decodeAttention(llama3, 17, 80));
        assertEquals(256, GpuForwardPass.decodeAttentionThreads("attention_lpw_"));
        assertEquals(128, GpuForwardPass.decodeAttentionThreads("attention_g4s_"));
        assertTrue(GpuForwardPass.splitsContext("attention_g4s_"));
        assertTrue(!GpuForwardPass.splitsContext("attention_lpw_"));
    }

    @Test
    void splitsFillAboutTwoBlocksPerSmWithinTheScratch() {
        assertEquals(32, GpuForwardPass.decodeAttentionSplits(1, 8));   // 264 / 8 = 33, capped at 32
        assertEquals(3, GpuForwardPass.decodeAttentionSplits(16, 8));   // 128 pairs: ceil(264 / 128)
        assertEquals(3, GpuForwardPass.decodeAttentionSplits(131, 1));  // 393 blocks, within the 512
        assertEquals(2, GpuForwardPass.decodeAttentionSplits(256, 1));  // the scratch's 512 blocks
        for (int pairs = 1; pairs <= GpuForwardPass.SplitScratch.MAX_PAIRS; pairs++) {
            assertTrue(pairs * GpuForwardPass.decodeAttentionSplits(pairs, 1) <= GpuForwardPass.SplitScratch.MAX_BLOCKS, "pairs " + pairs);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GpuForwardPass.decodeAttentionSplits(40, 8));
        assertTrue(e.getMessage().contains("320"), e.getMessage());
    }

    @Test
    void otherShapesTakeTheKernelThatFitsThem() {
        int longContext = GpuForwardPass.SPLIT_FROM_CONTEXT;
        assertEquals("attention_g4_", GpuForwardPass.decodeAttention(shape(32, 8, 64), 64, 80));
        assertEquals("attention_g8_", GpuForwardPass.decodeAttention(shape(40, 8, 128), 1, 80));
        assertEquals("attention_g8s_", GpuForwardPass.decodeAttention(shape(40, 8, 128), 1, longContext));
        assertEquals("attention_g8_", GpuForwardPass.decodeAttention(shape(40, 8, 128), 17, longContext));
        assertEquals("attention_g8s_", GpuForwardPass.decodeAttention(shape(16, 2, 256), 1, longContext));
        assertEquals("attention_g4s_", GpuForwardPass.decodeAttention(shape(32, 8, 64), 1, longContext));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GpuForwardPass.decodeAttention(shape(32, 2, 128), 1, 80));
        assertTrue(e.getMessage().contains("16"), e.getMessage());
    }

    /**
     * The fixed-shape attention is for the rotation the loaders give Llama models: a GGUF llama file
     * rotates interleaved (and every Hugging Face checkpoint, un-permuted on load); Qwen 2's GGUF files
     * rotate in halves and keep the general kernel. (Until S16 the kernels were compiled for halves,
     * so no Llama model took them.)
     */
    @Test
    void theFixedShapeAttentionIsForTheRotationLlamaModelsLoadWith() {
        assertTrue(GpuForwardPass.fitsFixedShape(rotary(128, 128, Architecture.forGguf("llama").ggufRopeLayout()), 16));
        assertFalse(GpuForwardPass.fitsFixedShape(rotary(128, 128, Architecture.forGguf("qwen2").ggufRopeLayout()), 16));
    }

    /** A Llama 3-shaped config (32 heads over 8) with this head size, rotary dimension and rotation layout. */
    private static ModelConfig rotary(int headDim, int ropeDim, RopeLayout layout) {
        return new ModelConfig("llama", "shape", 32 * headDim, 128 * headDim, 2, 32, 8, headDim, 1000, 4096, 1e-5f, 10000f, ropeDim, layout, null);
    }

    /** A Llama config with these heads, kv heads and head size (the rest does not matter here). */
    private static ModelConfig shape(int heads, int kvHeads, int headDim) {
        return new ModelConfig("llama", "shape", heads * headDim, 4 * heads * headDim, 2, heads, kvHeads, headDim, 1000, 4096,
                1e-5f, 10000f, headDim, RopeLayout.INTERLEAVED, null);
    }
}
