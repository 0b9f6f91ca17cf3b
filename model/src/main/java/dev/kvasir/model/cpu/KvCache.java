package dev.kvasir.model.cpu;

import dev.kvasir.model.arch.ModelConfig;

/**
 * Keys and values of one sequence, contiguous per layer: position p of layer l lives at
 * {@code [p * kvDim, (p+1) * kvDim)}. The serving core replaces this with a paged pool.
 */
public final class KvCache {
    final float[][] keys;
    final float[][] values;
    final int kvDim;
    private final int capacity;
    private int length;

    public KvCache(ModelConfig config, int capacity) {
        this.capacity = capacity;
        this.kvDim = config.kvDim();
        this.keys = new float[config.layers()][(long) capacity * kvDim > Integer.MAX_VALUE ? fail(capacity) : capacity * kvDim];
        this.values = new float[config.layers()][capacity * kvDim];
    }

    private static int fail(int capacity) {
        throw new IllegalArgumentException("KV cache of " + capacity + " positions does not fit one array per layer");
    }

    /** Positions filled so far. */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    void advance(int n) {
        length += n;
    }

    /** Forgets everything from position {@code newLength} on. */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) throw new IllegalArgumentException("cannot truncate " + length + " to " + newLength);
        length = newLength;
    }
}
