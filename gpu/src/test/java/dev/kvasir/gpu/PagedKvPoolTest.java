package dev.kvasir.gpu;

import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.arch.RopeLayout;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The KV pool's types and memory accounting, no GPU needed. */
class PagedKvPoolTest {
    private static final ModelConfig LLAMA3_8B = new ModelConfig("llama", "Llama-3-8B", 4096, 14336, 32, 32, 8, 128, 128256, 8192,
            1e-5f, 500000f, 128, RopeLayout.INTERLEAVED, null);

    @Test
    void autoFollowsTheWeightsAndNamesParse() {
        assertEquals(KvCacheDtype.FP32, KvCacheDtype.parse("auto", GpuDtype.F32));
        assertEquals(KvCacheDtype.BF16, KvCacheDtype.parse("auto", GpuDtype.BF16));
        assertEquals(KvCacheDtype.FP16, KvCacheDtype.parse("AUTO", GpuDtype.F16));
        assertEquals(KvCacheDtype.INT8, KvCacheDtype.parse("int8", GpuDtype.BF16));
        assertEquals(KvCacheDtype.FP8, KvCacheDtype.parse("fp8", GpuDtype.F32));
        assertEquals(KvCacheDtype.FP16, KvCacheDtype.parse("fp16", GpuDtype.BF16));
        assertEquals(KvCacheDtype.BF16, KvCacheDtype.parse("bf16", GpuDtype.F16));
        assertEquals(KvCacheDtype.FP32, KvCacheDtype.parse("fp32", GpuDtype.BF16));
        assertThrows(IllegalArgumentException.class, () -> KvCacheDtype.parse("int4", GpuDtype.BF16));
    }

    @Test
    void fp8NeedsComputeCapability89() {
        assertNotNull(KvCacheDtype.FP8.unsupportedReason(8, 0));
        assertNotNull(KvCacheDtype.FP8.unsupportedReason(8, 6));
        assertNull(KvCacheDtype.FP8.unsupportedReason(8, 9));
        assertNull(KvCacheDtype.FP8.unsupportedReason(9, 0));
        for (KvCacheDtype t : List.of(KvCacheDtype.FP32, KvCacheDtype.FP16, KvCacheDtype.BF16, KvCacheDtype.INT8)) assertNull(t.unsupportedReason(8, 0));
    }

    /**
     * Llama 3 8B, blocks of 16: a block costs 4 MiB in fp32, 2 MiB in fp16/bf16, and 2·32·16·(1024 + 16)
     * = 1,064,960 bytes in int8/fp8 (one fp16 scale per token and kv head). The same budget holds
     * exactly 2048 / 1040 = 128/65 ≈ 1.969× the fp16 blocks (up to rounding down to whole blocks).
     */
    @Test
    void int8AndFp8HoldNearlyTwiceTheTokensOfFp16() {
        int bs = 16;
        assertEquals(4L << 20, PagedKvPool.bytesPerBlock(LLAMA3_8B, bs, KvCacheDtype.FP32));
        assertEquals(2L << 20, PagedKvPool.bytesPerBlock(LLAMA3_8B, bs, KvCacheDtype.FP16));
        assertEquals(2L << 20, PagedKvPool.bytesPerBlock(LLAMA3_8B, bs, KvCacheDtype.BF16));
        assertEquals(1_064_960L, PagedKvPool.bytesPerBlock(LLAMA3_8B, bs, KvCacheDtype.INT8));
        assertEquals(1_064_960L, PagedKvPool.bytesPerBlock(LLAMA3_8B, bs, KvCacheDtype.FP8));
        assertEquals(128.0 / 65, (double) PagedKvPool.bytesPerBlock(LLAMA3_8B, bs, KvCacheDtype.FP16)
                / PagedKvPool.bytesPerBlock(LLAMA3_8B, bs, KvCacheDtype.INT8), 1e-12);
        // what a pool of the same budget holds, e.g. what is left of an H100 after the 8B's bf16 weights
        long budget = 50L << 30;
        long fp16Tokens = budget / PagedKvPool.bytesPerBlock(LLAMA3_8B, bs, KvCacheDtype.FP16) * bs;
        for (KvCacheDtype t : List.of(KvCacheDtype.INT8, KvCacheDtype.FP8)) {
            long tokens = budget / PagedKvPool.bytesPerBlock(LLAMA3_8B, bs, t) * bs;
            double ratio = (double) tokens / fp16Tokens;
            assertTrue(ratio >= 1.9, t + " holds " + ratio + "× the fp16 tokens");
            assertEquals(128.0 / 65, ratio, 1e-3);
        }
    }

    /** The pieces a swap moves cover one block of every layer exactly once, scales included, inside the pool. */
    @Test
    void blockSegmentsCoverTheBlockAndItsScales() {
        for (KvCacheDtype t : KvCacheDtype.values()) {
            PagedKvPool pool = new PagedKvPool(null, 3, 16, 10, 4, 64, t);
            assertEquals(PagedKvPool.bytesPerBlock(new ModelConfig("llama", "x", 256, 512, 3, 8, 4, 64, 100, 256, 1e-5f, 1e4f, 64,
                    RopeLayout.INTERLEAVED, null), 16, t) * 10, pool.totalBytes());
            boolean[] used = new boolean[(int) pool.totalBytes()];
            long sum = 0;
            for (int block : new int[]{0, 7, 9}) {
                for (PagedKvPool.Segment s : pool.blockSegments(block)) {
                    for (long i = s.offset(); i < s.offset() + s.bytes(); i++) {
                        assertTrue(!used[(int) i], t + ": byte " + i + " in two segments");
                        used[(int) i] = true;
                    }
                    sum += s.bytes();
                }
            }
            assertEquals(3 * pool.totalBytes() / 10, sum, t.toString());
            assertEquals(t.scaled, pool.scaleBlockBytes() > 0, t.toString());
            assertEquals(t.scaled ? 2L * 3 * 16 * 10 * 4 * 2 : 0, t.scaled ? pool.totalBytes() - pool.scaleOffset() : 0, t.toString());
        }
    }

    @Test
    void e4m3DecodesAsTheStandardSays() {
        assertEquals(1.0f, KvStorage.e4m3((byte) 0x38));
        assertEquals(448f, KvStorage.e4m3((byte) 0x7e));
        assertEquals(-448f, KvStorage.e4m3((byte) 0xfe));
        assertEquals((float) Math.pow(2, -6), KvStorage.e4m3((byte) 0x08));
        assertEquals((float) Math.pow(2, -9), KvStorage.e4m3((byte) 0x01));
        assertEquals(0f, KvStorage.e4m3((byte) 0x00));
        assertTrue(Float.isNaN(KvStorage.e4m3((byte) 0x7f)));
        assertEquals(1.125f, KvStorage.e4m3((byte) 0x39));
    }
}
