package dev.kvasir.gpu;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;

/**
 * Sampling on the device for steps where some row is not plain greedy: one copy of the packed
 * {@link SamplingBatch} up, penalties on a copy of the logits, {@code sample_rows}, log-probabilities
 * from the raw logits, and one copy of ids (and log-probabilities) back. Logits rows never cross to
 * the host. Buffers grow with the largest step seen and are reused; all calls on the dispatcher thread.
 */
final class DeviceSampler implements AutoCloseable {
    /** Blocks of sample_rows: each walks rows blockIdx, blockIdx + this, ... with a workspace of its own. */
    private static final int MAX_BLOCKS = 32;
    private final Kernels kernels;
    private final DeviceMemory memory;
    private final int vocab;
    /** Keys per block's workspace: a power of two covering the vocabulary (the sort's size bound). */
    private final int wsStride;
    private PinnedBuffer up, down;
    private CUdeviceptr upDevice, downDevice, keys, cums, penalized;
    private long upBytes, downBytes, penalizedBytes;
    private int wsBlocks;
    private SamplingBatch batch;
    private long logprobOffset, topIdOffset, topLpOffset;

    DeviceSampler(Kernels kernels, DeviceMemory memory, int vocab) {
        this.kernels = kernels;
        this.memory = memory;
        this.vocab = vocab;
        this.wsStride = Integer.highestOneBit(Math.max(1, vocab - 1)) << 1;
    }

    /** Blocks a row of the greedy argmax reads (ARGMAX_PARTS in kernels.cu). */
    static final int ARGMAX_PARTS = 128;

    /** Scratch bytes of {@link #argmax} for {@code rows} rows. */
    static long argmaxScratchBytes(int rows) {
        return 8L * rows * ARGMAX_PARTS;
    }

    /**
     * Plain greedy: {@code out[r]} = the id of row r's highest logit, lowest id among exact ties, in
     * two launches (argmax_partial, argmax_finish); {@code scratch} holds {@link #argmaxScratchBytes}.
     */
    static void argmax(Kernels k, CUdeviceptr logits, int rows, int vocab, CUdeviceptr scratch, CUdeviceptr out, CUstream stream) {
        k.launch("argmax_partial", rows, ARGMAX_PARTS, 256, stream, logits, vocab, scratch);
        k.launch("argmax_finish", rows, 1, ARGMAX_PARTS, stream, scratch, ARGMAX_PARTS, out);
    }

    /** Queues sampling of {@code batch.rows} logit rows; results are readable once the stream has passed this point. */
    void queue(CUdeviceptr logits, SamplingBatch b, CUstream stream) {
        this.batch = b;
        int rows = b.rows;
        long metaBytes = 4L * b.meta.length;
        long historyBytes = 4L * b.history.length;
        long uOffset = (metaBytes + historyBytes + 7) & ~7L;
        long total = uOffset + 8L * rows;
        if (up == null || up.bytes() < total) {
            if (up != null) up.close();
            up = new PinnedBuffer(Math.max(total, 1L << 16));
        }
        MemorySegment m = up.segment();
        MemorySegment.copy(b.meta, 0, m, ValueLayout.JAVA_INT, 0, b.meta.length);
        MemorySegment.copy(b.history, 0, m, ValueLayout.JAVA_INT, metaBytes, b.history.length);
        MemorySegment.copy(b.uniform, 0, m, ValueLayout.JAVA_DOUBLE, uOffset, rows);
        if (upDevice == null || upBytes < total) {
            if (upDevice != null) memory.free("activations", upDevice, upBytes);
            upBytes = Math.max(total, 1L << 16);
            upDevice = memory.allocate("activations", upBytes);
        }
        up.toDevice(upDevice, total, stream);
        CUdeviceptr meta = upDevice;
        CUdeviceptr history = upDevice.withByteOffset(metaBytes);
        CUdeviceptr uniform = upDevice.withByteOffset(uOffset);

        CUdeviceptr source = logits;
        if (b.anyPenalties) {
            long bytes = 4L * rows * vocab;
            if (penalized == null || penalizedBytes < bytes) {
                if (penalized != null) memory.free("activations", penalized, penalizedBytes);
                penalizedBytes = bytes;
                penalized = memory.allocate("activations", bytes);
            }
            // penalties change a copy: log-probabilities are over the raw logits
            cuMemcpyDtoDAsync(penalized, logits, bytes, stream);
            kernels.launch("penalize_rows", rows, 1, 256, stream, penalized, vocab, meta, history);
            source = penalized;
        }
        int blocks = Math.min(rows, MAX_BLOCKS);
        if (blocks > wsBlocks) {
            if (keys != null) {
                memory.free("activations", keys, 8L * wsBlocks * wsStride);
                memory.free("activations", cums, 8L * wsBlocks * wsStride);
            }
            wsBlocks = Math.max(blocks, Math.min(MAX_BLOCKS, 2 * wsBlocks));
            keys = memory.allocate("activations", 8L * wsBlocks * wsStride);
            cums = memory.allocate("activations", 8L * wsBlocks * wsStride);
        }
        int top = Math.max(1, b.maxTop);
        logprobOffset = 4L * rows;
        topIdOffset = 8L * rows;
        topLpOffset = topIdOffset + 4L * rows * top;
        long outBytes = topLpOffset + 4L * rows * top;
        if (downDevice == null || downBytes < outBytes) {
            if (downDevice != null) memory.free("activations", downDevice, downBytes);
            downBytes = Math.max(outBytes, 1L << 16);
            downDevice = memory.allocate("activations", downBytes);
            if (down != null) down.close();
            down = new PinnedBuffer(downBytes);
        }
        kernels.launch("sample_rows", blocks, 1, 1024, stream, source, vocab, meta, uniform, rows, keys, cums, wsStride, downDevice);
        if (b.anyLogprobs) {
            kernels.launch("logprob_rows", rows, 1, 1024, stream, logits, vocab, meta, downDevice,
                    downDevice.withByteOffset(logprobOffset), downDevice.withByteOffset(topIdOffset), downDevice.withByteOffset(topLpOffset), top);
        }
        down.fromDevice(downDevice, b.anyLogprobs ? outBytes : 4L * rows, stream);
    }

    int token(int row) {
        return down.segment().getAtIndex(ValueLayout.JAVA_INT, row);
    }

    float logprob(int row) {
        return down.segment().get(ValueLayout.JAVA_FLOAT, logprobOffset + 4L * row);
    }

    int[] topTokens(int row, int count) {
        int[] ids = new int[count];
        int top = Math.max(1, batch.maxTop);
        MemorySegment.copy(down.segment(), ValueLayout.JAVA_INT, topIdOffset + 4L * row * top, ids, 0, count);
        return ids;
    }

    float[] topLogprobs(int row, int count) {
        float[] lp = new float[count];
        int top = Math.max(1, batch.maxTop);
        MemorySegment.copy(down.segment(), ValueLayout.JAVA_FLOAT, topLpOffset + 4L * row * top, lp, 0, count);
        return lp;
    }

    @Override
    public void close() {
        if (up != null) up.close();
        if (down != null) down.close();
    }
}
