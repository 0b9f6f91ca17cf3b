package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.kvasir.model.tensor.Blocks.F8;
import static dev.kvasir.model.tensor.Blocks.f16;
import static dev.kvasir.model.tensor.Blocks.halvesAsFloats;

/** IEEE half-precision weights, widened eight at a time. Rows need not be a multiple of 8 (ffn_down of stories260K has 172 columns). */
final class F16Matrix extends BlockMatrix {
    F16Matrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.F16, data, rows, cols);
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long o = row * rowBytes;
        int upper = cols & ~7;
        FloatVector acc = FloatVector.zero(F8);
        int i = 0;
        for (; i < upper; i += 8) {
            acc = halvesAsFloats(data, o + 2L * i).fma(FloatVector.fromArray(F8, x, xOffset + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < cols; i++) sum += f16(data, o + 2L * i) * x[xOffset + i];
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
            FloatVector w = halvesAsFloats(data, o + 2L * i);
            a0 = w.fma(FloatVector.fromArray(F8, x, x0 + i), a0);
            a1 = w.fma(FloatVector.fromArray(F8, x, x1 + i), a1);
            a2 = w.fma(FloatVector.fromArray(F8, x, x2 + i), a2);
            a3 = w.fma(FloatVector.fromArray(F8, x, x3 + i), a3);
        }
        Blocks.store(out, outStride, row, b, n, a0, a1, a2, a3);
        for (; i < cols; i++) {
            float w = f16(data, o + 2L * i);
            for (int k = 0; k < n; k++) out[(b + k) * outStride + row] += w * x[(b + k) * cols + i];
        }
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        long o = row * rowBytes;
        int upper = cols & ~7;
        int i = 0;
        for (; i < upper; i += 8) halvesAsFloats(data, o + 2L * i).intoArray(dst, dstOffset + i);
        for (; i < cols; i++) dst[dstOffset + i] = f16(data, o + 2L * i);
    }

    @Override
    public ActivationFormat activationFormat() {
        return ActivationFormat.F16;
    }
}
