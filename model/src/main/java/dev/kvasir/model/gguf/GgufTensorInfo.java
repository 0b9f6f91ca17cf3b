package dev.kvasir.model.gguf;

import java.util.Arrays;

/**
 * One tensor's header entry. {@code shape} is ggml's {@code ne}: shape[0] varies fastest, so a
 * PyTorch weight of shape [out, in] has shape {in, out}. {@code offset} is relative to the start of
 * the tensor data section.
 */
public record GgufTensorInfo(String name, long[] shape, GgmlType type, long offset) {

    public long elementCount() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    public long byteSize() {
        return type.bytesFor(elementCount());
    }

    /** Rows when read as a matrix: the product of every dimension but the first. */
    public long rows() {
        return shape.length == 0 ? 1 : elementCount() / shape[0];
    }

    public long cols() {
        return shape.length == 0 ? 1 : shape[0];
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo t && t.name.equals(name) && Arrays.equals(t.shape, shape)
                && t.type == type && t.offset == offset;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }
}
