package dev.kvasir.gpu;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

/**
 * Times the tiled prefill attention kernel alone: one causal prefill of {@code length} tokens of one
 * sequence, one layer, over a paged pool of the given type whose blocks are shuffled (as a serving
 * pool's are). Inputs are a fixed pseudo-random pattern in [-1, 1) made on the device; K/V go into
 * the pool through kv_write (not timed). Each repetition is timed with its own pair of events; the
 * median is reported. FLOPs counted: QKᵀ and PV are 2·L²·d each per head, halved for the causal
 * mask, so 2·L²·heads·headDim in all (the usual FlashAttention benchmark count; the exact causal
 * count has L(L+1)/2 instead of L²/2 pairs).
 */
public final class AttentionBench {
    /** One measurement: shape, type, median milliseconds of one launch, FLOPs counted, TFLOP/s. */
    public record Result(int length, int heads, int kvHeads, int headDim, KvCacheDtype dtype, boolean tensorCores, double ms, double flops, double tflops) {
    }

    private static final int BLOCK_SIZE = 16;
    private static final int TILE = 16;

    private AttentionBench() {
    }

    /** Whether the tensor-core kernel can run this shape and type (fp16/bf16 pools, head dim a multiple of 16). */
    public static boolean tensorCoresFit(KvCacheDtype dtype, int headDim) {
        return GpuForwardPass.tensorCoresFit(dtype, headDim);
    }

    /** {@code tensorCores}: attention_prefill_tc_* (fp16/bf16 pools) instead of the fp32 CUDA-core kernel. */
    public static Result run(GpuDispatcher d, int length, int heads, int kvHeads, int headDim, KvCacheDtype dtype, boolean tensorCores, int reps) {
        if (headDim > 128) throw new IllegalArgumentException("the tiled prefill kernel takes head dims up to 128, got " + headDim);
        if (tensorCores && !tensorCoresFit(dtype, headDim)) throw new IllegalArgumentException("no tensor-core prefill for " + dtype + " K/V, head dim " + headDim);
        if (heads % kvHeads != 0) throw new IllegalArgumentException("heads " + heads + " not a multiple of kv heads " + kvHeads);
        return d.call(() -> {
            try (DeviceMemory mem = new DeviceMemory(d); Kernels k = Kernels.load(d)) {
                int blocks = (length + BLOCK_SIZE - 1) / BLOCK_SIZE;
                long poolBytes = new PagedKvPool(null, 1, BLOCK_SIZE, blocks, kvHeads, headDim, dtype).totalBytes();
                PagedKvPool pool = new PagedKvPool(mem.allocate("bench", poolBytes), 1, BLOCK_SIZE, blocks, kvHeads, headDim, dtype);
                int qDim = heads * headDim, kvDim = kvHeads * headDim, qkvDim = qDim + 2 * kvDim;
                CUdeviceptr qkv = mem.allocate("bench", 4L * length * qkvDim);
                long count = (long) length * qkvDim;
                k.launch("fill_uniform_f32", (int) ((count + 255) / 256), 1, 256, d.stream(), qkv, count, 12345);
                CUdeviceptr out = mem.allocate("bench", 4L * length * qDim);
                int[] table = new int[blocks];
                for (int i = 0; i < blocks; i++) table[i] = i;
                SplittableRandom r = new SplittableRandom(7);
                for (int i = blocks - 1; i > 0; i--) {
                    int j = r.nextInt(i + 1);
                    int t = table[i]; table[i] = table[j]; table[j] = t;
                }
                int tiles = (length + TILE - 1) / TILE;
                int[] ints = new int[3 * length + blocks + 2 * tiles];
                for (int i = 0; i < length; i++) {
                    ints[i] = i;                                                         // positions
                    ints[length + i] = 0;                                                // sequence of each token
                    ints[2 * length + i] = table[i / BLOCK_SIZE] * BLOCK_SIZE + i % BLOCK_SIZE; // slots
                }
                System.arraycopy(table, 0, ints, 3 * length, blocks);
                for (int t = 0; t < tiles; t++) {
                    ints[3 * length + blocks + 2 * t] = t * TILE;
                    ints[3 * length + blocks + 2 * t + 1] = Math.min(TILE, length - t * TILE);
                }
                CUdeviceptr dints = mem.allocate("bench", 4L * ints.length);
                try (PinnedBuffer b = new PinnedBuffer(4L * ints.length)) {
                    MemorySegment.copy(ints, 0, b.segment(), ValueLayout.JAVA_INT, 0, ints.length);
                    b.toDevice(dints, 4L * ints.length, d.stream());
                    cuStreamSynchronize(d.stream());
                }
                CUdeviceptr positions = dints, seqOf = dints.withByteOffset(4L * length), slots = dints.withByteOffset(8L * length);
                CUdeviceptr tables = dints.withByteOffset(12L * length), tileList = dints.withByteOffset(4L * (3L * length + blocks));
                String sfx = dtype.kernelSuffix;
                CUdeviceptr ks = pool.keyScales(0), vs = pool.valueScales(0);
                k.launch("kv_write_" + sfx, length, 1, 256, d.stream(), qkv.withByteOffset(4L * qDim), qkv.withByteOffset(4L * (qDim + kvDim)),
                        pool.keys(0), pool.values(0), ks, vs, slots, kvHeads, headDim, qkvDim);
                float scale = (float) (1 / Math.sqrt(headDim));
                Object[] args = {qkv, pool.keys(0), pool.values(0), ks, vs, out, positions, seqOf, tables, blocks, tileList, heads, kvHeads, headDim, BLOCK_SIZE, scale, qkvDim};
                Runnable launch = tensorCores
                        ? () -> GpuForwardPass.launchTensorCorePrefill(k, dtype, tiles, heads, kvHeads, d.stream(), args)
                        : () -> k.launch("attention_prefill_" + sfx, tiles, heads, 128, d.stream(), args);
                for (int i = 0; i < 3; i++) launch.run();
                CUevent start = new CUevent(), stop = new CUevent();
                cuEventCreate(start, 0);
                cuEventCreate(stop, 0);
                double[] ms = new double[reps];
                float[] e = new float[1];
                for (int i = 0; i < reps; i++) {
                    cuEventRecord(start, d.stream());
                    launch.run();
                    cuEventRecord(stop, d.stream());
                    cuEventSynchronize(stop);
                    cuEventElapsedTime(e, start, stop);
                    ms[i] = e[0];
                }
                cuEventDestroy(start);
                cuEventDestroy(stop);
                Arrays.sort(ms);
                double median = reps % 2 == 1 ? ms[reps / 2] : (ms[reps / 2 - 1] + ms[reps / 2]) / 2;
                double flops = 2.0 * length * (double) length * heads * headDim;
                return new Result(length, heads, kvHeads, headDim, dtype, tensorCores, median, flops, flops / (median / 1e3) / 1e12);
            }
        });
    }
}
