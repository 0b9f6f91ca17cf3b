package dev.kvasir.model.weights;

import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.tensor.WeightMatrix;

import java.lang.foreign.MemorySegment;

/** Small 1-D tensors (norm weights, biases, RoPE factors) are kept as plain float arrays. */
final class Vectors {
    private Vectors() {
    }

    static float[] toFloats(GgmlType type, MemorySegment data, int n) {
        float[] out = new float[n];
        WeightMatrix.of(type, data, 1, n).dequantizeRow(0, out, 0);
        return out;
    }
}
