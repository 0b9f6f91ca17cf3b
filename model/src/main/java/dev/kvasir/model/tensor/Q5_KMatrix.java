package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.kvasir.model.tensor.Blocks.F8;
import static dev.kvasir.model.tensor.Blocks.bytesAsInts;
import static dev.kvasir.model.tensor.Blocks.f16;
import static dev.kvasir.model.tensor.Blocks.minK4;
import static dev.kvasir.model.tensor.Blocks.scaleK4;
import static dev.kvasir.model.tensor.Blocks.toFloats;

/**
 * ggml Q5_K: super-blocks of 256 weights {@code {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}}:
 * Q4_K plus a fifth bit per weight: weight l (0..31) of sub-block s takes bit s of qh[l].
 * Loops go one group of 8 per iteration (see {@link Blocks}): group k (0..31) of a super-block is
 * sub-block k/4, in qs bytes 32·(k/8) + 8·(k%4) and qh bytes 8·(k%4).
 */
final class Q5_KMatrix extends BlockMatrix {
    private static final int BLOCK_BYTES = 176;
    private static final int SCALES = 4;
    private static final int QH = 16;
    private static final int QS = 48;

    Q5_KMatrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q5_K, data, rows, cols);
    }

    /** The 5-bit quants of group {@code k} of the super-block at {@code o}. */
    private IntVector quants(long o, int k) {
        IntVector low = bytesAsInts(data, o + QS + 32 * (k >> 3) + 8 * (k & 3)).lanewise(VectorOperators.ASHR, 4 * ((k >> 2) & 1)).and(0xF);
        IntVector high = bytesAsInts(data, o + QH + 8 * (k & 3)).lanewise(VectorOperators.ASHR, k >> 2).and(1).lanewise(VectorOperators.LSHL, 4);
        return low.or(high);
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long rowStart = row * rowBytes;
        FloatVector acc = FloatVector.zero(F8);
        float scale = 0, min = 0;
        for (int gi = 0; gi < cols / 8; gi++) {
            long o = rowStart + (long) (gi >> 5) * BLOCK_BYTES;
            int k = gi & 31;
            if ((k & 3) == 0) {
                scale = f16(data, o) * scaleK4(data, o + SCALES, k >> 2);
                min = -f16(data, o + 2) * minK4(data, o + SCALES, k >> 2);
            }
            acc = toFloats(quants(o, k)).fma(scale, min).fma(FloatVector.fromArray(F8, x, xOffset + 8 * gi), acc);
        }
        return GgmlSums.hsum8(acc);
    }

    @Override
    void dot4(int row, float[] x, int b, int n, float[] out, int outStride) {
        int x0 = xOffset(b, n, 0), x1 = xOffset(b, n, 1), x2 = xOffset(b, n, 2), x3 = xOffset(b, n, 3);
        long rowStart = row * rowBytes;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        float scale = 0, min = 0;
        for (int gi = 0; gi < cols / 8; gi++) {
            long o = rowStart + (long) (gi >> 5) * BLOCK_BYTES;
            int k = gi & 31;
            if ((k & 3) == 0) {
                scale = f16(data, o) * scaleK4(data, o + SCALES, k >> 2);
                min = -f16(data, o + 2) * minK4(data, o + SCALES, k >> 2);
            }
            FloatVector w = toFloats(quants(o, k)).fma(scale, min);
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
            float scale = f16(data, o) * scaleK4(data, o + SCALES, k >> 2);
            float min = f16(data, o + 2) * minK4(data, o + SCALES, k >> 2);
            // Multiply, then subtract: rounded twice, as ggml's d1 * q - m1.
            toFloats(quants(o, k)).mul(scale).sub(min).intoArray(dst, dstOffset + 8 * gi);
        }
    }
}
