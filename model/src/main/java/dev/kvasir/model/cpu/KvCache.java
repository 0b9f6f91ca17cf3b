package dev.kvasir.model.cpu;

import dev.kvasir.model.arch.ModelConfig;

/**
 * The KV cache of a single sequence run outside the serving core (CLI, tests, perplexity): a
 * private paged pool whose blocks are all this sequence's, in order.
 */
public final class KvCache {
    private static final int BLOCK = 16;
    final PagedKvPool pool;
    final int[] blockTable;
    private final int capacity;
    private int length;

    public KvCache(ModelConfig config, int capacity) {
        this(config, capacity, KvDtype.F32);
    }

    public KvCache(ModelConfig config, int capacity, KvDtype dtype) {
        this.capacity = capacity;
        int blocks = Math.max(1, (capacity + BLOCK - 1) / BLOCK);
        this.pool = new PagedKvPool(config, BLOCK, blocks, dtype);
        this.blockTable = new int[blocks];
        for (int i = 0; i < blocks; i++) blockTable[i] = i;
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
