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
 * as Q4_K, plus a fifth bit per weight. For the 64 weights of chunk j (sub-blocks 2j and 2j+1),
 * weight l of the first sub-block takes bit 2j of qh[l], of the second bit 2j+1.
 */
final class Q5_KMatrix extends BlockMatrix {
    private static final int BLOCK = 256;
    private static final int BLOCK_BYTES = 176;
    private static final int SCALES = 4;
    private static final int QH = 16;
    private static final int QS = 48;

    Q5_KMatrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q5_K, data, rows, cols);
    }

    /** Quants of the first sub-block of chunk j: low nibbles plus bit 2j of qh. */
    private static IntVector low(IntVector q, IntVector qh, int j) {
        return q.and(0xF).or(qh.lanewise(VectorOperators.ASHR, 2 * j).and(1).lanewise(VectorOperators.LSHL, 4));
    }

    /** Quants of the second sub-block of chunk j: high nibbles plus bit 2j+1 of qh. */
    private static IntVector high(IntVector q, IntVector qh, int j) {
        return q.lanewise(VectorOperators.ASHR, 4).and(0xF)
                .or(qh.lanewise(VectorOperators.ASHR, 2 * j + 1).and(1).lanewise(VectorOperators.LSHL, 4));
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long o = row * rowBytes;
        FloatVector acc = FloatVector.zero(F8);
        for (int i = xOffset, end = xOffset + cols; i < end; i += BLOCK, o += BLOCK_BYTES) {
            float d = f16(data, o);
            float dmin = f16(data, o + 2);
            for (int j = 0; j < 4; j++) {
                FloatVector sLo = FloatVector.zero(F8), sHi = sLo, xLo = sLo, xHi = sLo;
                int e = i + 64 * j;
                for (int g = 0; g < 32; g += 8) {
                    IntVector q = bytesAsInts(data, o + QS + 32 * j + g);
                    IntVector qh = bytesAsInts(data, o + QH + g);
                    FloatVector xl = FloatVector.fromArray(F8, x, e + g);
                    FloatVector xh = FloatVector.fromArray(F8, x, e + 32 + g);
                    sLo = toFloats(low(q, qh, j)).fma(xl, sLo);
                    sHi = toFloats(high(q, qh, j)).fma(xh, sHi);
                    xLo = xLo.add(xl);
                    xHi = xHi.add(xh);
                }
                long sc = o + SCALES;
                acc = sLo.fma(FloatVector.broadcast(F8, d * scaleK4(data, sc, 2 * j)), acc);
                acc = sHi.fma(FloatVector.broadcast(F8, d * scaleK4(data, sc, 2 * j + 1)), acc);
                acc = xLo.fma(FloatVector.broadcast(F8, -dmin * minK4(data, sc, 2 * j)), acc);
                acc = xHi.fma(FloatVector.broadcast(F8, -dmin * minK4(data, sc, 2 * j + 1)), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Override
    void dot4(int row, float[] x, int b, int n, float[] out, int outStride) {
        int x0 = xOffset(b, n, 0), x1 = xOffset(b, n, 1), x2 = xOffset(b, n, 2), x3 = xOffset(b, n, 3);
        long o = row * rowBytes;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < cols; i += BLOCK, o += BLOCK_BYTES) {
            float d = f16(data, o);
            float dmin = f16(data, o + 2);
            long sc = o + SCALES;
            for (int j = 0; j < 4; j++) {
                FloatVector dLo = FloatVector.broadcast(F8, d * scaleK4(data, sc, 2 * j));
                FloatVector dHi = FloatVector.broadcast(F8, d * scaleK4(data, sc, 2 * j + 1));
                FloatVector mLo = FloatVector.broadcast(F8, -dmin * minK4(data, sc, 2 * j));
                FloatVector mHi = FloatVector.broadcast(F8, -dmin * minK4(data, sc, 2 * j + 1));
                for (int g = 0; g < 32; g += 8) {
                    IntVector q = bytesAsInts(data, o + QS + 32 * j + g);
                    IntVector qh = bytesAsInts(data, o + QH + g);
                    int e = i + 64 * j + g;
                    FloatVector w = toFloats(low(q, qh, j)).fma(dLo, mLo);
                    a0 = w.fma(FloatVector.fromArray(F8, x, x0 + e), a0);
                    a1 = w.fma(FloatVector.fromArray(F8, x, x1 + e), a1);
                    a2 = w.fma(FloatVector.fromArray(F8, x, x2 + e), a2);
                    a3 = w.fma(FloatVector.fromArray(F8, x, x3 + e), a3);
                    w = toFloats(high(q, qh, j)).fma(dHi, mHi);
                    a0 = w.fma(FloatVector.fromArray(F8, x, x0 + e + 32), a0);
                    a1 = w.fma(FloatVector.fromArray(F8, x, x1 + e + 32), a1);
                    a2 = w.fma(FloatVector.fromArray(F8, x, x2 + e + 32), a2);
                    a3 = w.fma(FloatVector.fromArray(F8, x, x3 + e + 32), a3);
                }
            }
        }
        Blocks.store(out, outStride, row, b, n, a0, a1, a2, a3);
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        long o = row * rowBytes;
        for (int i = dstOffset, end = dstOffset + cols; i < end; i += BLOCK, o += BLOCK_BYTES) {
            float d = f16(data, o);
            float dmin = f16(data, o + 2);
            long sc = o + SCALES;
            for (int j = 0; j < 4; j++) {
                float dLo = d * scaleK4(data, sc, 2 * j), mLo = dmin * minK4(data, sc, 2 * j);
                float dHi = d * scaleK4(data, sc, 2 * j + 1), mHi = dmin * minK4(data, sc, 2 * j + 1);
                for (int g = 0; g < 32; g += 8) {
                    IntVector q = bytesAsInts(data, o + QS + 32 * j + g);
                    IntVector qh = bytesAsInts(data, o + QH + g);
                    int e = i + 64 * j + g;
                    // Multiply, then subtract: rounded twice, as ggml's d1 * q - m1.
                    toFloats(low(q, qh, j)).mul(dLo).sub(mLo).intoArray(dst, e);
                    toFloats(high(q, qh, j)).mul(dHi).sub(mHi).intoArray(dst, e + 32);
                }
            }
        }
    }
}
