package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static dev.kvasir.model.tensor.Blocks.F8;
import static dev.kvasir.model.tensor.Blocks.f16;
import static dev.kvasir.model.tensor.Blocks.halvesAsFloats;

/** IEEE half-precision weights, widened eight at a time, multiplied with f16-rounded activations as llama.cpp does. Rows need not be a multiple of 8 (ffn_down of stories260K has 172 columns). */
final class F16Matrix extends BlockMatrix {
    F16Matrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.F16, data, rows, cols);
    }

    /**
     * llama.cpp's {@code ggml_vec_dot_f16}: four 8-lane fused accumulators over groups of 32, reduced
     * in ggml's order, the remainder added in double (see {@link GgmlSums}).
     */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long o = row * rowBytes;
        int whole = cols & ~31;
        double sum = 0;
        if (whole > 0) {
            // ggml's four accumulators take groups 8j..8j+7 of every 32; each is its own flat pass,
            // which keeps C2 from spilling vectors to the heap as four live accumulators made it do
            sum = GgmlSums.reduce4(accumulate(o, x, xOffset, 0, whole), accumulate(o, x, xOffset, 8, whole),
                    accumulate(o, x, xOffset, 16, whole), accumulate(o, x, xOffset, 24, whole));
        }
        for (int i = whole; i < cols; i++) sum += f16(data, o + 2L * i) * x[xOffset + i];
        return (float) sum;
    }

    private FloatVector accumulate(long rowOffset, float[] x, int xOffset, int first, int whole) {
        FloatVector acc = FloatVector.zero(F8);
        for (int i = first; i < whole; i += 32) {
            acc = halvesAsFloats(data, rowOffset + 2L * i).fma(FloatVector.fromArray(F8, x, xOffset + i), acc);
        }
        return acc;
    }

    /** Every activation row through {@link #dot}, so batched and single-token results are identical. */
    @Override
    public void matmul(float[] x, int batch, float[] out, int outStride, int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            for (int b = 0; b < batch; b++) out[b * outStride + r] = dot(r, x, b * cols);
        }
    }

    @Override
    void dot4(int row, float[] x, int b, int n, float[] out, int outStride) {
        for (int k = 0; k < n; k++) out[(b + k) * outStride + row] = dot(row, x, (b + k) * cols);
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
