package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * A 2-D weight in its stored format (row-major, one row = {@code cols} elements = one output
 * feature), read in place from a memory segment — a slice of a mapped GGUF/safetensors file or
 * an off-heap copy. Kernels dequantize in registers; no float copy of the matrix is ever made.
 */
public interface WeightMatrix {

    int rows();

    int cols();

    GgmlType type();

    /** The stored bytes. */
    MemorySegment data();

    /** Dot product of row {@code row} with {@code x[xOffset .. xOffset + cols)}. */
    float dot(int row, float[] x, int xOffset);

    /** Writes row {@code row}, dequantized to float, into {@code dst[dstOffset .. dstOffset + cols)}. */
    void dequantizeRow(int row, float[] dst, int dstOffset);

    /**
     * Batched product over rows {@code [rowStart, rowEnd)}: for each of {@code batch} activations
     * {@code x[b*cols ..]} writes {@code out[b*outStride + r]}. Each weight row is read once and
     * applied to every activation while it is in cache.
     */
    default void matmul(float[] x, int batch, float[] out, int outStride, int rowStart, int rowEnd) {
        int cols = cols();
        for (int r = rowStart; r < rowEnd; r++) {
            for (int b = 0; b < batch; b++) {
                out[b * outStride + r] = dot(r, x, b * cols);
            }
        }
    }

    /** How activations must be prepared for this weight type (see {@link ActivationFormat}). */
    default ActivationFormat activationFormat() {
        return ActivationFormat.F32;
    }

    /**
     * Batched product with Q8_0-quantized activations, for types whose {@link #activationFormat()}
     * is {@link ActivationFormat#Q8_0}: writes {@code out[b*outStride + r]} for rows
     * {@code [rowStart, rowEnd)} and every activation row of {@code x}.
     */
    default void matmul(Q8Activations x, float[] out, int outStride, int rowStart, int rowEnd) {
        throw new UnsupportedOperationException(type() + " weights take " + activationFormat() + " activations, not Q8_0");
    }

    default long byteSize() {
        return data().byteSize();
    }

    /** A matrix over {@code data} holding {@code rows × cols} elements of {@code type}. */
    static WeightMatrix of(GgmlType type, MemorySegment data, int rows, int cols) {
        return WeightMatrices.of(type, data, rows, cols);
    }
}
