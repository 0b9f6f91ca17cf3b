package dev.kvasir.gpu;

import dev.kvasir.model.arch.ModelConfig;
import jcuda.driver.CUdeviceptr;

/**
 * The paged KV cache on the device: fp32 keys and values in one allocation laid out
 * [layer][K|V][block × blockSize + offset][kvDim], so a slot index (block × blockSize + offset)
 * addresses a position in any layer.
 */
public record PagedKvPool(CUdeviceptr base, int layers, int blockSize, int numBlocks, int kvDim) {

    public static long bytesPerBlock(ModelConfig c, int blockSize) {
        return 2L * c.layers() * blockSize * c.kvDim() * Float.BYTES;
    }

    /** Floats of one layer's keys (or values). */
    public long sideFloats() {
        return (long) numBlocks * blockSize * kvDim;
    }

    public CUdeviceptr keys(int layer) {
        return base.withByteOffset(2L * layer * sideFloats() * Float.BYTES);
    }

    public CUdeviceptr values(int layer) {
        return base.withByteOffset((2L * layer + 1) * sideFloats() * Float.BYTES);
    }

    /** Floats of one block in one layer's keys (or values). */
    public long blockFloats() {
        return (long) blockSize * kvDim;
    }
}
