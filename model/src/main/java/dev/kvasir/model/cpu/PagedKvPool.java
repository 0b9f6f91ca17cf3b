package dev.kvasir.model.cpu;

import dev.kvasir.model.arch.ModelConfig;

/**
 * The KV memory of the CPU engine: {@code numBlocks} blocks of {@code blockSize} positions per
 * layer. Which blocks belong to which sequence is the block manager's business; a step names
 * them in block tables. Slot s of block b holds position data at {@code (b * blockSize + s) * kvDim}.
 */
public final class PagedKvPool {
    final float[][] keys;
    final float[][] values;
    final int kvDim;
    private final int blockSize;
    private final int numBlocks;

    public PagedKvPool(ModelConfig config, int blockSize, int numBlocks) {
        if (blockSize <= 0 || numBlocks <= 0) throw new IllegalArgumentException("KV pool needs positive block size and count");
        long floats = (long) blockSize * numBlocks * config.kvDim();
        if (floats > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("KV pool of " + numBlocks + " blocks x " + blockSize + " positions is too large for one array per layer");
        }
        this.kvDim = config.kvDim();
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.keys = new float[config.layers()][(int) floats];
        this.values = new float[config.layers()][(int) floats];
    }

    public int blockSize() {
        return blockSize;
    }

    public int numBlocks() {
        return numBlocks;
    }

    /** Bytes of KV memory per position (all layers, keys and values). */
    public long bytesPerPosition() {
        return 2L * keys.length * kvDim * Float.BYTES;
    }

    /** Copies block {@code source} onto block {@code target} in every layer (copy-on-write). */
    public void copyBlock(int source, int target) {
        int len = blockSize * kvDim;
        for (int l = 0; l < keys.length; l++) {
            System.arraycopy(keys[l], source * len, keys[l], target * len, len);
            System.arraycopy(values[l], source * len, values[l], target * len, len);
        }
    }

    /** Offset of position {@code pos} of a sequence with block table {@code table}. */
    int offset(int[] table, int pos) {
        return (table[pos / blockSize] * blockSize + pos % blockSize) * kvDim;
    }

    /** Copies a block of every layer, keys then values, into {@code dst} (swapping to host memory). */
    public void readBlock(int block, float[] dst) {
        int len = blockSize * kvDim;
        for (int l = 0; l < keys.length; l++) {
            System.arraycopy(keys[l], block * len, dst, 2 * l * len, len);
            System.arraycopy(values[l], block * len, dst, (2 * l + 1) * len, len);
        }
    }

    public void writeBlock(int block, float[] src) {
        int len = blockSize * kvDim;
        for (int l = 0; l < keys.length; l++) {
            System.arraycopy(src, 2 * l * len, keys[l], block * len, len);
            System.arraycopy(src, (2 * l + 1) * len, values[l], block * len, len);
        }
    }

    /** Floats one block occupies across all layers, keys and values. */
    public int blockFloats() {
        return 2 * keys.length * blockSize * kvDim;
    }
}
