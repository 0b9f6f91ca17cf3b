package dev.kvasir.model.cpu;

import dev.kvasir.model.arch.ModelConfig;

/**
 * The KV memory of the CPU engine: {@code numBlocks} blocks of {@code blockSize} positions per
 * layer. Which blocks belong to which sequence is the block manager's business; a step names
 * them in block tables. Slot s of block b holds position data at {@code (b * blockSize + s) * kvDim}.
 */
public final class PagedKvPool {
    /** F32 storage (null when F16). */
    final float[][] keys;
    final float[][] values;
    /** F16 storage as raw half-precision bits (null when F32). */
    final short[][] keys16;
    final short[][] values16;
    final KvDtype dtype;
    final int kvDim;
    private final int blockSize;
    private final int numBlocks;

    public PagedKvPool(ModelConfig config, int blockSize, int numBlocks) {
        this(config, blockSize, numBlocks, KvDtype.F32);
    }

    public PagedKvPool(ModelConfig config, int blockSize, int numBlocks, KvDtype dtype) {
        if (blockSize <= 0 || numBlocks <= 0) throw new IllegalArgumentException("KV pool needs positive block size and count");
        long floats = (long) blockSize * numBlocks * config.kvDim();
        if (floats > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("KV pool of " + numBlocks + " blocks x " + blockSize + " positions is too large for one array per layer");
        }
        this.kvDim = config.kvDim();
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.dtype = dtype;
        boolean half = dtype == KvDtype.F16;
        this.keys = half ? null : new float[config.layers()][(int) floats];
        this.values = half ? null : new float[config.layers()][(int) floats];
        this.keys16 = half ? new short[config.layers()][(int) floats] : null;
        this.values16 = half ? new short[config.layers()][(int) floats] : null;
    }

    public int blockSize() {
        return blockSize;
    }

    public int numBlocks() {
        return numBlocks;
    }

    /** Bytes of KV memory per position (all layers, keys and values). */
    public long bytesPerPosition() {
        return 2L * layers() * kvDim * (dtype == KvDtype.F16 ? 2 : Float.BYTES);
    }

    public KvDtype dtype() {
        return dtype;
    }

    int layers() {
        return dtype == KvDtype.F16 ? keys16.length : keys.length;
    }

    /** Stores position data of layer {@code l} from {@code k}/{@code v} at {@code src} into slot offset {@code dst}. */
    void store(int l, float[] k, float[] v, int src, int dst) {
        if (dtype == KvDtype.F16) {
            short[] ks = keys16[l];
            short[] vs = values16[l];
            for (int i = 0; i < kvDim; i++) {
                ks[dst + i] = Float.floatToFloat16(k[src + i]);
                vs[dst + i] = Float.floatToFloat16(v[src + i]);
            }
        } else {
            System.arraycopy(k, src, keys[l], dst, kvDim);
            System.arraycopy(v, src, values[l], dst, kvDim);
        }
    }

    /** Copies block {@code source} onto block {@code target} in every layer (copy-on-write). */
    public void copyBlock(int source, int target) {
        int len = blockSize * kvDim;
        for (int l = 0; l < layers(); l++) {
            if (dtype == KvDtype.F16) {
                System.arraycopy(keys16[l], source * len, keys16[l], target * len, len);
                System.arraycopy(values16[l], source * len, values16[l], target * len, len);
            } else {
                System.arraycopy(keys[l], source * len, keys[l], target * len, len);
                System.arraycopy(values[l], source * len, values[l], target * len, len);
            }
        }
    }

    /** Offset of position {@code pos} of a sequence with block table {@code table}. */
    int offset(int[] table, int pos) {
        return (table[pos / blockSize] * blockSize + pos % blockSize) * kvDim;
    }

    /** Copies a block of every layer, keys then values, into {@code dst} (swapping to host memory). */
    public void readBlock(int block, float[] dst) {
        int len = blockSize * kvDim;
        for (int l = 0; l < layers(); l++) {
            for (int i = 0; i < len; i++) {
                dst[2 * l * len + i] = key(l, block * len + i);
                dst[(2 * l + 1) * len + i] = value(l, block * len + i);
            }
        }
    }

    /** Restores a block from {@link #readBlock} output (exact for either dtype: F16 values round-trip). */
    public void writeBlock(int block, float[] src) {
        int len = blockSize * kvDim;
        for (int l = 0; l < layers(); l++) {
            if (dtype == KvDtype.F16) {
                for (int i = 0; i < len; i++) {
                    keys16[l][block * len + i] = Float.floatToFloat16(src[2 * l * len + i]);
                    values16[l][block * len + i] = Float.floatToFloat16(src[(2 * l + 1) * len + i]);
                }
            } else {
                System.arraycopy(src, 2 * l * len, keys[l], block * len, len);
                System.arraycopy(src, (2 * l + 1) * len, values[l], block * len, len);
            }
        }
    }

    private float key(int l, int i) {
        return dtype == KvDtype.F16 ? Float.float16ToFloat(keys16[l][i]) : keys[l][i];
    }

    private float value(int l, int i) {
        return dtype == KvDtype.F16 ? Float.float16ToFloat(values16[l][i]) : values[l][i];
    }

    /** Floats one block occupies across all layers, keys and values (its host copy's size). */
    public int blockFloats() {
        return 2 * layers() * blockSize * kvDim;
    }
}
