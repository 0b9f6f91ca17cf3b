package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.kvasir.model.tensor.Blocks.F8;
import static dev.kvasir.model.tensor.Blocks.bytesAsInts;
import static dev.kvasir.model.tensor.Blocks.f16;
import static dev.kvasir.model.tensor.Blocks.toFloats;

/**
 * ggml Q6_K: super-blocks of 256 weights {@code {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}}, sixteen
 * sub-blocks of 16 with signed 8-bit scales; weight = d·scale·(q − 32). Each half of 128 weights
 * uses 64 bytes of ql and 32 of qh: for l in 0..31, the low nibbles of ql[l] and ql[l+32] and then
 * their high nibbles give weights l, l+32, l+64, l+96, whose top two bits are qh[l] bits 0-1, 2-3,
 * 4-5, 6-7. Loops go one group of 8 per iteration (see {@link Blocks}).
 */
final class Q6_KMatrix extends BlockMatrix {
    private static final int BLOCK_BYTES = 210;
    private static final int QH = 128;
    private static final int SCALES = 192;
    private static final int D = 208;

    Q6_KMatrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q6_K, data, rows, cols);
    }

    /**
     * q − 32 for group {@code k} (0..31) of the super-block at {@code o}: half h = k/16, quarter
     * (which of the four runs of 32 in that half) = k/4 % 4, g = k % 4 (eight values of l).
     */
    private FloatVector quants(long o, int k) {
        int h = k >> 4, quarter = (k >> 2) & 3, g = k & 3;
        IntVector low = bytesAsInts(data, o + 64 * h + 32 * (quarter & 1) + 8 * g).lanewise(VectorOperators.ASHR, 4 * (quarter >> 1)).and(0xF);
        IntVector high = bytesAsInts(data, o + QH + 32 * h + 8 * g).lanewise(VectorOperators.ASHR, 2 * quarter).and(3).lanewise(VectorOperators.LSHL, 4);
        return toFloats(low.or(high).sub(32));
    }

    /** d times the signed scale of group {@code k}'s sub-block, in ggml's order: (d * scale) first. */
    private float scale(long o, int k) {
        int h = k >> 4, quarter = (k >> 2) & 3, g = k & 3;
        return f16(data, o + D) * data.get(ValueLayout.JAVA_BYTE, o + SCALES + 8 * h + 2 * quarter + (g >> 1));
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long rowStart = row * rowBytes;
        FloatVector acc = FloatVector.zero(F8);
        for (int gi = 0; gi < cols / 8; gi++) {
            long o = rowStart + (long) (gi >> 5) * BLOCK_BYTES;
            int k = gi & 31;
            acc = quants(o, k).mul(scale(o, k)).fma(FloatVector.fromArray(F8, x, xOffset + 8 * gi), acc);
        }
        return GgmlSums.hsum8(acc);
    }

    @Override
    void dot4(int row, float[] x, int b, int n, float[] out, int outStride) {
        int x0 = xOffset(b, n, 0), x1 = xOffset(b, n, 1), x2 = xOffset(b, n, 2), x3 = xOffset(b, n, 3);
        long rowStart = row * rowBytes;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        for (int gi = 0; gi < cols / 8; gi++) {
            long o = rowStart + (long) (gi >> 5) * BLOCK_BYTES;
            int k = gi & 31;
            FloatVector w = quants(o, k).mul(scale(o, k));
            int e = 8 * gi;
            a0 = w.fma(FloatVector.fromArray(F8, x, x0 + e), a0);
            a1 = w.fma(FloatVector.fromArray(F8, x, x1 + e), a1);
            a2 = w.fma(FloatVector.fromArray(F8, x, x2 + e), a2);
            a3 = w.fma(FloatVector.fromArray(F8, x, x3 + e), a3);
        }
        Blocks.store(out, outStride, row, b, n, a0, a1, a2, a3);
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        long rowStart = row * rowBytes;
        for (int gi = 0; gi < cols / 8; gi++) {
            long o = rowStart + (long) (gi >> 5) * BLOCK_BYTES;
            int k = gi & 31;
            quants(o, k).mul(scale(o, k)).intoArray(dst, dstOffset + 8 * gi);
        }
    }
}
