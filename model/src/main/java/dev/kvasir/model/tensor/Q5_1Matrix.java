package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.kvasir.model.tensor.Blocks.F8;
import static dev.kvasir.model.tensor.Blocks.INT_LE;
import static dev.kvasir.model.tensor.Blocks.bytesAsInts;
import static dev.kvasir.model.tensor.Blocks.f16;
import static dev.kvasir.model.tensor.Blocks.fifthBits;
import static dev.kvasir.model.tensor.Blocks.toFloats;

/**
 * ggml Q5_1: blocks of 32 weights {@code {f16 d; f16 m; u8 qh[4]; u8 qs[16]}}, quants as in Q5_0
 * but unsigned; weight = q * d + m. Loops go one group of 8 per iteration (see {@link Blocks}).
 */
final class Q5_1Matrix extends BlockMatrix {
    private static final int BLOCK_BYTES = 24;
    private static final int QH = 4;
    private static final int QS = 8;

    Q5_1Matrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q5_1, data, rows, cols);
    }

    /** The 8 quants of group {@code g} (0..3) of the block at {@code o}, whose qh is {@code qh}. */
    private FloatVector quants(long o, int qh, int g) {
        return toFloats(bytesAsInts(data, o + QS + 8 * (g & 1)).lanewise(VectorOperators.ASHR, 4 * (g >> 1)).and(0xF)
                .or(fifthBits(qh >>> (8 * g))));
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long rowStart = row * rowBytes;
        FloatVector acc = FloatVector.zero(F8);
        float d = 0, m = 0;
        int qh = 0;
        for (int gi = 0; gi < cols / 8; gi++) {
            long o = rowStart + (long) (gi >> 2) * BLOCK_BYTES;
            if ((gi & 3) == 0) {
                d = f16(data, o);
                m = f16(data, o + 2);
                qh = data.get(INT_LE, o + QH);
            }
            acc = quants(o, qh, gi & 3).fma(d, m).fma(FloatVector.fromArray(F8, x, xOffset + 8 * gi), acc);
        }
        return GgmlSums.hsum8(acc);
    }

    @Override
    void dot4(int row, float[] x, int b, int n, float[] out, int outStride) {
        int x0 = xOffset(b, n, 0), x1 = xOffset(b, n, 1), x2 = xOffset(b, n, 2), x3 = xOffset(b, n, 3);
        long rowStart = row * rowBytes;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        float d = 0, m = 0;
        int qh = 0;
        for (int gi = 0; gi < cols / 8; gi++) {
            long o = rowStart + (long) (gi >> 2) * BLOCK_BYTES;
            if ((gi & 3) == 0) {
                d = f16(data, o);
                m = f16(data, o + 2);
                qh = data.get(INT_LE, o + QH);
            }
            FloatVector w = quants(o, qh, gi & 3).fma(d, m);
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
            long o = rowStart + (long) (gi >> 2) * BLOCK_BYTES;
            // Multiply, then add: rounded twice, exactly as ggml's x*d + m.
            quants(o, data.get(INT_LE, o + QH), gi & 3).mul(f16(data, o)).add(f16(data, o + 2)).intoArray(dst, dstOffset + 8 * gi);
        }
    }
}
