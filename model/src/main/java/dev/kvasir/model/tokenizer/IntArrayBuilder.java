package dev.kvasir.model.tokenizer;

import java.util.Arrays;

/** A growable int array: token ids and offset pairs without boxing. */
final class IntArrayBuilder {
    private int[] data;
    private int size;

    IntArrayBuilder() {
        this(16);
    }

    IntArrayBuilder(int capacity) {
        data = new int[Math.max(4, capacity)];
    }

    void add(int v) {
        if (size == data.length) data = Arrays.copyOf(data, size * 2);
        data[size++] = v;
    }

    IntArrayBuilder add(int a, int b) {
        add(a);
        add(b);
        return this;
    }

    int get(int i) {
        return data[i];
    }

    int size() {
        return size;
    }

    void clear() {
        size = 0;
    }

    int[] toArray() {
        return Arrays.copyOf(data, size);
    }
}
