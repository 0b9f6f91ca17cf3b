package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * A stored format whose products take Q8_0-quantized activations ({@link Q8Activations}), as
 * llama.cpp's do for Q8_0 and Q4_0: the batched product's row and tile walk, shared; the block
 * decoding stays in each subclass's own kernels ({@link #dotQ8}, {@link #tile8}, {@link #tile4}).
 */
abstract class Q8BlockMatrix extends BlockMatrix {

    Q8BlockMatrix(GgmlType type, MemorySegment data, int rows, int cols) {
        super(type, data, rows, cols);
    }

    /** Row {@code row} against activation {@code b}, in llama.cpp's block order and grouping. */
    abstract float dotQ8(int row, Q8Activations a, int b);

    /** Row {@code row} against the tile of eight activations from {@code b}; results to {@code out[(b+t)*outStride + row]}. */
    abstract void tile8(int row, Q8Activations a, int b, float[] out, int outStride, float[] sums);

    /** {@link #tile8} for a tile of four. */
    abstract void tile4(int row, Q8Activations a, int b, float[] out, int outStride, float[] sums);

    /**
     * Decode (one activation): a plain loop over the rows, which C2 compiles with dotQ8 inlined
     * (through the row blocks below, one thread ran ~10% slower on Q4_0). Batches: rows in blocks of
     * {@link #ROW_BLOCK}, and within a block, each tile of activations against every row of the
     * block, so the block's weights and one tile's activations stay in L1; up to three activations
     * left over after the tiles go one at a time through {@link #dotQ8}.
     */
    @Override
    public final void matmul(Q8Activations x, float[] out, int outStride, int rowStart, int rowEnd) {
        if (x.batch == 1) {
            for (int r = rowStart; r < rowEnd; r++) out[r] = dotQ8(r, x, 0);
            return;
        }
        int tiled = x.batch & ~3;
        float[] sums = new float[8 * Q8Activations.WIDE];
        for (int r0 = rowStart; r0 < rowEnd; r0 += ROW_BLOCK) {
            int r1 = Math.min(rowEnd, r0 + ROW_BLOCK);
            for (int b = 0; b < tiled; b += x.tileWidth(b)) {
                if (x.tileWidth(b) == Q8Activations.WIDE) {
                    for (int r = r0; r < r1; r++) tile8(r, x, b, out, outStride, sums);
                } else {
                    for (int r = r0; r < r1; r++) tile4(r, x, b, out, outStride, sums);
                }
            }
            for (int r = r0; r < r1; r++) {
                for (int b = tiled; b < x.batch; b++) out[b * outStride + r] = dotQ8(r, x, b);
            }
        }
    }
}
