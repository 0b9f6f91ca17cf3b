package dev.kvasir.model.tokenizer;

import java.util.Arrays;

/**
 * Open-addressing map from long keys to int values. BPE merge ranks for a 128k vocabulary are
 * some 300k pairs; boxed maps would cost tens of megabytes and slow every merge lookup.
 */
final class LongIntMap {
    private static final long EMPTY = Long.MIN_VALUE;
    private final long[] keys;
    private final int[] values;
    private final int mask;
    private int size;

    LongIntMap(int expected) {
        int cap = Integer.highestOneBit(Math.max(4, expected * 2 - 1)) << 1;
        keys = new long[cap];
        values = new int[cap];
        Arrays.fill(keys, EMPTY);
        mask = cap - 1;
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 29)) & mask;
    }

    /** Stores key→value unless the key is present already; returns whether it was stored. */
    boolean putIfAbsent(long key, int value) {
        if (key == EMPTY) throw new IllegalArgumentException("reserved key");
        if (size * 2 >= keys.length) throw new IllegalStateException("map full");
        int i = slot(key);
        while (keys[i] != EMPTY) {
            if (keys[i] == key) return false;
            i = (i + 1) & mask;
        }
        keys[i] = key;
        values[i] = value;
        size++;
        return true;
    }

    int get(long key, int missing) {
        int i = slot(key);
        while (keys[i] != EMPTY) {
            if (keys[i] == key) return values[i];
            i = (i + 1) & mask;
        }
        return missing;
    }

    int size() {
        return size;
    }
}
