package dev.kvasir.model.safetensors;

import dev.kvasir.model.gguf.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * One tensor of a safetensors file, row-major with PyTorch's shape order ({@code [out, in]} for
 * a linear weight), its bytes a slice of the file mapping.
 */
public record SafetensorsTensor(String name, GgmlType type, long[] shape, MemorySegment data) {

    public long elementCount() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }
}
