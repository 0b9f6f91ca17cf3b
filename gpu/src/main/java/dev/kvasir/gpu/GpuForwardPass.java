package dev.kvasir.gpu;

import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.arch.RopeLayout;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * One batched Llama forward pass on the device, as a sequence of asynchronous kernel launches on the
 * dispatcher's stream: embedding gather, then per layer RMSNorm (written in the form the next
 * product reads: fp32, 16-bit for cuBLAS or int8 for the quantized GEMV) → q/k/v GEMV-GEMM → RoPE
 * with the K/V writes into the paged pool in one launch (converted or quantized to its type) → paged
 * attention (tiled for prefill chunks; split over the context for long decodes of few sequences;
 * for a step of up to four decode tokens a block per query head that does the RoPE and K/V write itself) →
 * output projection with the residual add fused → RMSNorm → gate/up → SwiGLU (written like the
 * norm) → down with the residual add fused; then the final norm of the rows to sample only and the
 * logits. For one token with quantized weights the two norms of a layer ride on the GEMVs instead
 * (the residual product writes them, the next product scales by them: {@link Matmuls.FusedNorm}),
 * and with INT4 weights the SwiGLU rides on gate/up ({@link Matmuls#runGatedFfn}).
 * Activations are fp32; their buffers grow with the largest step seen.
 */
final class GpuForwardPass {
    private final ModelConfig c;
    private final GpuWeights w;
    private final PagedKvPool kv;
    private final Kernels k;
    private final DeviceMemory memory;
    private final Matmuls matmuls;
    private int capacity;
    private int logitCapacity;
    /** Bumped whenever a buffer moves: captured graphs that baked in the old addresses are stale. */
    private int generation;
    private CUdeviceptr x, xb, qkv, att, gateUp, hidden, last, logits;
    /** Per-32 sums of squares of the residual for an RMSNorm carried by the quantized GEMVs (Matmuls.FusedNorm). */
    private CUdeviceptr normPartials;
    private SplitScratch splitScratch;
    /** Tiled prefill on the tensor cores where the pool allows it ({@link #tensorCoresFit}). */
    /** Tensor-core tiled prefill over a 16-bit KV cache (checked against float64 on an H200; 10× the CUDA-core kernel at 4k tokens). */
    private boolean tensorCorePrefill = !"false".equals(System.getProperty("kvasir.gpu.tc-prefill"));

    /** {@code matmuls}: built for {@code w}'s matrices (its scratch sized for the quantized ones). */
    GpuForwardPass(ModelConfig c, GpuWeights w, PagedKvPool kv, Kernels k, DeviceMemory memory, Matmuls matmuls) {
        this.c = c;
        this.w = w;
        this.kv = kv;
        this.k = k;
        this.memory = memory;
        this.matmuls = matmuls;
    }

    /** Bytes of activations for a step of {@code tokens} tokens and {@code rows} logit rows. */
    static long activationBytes(ModelConfig c, int tokens, int rows) {
        long perToken = 2L * c.dim() + 2L * c.qDim() + 2L * c.kvDim() + 3L * c.hiddenDim();
        return 4L * (perToken * tokens + (long) rows * (c.dim() + c.vocabSize())) + 2L * tokens * widestInput(c) + Cublas.WORKSPACE_BYTES;
    }

    void useTensorCorePrefill(boolean on) {
        tensorCorePrefill = on;
    }

    /** Whether attention_prefill_tc_* takes this pool: fp16 or bf16 K/V, head dim a multiple of 16 up to 128. */
    static boolean tensorCoresFit(KvCacheDtype t, int headDim) {
        return (t == KvCacheDtype.FP16 || t == KvCacheDtype.BF16) && headDim % 16 == 0 && headDim <= 128;
    }

    /**
     * Launches the tensor-core tiled prefill: one block per (query tile, kv head, slice of up to 4
     * query heads of its group). {@code args} are attention_prefill's arguments.
     */
    static void launchTensorCorePrefill(Kernels k, KvCacheDtype t, int tiles, int heads, int kvHeads, CUstream stream, Object... args) {
        int group = heads / kvHeads;
        int warps = Math.min(group, 4);
        k.launch3("attention_prefill_tc_" + t.kernelSuffix, tiles, kvHeads, (group + warps - 1) / warps, 32 * warps, stream, args);
    }

    int generation() {
        return generation;
    }

    /** Sizes the activation buffers for a step (before a graph capture, where allocating is not allowed). */
    void ensure(int tokens, int rows) {
        matmuls.ensureWorkspace();
        if (splitScratch == null) splitScratch = SplitScratch.allocate(memory, c.headDim());
        if (normPartials == null) normPartials = f((long) Matmuls.GEMV_MAX_TOKENS * Math.max(1, c.dim() / 32));
        if (tokens > capacity) {
            generation++;
            int n = Math.max(tokens, Math.max(64, capacity * 2));
            if (capacity > 0) for (CUdeviceptr p : new CUdeviceptr[]{x, xb, qkv, att, gateUp, hidden}) memory.free("activations", p, 0);
            x = f(n * (long) c.dim());
            xb = f(n * (long) c.dim());
            qkv = f(n * (long) (c.qDim() + 2 * c.kvDim()));
            att = f(n * (long) c.qDim());
            gateUp = f(n * 2L * c.hiddenDim());
            hidden = f(n * (long) c.hiddenDim());
            capacity = n;
        }
        if (rows > logitCapacity) {
            generation++;
            int n = Math.max(rows, Math.max(8, logitCapacity * 2));
            if (logitCapacity > 0) {
                memory.free("activations", last, 0);
                memory.free("activations", logits, 0);
            }
            last = f(n * (long) c.dim());
            logits = f(n * (long) c.vocabSize());
            logitCapacity = n;
        }
        // the 16-bit copy of a product's input that cuBLAS reads: the widest input of the widest step
        if (matmuls.ensureHalfActivations((long) Math.max(capacity, logitCapacity) * widestInput(c))) generation++;
    }

    private static long widestInput(ModelConfig c) {
        return Math.max(Math.max(c.dim(), c.qDim()), c.hiddenDim());
    }

    void close() {
        matmuls.close();
    }

    private CUdeviceptr f(long floats) {
        return memory.allocate("activations", floats * 4);
    }

    /**
     * Queues the forward pass of a step whose int metadata already sits on the device; returns the
     * device buffer of {@code rows × vocab} logits (valid once the stream reaches this point).
     */
    CUdeviceptr run(StepLayout s, CUstream stream) {
        int n = s.tokens();
        ensure(n, s.rows());
        int dim = c.dim();
        // a float4 of the row per thread (up to 1024 threads): one round of loads instead of a serial walk
        int normThreads = Math.min(1024, Math.max(32, ((dim / 4 + 31) / 32) * 32));
        String sfx = w.dtype.kernelSuffix;
        String kvs = kv.dtype().kernelSuffix;
        k.launch("embed_" + sfx, n, 1, 256, stream, w.embedding.ptr(), s.tokenIds(), x, dim);
        int interleaved = c.ropeLayout() == RopeLayout.INTERLEAVED ? 1 : 0;
        float scale = (float) (1.0 / Math.sqrt(c.headDim()));
        int qkvDim = c.qDim() + 2 * c.kvDim();
        boolean fixedShapeAttention = FIXED_SHAPE && ATTENTION_AHEAD && fitsFixedShape(c, kv.blockSize());
        // the attention norm of this layer when the previous layer's down product carries it
        Matmuls.FusedNorm attentionNorm = null;
        for (int l = 0; l < c.layers(); l++) {
            GpuWeights.Layer lw = w.layers.get(l);
            if (attentionNorm == null) rmsnormFor(lw.wqkv(), n, null, lw.attnNorm(), xb, normThreads, stream);
            matmuls.runPrepared(lw.wqkv(), xb, qkv, n, false, stream, attentionNorm, null);
            bias(qkv, lw.bqkv(), n, qkvDim, stream);
            // q, k, v heads follow each other in a token's row: one launch rotates q and k and stores k and v in the pool
            CUdeviceptr ks = kv.keyScales(l), vs = kv.valueScales(l);
            String decodeKernel = s.tileCount() > 0 ? null : decodeAttention(c, n, s.tableStride() * kv.blockSize());
            boolean ropeInAttention = decodeKernel != null && ropeInAttention(decodeKernel, lw.wo(), n);
            if (!ropeInAttention) {
                k.launch("rope_kv_" + kvs, n, c.heads() + 2 * c.kvHeads(), 64, stream, qkv, s.positions(), w.inverseFrequencies, w.ropeTable,
                        w.ropeTablePositions, c.headDim(), c.ropeDim(), interleaved, qkvDim, c.heads(), c.kvHeads(), kv.keys(l), kv.values(l), ks, vs, s.slots());
            }
            boolean attentionInt8 = false;
            if (s.tileCount() > 0 && tensorCorePrefill && tensorCoresFit(kv.dtype(), c.headDim())) {
                launchTensorCorePrefill(k, kv.dtype(), s.tileCount(), c.heads(), c.kvHeads(), stream, qkv, kv.keys(l), kv.values(l), ks, vs, att,
                        s.positions(), s.sequenceOf(), s.tables(), s.tableStride(), s.tiles(), c.heads(), c.kvHeads(), c.headDim(), kv.blockSize(), scale, qkvDim);
            } else if (s.tileCount() > 0) {
                k.launch("attention_prefill_" + kvs, s.tileCount(), c.heads(), 128, stream, qkv, kv.keys(l), kv.values(l), ks, vs, att, s.positions(),
                        s.sequenceOf(), s.tables(), s.tableStride(), s.tiles(), c.heads(), c.kvHeads(), c.headDim(), kv.blockSize(), scale, qkvDim);
            } else {
                String kernel = decodeKernel;
                Object[] args = {qkv, kv.keys(l), kv.values(l), ks, vs, att, s.positions(), s.sequenceOf(), s.tables(), s.tableStride(),
                        c.heads(), c.kvHeads(), c.headDim(), kv.blockSize(), scale, qkvDim};
                attentionInt8 = writesInt8For(kernel, lw.wo(), n);
                if (attentionInt8) {
                    // the output projection's int8 activations straight from the attention: no conversion launch between
                    kernel = int8Output(kernel);
                    args = append(args, matmuls.int8Activations(), matmuls.int8Scales());
                }
                if (ropeInAttention) {
                    kernel = withRope(kernel);
                    if (fixedShapeAttention) kernel = fixedShape(kernel);
                    args = append(args, w.inverseFrequencies, w.ropeTable, w.ropeTablePositions, c.ropeDim(), interleaved, s.slots());
                }
                launchDecodeAttention(k, kernel, kv.dtype(), n, c.heads(), c.kvHeads(), stream, splitScratch, args);
            }
            Matmuls.FusedNorm ffnNorm = fusedNorm(lw.wo(), lw.gateUp(), lw.ffnNorm(), n);
            matmuls.run(lw.wo(), att, x, n, true, attentionInt8, stream, null, ffnNorm);
            if (ffnNorm == null) rmsnormFor(lw.gateUp(), n, null, lw.ffnNorm(), xb, normThreads, stream);
            GpuWeights.Layer next = l + 1 < c.layers() ? w.layers.get(l + 1) : null;
            Matmuls.FusedNorm nextNorm = next == null ? null : fusedNorm(lw.down(), next.wqkv(), next.attnNorm(), n);
            if (matmuls.carriesSwiglu(lw.gateUp(), lw.down(), n)) {
                // SwiGLU in the gate/up product's epilogue: no launch between the two products
                matmuls.runGatedFfn(lw.gateUp(), lw.down(), x, stream, ffnNorm, nextNorm);
            } else {
                matmuls.runPrepared(lw.gateUp(), xb, gateUp, n, false, stream, ffnNorm, null);
                swigluFor(lw.down(), n, stream);
                matmuls.runPrepared(lw.down(), hidden, x, n, true, stream, null, nextNorm);
            }
            attentionNorm = nextNorm;
        }
        rmsnormFor(w.output, s.rows(), s.logitRows(), w.outputNorm, last, normThreads, stream);
        matmuls.runPrepared(w.output, last, logits, s.rows(), false, stream);
        return logits;
    }

    /**
     * The RMSNorm (weight {@code gamma}) between the residual product {@code producer} and
     * {@code consumer}, carried by their GEMVs where {@link Matmuls#fusesNorm} allows (saving its
     * launch from a decode step's chain of dependent kernels), else null.
     */
    private Matmuls.FusedNorm fusedNorm(DeviceMatrix producer, DeviceMatrix consumer, CUdeviceptr gamma, int n) {
        return matmuls.fusesNorm(producer, consumer, n) ? new Matmuls.FusedNorm(normPartials, gamma, c.dim(), c.rmsEps()) : null;
    }

    /**
     * RMSNorm of x's rows (those of {@code rowIndex}, or the first {@code rows}) written in the form
     * the product with {@code next} reads: fp32 into {@code out}, or straight into the 16-bit or
     * int8 activations of {@link Matmuls} (saving the product's own conversion launch).
     */
    private void rmsnormFor(DeviceMatrix next, int rows, CUdeviceptr rowIndex, CUdeviceptr weight, CUdeviceptr out, int threads, CUstream stream) {
        switch (matmuls.input(next, rows)) {
            case FLOAT -> k.launch("rmsnorm", rows, 1, threads, stream, x, rowIndex, weight, out, c.dim(), c.rmsEps());
            case HALF -> k.launch("rmsnorm_" + Matmuls.halfType(next).kernelSuffix, rows, 1, threads, stream, x, rowIndex, weight,
                    matmuls.halfActivations(), c.dim(), c.rmsEps());
            case INT8 -> k.launch("rmsnorm_q8", rows, 1, threads, stream, x, rowIndex, weight, matmuls.int8Activations(), matmuls.int8Scales(),
                    c.dim(), c.rmsEps());
        }
    }

    /** SwiGLU of the gate/up output written in the form the down product reads (as {@link #rmsnormFor}). */
    private void swigluFor(DeviceMatrix down, int n, CUstream stream) {
        long count = (long) n * c.hiddenDim();
        int grid = (int) ((count + 255) / 256);
        switch (matmuls.input(down, n)) {
            case FLOAT -> k.launch("swiglu", grid, 1, 256, stream, gateUp, hidden, n, c.hiddenDim());
            case HALF -> k.launch("swiglu_" + Matmuls.halfType(down).kernelSuffix, grid, 1, 256, stream, gateUp, matmuls.halfActivations(), n, c.hiddenDim());
            case INT8 -> k.launch("swiglu_q8", grid, 1, 256, stream, gateUp, matmuls.int8Activations(), matmuls.int8Scales(), n, c.hiddenDim());
        }
    }

    /**
     * The grouped decode attention kernel for the model's head shape, a step of {@code n} sequences
     * and its longest context (attention.cuh). A step with fewer (token, kv head) pairs than an
     * H100/H200 has SMs takes _h16 (16 warps on one block per query head) when it has at most
     * {@link #PER_HEAD_MAX_SEQUENCES} sequences, else _g4w (16 warps on one block per pair), for groups of up to 4 and heads
     * of up to 128 dims, or _g8 for up to 8 and 256; from {@link #SPLIT_FROM_CONTEXT} positions on it
     * splits each context over several blocks instead (_g4s, _g8s). Fuller steps: _lpw (a lane per
     * position, 8 warps) for heads of exactly 128 dims in groups of up to 4, _g4 (8 warps) for other
     * heads of up to 128 dims, _g8 (4 warps) for groups of up to 8 and heads of up to 256 dims. (_lp,
     * 4 warps, is checked but not chosen: 6% slower in serving than _lpw.)
     */
    static String decodeAttention(ModelConfig c, int n, int maxContext) {
        return decodeAttention(c.heads(), c.kvHeads(), c.headDim(), n, maxContext);
    }

    /** {@link #decodeAttention(ModelConfig, int, int)} for a head shape alone (the kernel checks use it too). */
    static String decodeAttention(int heads, int kvHeads, int headDim, int n, int maxContext) {
        int group = heads / kvHeads;
        if (DECODE_ATTENTION_CHOICE != null && group <= 4 && headDim == 128) return "attention_" + DECODE_ATTENTION_CHOICE + "_";
        boolean few = (long) n * kvHeads < 132;
        boolean split = few && maxContext >= SPLIT_FROM_CONTEXT && (long) n * kvHeads <= SplitScratch.MAX_PAIRS;
        // measured on an H100 (runs 15, 18, 20): the lane-per-position kernel with 8 warps wins for full
        // steps and long contexts (serving at 32 and 128 sequences: +6% over 4 warps), the 16-warp
        // grouped one for a few short ones (batch 1)
        if (group <= 4 && headDim == 128 && !few) return "attention_lpw_";
        if (group <= 4 && headDim <= 128) return split ? "attention_g4s_" : n <= PER_HEAD_MAX_SEQUENCES ? "attention_h16_" : few ? "attention_g4w_" : "attention_g4_";
        if (group <= 8 && headDim <= 256) return split ? "attention_g8s_" : "attention_g8_";
        throw new IllegalArgumentException("decode attention supports up to 8 query heads per kv head and head size 256, got "
                + group + " and " + headDim);
    }

    /**
     * The context length from which a step of few sequences splits each context over several blocks
     * (-Dkvasir.gpu.split-from). Below it the split's combine costs more than it saves (H200, this
     * session's run 2: at 16–80 positions the split kernel cost ~15 µs a layer more than _g4w).
     */
    static final int SPLIT_FROM_CONTEXT = Integer.getInteger("kvasir.gpu.split-from", 1024);

    /**
     * Steps of up to this many sequences take a block per query head (_h16) below the split: at
     * batch 1 on an H100 it beat a block per kv head (_g4w) by 3–5% of the whole decode step at
     * 16–80 positions and by 19% at 512 (this session's run S4-5).
     */
    static final int PER_HEAD_MAX_SEQUENCES = 4;

    /** -Dkvasir.gpu.decode-attention=lp|lpw|g4|g4w|g4s|h16 forces a kernel for Llama 3's head shape (for measurements). */
    private static final String DECODE_ATTENTION_CHOICE = System.getProperty("kvasir.gpu.decode-attention");

    /**
     * Threads per block of a grouped decode attention kernel: every per-head form (_h16 and its int8
     * and RoPE variants) has 16 warps, so it goes by the prefix; a new per-head form launched
     * with another count would walk only part of the context.
     */
    static int decodeAttentionThreads(String kernel) {
        if (kernel.startsWith("attention_h16")) return 512;
        return switch (kernel) {
            case "attention_lp_" -> 128;
            case "attention_lpw_" -> 256;
            case "attention_g4w_" -> 512;
            case "attention_g4_" -> 256;
            default -> 128;
        };
    }

    static boolean splitsContext(String kernel) {
        return kernel.endsWith("s_");
    }

    /**
     * -Dkvasir.gpu.rope-in-attention=auto|true|false: whether a per-head decode attention does the
     * step's RoPE and K/V write itself (true), or a rope_kv launch before it (false); auto: for one
     * token, and for more only where the attention writes the int8 activations of a quantized output
     * projection. Measured on an H100 (docs/PERFORMANCE.md): in S7-2/S7-3 a few per cent faster with
     * INT4 weights, even with INT8, ~1% slower in bf16 at 1 and 4 tokens; since the kernel reads the
     * step's metadata before its wait, bf16 batch 1 is 1.5% faster with it (S10-6; 4 tokens not
     * measured again).
     */
    private static final String ROPE_IN_ATTENTION = System.getProperty("kvasir.gpu.rope-in-attention", "auto");

    private boolean ropeInAttention(String kernel, DeviceMatrix wo, int n) {
        if (!blockPerHead(kernel)) return false;
        return switch (ROPE_IN_ATTENTION) {
            case "true" -> true;
            case "false" -> false;
            default -> n == 1 || writesInt8For(kernel, wo, n);
        };
    }

    /**
     * -Dkvasir.gpu.attention-ahead=false: the per-head decode attention with RoPE inside reads the
     * step's own key and value back from the pool after its wait, and the context only then (the
     * _h16rb forms, as before S14), instead of copying the context's first sweep before the wait and
     * keeping the step's key and value in shared memory; for measurements (docs/PERFORMANCE.md, S14:
     * ahead is INT4 batch-1 decode +2.6% on an H100).
     */
    private static final boolean ATTENTION_AHEAD = !"false".equals(System.getProperty("kvasir.gpu.attention-ahead"));

    /**
     * The form of a per-head decode attention kernel (or of its int8 form) that does the step's RoPE
     * and K/V write itself (attention.cuh's attention_head_rope; six more arguments: invFreq, table,
     * tablePositions, ropeDim, interleaved, slots).
     */
    static String withRope(String kernel) {
        return withRope(kernel, ATTENTION_AHEAD);
    }

    /** {@link #withRope(String)}, with the context's first sweep loaded before the wait ({@code ahead}) or read after it. */
    static String withRope(String kernel, boolean ahead) {
        if (!blockPerHead(kernel) || kernel.startsWith("attention_h16r")) throw new IllegalArgumentException(kernel + " has no form with RoPE");
        return kernel.replace("attention_h16", ahead ? "attention_h16r" : "attention_h16rb");
    }

    /**
     * -Dkvasir.gpu.attention-fixed-shape=false: Llama 3's head shape goes through the general
     * per-head attention with RoPE instead of its compile-time form (fixedShape); for measurements.
     */
    private static final boolean FIXED_SHAPE = !"false".equals(System.getProperty("kvasir.gpu.attention-fixed-shape"));

    /**
     * Whether a model's heads and KV blocks are the shape the _h16rc / _h16rqc kernels are compiled
     * for: 128-dim heads rotated whole in the interleaved layout (every Llama model as the loaders
     * describe it), KV blocks of 16.
     */
    static boolean fitsFixedShape(ModelConfig c, int blockSize) {
        return c.headDim() == 128 && c.ropeDim() == 128 && c.ropeLayout() == RopeLayout.INTERLEAVED && blockSize == 16;
    }

    /**
     * The form of a per-head decode attention with RoPE (its first sweep ahead of its wait) compiled
     * for Llama 3's head shape ({@link #fitsFixedShape}): attention.cuh's ATTENTION_HEAD_ROPE_FIXED_KERNEL.
     */
    static String fixedShape(String kernel) {
        if (!kernel.startsWith("attention_h16r_") && !kernel.startsWith("attention_h16rq_")) throw new IllegalArgumentException(kernel + " has no fixed-shape form");
        return kernel.substring(0, kernel.length() - 1) + "c_";
    }

    private static Object[] append(Object[] args, Object... more) {
        Object[] all = java.util.Arrays.copyOf(args, args.length + more.length);
        System.arraycopy(more, 0, all, args.length, more.length);
        return all;
    }

    /** -Dkvasir.gpu.attention-int8=false keeps the attention output in fp32 before a quantized output projection (for measurements). */
    private static final boolean ATTENTION_INT8 = !"false".equals(System.getProperty("kvasir.gpu.attention-int8"));

    /**
     * Whether the decode attention writes its output as the int8 activations of the output
     * projection {@code wo} (a kernel with an int8 form, _h16q, and a quantized GEMV reading int8).
     */
    private boolean writesInt8For(String kernel, DeviceMatrix wo, int n) {
        return ATTENTION_INT8 && blockPerHead(kernel) && c.headDim() % 32 == 0 && matmuls.input(wo, n) == Matmuls.Input.INT8;
    }

    /** The form of a per-head decode attention kernel that writes int8 activations (two more arguments: values, scales). */
    static String int8Output(String kernel) {
        if (!blockPerHead(kernel)) throw new IllegalArgumentException(kernel + " has no int8 form");
        return kernel.substring(0, kernel.length() - 1) + "q_";
    }

    /** Whether a decode attention kernel takes a block per query head (grid z = heads / kvHeads). */
    static boolean blockPerHead(String kernel) {
        return kernel.startsWith("attention_h");
    }

    /**
     * Blocks per (token, kv head) of a split decode attention: enough for about two blocks per SM of an
     * H100/H200, at most 32 and within the scratch. The kernel itself gives each block at least a
     * sweep's worth of positions, so a short context uses only some of them.
     */
    static int decodeAttentionSplits(int n, int kvHeads) {
        int pairs = n * kvHeads;
        if (pairs > SplitScratch.MAX_PAIRS) throw new IllegalArgumentException("a split decode attention takes at most " + SplitScratch.MAX_PAIRS + " (token, kv head) pairs, got " + pairs);
        return Math.max(1, Math.min(Math.min(32, (264 + pairs - 1) / pairs), SplitScratch.MAX_BLOCKS / pairs));
    }

    /**
     * Launches a decode attention kernel; {@code args} are the grouped kernels' common arguments
     * (q … qStride). A split kernel gets grid z = its splits and the scratch.
     */
    static void launchDecodeAttention(Kernels k, String kernel, KvCacheDtype t, int n, int heads, int kvHeads, CUstream stream, SplitScratch scratch,
                                      Object... args) {
        String name = kernel + t.kernelSuffix;
        if (blockPerHead(kernel)) {
            k.launch3(name, n, kvHeads, heads / kvHeads, decodeAttentionThreads(kernel), stream, args);
            return;
        }
        if (!splitsContext(kernel)) {
            k.launch(name, n, kvHeads, decodeAttentionThreads(kernel), stream, args);
            return;
        }
        int splits = decodeAttentionSplits(n, kvHeads);
        Object[] all = java.util.Arrays.copyOf(args, args.length + 3);
        all[args.length] = scratch.partials();
        all[args.length + 1] = scratch.counters();
        all[args.length + 2] = splits;
        k.launch3(name, n, kvHeads, splits, decodeAttentionThreads(kernel), stream, all);
    }

    /**
     * Scratch of the split decode attention (write_split_heads in attention.cuh): each block's state
     * (up to 8 heads × (headDim + 2) floats) and a counter per (token, kv head), zero between launches.
     */
    record SplitScratch(CUdeviceptr partials, CUdeviceptr counters) {
        static final int MAX_BLOCKS = 512;
        static final int MAX_PAIRS = 256;

        static long partialFloats(int headDim) {
            return (long) MAX_BLOCKS * 8 * (headDim + 2);
        }

        static SplitScratch allocate(DeviceMemory memory, int headDim) {
            CUdeviceptr counters = memory.allocate("activations", 4L * MAX_PAIRS);
            jcuda.driver.JCudaDriver.cuMemsetD32(counters, 0, MAX_PAIRS);
            return new SplitScratch(memory.allocate("activations", 4 * partialFloats(headDim)), counters);
        }
    }

    private void bias(CUdeviceptr x, CUdeviceptr bias, int n, int d, CUstream stream) {
        if (bias == null) return;
        long count = (long) n * d;
        k.launch("add_bias", (int) ((count + 255) / 256), 1, 256, stream, x, bias, n, d);
    }
}
