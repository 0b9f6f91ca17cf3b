package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.kvasir.model.tensor.Blocks.F8;
import static dev.kvasir.model.tensor.Blocks.bytesAsInts;
import static dev.kvasir.model.tensor.Blocks.f16;
import static dev.kvasir.model.tensor.Blocks.toFloats;

/**
 * ggml Q4_1: blocks of 32 weights {@code {f16 d; f16 m; u8 qs[16]}}, nibbles as in Q4_0,
 * weight = q * d + m. The dot product is d·Σq·x + m·Σx per block.
 */
final class Q4_1Matrix extends BlockMatrix {
    private static final int BLOCK = 32;
    private static final int BLOCK_BYTES = 20;
    private static final int QS = 4;

    Q4_1Matrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q4_1, data, rows, cols);
    }

    private static FloatVector low(IntVector q) {
        return toFloats(q.and(0xF));
    }

    private static FloatVector high(IntVector q) {
        return toFloats(q.lanewise(VectorOperators.ASHR, 4).and(0xF));
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long o = row * rowBytes;
        FloatVector acc = FloatVector.zero(F8);
        for (int i = xOffset, end = xOffset + cols; i < end; i += BLOCK, o += BLOCK_BYTES) {
            IntVector q0 = bytesAsInts(data, o + QS);
            IntVector q1 = bytesAsInts(data, o + QS + 8);
            FloatVector xa = FloatVector.fromArray(F8, x, i), xb = FloatVector.fromArray(F8, x, i + 8);
            FloatVector xc = FloatVector.fromArray(F8, x, i + 16), xd = FloatVector.fromArray(F8, x, i + 24);
            FloatVector s = low(q0).mul(xa);
            s = low(q1).fma(xb, s);
            s = high(q0).fma(xc, s);
            s = high(q1).fma(xd, s);
            FloatVector sx = xa.add(xb).add(xc.add(xd));
            acc = s.fma(FloatVector.broadcast(F8, f16(data, o)), acc);
            acc = sx.fma(FloatVector.broadcast(F8, f16(data, o + 2)), acc);
        }
        return GgmlSums.hsum8(acc);
    }

    @Override
    void dot4(int row, float[] x, int b, int n, float[] out, int outStride) {
        int x0 = xOffset(b, n, 0), x1 = xOffset(b, n, 1), x2 = xOffset(b, n, 2), x3 = xOffset(b, n, 3);
        long o = row * rowBytes;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < cols; i += BLOCK, o += BLOCK_BYTES) {
            FloatVector d = FloatVector.broadcast(F8, f16(data, o));
            FloatVector m = FloatVector.broadcast(F8, f16(data, o + 2));
            for (int half = 0; half < 2; half++) {
                IntVector q = bytesAsInts(data, o + QS + 8 * half);
                int lo = i + 8 * half, hi = lo + 16;
                FloatVector w = low(q).fma(d, m);
                a0 = w.fma(FloatVector.fromArray(F8, x, x0 + lo), a0);
                a1 = w.fma(FloatVector.fromArray(F8, x, x1 + lo), a1);
                a2 = w.fma(FloatVector.fromArray(F8, x, x2 + lo), a2);
                a3 = w.fma(FloatVector.fromArray(F8, x, x3 + lo), a3);
                w = high(q).fma(d, m);
                a0 = w.fma(FloatVector.fromArray(F8, x, x0 + hi), a0);
                a1 = w.fma(FloatVector.fromArray(F8, x, x1 + hi), a1);
                a2 = w.fma(FloatVector.fromArray(F8, x, x2 + hi), a2);
                a3 = w.fma(FloatVector.fromArray(F8, x, x3 + hi), a3);
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
            IntVector q0 = bytesAsInts(data, o + QS);
            IntVector q1 = bytesAsInts(data, o + QS + 8);
            // Multiply, then add: rounded twice, exactly as ggml's x*d + m.
            low(q0).mul(d).add(m).intoArray(dst, i);
            low(q1).mul(d).add(m).intoArray(dst, i + 8);
            high(q0).mul(d).add(m).intoArray(dst, i + 16);
            high(q1).mul(d).add(m).intoArray(dst, i + 24);
        }
    }
}
