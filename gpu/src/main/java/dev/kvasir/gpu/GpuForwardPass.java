package dev.kvasir.gpu;

import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.arch.RopeLayout;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * One batched Llama forward pass on the device, as a sequence of asynchronous kernel launches on the
 * dispatcher's stream: embedding gather, then per layer RMSNorm → q/k/v GEMV-GEMM → RoPE → K/V
 * writes into the paged pool → paged attention → output projection with the residual add fused →
 * RMSNorm → gate/up → SwiGLU → down with the residual add fused; then the final norm of the rows to
 * sample only and the logits. Activations are fp32; their buffers grow with the largest step seen.
 */
final class GpuForwardPass {
    private static final int MATMUL_WARPS = 4;
    /** Weight rows per warp in the matmul kernels (MATMUL_ROWS in kernels.cu). */
    static final int MATMUL_ROWS = 4;
    /** Batches up to this many tokens take the GEMV kernel (T in kernels.cu's gemv_*). */
    static final int GEMV_MAX_TOKENS = 4;
    /** Rows and tokens one block of matmul_tc_* covers (4 warps × MT×16 rows; NT×8 tokens). */
    static final int TC_ROWS = 256;
    static final int TC_TOKENS = 32;
    private final ModelConfig c;
    private final GpuWeights w;
    private final PagedKvPool kv;
    private final Kernels k;
    private final DeviceMemory memory;
    private int capacity;
    private int logitCapacity;
    /** Bumped whenever a buffer moves: captured graphs that baked in the old addresses are stale. */
    private int generation;
    private CUdeviceptr x, xb, q, kk, v, att, gate, up, last, logits;

    GpuForwardPass(ModelConfig c, GpuWeights w, PagedKvPool kv, Kernels k, DeviceMemory memory) {
        this.c = c;
        this.w = w;
        this.kv = kv;
        this.k = k;
        this.memory = memory;
    }

    /** Bytes of activations for a step of {@code tokens} tokens and {@code rows} logit rows. */
    static long activationBytes(ModelConfig c, int tokens, int rows) {
        long perToken = 2L * c.dim() + 2L * c.qDim() + 2L * c.kvDim() + 2L * c.hiddenDim();
        return 4L * (perToken * tokens + (long) rows * (c.dim() + c.vocabSize()));
    }

    int generation() {
        return generation;
    }

    /** Sizes the activation buffers for a step (before a graph capture, where allocating is not allowed). */
    void ensure(int tokens, int rows) {
        if (tokens > capacity) {
            generation++;
            int n = Math.max(tokens, Math.max(64, capacity * 2));
            if (capacity > 0) for (CUdeviceptr p : new CUdeviceptr[]{x, xb, q, kk, v, att, gate, up}) memory.free("activations", p, 0);
            x = f(n * (long) c.dim());
            xb = f(n * (long) c.dim());
            q = f(n * (long) c.qDim());
            kk = f(n * (long) c.kvDim());
            v = f(n * (long) c.kvDim());
            att = f(n * (long) c.qDim());
            gate = f(n * (long) c.hiddenDim());
            up = f(n * (long) c.hiddenDim());
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
        String sfx = w.dtype.kernelSuffix;
        k.launch("embed_" + sfx, n, 1, 256, stream, w.embedding.ptr(), s.tokenIds(), x, dim);
        int interleaved = c.ropeLayout() == RopeLayout.INTERLEAVED ? 1 : 0;
        float scale = (float) (1.0 / Math.sqrt(c.headDim()));
        for (int l = 0; l < c.layers(); l++) {
            GpuWeights.Layer lw = w.layers.get(l);
            k.launch("rmsnorm", n, 1, 256, stream, x, null, lw.attnNorm(), xb, dim, c.rmsEps());
            matmul(lw.wq(), xb, q, n, false, stream);
            matmul(lw.wk(), xb, kk, n, false, stream);
            matmul(lw.wv(), xb, v, n, false, stream);
            bias(q, lw.bq(), n, c.qDim(), stream);
            bias(kk, lw.bk(), n, c.kvDim(), stream);
            bias(v, lw.bv(), n, c.kvDim(), stream);
            k.launch("rope", n, 1, 128, stream, q, s.positions(), w.inverseFrequencies, c.heads(), c.headDim(), c.ropeDim(), interleaved, c.qDim());
            k.launch("rope", n, 1, 128, stream, kk, s.positions(), w.inverseFrequencies, c.kvHeads(), c.headDim(), c.ropeDim(), interleaved, c.kvDim());
            k.launch("kv_write", n, 1, 256, stream, kk, v, kv.keys(l), kv.values(l), s.slots(), c.kvDim());
            k.launch("attention", n, c.heads(), 128, stream, q, kv.keys(l), kv.values(l), att, s.positions(), s.sequenceOf(),
                    s.tables(), s.tableStride(), c.heads(), c.kvHeads(), c.headDim(), kv.blockSize(), scale);
            matmul(lw.wo(), att, x, n, true, stream);
            k.launch("rmsnorm", n, 1, 256, stream, x, null, lw.ffnNorm(), xb, dim, c.rmsEps());
            matmul(lw.gate(), xb, gate, n, false, stream);
            matmul(lw.up(), xb, up, n, false, stream);
            long count = (long) n * c.hiddenDim();
            k.launch("silu_mul", (int) ((count + 255) / 256), 1, 256, stream, gate, up, count);
            matmul(lw.down(), gate, x, n, true, stream);
        }
        k.launch("rmsnorm", s.rows(), 1, 256, stream, x, s.logitRows(), w.outputNorm, last, dim, c.rmsEps());
        matmul(w.output, last, logits, s.rows(), false, stream);
        return logits;
    }

    /**
     * out (+)= m · in for n activation rows, by the kernel that suits the batch: a pipelined GEMV for
     * decode (n ≤ 4, bandwidth-bound), the tensor-core GEMM for larger batches of 16-bit weights,
     * and the CUDA-core kernel otherwise (fp32 weights stay exact in fp32).
     */
    private void matmul(DeviceMatrix m, CUdeviceptr in, CUdeviceptr out, int n, boolean accumulate, CUstream stream) {
        String sfx = m.dtype().kernelSuffix;
        int acc = accumulate ? 1 : 0;
        if (n <= GEMV_MAX_TOKENS) {
            k.launch("gemv_" + sfx, (m.rows() + MATMUL_WARPS - 1) / MATMUL_WARPS, 1, 32 * MATMUL_WARPS, stream, m.ptr(), in, out, m.rows(), m.cols(), n, acc);
        } else if (m.dtype() != GpuDtype.F32 && m.cols() % 32 == 0) {
            k.launch("matmul_tc_" + sfx, (m.rows() + TC_ROWS - 1) / TC_ROWS, (n + TC_TOKENS - 1) / TC_TOKENS, 128, stream,
                    m.ptr(), in, out, m.rows(), m.cols(), n, acc);
        } else {
            int perBlock = MATMUL_WARPS * MATMUL_ROWS;
            k.launch("matmul_" + sfx, (m.rows() + perBlock - 1) / perBlock, 1, 32 * MATMUL_WARPS, stream, m.ptr(), in, out, m.rows(), m.cols(), n, acc);
        }
    }

    private void bias(CUdeviceptr x, CUdeviceptr bias, int n, int d, CUstream stream) {
        if (bias == null) return;
        long count = (long) n * d;
        k.launch("add_bias", (int) ((count + 255) / 256), 1, 256, stream, x, bias, n, d);
    }
}
