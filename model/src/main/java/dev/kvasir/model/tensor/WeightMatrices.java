package dev.kvasir.model.tensor;

import dev.kvasir.model.ModelFormatException;
import dev.kvasir.model.gguf.GgmlType;

import java.lang.foreign.MemorySegment;

/** Picks the kernel class for a tensor type. */
final class WeightMatrices {
    private WeightMatrices() {
    }

    static WeightMatrix of(GgmlType type, MemorySegment data, int rows, int cols) {
        long expected = type.bytesFor((long) rows * cols);
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException(type + " " + rows + "x" + cols + " needs " + expected + " bytes, got " + data.byteSize());
        }
        return switch (type) {
            case F32 -> new F32Matrix(data, rows, cols);
            case F16 -> new F16Matrix(data, rows, cols);
            case BF16 -> new BF16Matrix(data, rows, cols);
            case Q8_0 -> new Q8_0Matrix(data, rows, cols);
            case Q4_0 -> new Q4_0Matrix(data, rows, cols);
            case Q4_1 -> new Q4_1Matrix(data, rows, cols);
            case Q5_0 -> new Q5_0Matrix(data, rows, cols);
            case Q5_1 -> new Q5_1Matrix(data, rows, cols);
            case Q4_K -> new Q4_KMatrix(data, rows, cols);
            case Q5_K -> new Q5_KMatrix(data, rows, cols);
            case Q6_K -> new Q6_KMatrix(data, rows, cols);
            default -> throw new ModelFormatException("no CPU kernel for tensor type " + type);
        };
    }
}
