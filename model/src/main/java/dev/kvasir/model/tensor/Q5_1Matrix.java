package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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
 * but unsigned; weight = q * d + m.
 */
final class Q5_1Matrix extends BlockMatrix {
    private static final int BLOCK = 32;
    private static final int BLOCK_BYTES = 24;
    private static final int QH = 4;
    private static final int QS = 8;

    Q5_1Matrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q5_1, data, rows, cols);
    }

    /** The 8 quants of group {@code g} of the block at {@code o}. */
    private FloatVector quants(long o, int qh, int g) {
        IntVector bytes = bytesAsInts(data, o + QS + 8 * (g & 1));
        IntVector nibble = g < 2 ? bytes.and(0xF) : bytes.lanewise(VectorOperators.ASHR, 4).and(0xF);
        return toFloats(nibble.or(fifthBits(qh, g)));
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long o = row * rowBytes;
        FloatVector acc = FloatVector.zero(F8);
        for (int i = xOffset, end = xOffset + cols; i < end; i += BLOCK, o += BLOCK_BYTES) {
            int qh = data.get(INT_LE, o + QH);
            FloatVector xa = FloatVector.fromArray(F8, x, i), xb = FloatVector.fromArray(F8, x, i + 8);
            FloatVector xc = FloatVector.fromArray(F8, x, i + 16), xd = FloatVector.fromArray(F8, x, i + 24);
            FloatVector s = quants(o, qh, 0).mul(xa);
            s = quants(o, qh, 1).fma(xb, s);
            s = quants(o, qh, 2).fma(xc, s);
            s = quants(o, qh, 3).fma(xd, s);
            FloatVector sx = xa.add(xb).add(xc.add(xd));
            acc = s.fma(FloatVector.broadcast(F8, f16(data, o)), acc);
            acc = sx.fma(FloatVector.broadcast(F8, f16(data, o + 2)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Override
    void dot4(int row, float[] x, int b, int n, float[] out, int outStride) {
        int x0 = xOffset(b, n, 0), x1 = xOffset(b, n, 1), x2 = xOffset(b, n, 2), x3 = xOffset(b, n, 3);
        long o = row * rowBytes;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < cols; i += BLOCK, o += BLOCK_BYTES) {
            FloatVector d = FloatVector.broadcast(F8, f16(data, o));
            FloatVector m = FloatVector.broadcast(F8, f16(data, o + 2));
            int qh = data.get(INT_LE, o + QH);
            for (int g = 0; g < 4; g++) {
                FloatVector w = quants(o, qh, g).fma(d, m);
                int e = i + 8 * g;
                a0 = w.fma(FloatVector.fromArray(F8, x, x0 + e), a0);
                a1 = w.fma(FloatVector.fromArray(F8, x, x1 + e), a1);
                a2 = w.fma(FloatVector.fromArray(F8, x, x2 + e), a2);
                a3 = w.fma(FloatVector.fromArray(F8, x, x3 + e), a3);
            }
        }
        Blocks.store(out, outStride, row, b, n, a0, a1, a2, a3);
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        long o = row * rowBytes;
        for (int i = dstOffset, end = dstOffset + cols; i < end; i += BLOCK, o += BLOCK_BYTES) {
            float d = f16(data, o);
            float m = f16(data, o + 2);
            int qh = data.get(INT_LE, o + QH);
            // Multiply, then add: rounded twice, exactly as ggml's x*d + m.
            for (int g = 0; g < 4; g++) quants(o, qh, g).mul(d).add(m).intoArray(dst, i + 8 * g);
        }
    }
}
