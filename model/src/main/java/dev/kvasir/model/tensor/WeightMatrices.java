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
            default -> throw new ModelFormatException("no CPU kernel for tensor type " + type);
        };
    }
}
