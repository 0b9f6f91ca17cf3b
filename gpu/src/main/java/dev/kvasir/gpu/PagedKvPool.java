package dev.kvasir.gpu;

import dev.kvasir.model.arch.ModelConfig;
import jcuda.driver.CUdeviceptr;

import java.util.ArrayList;
import java.util.List;

/**
 * The paged KV cache on the device, in one allocation:
 * <pre>
 *   data   [layer][K|V][slot][kvDim]    elements of {@link #dtype()} (4, 2 or 1 bytes)
 *   scales [layer][K|V][slot][kvHeads]  fp16, int8 and fp8 only, after all of the data
 * </pre>
 * A slot index (block × blockSize + offset) addresses a position in any layer. A block costs
 * {@code 2 · layers · blockSize · (kvDim · bytes + kvHeads · 2 if scaled)} bytes, so the same memory
 * holds more blocks of a smaller type. Llama 3 8B (kvDim 1024, 8 kv heads) per token and layer side:
 * fp32 4096 B, fp16/bf16 2048 B, int8/fp8 1024 + 16 = 1040 B, i.e. 2048 / 1040 = 128/65 ≈ 1.97× the
 * tokens of fp16 (the scales cost 1.6%).
 */
public record PagedKvPool(CUdeviceptr base, int layers, int blockSize, int numBlocks, int kvHeads, int headDim, KvCacheDtype dtype) {

    public static long bytesPerBlock(ModelConfig c, int blockSize, KvCacheDtype dtype) {
        return 2L * c.layers() * blockSize * bytesPerSlot(c.kvHeads(), c.headDim(), dtype);
    }

    /** Bytes of one token slot in one layer's keys (or values), its scales included. */
    static long bytesPerSlot(int kvHeads, int headDim, KvCacheDtype dtype) {
        return (long) kvHeads * headDim * dtype.bytes + (dtype.scaled ? 2L * kvHeads : 0);
    }

    /** The bytes the pool takes: blocks × {@link #bytesPerBlock}. */
    public long totalBytes() {
        return 2L * layers * blockSize * numBlocks * bytesPerSlot(kvHeads, headDim, dtype);
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Bytes of one layer's keys (or values), scales not included. */
    public long sideBytes() {
        return (long) numBlocks * blockSize * kvDim() * dtype.bytes;
    }

    /** Bytes of one block in one layer's keys (or values), scales not included. */
    public long blockBytes() {
        return (long) blockSize * kvDim() * dtype.bytes;
    }

    public CUdeviceptr keys(int layer) {
        return base.withByteOffset(2L * layer * sideBytes());
    }

    public CUdeviceptr values(int layer) {
        return base.withByteOffset((2L * layer + 1) * sideBytes());
    }

    /** Where the scales start (bytes from the pool's start); meaningful for scaled types only. */
    public long scaleOffset() {
        return 2L * layers * sideBytes();
    }

    /** Bytes of one layer's key (or value) scales; 0 for unscaled types. */
    public long scaleSideBytes() {
        return dtype.scaled ? (long) numBlocks * blockSize * kvHeads * 2 : 0;
    }

    /** Bytes of one block's scales in one layer's keys (or values); 0 for unscaled types. */
    public long scaleBlockBytes() {
        return dtype.scaled ? (long) blockSize * kvHeads * 2 : 0;
    }

    /** The fp16 scales of a layer's keys, [slot][kvHeads]; null for unscaled types. */
    public CUdeviceptr keyScales(int layer) {
        return dtype.scaled ? base.withByteOffset(scaleOffset() + 2L * layer * scaleSideBytes()) : null;
    }

    /** The fp16 scales of a layer's values, [slot][kvHeads]; null for unscaled types. */
    public CUdeviceptr valueScales(int layer) {
        return dtype.scaled ? base.withByteOffset(scaleOffset() + (2L * layer + 1) * scaleSideBytes()) : null;
    }

    /** A contiguous piece of device memory: bytes at offset from the pool's start. */
    public record Segment(long offset, long bytes) {
    }

    /**
     * The pieces that hold one block in every layer (keys, values, then their scales when the type has
     * them): what swapping a block out and in must move. Together they are {@link #bytesPerBlock} bytes.
     */
    public List<Segment> blockSegments(int block) {
        List<Segment> out = new ArrayList<>();
        for (int side = 0; side < 2 * layers; side++) out.add(new Segment(side * sideBytes() + block * blockBytes(), blockBytes()));
        if (dtype.scaled) {
            for (int side = 0; side < 2 * layers; side++) {
                out.add(new Segment(scaleOffset() + side * scaleSideBytes() + block * scaleBlockBytes(), scaleBlockBytes()));
            }
        }
        return out;
    }
}
