package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.kvasir.model.tensor.Blocks.F8;
import static dev.kvasir.model.tensor.Blocks.I8;
import static dev.kvasir.model.tensor.Blocks.toFloats;
import static dev.kvasir.model.tensor.Blocks.LE;
import static dev.kvasir.model.tensor.Blocks.bytesAsFloats;
import static dev.kvasir.model.tensor.Blocks.f16;

/**
 * ggml Q8_0: blocks of 32 weights {@code {f16 d; i8 qs[32]}}, weight = qs[i] * d. The dot product
 * sums q·x per block and scales once, since d is shared by the whole block.
 */
final class Q8_0Matrix extends BlockMatrix {
    private static final int BLOCK = 32;
    private static final int BLOCK_BYTES = 34;
    private static final int QS = 2;

    Q8_0Matrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q8_0, data, rows, cols);
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long o = row * rowBytes;
        FloatVector acc = FloatVector.zero(F8);
        for (int i = xOffset, end = xOffset + cols; i < end; i += BLOCK, o += BLOCK_BYTES) {
            FloatVector s = bytesAsFloats(data, o + QS).mul(FloatVector.fromArray(F8, x, i));
            s = bytesAsFloats(data, o + QS + 8).fma(FloatVector.fromArray(F8, x, i + 8), s);
            s = bytesAsFloats(data, o + QS + 16).fma(FloatVector.fromArray(F8, x, i + 16), s);
            s = bytesAsFloats(data, o + QS + 24).fma(FloatVector.fromArray(F8, x, i + 24), s);
            acc = s.fma(FloatVector.broadcast(F8, f16(data, o)), acc);
        }
        return GgmlSums.hsum8(acc);
    }

    @Override
    void dot4(int row, float[] x, int b, int n, float[] out, int outStride) {
        int x0 = xOffset(b, n, 0), x1 = xOffset(b, n, 1), x2 = xOffset(b, n, 2), x3 = xOffset(b, n, 3);
        long o = row * rowBytes;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < cols; i += BLOCK, o += BLOCK_BYTES) {
            float d = f16(data, o);
            for (int g = 0; g < BLOCK; g += 8) {
                FloatVector w = bytesAsFloats(data, o + QS + g).mul(d);
                a0 = w.fma(FloatVector.fromArray(F8, x, x0 + i + g), a0);
                a1 = w.fma(FloatVector.fromArray(F8, x, x1 + i + g), a1);
                a2 = w.fma(FloatVector.fromArray(F8, x, x2 + i + g), a2);
                a3 = w.fma(FloatVector.fromArray(F8, x, x3 + i + g), a3);
            }
        }
        Blocks.store(out, outStride, row, b, n, a0, a1, a2, a3);
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        long o = row * rowBytes;
        for (int i = 0; i < cols; i += BLOCK, o += BLOCK_BYTES) {
            float d = f16(data, o);
            for (int g = 0; g < BLOCK; g += 8) {
                bytesAsFloats(data, o + QS + g).mul(d).intoArray(dst, dstOffset + i + g);
            }
        }
    }

    /**
     * llama.cpp's {@code ggml_vec_dot_q8_0_q8_0}: per block the integer products of weights and
     * Q8_0 activations, scaled by both scales. The integer sums run in float lanes, where they are
     * exact (integers below 2^24) and faster than the Vector API's integer multiply.
     */
    private float dotQ8(int row, Q8Activations a, int b) {
        float[] xq = a.values;
        float[] scales = a.scales;
        int xd = b * (cols / BLOCK);
        long o = row * rowBytes;
        FloatVector acc = FloatVector.zero(F8);
        for (int i = b * cols, end = i + cols; i < end; i += BLOCK, o += BLOCK_BYTES) {
            // lane j sums elements 4j..4j+3, as ggml's mul_sum_i8_pairs_float does: read the block
            // as 8 ints (int j = bytes 4j..4j+3); group t takes byte t of each, sign-extended
            IntVector q = IntVector.fromMemorySegment(I8, data, o + QS, LE);
            FloatVector s = signedByte(q, 0).mul(FloatVector.fromArray(F8, xq, i));
            s = signedByte(q, 1).fma(FloatVector.fromArray(F8, xq, i + 8), s);
            s = signedByte(q, 2).fma(FloatVector.fromArray(F8, xq, i + 16), s);
            s = signedByte(q, 3).fma(FloatVector.fromArray(F8, xq, i + 24), s);
            acc = s.fma(FloatVector.broadcast(F8, f16(data, o) * scales[xd++]), acc);
        }
        return GgmlSums.hsum8(acc);
    }

    /** Byte {@code t} of every int lane, as a signed value, in float. */
    private static FloatVector signedByte(IntVector q, int t) {
        return toFloats(q.lanewise(VectorOperators.LSHL, 24 - 8 * t).lanewise(VectorOperators.ASHR, 24));
    }

    @Override
    public ActivationFormat activationFormat() {
        return ActivationFormat.Q8_0;
    }

    @Override
    public void matmul(Q8Activations x, float[] out, int outStride, int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            for (int b = 0; b < x.batch; b++) out[b * outStride + r] = dotQ8(r, x, b);
        }
    }
}
