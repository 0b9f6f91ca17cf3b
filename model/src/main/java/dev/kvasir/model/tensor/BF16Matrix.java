package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static dev.kvasir.model.tensor.Blocks.F8;
import static dev.kvasir.model.tensor.Blocks.bf16;
import static dev.kvasir.model.tensor.Blocks.bf16AsFloats;

/** bfloat16 weights (the top half of an f32), widened eight at a time; rows need not be a multiple of 8. */
final class BF16Matrix extends BlockMatrix {
    BF16Matrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.BF16, data, rows, cols);
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long o = row * rowBytes;
        int upper = cols & ~7;
        FloatVector acc = FloatVector.zero(F8);
        int i = 0;
        for (; i < upper; i += 8) {
            acc = bf16AsFloats(data, o + 2L * i).fma(FloatVector.fromArray(F8, x, xOffset + i), acc);
        }
        float sum = GgmlSums.hsum8(acc);
        for (; i < cols; i++) sum += bf16(data, o + 2L * i) * x[xOffset + i];
        return sum;
    }

    @Override
    void dot4(int row, float[] x, int b, int n, float[] out, int outStride) {
        int x0 = xOffset(b, n, 0), x1 = xOffset(b, n, 1), x2 = xOffset(b, n, 2), x3 = xOffset(b, n, 3);
        long o = row * rowBytes;
        int upper = cols & ~7;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i < upper; i += 8) {
            FloatVector w = bf16AsFloats(data, o + 2L * i);
            a0 = w.fma(FloatVector.fromArray(F8, x, x0 + i), a0);
            a1 = w.fma(FloatVector.fromArray(F8, x, x1 + i), a1);
            a2 = w.fma(FloatVector.fromArray(F8, x, x2 + i), a2);
            a3 = w.fma(FloatVector.fromArray(F8, x, x3 + i), a3);
        }
        Blocks.store(out, outStride, row, b, n, a0, a1, a2, a3);
        for (; i < cols; i++) {
            float w = bf16(data, o + 2L * i);
            for (int k = 0; k < n; k++) out[(b + k) * outStride + row] += w * x[(b + k) * cols + i];
        }
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        long o = row * rowBytes;
        int upper = cols & ~7;
        int i = 0;
        for (; i < upper; i += 8) bf16AsFloats(data, o + 2L * i).intoArray(dst, dstOffset + i);
        for (; i < cols; i++) dst[dstOffset + i] = bf16(data, o + 2L * i);
    }

    @Override
    public ActivationFormat activationFormat() {
        return ActivationFormat.BF16;
    }
}
