package dev.kvasir.gpu;

import dev.kvasir.model.tensor.Quantizer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each kernel against a float64 reference on fresh random inputs, outputs poisoned with NaN before
 * every run (an unwritten element fails the check). Weights are drawn already rounded to their
 * device type, so the only error left is fp32 arithmetic.
 */
@GpuTest
class KernelCheckTest {
    private static final Logger log = LoggerFactory.getLogger(KernelCheckTest.class);
    private static GpuDispatcher d;
    private static final SplittableRandom random = new SplittableRandom(System.nanoTime());

    @BeforeAll
    static void open() {
        Gpu.assume();
        d = GpuDispatcher.open(0);
    }

    @AfterAll
    static void close() {
        if (d != null) d.close();
    }

    private static float[] randoms(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (random.nextDouble() * 2 - 1);
        return v;
    }

    static double relativeError(float[] out, double[] ref) {
        double diff = 0, norm = 0;
        for (int i = 0; i < out.length; i++) {
            if (!Float.isFinite(out[i])) return Double.POSITIVE_INFINITY;
            diff += (out[i] - ref[i]) * (out[i] - ref[i]);
            norm += ref[i] * ref[i];
        }
        return Math.sqrt(diff / norm);
    }

    private static void check(String what, float[] out, double[] ref, double limit) {
        double e = relativeError(out, ref);
        log.info("{}: relative error {}", what, e);
        assertTrue(e < limit, what + ": relative error " + e + " over " + limit);
    }

    /** A weight matrix drawn already rounded to {@code type}: its float values and its stored bits. */
    private record Weights(float[] values, short[] bits) {
        static Weights random(GpuDtype type, int count) {
            float[] w = randoms(count);
            short[] bits = new short[count];
            for (int i = 0; i < count; i++) {
                switch (type) {
                    case BF16 -> { bits[i] = Quantizer.toBf16(w[i]); w[i] = Float.intBitsToFloat(bits[i] << 16); }
                    case F16 -> { bits[i] = Float.floatToFloat16(w[i]); w[i] = Float.float16ToFloat(bits[i]); }
                    case F32 -> { }
                }
            }
            return new Weights(w, bits);
        }
    }

    /**
     * One matmul-family kernel on random inputs against float64, both as y = Wx (output poisoned)
     * and y += Wx. {@code grid} gives the launch shape for (rows, n).
     */
    private static void checkMatmul(DeviceArrays a, String kernel, GpuDtype type, int rows, int cols, int n,
                                    java.util.function.BiFunction<Integer, Integer, int[]> grid, double limit) {
        checkMatmul(a, kernel + type, type, rows, cols, n, limit, (wp, xp, yp, acc) -> {
            int[] g = grid.apply(rows, n);
            a.kernels.launch(kernel + type.kernelSuffix, g[0], g[1], 128, d.stream(), wp, xp, yp, rows, cols, n, acc);
        });
    }

    interface MatmulLaunch {
        void run(CUdeviceptr w, CUdeviceptr x, CUdeviceptr y, int accumulate);
    }

    private static void checkMatmul(DeviceArrays a, String what, GpuDtype type, int rows, int cols, int n, double limit, MatmulLaunch launch) {
        for (int acc = 0; acc < 2; acc++) {
            Weights w = Weights.random(type, rows * cols);
            float[] x = randoms(n * cols);
            float[] y0 = randoms(n * rows);
            double[] ref = new double[n * rows];
            for (int t = 0; t < n; t++) {
                for (int r = 0; r < rows; r++) {
                    double s = acc == 1 ? y0[t * rows + r] : 0;
                    for (int c = 0; c < cols; c++) s += (double) w.values()[r * cols + c] * x[t * cols + c];
                    ref[t * rows + r] = s;
                }
            }
            CUdeviceptr wp = type == GpuDtype.F32 ? a.floats(w.values()) : a.shorts(w.bits());
            CUdeviceptr xp = a.floats(x);
            CUdeviceptr yp = acc == 1 ? a.floats(y0) : a.poisoned(n * rows);
            launch.run(wp, xp, yp, acc);
            check(what + " " + rows + "x" + cols + " n=" + n + (acc == 1 ? " +=" : ""), a.readFloats(yp, n * rows), ref, limit);
        }
    }

    @Test
    void cudaCoreMatmulInEveryWeightTypeAndBatch() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                for (GpuDtype type : GpuDtype.values()) {
                    for (int[] shape : new int[][]{{67, 64}, {300, 172}, {1000, 4096}, {129, 1032}}) {
                        for (int n : new int[]{1, 3, 9, 32}) {
                            checkMatmul(a, "matmul_", type, shape[0], shape[1], n, (rows, nn) -> new int[]{(rows + 15) / 16, 1}, 1e-5);
                        }
                    }
                }
            }
            return null;
        });
    }

    @Test
    void decodeGemvInEveryWeightType() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                for (GpuDtype type : GpuDtype.values()) {
                    for (int[] shape : new int[][]{{67, 64}, {300, 172}, {1000, 4096}, {129, 1032}, {77, 14336}}) {
                        for (int n = 1; n <= 4; n++) {
                            checkMatmul(a, "gemv_", type, shape[0], shape[1], n, (rows, nn) -> new int[]{(rows + 3) / 4, 1}, 1e-5);
                            checkMatmul(a, "gemv_wide_", type, shape[0], shape[1], n, (rows, nn) -> new int[]{(rows + 3) / 4, 1}, 1e-5);
                            checkMatmul(a, "gemv_block_", type, shape[0], shape[1], n, (rows, nn) -> new int[]{rows, 1}, 1e-5);
                        }
                    }
                }
            }
            return null;
        });
    }

    /**
     * The decode product through {@link Matmuls} for 16-bit weights after {@link Matmuls#tuneDecode}
     * timed both paths on this card: a decision per shape where cuBLAS is present, and the product,
     * whichever path it takes (and the block-per-row GEMV's second-row layout), within the activations'
     * 16-bit rounding of float64.
     */
    @Test
    void decodeProductsAfterTimingBothPaths() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                for (GpuDtype type : new GpuDtype[]{GpuDtype.BF16, GpuDtype.F16}) {
                    int[][] shapes = {{1000, 4096}, {4352, 4096}};
                    List<List<DeviceMatrix>> byShape = new java.util.ArrayList<>();
                    List<Weights> weights = new java.util.ArrayList<>();
                    for (int[] shape : shapes) {
                        List<DeviceMatrix> copies = new java.util.ArrayList<>();
                        for (int i = 0; i < 3; i++) {
                            Weights w = Weights.random(type, shape[0] * shape[1]);
                            if (i == 0) weights.add(w);
                            copies.add(new DeviceMatrix.Dense(a.shorts(w.bits()), shape[0], shape[1], type));
                        }
                        byShape.add(copies);
                    }
                    Matmuls mm = new Matmuls(a.kernels, a.memory);
                    List<String> report = mm.tuneDecode(byShape, d.stream());
                    log.info("decode paths timed for {}: {}", type, report);
                    if (mm.usesCublas()) assertTrue(report.size() == shapes.length, "a decision per shape: " + report);
                    for (int s = 0; s < shapes.length; s++) {
                        int rows = shapes[s][0], cols = shapes[s][1];
                        float[] x = randoms(cols);
                        double[] ref = new double[rows];
                        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) ref[r] += (double) weights.get(s).values()[r * cols + c] * x[c];
                        CUdeviceptr y = a.poisoned(rows);
                        mm.run(byShape.get(s).getFirst(), a.floats(x), y, 1, false, d.stream());
                        check("tuned decode product " + type + " " + rows + "x" + cols, a.readFloats(y, rows), ref, 1e-2);
                        mm.chooseGemv("block2", "auto");
                        y = a.poisoned(rows);
                        mm.run(byShape.get(s).getFirst(), a.floats(x), y, 1, false, d.stream());
                        check("gemv_block2_ " + type + " " + rows + "x" + cols, a.readFloats(y, rows), ref, 1e-5);
                        mm.chooseGemv("auto", "auto");
                    }
                    mm.close();
                }
            }
            return null;
        });
    }

    /** tf32 tensor cores: activations rounded to a 10-bit mantissa, so about 3e-4 is expected. */
    @Test
    void tensorCoreMatmulFor16BitWeights() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                for (GpuDtype type : new GpuDtype[]{GpuDtype.BF16, GpuDtype.F16}) {
                    for (int[] shape : new int[][]{{67, 64}, {300, 1056}, {1000, 4096}, {17, 32}}) {
                        for (int n : new int[]{5, 8, 17, 32, 70}) {
                            for (int wanted : new int[]{1, 3}) {
                                int rows = shape[0], cols = shape[1];
                                int kPer = ((cols / 32 + wanted - 1) / wanted) * 32;
                                int splits = (cols + kPer - 1) / kPer;
                                CUdeviceptr ws = a.poisoned(splits * n * rows);
                                checkMatmul(a, "matmul_tc_" + type + " splits " + splits, type, rows, cols, n, 1e-3, (wp, xp, yp, acc) -> {
                                    a.kernels.launch3("matmul_tc_" + type.kernelSuffix, (rows + 127) / 128, (n + 31) / 32, splits, 128, d.stream(),
                                            wp, xp, yp, rows, cols, n, acc, splits > 1 ? ws : null, kPer);
                                    if (splits > 1) {
                                        a.kernels.launch("splitk_reduce", (n * rows + 255) / 256, 1, 256, d.stream(), ws, yp, (long) n * rows, splits, acc);
                                    }
                                });
                            }
                        }
                    }
                }
            }
            return null;
        });
    }

    /**
     * The skinny tensor-core product (2–32 tokens over 16-bit activations) against float64 of the
     * same rounded activations: only the fp32 accumulation differs. Rows that end inside a block,
     * tokens that end inside an 8-token tile, and columns past several rounds of every warp's chunks
     * (14336).
     */
    @Test
    void skinnyProductsFor16BitWeights() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                for (GpuDtype type : new GpuDtype[]{GpuDtype.BF16, GpuDtype.F16}) {
                    for (int[] shape : new int[][]{{67, 64}, {300, 1056}, {1000, 4096}, {77, 14336}}) {
                        int rows = shape[0], cols = shape[1];
                        Weights w = Weights.random(type, rows * cols);
                        CUdeviceptr wp = a.shorts(w.bits());
                        for (int n : new int[]{2, 5, 8, 17, 32}) {
                            Weights x = Weights.random(type, n * cols);
                            double[] product = new double[n * rows];
                            for (int t = 0; t < n; t++) {
                                for (int r = 0; r < rows; r++) {
                                    double s = 0;
                                    for (int c = 0; c < cols; c++) s += (double) w.values()[r * cols + c] * x.values()[t * cols + c];
                                    product[t * rows + r] = s;
                                }
                            }
                            CUdeviceptr xp = a.shorts(x.bits());
                            for (int acc = 0; acc < 2; acc++) {
                                float[] y0 = randoms(n * rows);
                                double[] ref = product.clone();
                                if (acc == 1) for (int i = 0; i < ref.length; i++) ref[i] += y0[i];
                                CUdeviceptr yp = acc == 1 ? a.floats(y0) : a.poisoned(n * rows);
                                a.kernels.launch("matmul_skinny_" + type.kernelSuffix + "_" + (n + 7) / 8, (rows + 31) / 32, 1, 256, d.stream(),
                                        wp, xp, yp, rows, cols, n, acc);
                                check("matmul_skinny_ " + type + " " + rows + "x" + cols + " n=" + n + (acc == 1 ? " +=" : ""), a.readFloats(yp, n * rows), ref, 1e-5);
                            }
                        }
                    }
                }
            }
            return null;
        });
    }

    @Test
    void rmsnormWithAndWithoutRowGather() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                for (int dim : new int[]{64, 2048, 4096}) {
                    int n = 7;
                    float[] x = randoms(n * dim);
                    float[] w = randoms(dim);
                    int[] rows = {6, 0, 3};
                    for (boolean gather : new boolean[]{false, true}) {
                        int outRows = gather ? rows.length : n;
                        double[] ref = new double[outRows * dim];
                        for (int r = 0; r < outRows; r++) {
                            int src = gather ? rows[r] : r;
                            double ss = 0;
                            for (int i = 0; i < dim; i++) ss += (double) x[src * dim + i] * x[src * dim + i];
                            double scale = 1 / Math.sqrt(ss / dim + 1e-5);
                            for (int i = 0; i < dim; i++) ref[r * dim + i] = x[src * dim + i] * scale * w[i];
                        }
                        CUdeviceptr out = a.poisoned(outRows * dim);
                        a.kernels.launch("rmsnorm", outRows, 1, 256, d.stream(), a.floats(x), gather ? a.ints(rows) : null, a.floats(w), out, dim, 1e-5f);
                        check("rmsnorm dim " + dim + (gather ? " gathered" : ""), a.readFloats(out, outRows * dim), ref, 1e-5);
                    }
                }
            }
            return null;
        });
    }

    /**
     * The producers that write a product's input in its final form (rmsnorm_bf16/_f16/_q8,
     * swiglu_bf16/_f16/_q8) against the fp32 kernel followed by the conversion they replace
     * (round_bf16/_f16, quantize_act_q8): byte for byte the same activations and scales.
     */
    @Test
    void producersWriteExactlyWhatTheConversionKernelsWould() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                int n = 5;
                for (int dim : new int[]{64, 98, 2048, 4096}) {
                    float[] x = randoms(n * dim), w = randoms(dim);
                    x[3] = 0;
                    int[] rows = {4, 0, 2};
                    for (int threads : new int[]{256, 1024}) {
                        CUdeviceptr fp32 = a.poisoned(rows.length * dim);
                        Object[] in = {a.floats(x), a.ints(rows), a.floats(w)};
                        a.kernels.launch("rmsnorm", rows.length, 1, threads, d.stream(), in[0], in[1], in[2], fp32, dim, 1e-5f);
                        String what = "rmsnorm dim " + dim + ", " + threads + " threads";
                        compareForms(a, what, fp32, rows.length * dim, dim % 32 == 0, (kernel, outs) -> {
                            Object[] args = new Object[3 + outs.length + 2];
                            System.arraycopy(in, 0, args, 0, 3);
                            System.arraycopy(outs, 0, args, 3, outs.length);
                            args[3 + outs.length] = dim;
                            args[4 + outs.length] = 1e-5f;
                            a.kernels.launch("rmsnorm_" + kernel, rows.length, 1, threads, d.stream(), args);
                        });
                    }
                }
                for (int hidden : new int[]{96, 14336}) {
                    CUdeviceptr gu = a.floats(randoms(n * 2 * hidden));
                    int count = n * hidden, grid = (count + 255) / 256;
                    CUdeviceptr fp32 = a.poisoned(count);
                    a.kernels.launch("swiglu", grid, 1, 256, d.stream(), gu, fp32, n, hidden);
                    compareForms(a, "swiglu hidden " + hidden, fp32, count, true, (kernel, outs) -> {
                        Object[] args = new Object[1 + outs.length + 2];
                        args[0] = gu;
                        System.arraycopy(outs, 0, args, 1, outs.length);
                        args[1 + outs.length] = n;
                        args[2 + outs.length] = hidden;
                        a.kernels.launch("swiglu_" + kernel, grid, 1, 256, d.stream(), args);
                    });
                }
            }
            return null;
        });
    }

    /** Launches a producer form ("bf16", "f16", "q8") writing into the given output buffers. */
    private interface Producer {
        void launch(String form, Object[] outputs);
    }

    private static void compareForms(DeviceArrays a, String what, CUdeviceptr fp32, int count, boolean q8, Producer producer) {
        for (String half : new String[]{"bf16", "f16"}) {
            CUdeviceptr expected = a.poisonedBytes(2L * count), got = a.poisonedBytes(2L * count);
            a.kernels.launch("round_" + half, (count / 4 + 255) / 256 + 1, 1, 256, d.stream(), fp32, expected, (long) count);
            producer.launch(half, new Object[]{got});
            assertArrayEquals(a.readBytes(expected, 2 * count), a.readBytes(got, 2 * count), what + ": " + half + " form");
        }
        if (!q8) return;
        CUdeviceptr[] int8 = int8Buffers(a, count);
        producer.launch("q8", int8);
        assertInt8FormEqualsQuantizeAct(a, d.stream(), what, fp32, count, int8);
        log.info("{}: the 16-bit and int8 forms equal the conversion kernels' output", what);
    }

    /** Poisoned buffers for a kernel's int8 form of {@code count} values: the values, then the per-32 (scale, scale·sum) pairs. */
    static CUdeviceptr[] int8Buffers(DeviceArrays a, int count) {
        return new CUdeviceptr[]{a.poisonedBytes(count), a.poisonedBytes(count / 4)};
    }

    /**
     * A kernel's int8 form of its output ({@code got}, from {@link #int8Buffers}) against
     * quantize_act_q8 of its fp32 output {@code fp32} ({@code count} values): byte for byte.
     */
    static void assertInt8FormEqualsQuantizeAct(DeviceArrays a, CUstream stream, String what, CUdeviceptr fp32, int count, CUdeviceptr[] got) {
        CUdeviceptr[] expected = int8Buffers(a, count);
        a.kernels.launch("quantize_act_q8", (count + 255) / 256, 1, 256, stream, fp32, expected[0], expected[1], (long) count);
        assertArrayEquals(a.readBytes(expected[0], count), a.readBytes(got[0], count), what + ": int8 values");
        assertArrayEquals(a.readBytes(expected[1], count / 4), a.readBytes(got[1], count / 4), what + ": int8 block scales");
    }

    @Test
    void ropeInBothLayouts() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                int heads = 4, headDim = 64, n = 5;
                float[] inv = new float[headDim / 2];
                for (int i = 0; i < inv.length; i++) inv[i] = (float) (Math.pow(500000, -2.0 * i / headDim) / (1 + i % 3));
                int[] pos = {0, 1, 17, 300, 8191};
                for (int interleaved = 0; interleaved < 2; interleaved++) {
                    float[] v = randoms(n * heads * headDim);
                    double[] ref = new double[v.length];
                    for (int t = 0; t < n; t++) {
                        for (int h = 0; h < heads; h++) {
                            int base = t * heads * headDim + h * headDim;
                            for (int i = 0; i < headDim / 2; i++) {
                                int i0 = interleaved == 1 ? base + 2 * i : base + i;
                                int i1 = interleaved == 1 ? i0 + 1 : i0 + headDim / 2;
                                double ang = pos[t] * (double) inv[i];
                                ref[i0] = v[i0] * Math.cos(ang) - v[i1] * Math.sin(ang);
                                ref[i1] = v[i0] * Math.sin(ang) + v[i1] * Math.cos(ang);
                            }
                        }
                    }
                    CUdeviceptr p = a.floats(v);
                    a.kernels.launch("rope", n, heads, 64, d.stream(), p, a.ints(pos), a.floats(inv), null, 0, headDim, headDim, interleaved, heads * headDim);
                    check("rope " + (interleaved == 1 ? "interleaved" : "neox"), a.readFloats(p, v.length), ref, 1e-6);
                }
            }
            return null;
        });
    }

    /** Paged attention over shuffled block tables, lengths on both sides of block boundaries. */
    @Test
    void pagedAttentionAcrossBlockBoundaries() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                for (int[] shape : new int[][]{{8, 4, 8}, {32, 8, 64}, {32, 8, 128}}) {
                    int heads = shape[0], kvHeads = shape[1], headDim = shape[2];
                    int bs = 16, blocks = 64, kvDim = kvHeads * headDim;
                    int[] lengths = {1, 15, 16, 17, 40, 100, 257};
                    float[] keys = randoms(blocks * bs * kvDim);
                    float[] values = randoms(blocks * bs * kvDim);
                    int[] perm = new int[blocks];
                    for (int i = 0; i < blocks; i++) perm[i] = i;
                    for (int i = blocks - 1; i > 0; i--) {
                        int j = random.nextInt(i + 1);
                        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
                    }
                    int stride = (257 + bs - 1) / bs;
                    int seqs = lengths.length;
                    int[] tables = new int[seqs * stride];
                    for (int s = 0; s < seqs; s++) for (int b = 0; b < stride; b++) tables[s * stride + b] = perm[(s * 5 + b) % blocks];
                    // queries: the last position of each sequence and one in its middle
                    int n = 2 * seqs;
                    int[] positions = new int[n];
                    int[] seqOf = new int[n];
                    for (int s = 0; s < seqs; s++) {
                        positions[2 * s] = lengths[s] - 1;
                        positions[2 * s + 1] = (lengths[s] - 1) / 2;
                        seqOf[2 * s] = seqOf[2 * s + 1] = s;
                    }
                    float[] q = randoms(n * heads * headDim);
                    float scale = (float) (1 / Math.sqrt(headDim));
                    double[] ref = AttentionReference.causal(q, heads * headDim, AttentionReference.toDouble(keys), AttentionReference.toDouble(values),
                            positions, seqOf, tables, stride, heads, kvHeads, headDim, bs, scale);
                    CUdeviceptr out = a.poisoned(n * heads * headDim);
                    String kernel = GpuForwardPass.decodeAttention(heads, kvHeads, headDim, n, 257);
                    GpuForwardPass.launchDecodeAttention(a.kernels, kernel, KvCacheDtype.FP32, n, heads, kvHeads, d.stream(), KvCacheCheckTest.scratch(a, headDim), a.floats(q), a.floats(keys),
                            a.floats(values), null, null, out, a.ints(positions), a.ints(seqOf), a.ints(tables), stride, heads, kvHeads, headDim, bs, scale,
                            heads * headDim);
                    check("paged attention (" + kernel + ") " + heads + "/" + kvHeads + " heads, head " + headDim, a.readFloats(out, n * heads * headDim), ref, 1e-5);
                }
            }
            return null;
        });
    }

    /**
     * The tiled prefill kernel against float64 (and the per-token kernel, on the same inputs): several
     * sequences at once, each a cached prefix plus a chunk of new tokens, lengths on both sides of
     * KV block (16) and query tile (16) boundaries, keys read through shuffled block tables.
     */
    @Test
    void tiledPrefillAttentionOverCachedPrefixesAndNewChunks() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                for (int[] shape : new int[][]{{8, 4, 8}, {32, 8, 64}, {32, 8, 128}, {6, 2, 100}}) {
                    int heads = shape[0], kvHeads = shape[1], headDim = shape[2];
                    int bs = 16, blocks = 96, kvDim = kvHeads * headDim;
                    int[][] seqs = {{0, 1}, {0, 8}, {0, 17}, {0, 40}, {16, 16}, {5, 33}, {100, 57}, {0, 257}, {31, 1}, {200, 20}};
                    int stride = 0;
                    for (int[] sq : seqs) stride = Math.max(stride, (sq[0] + sq[1] + bs - 1) / bs);
                    float[] keys = randoms(blocks * bs * kvDim);
                    float[] values = randoms(blocks * bs * kvDim);
                    int[] perm = new int[blocks];
                    for (int i = 0; i < blocks; i++) perm[i] = i;
                    for (int i = blocks - 1; i > 0; i--) {
                        int j = random.nextInt(i + 1);
                        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
                    }
                    int[] tables = new int[seqs.length * stride];
                    for (int s = 0; s < seqs.length; s++) for (int b = 0; b < stride; b++) tables[s * stride + b] = perm[(s * 7 + b) % blocks];
                    int n = 0, tileCount = 0;
                    for (int[] sq : seqs) {
                        n += sq[1];
                        tileCount += (sq[1] + 15) / 16;
                    }
                    int[] positions = new int[n], seqOf = new int[n], tiles = new int[2 * tileCount];
                    int t = 0, tile = 0;
                    for (int s = 0; s < seqs.length; s++) {
                        for (int i = 0; i < seqs[s][1]; i += 16) {
                            tiles[2 * tile] = t + i;
                            tiles[2 * tile + 1] = Math.min(16, seqs[s][1] - i);
                            tile++;
                        }
                        for (int i = 0; i < seqs[s][1]; i++, t++) {
                            positions[t] = seqs[s][0] + i;
                            seqOf[t] = s;
                        }
                    }
                    // queries inside rows of a wider q/k/v layout, as in the forward pass
                    int qStride = heads * headDim + 2 * kvDim;
                    float[] q = randoms(n * qStride);
                    float scale = (float) (1 / Math.sqrt(headDim));
                    double[] ref = AttentionReference.causal(q, qStride, AttentionReference.toDouble(keys), AttentionReference.toDouble(values),
                            positions, seqOf, tables, stride, heads, kvHeads, headDim, bs, scale);
                    CUdeviceptr qp = a.floats(q), kp = a.floats(keys), vp = a.floats(values);
                    CUdeviceptr pp = a.ints(positions), sp = a.ints(seqOf), tp = a.ints(tables);
                    String what = heads + "/" + kvHeads + " heads, head " + headDim;
                    CUdeviceptr out = a.poisoned(n * heads * headDim);
                    a.kernels.launch("attention_prefill_f32", tileCount, heads, 128, d.stream(), qp, kp, vp, null, null, out, pp, sp, tp, stride, a.ints(tiles),
                            heads, kvHeads, headDim, bs, scale, qStride);
                    check("tiled prefill attention " + what, a.readFloats(out, n * heads * headDim), ref, 1e-5);
                    CUdeviceptr plain = a.poisoned(n * heads * headDim);
                    String kernel = GpuForwardPass.decodeAttention(heads, kvHeads, headDim, n, 257);
                    GpuForwardPass.launchDecodeAttention(a.kernels, kernel, KvCacheDtype.FP32, n, heads, kvHeads, d.stream(), KvCacheCheckTest.scratch(a, headDim), qp, kp, vp, null, null, plain,
                            pp, sp, tp, stride, heads, kvHeads, headDim, bs, scale, qStride);
                    check("per-token attention (" + kernel + ") on the same prefill " + what, a.readFloats(plain, n * heads * headDim), ref, 1e-5);
                }
            }
            return null;
        });
    }

    @Test
    void kvWritesLandInTheirSlots() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                int kvDim = 256, slots = 64, n = 5;
                float[] k = randoms(n * kvDim);
                float[] v = randoms(n * kvDim);
                int[] slot = {3, 17, 16, 63, 0};
                CUdeviceptr keys = a.poisoned(slots * kvDim);
                CUdeviceptr values = a.poisoned(slots * kvDim);
                a.kernels.launch("kv_write_f32", n, 1, 256, d.stream(), a.floats(k), a.floats(v), keys, values, null, null, a.ints(slot), 2, kvDim / 2, kvDim);
                float[] ko = a.readFloats(keys, slots * kvDim);
                float[] vo = a.readFloats(values, slots * kvDim);
                for (int t = 0; t < n; t++) {
                    for (int i = 0; i < kvDim; i++) {
                        assertTrue(ko[slot[t] * kvDim + i] == k[t * kvDim + i] && vo[slot[t] * kvDim + i] == v[t * kvDim + i], "kv slot " + slot[t]);
                    }
                }
            }
            return null;
        });
    }

    @Test
    void argmaxTakesTheLowestIdAmongTies() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                int vocab = 128256, rows = 4;
                float[] l = randoms(rows * vocab);
                int[] expected = {77_000, 5, 128_255, 0};
                for (int r = 0; r < rows; r++) l[r * vocab + expected[r]] = 3f;
                l[vocab + 90_000] = 3f; // a tie above the expected id in row 1
                l[3 * vocab + 1] = 3f;  // and in row 3
                CUdeviceptr out = a.ints(new int[rows]);
                CUdeviceptr scratch = a.floats(new float[(int) (DeviceSampler.argmaxScratchBytes(rows) / 4)]);
                DeviceSampler.argmax(a.kernels, a.floats(l), rows, vocab, scratch, out, d.stream());
                assertArrayEquals(expected, a.readInts(out, rows));
            }
            return null;
        });
    }
}
