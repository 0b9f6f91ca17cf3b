package dev.kvasir.model.exec;

/** Shape of an executor's paged KV pool: blocks of {@code blockSize} positions, {@code numBlocks} of them. */
public record KvGeometry(int blockSize, int numBlocks) {
    public KvGeometry {
        if (blockSize <= 0 || numBlocks <= 0) throw new IllegalArgumentException("block size and count must be positive");
    }

    /** Blocks needed to hold {@code positions} positions. */
    public int blocksFor(int positions) {
        return (positions + blockSize - 1) / blockSize;
    }
}
