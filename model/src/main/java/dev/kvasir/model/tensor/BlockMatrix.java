package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * The shape bookkeeping every stored-format matrix shares, and a batched product that reads each
 * weight row once per tile of four activations. Subclasses supply {@link #dot} and {@link #dot4};
 * they keep their hot loops to themselves so that each one inlines its own block decoding.
 */
abstract class BlockMatrix implements WeightMatrix {
    /** Activations that share one pass over a weight row. Four accumulators plus the decoded weights fit in registers. */
    static final int TILE = 4;

    /**
     * Rows a batched product finishes against one tile of activations before the next tile: the
     * tile (4 × cols floats, 12 KiB at 768 columns) stays in L1 while the rows pass, instead of
     * every tile of a large batch being fetched again from L2 for every row (a 128-token prompt's
     * activations alone are 384 KiB at 768 columns).
     */
    static final int ROW_BLOCK = 32;

    final MemorySegment data;
    final int rows;
    final int cols;
    /** Bytes one row occupies. */
    final long rowBytes;
    final GgmlType type;

    BlockMatrix(GgmlType type, MemorySegment data, int rows, int cols) {
        this.type = type;
        this.data = data;
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = type.bytesFor(cols);
    }

    @Override
    public final int rows() {
        return rows;
    }

    @Override
    public final int cols() {
        return cols;
    }

    @Override
    public final GgmlType type() {
        return type;
    }

    @Override
    public final MemorySegment data() {
        return data;
    }

    /**
     * Row {@code row} dotted with up to four activations at {@code x[xb*cols ..]} for
     * {@code xb = b .. b+n-1}; results go to {@code out[(b+i)*outStride + row]}. Lanes past {@code n}
     * reuse the last activation and are discarded, so the loop has no special cases.
     */
    abstract void dot4(int row, float[] x, int b, int n, float[] out, int outStride);

    @Override
    public void matmul(float[] x, int batch, float[] out, int outStride, int rowStart, int rowEnd) {
        if (batch == 1) {
            for (int r = rowStart; r < rowEnd; r++) out[r] = dot(r, x, 0);
            return;
        }
        for (int r0 = rowStart; r0 < rowEnd; r0 += ROW_BLOCK) {
            int r1 = Math.min(rowEnd, r0 + ROW_BLOCK);
            for (int b = 0; b < batch; b += TILE) {
                int n = Math.min(TILE, batch - b);
                for (int r = r0; r < r1; r++) dot4(r, x, b, n, out, outStride);
            }
        }
    }

    /** Offset in {@code x} of activation {@code i} of a tile starting at {@code b} holding {@code n}. */
    final int xOffset(int b, int n, int i) {
        return (b + Math.min(i, n - 1)) * cols;
    }
}
