package dev.kvasir.gpu;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.util.List;
import java.util.Optional;

/**
 * Picks and launches the kernel for one weight product out (+)= W · in over n activation rows: a
 * pipelined GEMV for decode (or, for one token, cuBLAS on the 16-bit shapes where {@link #tuneDecode}
 * timed it faster on this card); for 2–16 tokens of 16-bit weights our skinny tensor-core kernel
 * (where cuBLAS is present, it shares the rounded activations); for larger batches cuBLAS where the library is
 * present (activations rounded to the weight type first), else our tensor-core GEMM (split over K
 * when the matrix alone would not fill the card); the CUDA-core kernel for fp32 weights. Quantized
 * matrices (INT8/INT4) take the dp4a GEMV over int8-quantized activations for decode, our
 * tensor-core GEMM dequantizing in registers for batches of up to {@link #QUANT_TC_MAX_TOKENS}, and
 * for larger ones are dequantized into a bf16 scratch matrix that then goes the bf16 way. The
 * rounding or quantization of the activations can be left to the kernel that produces them
 * ({@link #input}, {@link #runPrepared}).
 */
final class Matmuls {
    private static final int MATMUL_WARPS = 4;
    /** Weight rows per warp in the matmul kernels (MATMUL_ROWS in kernels.cu). */
    static final int MATMUL_ROWS = 4;
    /** Batches up to this many tokens take the GEMV kernel (T in kernels.cu's gemv_*). */
    static final int GEMV_MAX_TOKENS = 4;
    /**
     * From this many rows (the logits matrix) a warp per row with 16 loads in flight wins; below it
     * a block per row (measured on an H200 at Llama 3 8B's shapes: 2.2–3.5 TB/s against 1.6–3.4 for
     * a warp per row, docs/PERFORMANCE.md).
     */
    static final int GEMV_WIDE_ROWS = 65536;
    /** Weight rows per warp of the quantized GEMV (QUANT_GEMV_ROWS in quant.cuh). */
    static final int QUANT_GEMV_ROWS = 4;
    /** Rows and tokens one block of matmul_tc_* covers (4 warps × MT×16 rows; NT×8 tokens). */
    static final int TC_ROWS = 128;
    static final int TC_TOKENS = 32;
    /** Blocks a tensor-core launch should reach (about four per SM on an H100/H200) before K is split. */
    static final int TC_TARGET_BLOCKS = 528;
    /** Floats of the split-K workspace: bounds splits × tokens × rows. */
    private final long splitWorkspaceFloats = 16L << 20;
    private CUdeviceptr splitWorkspace;
    /** Activations rounded to 16 bits for cuBLAS, and how many elements it holds. */
    private CUdeviceptr half;
    private long halfElements;
    private Optional<Cublas> cublas;
    private final Kernels k;
    private final DeviceMemory memory;
    /** Elements of the largest quantized matrix (its bf16 copy for batches) and columns of the widest. */
    private final long maxQuantizedElements;
    private final int maxQuantizedCols;
    /**
     * Decode activations quantized to int8 (GEMV_MAX_TOKENS × widest cols) and their per-32 (scale,
     * scale·sum): the pair the next product reads, and a second pair that a product carrying the
     * next RMSNorm ({@link FusedNorm}) writes while its own blocks still read the first (then they swap).
     */
    private CUdeviceptr actValues, actScales, nextValues, nextScales;
    /** A counter per 32 output rows for a product carrying the next RMSNorm (quant.cuh's fused_norm_out), left at zero. */
    private CUdeviceptr normCounters;
    private final int maxQuantizedRows;
    private CUdeviceptr dequantized;

    private final boolean allowCublas;

    Matmuls(Kernels k, DeviceMemory memory) {
        this(k, memory, List.of(), true);
    }

    /** For products with {@code matrices}: sizes the scratch its quantized ones need. */
    Matmuls(Kernels k, DeviceMemory memory, List<? extends DeviceMatrix> matrices) {
        this(k, memory, matrices, true);
    }

    /** {@code allowCublas = false} keeps the engine's own kernels (for comparisons). */
    Matmuls(Kernels k, DeviceMemory memory, List<? extends DeviceMatrix> matrices, boolean allowCublas) {
        this.k = k;
        this.memory = memory;
        this.allowCublas = allowCublas;
        this.maxQuantizedElements = matrices.stream().filter(m -> m instanceof DeviceMatrix.Quantized).mapToLong(m -> (long) m.rows() * m.cols()).max().orElse(0);
        this.maxQuantizedCols = matrices.stream().filter(m -> m instanceof DeviceMatrix.Quantized).mapToInt(DeviceMatrix::cols).max().orElse(0);
        this.maxQuantizedRows = matrices.stream().filter(m -> m instanceof DeviceMatrix.Quantized).mapToInt(DeviceMatrix::rows).max().orElse(0);
    }

    /** Room for {@code elements} 16-bit activations (the widest step's input), when cuBLAS is in use. Returns whether it moved. */
    boolean ensureHalfActivations(long elements) {
        ensureWorkspace();
        if (cublas.isEmpty() || elements <= halfElements) return false;
        if (half != null) memory.free("activations", half, halfElements * 2);
        half = memory.allocate("activations", elements * 2);
        halfElements = elements;
        return true;
    }

    /** Whether batched products of 16-bit weights go through cuBLAS. */
    boolean usesCublas() {
        ensureWorkspace();
        return cublas.isPresent();
    }

    /**
     * The decode GEMV for a dense matrix: a warp per row with 16 loads in flight for tall matrices,
     * else a block per row; {@link #denseGemv} other than "auto" picks one for every matrix.
     */
    private String gemvKernel(DeviceMatrix.Dense m) {
        boolean sixteenBit = m.dtype() != GpuDtype.F32;
        return switch (denseGemv) {
            case "warp" -> "gemv_";
            case "wide" -> "gemv_wide_";
            case "block", "block256" -> "gemv_block_";
            case "block2" -> sixteenBit ? "gemv_block2_" : "gemv_block_";
            default -> m.rows() >= GEMV_WIDE_ROWS ? "gemv_wide_" : "gemv_block_";
        };
    }

    /**
     * Whether a decode product (n ≤ 4) of 16-bit weights goes through cuBLAS (its activations rounded
     * first) rather than our GEMV: always for 2–4 tokens; for one, as {@link #tuneDecode} timed it on
     * this card for the matrix's shape, else for matrices larger than 4096 × 4096 (what an H200 showed
     * at Llama 3 8B's shapes). "cublas" forces it, any other explicit choice keeps the GEMV.
     */
    private boolean cublasDecode(DeviceMatrix.Dense m, int n) {
        if (m.dtype() == GpuDtype.F32) return false;
        if (denseGemv.equals("cublas")) return true;
        if (!denseGemv.equals("auto")) return false;
        // 2–4 tokens: the GEMV re-reads every token's activations from L1 for each weight chunk and
        // became L1-bound (Llama 3 8B bf16 at 4 sequences: 10.7 ms a step, against 6.8 ms for 16
        // through cuBLAS, H100, run S4-6)
        if (n > 1) return true;
        if (decodeTrial != null) return decodeTrial;
        Boolean tuned = tunedCublasDecode.get(shapeKey(m));
        return tuned != null ? tuned : (long) m.rows() * m.cols() > CUBLAS_DECODE_ELEMENTS;
    }

    private static final long CUBLAS_DECODE_ELEMENTS = 4096L * 4096;
    /** Per 16-bit matrix shape: whether its decode product goes through cuBLAS, as timed on this card. */
    private final java.util.Map<Long, Boolean> tunedCublasDecode = new java.util.HashMap<>();
    /** Set while {@link #tuneDecode} times one of the two paths. */
    private Boolean decodeTrial;

    private static long shapeKey(DeviceMatrix m) {
        return ((long) m.rows() << 32) | m.cols();
    }

    /**
     * Times, on this card, the decode product (one token) of each given shape of 16-bit weights both
     * ways, our GEMV and cuBLAS with its rounding launch, and keeps the faster for that shape. Each
     * list holds the model's matrices of one shape (one per layer), which the timing rotates through
     * so that the L2 cache holds none of them, as in a decode step. Timed rather than ruled because the
     * answer depends on the card: cuBLAS won for all of Llama 3 8B's shapes but 4096 × 4096 on an H200
     * (this session's run 3) while batch-1 decode on an H100 lost 2% with the H200's rule (run 5).
     * Returns one line per shape for the log.
     */
    List<String> tuneDecode(List<List<DeviceMatrix>> shapes, CUstream stream) {
        ensureWorkspace();
        List<String> report = new java.util.ArrayList<>();
        if (cublas.isEmpty() || !denseGemv.equals("auto")) return report;
        for (List<DeviceMatrix> same : shapes) {
            if (!(same.getFirst() instanceof DeviceMatrix.Dense first) || first.dtype() == GpuDtype.F32) continue;
            ensureHalfActivations(first.cols());
            CUdeviceptr x = memory.allocate("activations", 4L * first.cols());
            CUdeviceptr y = memory.allocate("activations", 4L * first.rows());
            try {
                k.launch("fill_f32", (first.cols() + 255) / 256, 1, 256, stream, x, 0.5f, (long) first.cols());
                double[] ms = new double[2];
                for (int path = 0; path < 2; path++) {
                    decodeTrial = path == 1;
                    int calls = Math.max(8, same.size());
                    ms[path] = GraphTimer.millisPerCall(stream, calls, i -> run(same.get(i % same.size()), x, y, 1, false, stream));
                }
                boolean viaCublas = ms[1] < ms[0];
                tunedCublasDecode.put(shapeKey(first), viaCublas);
                report.add(String.format(java.util.Locale.ROOT, "%d×%d: GEMV %.1f µs, cuBLAS %.1f µs → %s",
                        first.rows(), first.cols(), 1e3 * ms[0], 1e3 * ms[1], viaCublas ? "cuBLAS" : "GEMV"));
            } finally {
                decodeTrial = null;
                memory.free("activations", x, 4L * first.cols());
                memory.free("activations", y, 4L * first.rows());
            }
        }
        return report;
    }

    /** Threads of a block-per-row GEMV: 128, or 256 for the "block256" choice. */
    private int gemvBlockThreads() {
        return denseGemv.equals("block256") ? 256 : 32 * MATMUL_WARPS;
    }

    /**
     * The quantized decode GEMV's layout for a matrix and n tokens: "rows" (4 rows a warp), "k2" (2
     * rows a warp, 2 warps a row), "k2u8" (k2 with 8 loads a lane), "k4" (a block of 4 warps a row),
     * "k2r4" (k2 with 4 rows a warp) or "k2r8" (one token only: k2 with 8 rows a warp and 2 loads a
     * lane); {@link #quantGemv} other than "auto" picks one for every product. auto: k2r8 for one
     * token, k2 for two, rows above (docs/PERFORMANCE.md: on an H200 at Llama 3 8B's shapes k2 was 1.1–2× faster than rows at n = 1, rows 5–30% faster at n = 4, S3-2;
     * on an H100 k2r4 beat k2 by 6–13% on 4096 × 4096 and batch-1 decode by 2–4%, S5-5; k2r8 beat
     * k2r4 in batch-1 decode by 3.7% with INT4 and 2.3% with INT8 weights, S11-2: half the blocks, so
     * a 4096-row product fits beside the attention's blocks in one wave and streams while it runs).
     * Returns the kernel name's infix (for k2r8 with {@link #weightsViaL1}) and the rows one block covers.
     */
    private QuantLayout quantLayout(int n) {
        String choice = quantGemv;
        if (choice.equals("auto")) choice = n == 1 ? "k2r8" : n == 2 ? "k2" : "rows";
        return switch (choice) {
            case "k2" -> new QuantLayout("_k2", 4);
            case "k2u8" -> new QuantLayout("_k2u8", 4);
            case "k4" -> new QuantLayout("_k4", 1);
            case "k2r4" -> new QuantLayout("_k2r4", 8);
            case "k2r8" -> n == 1 ? new QuantLayout("_k2r8" + weightsViaL1, 16) : new QuantLayout("_k2r4", 8);
            default -> new QuantLayout("", MATMUL_WARPS * QUANT_GEMV_ROWS);
        };
    }

    private record QuantLayout(String infix, int rowsPerBlock) {}

    /** Every quantized decode GEMV layout {@link #chooseGemv} takes besides "auto". */
    static final List<String> QUANT_LAYOUTS = List.of("rows", "k2", "k2u8", "k4", "k2r4", "k2r8");

    /**
     * Decode GEMV choices, for measurements (KernelBench sweeps them): dense warp|wide|block|block256|block2|cublas
     * (-Dkvasir.gpu.gemv), quantized rows|k2|k2u8|k4|k2r4|k2r8 (-Dkvasir.gpu.qgemv); "auto" = the shape rule.
     */
    private String denseGemv = System.getProperty("kvasir.gpu.gemv", "auto");
    private String quantGemv = System.getProperty("kvasir.gpu.qgemv", "auto");

    void chooseGemv(String dense, String quantized) {
        this.denseGemv = dense;
        this.quantGemv = quantized;
    }

    /**
     * Products of 2–32 tokens that read 16-bit activations: "skinny" (our bandwidth-bound
     * tensor-core kernel, matmul_skinny) or "cublas" (-Dkvasir.gpu.batched); "auto" = skinny up to
     * {@value #SKINNY_MAX_TOKENS} tokens, cuBLAS above. Measured on an H100 at Llama 3 8B's shapes
     * (docs/PERFORMANCE.md, S6-3): skinny 1–14% faster than cuBLAS per product at 4–16 tokens (but
     * down at 16: +2%), 8B decode +8% at 4 sequences, +4% at 8, +3% at 16; at 32 tokens cuBLAS
     * wins (4614 against 4290 tok/s), the activations then costing skinny as many loads as the weights.
     */
    private String batched = System.getProperty("kvasir.gpu.batched", "auto");
    static final int SKINNY_MAX_TOKENS = 16;
    static final List<String> BATCHED_CHOICES = List.of("cublas", "skinny");

    void chooseBatched(String choice) {
        this.batched = choice;
    }

    /** The skinny kernel for a product that reads 16-bit activations, or null for cuBLAS. */
    private String skinnyKernel(DeviceMatrix.Dense m, int n) {
        if (n < 2 || n > 32 || m.cols() % 32 != 0 || m.dtype() == GpuDtype.F32) return null;
        boolean skinny = switch (batched) {
            case "cublas" -> false;
            case "skinny" -> true;
            default -> n <= SKINNY_MAX_TOKENS;
        };
        return skinny ? "matmul_skinny_" + m.dtype().kernelSuffix + "_" + (n + 7) / 8 : null;
    }

    void close() {
        if (cublas != null) cublas.ifPresent(Cublas::close);
    }

    /**
     * Allocates the split-K workspace, opens cuBLAS where present and, for quantized matrices, the decode activations' int8 copy
     * and the bf16 scratch the largest one is dequantized into for batches: once, before any graph
     * capture (where allocating is not allowed) and before the KV pool takes what is left.
     */
    void ensureWorkspace() {
        if (splitWorkspace == null) splitWorkspace = memory.allocate("activations", splitWorkspaceFloats * 4);
        if (cublas == null && !allowCublas) cublas = Optional.empty();
        if (cublas == null) {
            CUdeviceptr ws = memory.allocate("activations", Cublas.WORKSPACE_BYTES);
            cublas = Cublas.open(ws);
            if (cublas.isEmpty()) memory.free("activations", ws, Cublas.WORKSPACE_BYTES);
        }
        if (maxQuantizedElements > 0 && dequantized == null) {
            dequantized = memory.allocate("activations", 2 * maxQuantizedElements);
            actValues = memory.allocate("activations", (long) GEMV_MAX_TOKENS * maxQuantizedCols);
            actScales = memory.allocate("activations", (long) GEMV_MAX_TOKENS * (maxQuantizedCols / 32) * 8);
            nextValues = memory.allocate("activations", (long) GEMV_MAX_TOKENS * maxQuantizedCols);
            nextScales = memory.allocate("activations", (long) GEMV_MAX_TOKENS * (maxQuantizedCols / 32) * 8);
            int groups = Math.max(1, maxQuantizedRows / 32);
            normCounters = memory.allocate("activations", 4L * groups);
            jcuda.driver.JCudaDriver.cuMemsetD32(normCounters, 0, groups);
        }
    }

    /**
     * out (+)= m · in for n activation rows ({@code in}: n × cols fp32; {@code out}: n × rows fp32,
     * added to when {@code accumulate}).
     */
    void run(DeviceMatrix m, CUdeviceptr in, CUdeviceptr out, int n, boolean accumulate, CUstream stream) {
        run(m, in, out, n, accumulate, false, stream, null, null);
    }

    /**
     * The form in which the product with m over n rows reads its activations: fp32 ({@code in}),
     * rounded to 16 bits in {@link #halfActivations()} (cuBLAS), or int8 per 32 columns in
     * {@link #int8Activations()} / {@link #int8Scales()} (the quantized GEMV). A kernel that
     * produces the activations can write them in that form itself and save the product's own
     * conversion launch ({@link #runPrepared}).
     */
    enum Input { FLOAT, HALF, INT8 }

    Input input(DeviceMatrix m, int n) {
        ensureWorkspace();
        return switch (m) {
            case DeviceMatrix.Dense d -> viaCublas(d, n) ? Input.HALF : Input.FLOAT;
            case DeviceMatrix.Quantized q -> n <= quantGemvMaxTokens ? Input.INT8
                    : quantizedOnTensorCores(n) ? Input.FLOAT
                    : viaCublas(new DeviceMatrix.Dense(dequantized, q.rows(), q.cols(), GpuDtype.BF16), n) ? Input.HALF : Input.FLOAT;
        };
    }

    /** The 16-bit type of {@link Input#HALF} activations for m (bf16 for quantized matrices). */
    static GpuDtype halfType(DeviceMatrix m) {
        return m instanceof DeviceMatrix.Dense d ? d.dtype() : GpuDtype.BF16;
    }

    CUdeviceptr halfActivations() {
        return half;
    }

    CUdeviceptr int8Activations() {
        return actValues;
    }

    CUdeviceptr int8Scales() {
        return actScales;
    }

    /** {@link #run} for activations already in the form {@link #input} names ({@code in} read only when that is fp32). */
    void runPrepared(DeviceMatrix m, CUdeviceptr in, CUdeviceptr out, int n, boolean accumulate, CUstream stream) {
        runPrepared(m, in, out, n, accumulate, stream, null, null);
    }

    /**
     * An RMSNorm (weight {@code gamma}, {@code dim} wide) carried by the quantized GEMVs on either side
     * of it instead of a launch of its own (quant.cuh's NormFusion): {@code partials} holds its per-32
     * sums of squares (GEMV_MAX_TOKENS × dim / 32 floats) from the product that writes the residual
     * to the one that reads the norm.
     */
    record FusedNorm(CUdeviceptr partials, CUdeviceptr gamma, int dim, float eps) {}

    /**
     * Whether the RMSNorm between {@code producer} (the residual product, out += producer · a) and
     * {@code consumer} (the product that reads the norm) rides on their GEMVs at n tokens: both
     * quantized and on the GEMV, 32-row groups that the producer's blocks tile, and one token — the
     * kernels take up to four, but at four sequences 8B decode lost 3–7% on an H100 (S6-4). At one it
     * gains about 0.5–1% (order-balanced over S6-4, S6-7 and S6-8: the first decode of a call runs slow,
     * which made single pairs read +4% or −3%). -Dkvasir.gpu.fuse-norms=false: never.
     */
    boolean fusesNorm(DeviceMatrix producer, DeviceMatrix consumer, int n) {
        ensureWorkspace();
        return fuseNorms && n == 1 && producer instanceof DeviceMatrix.Quantized && consumer instanceof DeviceMatrix.Quantized
                && input(producer, n) == Input.INT8 && input(consumer, n) == Input.INT8
                && producer.rows() % 32 == 0 && consumer.cols() == producer.rows() && 32 % quantLayout(n).rowsPerBlock() == 0;
    }

    private final boolean fuseNorms = !"false".equals(System.getProperty("kvasir.gpu.fuse-norms"));

    /**
     * {@link #runPrepared} with a fused RMSNorm on the input side ({@code normIn}: the product reads
     * x∘γ and scales by the norm's rs) and/or the output side ({@code normOut}: out is the residual;
     * its norm's int8 activations and partial sums are written for the next product). Both need
     * {@link #fusesNorm}.
     */
    void runPrepared(DeviceMatrix m, CUdeviceptr in, CUdeviceptr out, int n, boolean accumulate, CUstream stream, FusedNorm normIn, FusedNorm normOut) {
        run(m, in, out, n, accumulate, true, stream, normIn, normOut);
    }

    /** {@link #run} ({@code prepared = false}) or {@link #runPrepared}, with the fused norms of the latter. */
    void run(DeviceMatrix m, CUdeviceptr in, CUdeviceptr out, int n, boolean accumulate, boolean prepared, CUstream stream,
             FusedNorm normIn, FusedNorm normOut) {
        ensureWorkspace();
        switch (m) {
            case DeviceMatrix.Dense d -> runDense(d, in, out, n, accumulate, prepared, stream);
            case DeviceMatrix.Quantized q -> runQuantized(q, in, out, n, accumulate, prepared, stream, normIn, normOut);
        }
    }

    /**
     * Up to this many tokens a quantized product runs on our tensor-core kernel with the weights
     * dequantized in registers; above, the matrix is dequantized once into a bf16 scratch for cuBLAS,
     * whose higher throughput then pays for that pass (an H200 dequantizes Llama 3 8B's gate/up in
     * ~160 µs as INT4, ~95 µs as INT8, against ~2.6 µs a token on our tf32 kernel: break-even ~40–70
     * tokens).
     */
    static final int QUANT_TC_MAX_TOKENS = 64;

    private boolean quantizedOnTensorCores(int n) {
        return n > quantGemvMaxTokens && (n <= QUANT_TC_MAX_TOKENS || cublas.isEmpty());
    }

    /** Quantized products of up to this many tokens take the GEMV (-Dkvasir.gpu.quant-gemv-max, 1–4), larger ones the tensor cores. */
    private final int quantGemvMaxTokens = Math.max(1, Math.min(GEMV_MAX_TOKENS, Integer.getInteger("kvasir.gpu.quant-gemv-max", GEMV_MAX_TOKENS)));

    /**
     * Decode (n ≤ 4): the activations quantized to int8 per 32 columns, then the dp4a GEMV, which
     * reads the packed weights once. Batches up to {@link #QUANT_TC_MAX_TOKENS} (or any, without
     * cuBLAS): our tensor-core GEMM dequantizing in registers. Larger: the matrix dequantized to bf16
     * into the scratch buffer, then the bf16 product. {@code prepared}: the activations are already
     * in the form {@link #input} names.
     */
    private void runQuantized(DeviceMatrix.Quantized m, CUdeviceptr in, CUdeviceptr out, int n, boolean accumulate, boolean prepared, CUstream stream,
                              FusedNorm normIn, FusedNorm normOut) {
        if (dequantized == null || m.cols() > maxQuantizedCols || (long) m.rows() * m.cols() > maxQuantizedElements) {
            throw new IllegalStateException("no quantization scratch sized for a " + m.rows() + "x" + m.cols() + " matrix: build Matmuls with its matrices");
        }
        String sfx = m.format().kernelSuffix;
        if (n <= quantGemvMaxTokens) {
            long count = (long) n * m.cols();
            if (!prepared) k.launch("quantize_act_q8", (int) ((count + 255) / 256), 1, 256, stream, in, actValues, actScales, count);
            QuantLayout layout = quantLayout(n);
            k.launch("gemv_" + sfx + layout.infix() + "_" + n, (m.rows() + layout.rowsPerBlock() - 1) / layout.rowsPerBlock(), 1, 32 * MATMUL_WARPS, stream,
                    m.data(), m.scales(), actValues, actScales, out, m.rows(), m.cols(), m.groupShift(), accumulate ? 1 : 0,
                    normIn == null ? null : normIn.partials(), normIn == null ? 0 : normIn.dim(), normIn == null ? 0f : normIn.eps(),
                    normOut == null ? null : normOut.gamma(), normOut == null ? null : nextValues, normOut == null ? null : nextScales,
                    normOut == null ? null : normOut.partials(), normOut == null ? null : normCounters);
            if (normOut != null) swapActivations();
        } else if (quantizedOnTensorCores(n)) {
            tensorCoreGemm("matmul_tc_" + (m.format() == QuantFormat.INT8 ? "q8" : "q4"), new Object[]{m.data(), m.scales()}, in, out,
                    m.rows(), m.cols(), n, accumulate, new Object[]{m.groupSize()}, stream);
        } else {
            // a thread per 8 INT8 weights or per 32-column INT4 block
            long threads = (long) m.rows() * m.cols() / (m.format() == QuantFormat.INT8 ? 8 : 32);
            k.launch("dequant_" + sfx + "_bf16", (int) ((threads + 255) / 256), 1, 256, stream, m.data(), m.scales(), dequantized, m.rows(), m.cols(), m.groupSize());
            runDense(new DeviceMatrix.Dense(dequantized, m.rows(), m.cols(), GpuDtype.BF16), in, out, n, accumulate, prepared, stream);
        }
    }

    /** After a product that wrote the next one's int8 activations into the spare buffers: the next product reads them. */
    private void swapActivations() {
        CUdeviceptr v = actValues, sc = actScales;
        actValues = nextValues;
        actScales = nextScales;
        nextValues = v;
        nextScales = sc;
    }

    /**
     * Whether the SwiGLU between {@code gateUp} (gate rows then up rows) and {@code down} rides on
     * the gate/up GEMV at n tokens ({@link #runGatedFfn}) instead of a launch of its own between the
     * two products: one token, both quantized and on the GEMV, hidden size a multiple of 32.
     * -Dkvasir.gpu.fuse-swiglu=false launches it on its own. Measured on an H100 (docs/PERFORMANCE.md):
     * 8B batch-1 decode INT4 433.3 → 457.4 tok/s (S8-7); INT8 was about 1% slower while the carrying
     * kernel waited before loading its weights (S8-2, S8-4), and is 3.6% faster since it streams them
     * first (320.4 → 331.8, S11-2).
     */
    boolean carriesSwiglu(DeviceMatrix gateUp, DeviceMatrix down, int n) {
        ensureWorkspace();
        return n == 1 && gateUp instanceof DeviceMatrix.Quantized && down instanceof DeviceMatrix.Quantized
                && fuseSwiglu
                && input(gateUp, n) == Input.INT8 && input(down, n) == Input.INT8 && gateUp.rows() == 2 * down.cols() && down.cols() % 32 == 0;
    }

    private final boolean fuseSwiglu = !"false".equals(System.getProperty("kvasir.gpu.fuse-swiglu"));
    /**
     * -Dkvasir.gpu.glu-early=false: the SwiGLU-carrying GEMV waits for its predecessor before it loads
     * its weights (gemv_*_glu32w_1, the form of S8–S10) instead of streaming them first like the other GEMVs.
     */
    private final boolean gluEarly = !"false".equals(System.getProperty("kvasir.gpu.glu-early"));

    /**
     * -Dkvasir.gpu.weights-past-l1=false: the one-token products (_k2r8, the SwiGLU-carrying gate/up
     * GEMV) read their weights through L1 (gemv_*_k2r8l_1, gemv_*_glu32l_1), as before S13, instead of
     * past it; for measurements (docs/PERFORMANCE.md, S13: past L1 is INT4 batch-1 decode +1.4%).
     * The kernel name's infix for it.
     */
    private final String weightsViaL1 = "false".equals(System.getProperty("kvasir.gpu.weights-past-l1")) ? "l" : "";

    /**
     * One token's gated feed-forward, residual += down · (silu(gate) · up), with the SwiGLU carried
     * by the gate/up GEMV (gemv_*_glu32_1), which writes the down product's int8 activations itself
     * (needs {@link #carriesSwiglu}): gate/up's int8 activations already prepared
     * ({@link #runPrepared}), its input norm and down's output norm optionally carried.
     */
    void runGatedFfn(DeviceMatrix gateUp, DeviceMatrix down, CUdeviceptr residual, CUstream stream, FusedNorm normIn, FusedNorm normOut) {
        DeviceMatrix.Quantized g = (DeviceMatrix.Quantized) gateUp;
        k.launch("gemv_" + g.format().kernelSuffix + (gluEarly ? "_glu32" + weightsViaL1 + "_1" : "_glu32w_1"), g.rows() / 2 / 32, 1, 32 * MATMUL_WARPS, stream,
                g.data(), g.scales(), actValues, actScales, null, g.rows(), g.cols(), g.groupShift(), 0,
                normIn == null ? null : normIn.partials(), normIn == null ? 0 : normIn.dim(), normIn == null ? 0f : normIn.eps(),
                null, nextValues, nextScales, null, null);
        swapActivations();
        runPrepared(down, null, residual, 1, true, stream, null, normOut);
    }

    /**
     * Our tensor-core GEMM (matmul_tc_*): {@code weights} are the kernel's leading arguments, then
     * in, out, rows, cols, n, accumulate, the split-K workspace and kPer, then {@code trailing}. K is
     * split until the grid has a few blocks per SM, each split at least 256 columns long; the splits'
     * partial sums meet in splitk_reduce.
     */
    private void tensorCoreGemm(String kernel, Object[] weights, CUdeviceptr in, CUdeviceptr out, int rows, int cols, int n, boolean accumulate,
                                Object[] trailing, CUstream stream) {
        int acc = accumulate ? 1 : 0;
        int rowBlocks = (rows + TC_ROWS - 1) / TC_ROWS;
        int tokenBlocks = (n + TC_TOKENS - 1) / TC_TOKENS;
        int splits = Math.max(1, Math.min(TC_TARGET_BLOCKS / (rowBlocks * tokenBlocks), cols / 256));
        splits = (int) Math.max(1, Math.min(splits, splitWorkspaceFloats / ((long) n * rows)));
        int kPer = ((cols / 32 + splits - 1) / splits) * 32;
        splits = (cols + kPer - 1) / kPer;
        List<Object> args = new java.util.ArrayList<>(List.of(weights));
        args.addAll(java.util.Arrays.asList(in, out, rows, cols, n, acc));
        args.add(splits <= 1 ? null : splitWorkspace);
        args.add(splits <= 1 ? cols : kPer);
        args.addAll(List.of(trailing));
        k.launch3(kernel, rowBlocks, tokenBlocks, Math.max(1, splits), 128, stream, args.toArray());
        if (splits > 1) {
            long count = (long) n * rows;
            k.launch("splitk_reduce", (int) ((count + 255) / 256), 1, 256, stream, splitWorkspace, out, count, splits, acc);
        }
    }

    /** Whether the product with a dense matrix over n rows goes through cuBLAS (16-bit weights, the library present, room for the rounded activations). */
    private boolean viaCublas(DeviceMatrix.Dense m, int n) {
        boolean wanted = n > GEMV_MAX_TOKENS || cublasDecode(m, n);
        return wanted && m.dtype() != GpuDtype.F32 && cublas.isPresent() && (long) n * m.cols() <= halfElements;
    }

    /**
     * The kernel that suits the batch for a dense matrix: a pipelined GEMV for decode (n ≤ 4,
     * bandwidth-bound; cuBLAS for the large matrices at n = 1), cuBLAS for larger batches of 16-bit
     * weights (else our tensor-core GEMM), and the CUDA-core kernel otherwise (fp32 weights stay
     * exact in fp32). {@code prepared}: the activations are already in the form {@link #input} names.
     */
    private void runDense(DeviceMatrix.Dense m, CUdeviceptr in, CUdeviceptr out, int n, boolean accumulate, boolean prepared, CUstream stream) {
        String sfx = m.dtype().kernelSuffix;
        int acc = accumulate ? 1 : 0;
        if (viaCublas(m, n)) {
            long count = (long) n * m.cols();
            if (!prepared) k.launch("round_" + sfx, (int) ((count / 4 + 255) / 256) + 1, 1, 256, stream, in, half, count);
            String skinny = skinnyKernel(m, n);
            if (skinny != null) {
                k.launch(skinny, (m.rows() + 31) / 32, 1, 256, stream, m.ptr(), half, out, m.rows(), m.cols(), n, acc);
            } else {
                cublas.get().gemm(stream, m, half, out, n, accumulate);
            }
        } else if (n <= GEMV_MAX_TOKENS) {
            String kernel = gemvKernel(m);
            boolean perRow = kernel.startsWith("gemv_block");
            int rowsPerBlock = kernel.equals("gemv_block2_") ? 2 : perRow ? 1 : MATMUL_WARPS;
            int grid = (m.rows() + rowsPerBlock - 1) / rowsPerBlock;
            k.launch(kernel + sfx, grid, 1, perRow ? gemvBlockThreads() : 32 * MATMUL_WARPS, stream, m.ptr(), in, out, m.rows(), m.cols(), n, acc);
        } else if (m.dtype() != GpuDtype.F32 && m.cols() % 32 == 0) {
            tensorCoreGemm("matmul_tc_" + sfx, new Object[]{m.ptr()}, in, out, m.rows(), m.cols(), n, accumulate, new Object[0], stream);
        } else {
            int perBlock = MATMUL_WARPS * MATMUL_ROWS;
            k.launch("matmul_" + sfx, (m.rows() + perBlock - 1) / perBlock, 1, 32 * MATMUL_WARPS, stream, m.ptr(), in, out, m.rows(), m.cols(), n, acc);
        }
    }

}
