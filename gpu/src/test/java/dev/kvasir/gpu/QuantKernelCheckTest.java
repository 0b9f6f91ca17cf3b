package dev.kvasir.gpu;

import dev.kvasir.model.tensor.Quantizer;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The quantized weight products (INT8 G=32 and per channel, INT4 G=32 and G=128) through
 * {@link Matmuls}, the forward pass's dispatch, on fresh random packed weights and fp32 activations,
 * outputs poisoned with NaN first (or holding random values for the accumulating form).
 * <p>
 * Decode (n ≤ 4, dp4a over int8-quantized activations, in each GEMV layout of
 * {@code Matmuls.QUANT_LAYOUTS}) is checked twice: against float64 over the
 * same int8 activations the kernel forms (simulated here; only fp32 summation differs, so 1e-4), and
 * against float64 over the fp32 activations — the cost of the activation rounding, about
 * 0.4% for these uniform inputs (step max|x|/127 per 32 columns); 1e-2 allowed.
 * Batches (n > 4: dequantized to bf16, then the tf32 tensor-core GEMM) are checked against float64
 * over the bf16-rounded weights (tf32 activations: 1e-3, as the bf16 GEMM's own check) and over the
 * exact weights (bf16 rounding adds ~1e-3: 3e-3 allowed).
 */
@GpuTest
class QuantKernelCheckTest {
    private static final Logger log = LoggerFactory.getLogger(QuantKernelCheckTest.class);
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

    /** A random packed matrix: its device bytes and the floats the device dequantizes them to. */
    private record Packed(QuantFormat format, int rows, int cols, int groupSize, byte[] data, byte[] scales, float[] values) {
        static Packed random(QuantFormat f, int rows, int cols, int groupSize) {
            byte[] data = new byte[(int) (rows * f.rowBytes(cols))];
            random.nextBytes(data);
            if (f == QuantFormat.INT8) for (int i = 0; i < data.length; i++) if (data[i] == -128) data[i] = -127;
            int groups = cols / groupSize;
            byte[] scales = new byte[rows * groups * f.groupBytes];
            MemorySegment s = MemorySegment.ofArray(scales);
            for (int i = 0; i < rows * groups; i++) {
                if (f == QuantFormat.INT8) {
                    s.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i, Float.floatToFloat16((float) ((0.5 + random.nextDouble()) / 127)));
                } else {
                    float sc = (float) ((0.5 + random.nextDouble()) / 8);
                    s.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 4L * i, Float.floatToFloat16(sc));
                    s.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 4L * i + 2, Float.floatToFloat16((float) (-8 * sc * (0.9 + 0.2 * random.nextDouble()))));
                }
            }
            float[] values = new float[rows * cols];
            float[] row = new float[cols];
            long rowBytes = f.rowBytes(cols), scaleRow = (long) groups * f.groupBytes;
            for (int r = 0; r < rows; r++) {
                QuantPacking.unpackRow(f, cols, groupSize, MemorySegment.ofArray(data), r * rowBytes, s, r * scaleRow, row);
                System.arraycopy(row, 0, values, r * cols, cols);
            }
            return new Packed(f, rows, cols, groupSize, data, scales, values);
        }
    }

    private static float[] randoms(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (random.nextDouble() * 2 - 1);
        return v;
    }

    /** x as the device's quantize_act_q8 rounds it: per 32 values sx·q, q = rint(x · 127/max|x|). */
    static float[] int8Activations(float[] x) {
        float[] out = new float[x.length];
        for (int b = 0; b < x.length; b += 32) {
            float amax = 0;
            for (int i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(x[i]));
            float sx = amax / 127f, inv = 127f / amax;
            for (int i = b; i < b + 32; i++) out[i] = amax > 0 ? sx * (float) Math.max(-127, Math.min(127, Math.rint(x[i] * inv))) : 0f;
        }
        return out;
    }

    private static double[] reference(float[] w, float[] x, float[] y0, int rows, int cols, int n) {
        double[] ref = new double[n * rows];
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double s = y0 == null ? 0 : y0[t * rows + r];
                for (int c = 0; c < cols; c++) s += (double) w[r * cols + c] * x[t * cols + c];
                ref[t * rows + r] = s;
            }
        }
        return ref;
    }

    private static float[] bf16(float[] w) {
        float[] o = new float[w.length];
        for (int i = 0; i < w.length; i++) o[i] = Float.intBitsToFloat(Quantizer.toBf16(w[i]) << 16);
        return o;
    }

    private static void check(String what, float[] out, double[] ref, double limit) {
        double e = KernelCheckTest.relativeError(out, ref);
        log.info("{}: relative error {}", what, e);
        assertTrue(e < limit, what + ": relative error " + e + " over " + limit);
    }

    /**
     * One product of a random matrix, plain and accumulating; for n ≤ GEMV_MAX_TOKENS in every decode
     * GEMV layout (Matmuls.chooseGemv) over the same matrix and Matmuls (its scratch is per instance).
     */
    private static void checkProduct(DeviceArrays a, QuantFormat f, int rows, int cols, int groupSize, int n) {
        List<String> layouts = n <= Matmuls.GEMV_MAX_TOKENS ? Matmuls.QUANT_LAYOUTS : List.of("auto");
        for (int acc = 0; acc < 2; acc++) {
            Packed p = Packed.random(f, rows, cols, groupSize);
            float[] x = randoms(n * cols);
            float[] y0 = acc == 1 ? randoms(n * rows) : null;
            DeviceMatrix.Quantized m = new DeviceMatrix.Quantized(f, a.bytes(p.data()), a.bytes(p.scales()), rows, cols, groupSize);
            Matmuls mm = new Matmuls(a.kernels, a.memory, List.of(m));
            // the float64 references, once for every layout
            boolean decode = n <= Matmuls.GEMV_MAX_TOKENS;
            // batches: our tensor-core kernel (weights dequantized in registers, both operands rounded to tf32), or the bf16 copy and cuBLAS
            boolean ownTensorCores = !decode && (n <= Matmuls.QUANT_TC_MAX_TOKENS || !mm.usesCublas());
            double[] exact = reference(p.values(), x, y0, rows, cols, n);
            double[] close = decode ? reference(p.values(), int8Activations(x), y0, rows, cols, n)
                    : ownTensorCores ? null : reference(bf16(p.values()), x, y0, rows, cols, n);
            for (String layout : layouts) {
                mm.chooseGemv("auto", layout);
                CUdeviceptr y = acc == 1 ? a.floats(y0) : a.poisoned(n * rows);
                mm.run(m, a.floats(x), y, n, acc == 1, d.stream());
                float[] out = a.readFloats(y, n * rows);
                String what = f + " G=" + (groupSize == cols ? "cols" : groupSize) + " " + rows + "x" + cols + " n=" + n + (acc == 1 ? " +=" : "")
                        + (decode ? " (" + layout + ")" : "");
                if (decode) {
                    check(what + " vs int8 activations", out, close, 1e-4);
                    check(what + " vs fp32 activations", out, exact, 1e-2);
                } else if (ownTensorCores) {
                    check(what + " on the tensor cores vs exact weights", out, exact, 1e-3);
                } else {
                    check(what + " vs bf16 weights", out, close, 1e-3);
                    check(what + " vs exact weights", out, exact, 3e-3);
                }
            }
            mm.close();
        }
    }

    private static final int[][] SHAPES = {{67, 128}, {300, 1024}, {129, 1536}, {4096, 4096}, {77, 14336}, {1001, 256}};

    @Test
    void decodeGemvInEveryLayout() {
        d.call(() -> {
            for (int[] s : SHAPES) {
                try (DeviceArrays a = new DeviceArrays(d)) {
                    for (int n = 1; n <= 4; n++) {
                        checkProduct(a, QuantFormat.INT8, s[0], s[1], 32, n);
                        checkProduct(a, QuantFormat.INT8, s[0], s[1], s[1], n);
                        checkProduct(a, QuantFormat.INT4, s[0], s[1], 32, n);
                        checkProduct(a, QuantFormat.INT4, s[0], s[1], 128, n);
                    }
                }
            }
            return null;
        });
    }

    /**
     * An RMSNorm carried by the quantized GEMVs (Matmuls.FusedNorm) in every layout and token count
     * (the forward pass takes it for one token; the kernels serve up to four):
     * the residual product with the norm on its output stores the same residual bit for bit as without
     * it, writes the int8 activations quantize_act_q8 makes of residual∘γ byte for byte and per 32 rows
     * the sum of squares (against float64); the product reading them with the norm on its input equals
     * the plain product scaled by rsqrt(mean(x²) + eps). Twice in a row, so the group counters are
     * back at zero after a launch.
     */
    @Test
    void rmsnormCarriedByTheGemvs() {
        d.call(() -> {
            int dim = 256, inner = 512, outRows = 300;
            float eps = 1e-5f;
            for (Object[] fg : new Object[][]{{QuantFormat.INT8, 32}, {QuantFormat.INT4, 128}}) {
                QuantFormat f = (QuantFormat) fg[0];
                int group = (int) fg[1];
                try (DeviceArrays a = new DeviceArrays(d)) {
                    Packed p1 = Packed.random(f, dim, inner, group), p2 = Packed.random(f, outRows, dim, group);
                    DeviceMatrix.Quantized producer = new DeviceMatrix.Quantized(f, a.bytes(p1.data()), a.bytes(p1.scales()), dim, inner, group);
                    DeviceMatrix.Quantized consumer = new DeviceMatrix.Quantized(f, a.bytes(p2.data()), a.bytes(p2.scales()), outRows, dim, group);
                    Matmuls mm = new Matmuls(a.kernels, a.memory, List.of(producer, consumer));
                    float[] gammaHost = randoms(dim);
                    CUdeviceptr gamma = a.floats(gammaHost), partials = a.poisoned(Matmuls.GEMV_MAX_TOKENS * dim / 32);
                    Matmuls.FusedNorm norm = new Matmuls.FusedNorm(partials, gamma, dim, eps);
                    for (int n = 1; n <= Matmuls.GEMV_MAX_TOKENS; n++) {
                        for (String layout : Matmuls.QUANT_LAYOUTS) {
                            mm.chooseGemv("auto", layout);
                            String what = f + " " + layout + " n=" + n;
                            assertTrue(mm.fusesNorm(producer, consumer, n) == (n == 1), what + ": carried at one token only");
                            float[] x0 = randoms(n * dim);
                            CUdeviceptr act = a.floats(randoms(n * inner));
                            CUdeviceptr plain = a.floats(x0);
                            mm.run(producer, act, plain, n, true, d.stream());
                            float[] expected = a.readFloats(plain, n * dim);
                            for (int round = 0; round < 2; round++) {
                                CUdeviceptr y = a.floats(x0);
                                mm.run(producer, act, y, n, true, false, d.stream(), null, norm);
                                float[] got = a.readFloats(y, n * dim);
                                assertArrayEquals(expected, got, what + ": the residual as without the norm");
                                float[] scaled = new float[n * dim];
                                for (int i = 0; i < scaled.length; i++) scaled[i] = got[i] * gammaHost[i % dim];
                                KernelCheckTest.assertInt8FormEqualsQuantizeAct(a, d.stream(), what + " round " + round, a.floats(scaled), n * dim,
                                        new CUdeviceptr[]{mm.int8Activations(), mm.int8Scales()});
                                float[] sums = a.readFloats(partials, n * dim / 32);
                                double[] rs = new double[n];
                                for (int t = 0; t < n; t++) {
                                    double total = 0;
                                    for (int g = 0; g < dim / 32; g++) {
                                        double ss = 0;
                                        for (int i = 0; i < 32; i++) ss += (double) got[t * dim + 32 * g + i] * got[t * dim + 32 * g + i];
                                        assertTrue(Math.abs(sums[t * dim / 32 + g] - ss) <= 1e-5 * ss, what + ": sum of squares " + sums[t * dim / 32 + g] + " vs " + ss);
                                        total += ss;
                                    }
                                    rs[t] = 1 / Math.sqrt(total / dim + eps);
                                }
                                CUdeviceptr out = a.poisoned(n * outRows), outNormed = a.poisoned(n * outRows);
                                mm.runPrepared(consumer, null, out, n, false, d.stream());
                                mm.runPrepared(consumer, null, outNormed, n, false, d.stream(), norm, null);
                                float[] base = a.readFloats(out, n * outRows);
                                double[] ref = new double[base.length];
                                for (int i = 0; i < ref.length; i++) ref[i] = base[i] * rs[i / outRows];
                                check(what + " round " + round + ": the product scaled by the norm", a.readFloats(outNormed, n * outRows), ref, 1e-6);
                            }
                        }
                    }
                    mm.close();
                }
            }
            return null;
        });
    }

    /**
     * The SwiGLU carried by the one-token gate/up GEMV (gemv_*_glu32_1, Matmuls.runGatedFfn) writes
     * the int8 form swiglu_q8 makes of the gate/up product in the "rows" layout (whose order of
     * summation it shares), byte for byte, and the down product after it adds the same bits to the
     * residual; also with gate/up's input norm carried.
     */
    @Test
    void swigluCarriedByTheGateUpGemv() {
        d.call(() -> {
            int dim = 256, hidden = 384, outRows = 300;
            for (Object[] fg : new Object[][]{{QuantFormat.INT8, 32}, {QuantFormat.INT8, 0}, {QuantFormat.INT4, 128}}) {
                QuantFormat f = (QuantFormat) fg[0];
                int group = (int) fg[1];
                try (DeviceArrays a = new DeviceArrays(d)) {
                    Packed p1 = Packed.random(f, 2 * hidden, dim, group == 0 ? dim : group), p2 = Packed.random(f, outRows, hidden, group == 0 ? hidden : group);
                    DeviceMatrix.Quantized gateUp = new DeviceMatrix.Quantized(f, a.bytes(p1.data()), a.bytes(p1.scales()), 2 * hidden, dim, p1.groupSize());
                    DeviceMatrix.Quantized down = new DeviceMatrix.Quantized(f, a.bytes(p2.data()), a.bytes(p2.scales()), outRows, hidden, p2.groupSize());
                    Matmuls mm = Gpu.withProperties(Map.of("kvasir.gpu.fuse-swiglu", "true"), () -> new Matmuls(a.kernels, a.memory, List.of(gateUp, down)));
                    String what = f + " G" + (group == 0 ? "cols" : group);
                    Matmuls off = Gpu.withProperties(Map.of("kvasir.gpu.fuse-swiglu", "false"), () -> new Matmuls(a.kernels, a.memory, List.of(gateUp, down)));
                    assertTrue(!off.carriesSwiglu(gateUp, down, 1), what + ": not carried when turned off");
                    off.close();
                    assertTrue(mm.carriesSwiglu(gateUp, down, 1), what + ": carried at one token");
                    assertTrue(!mm.carriesSwiglu(gateUp, down, 2), what + ": not at two");
                    mm.chooseGemv("auto", "rows");
                    float[] partialsHost = new float[dim / 32];
                    for (int i = 0; i < partialsHost.length; i++) partialsHost[i] = 2f + i;
                    Matmuls.FusedNorm normIn = new Matmuls.FusedNorm(a.floats(partialsHost), a.floats(randoms(dim)), dim, 1e-5f);
                    for (Matmuls.FusedNorm norm : new Matmuls.FusedNorm[]{null, normIn}) {
                        String w = what + (norm == null ? "" : " with the input norm");
                        float[] x0 = randoms(outRows);
                        CUdeviceptr act = a.floats(randoms(dim)), both = a.poisoned(2 * hidden);
                        CUdeviceptr yCarried = a.floats(x0), yLaunched = a.floats(x0);
                        mm.run(gateUp, act, both, 1, false, false, d.stream(), norm, null);  // quantizes act into the int8 form runGatedFfn reads too
                        mm.runGatedFfn(gateUp, down, yCarried, d.stream(), norm, null);
                        byte[] values = a.readBytes(mm.int8Activations(), hidden), scales = a.readBytes(mm.int8Scales(), hidden / 4);
                        a.kernels.launch("swiglu_q8", (hidden + 255) / 256, 1, 256, d.stream(), both, mm.int8Activations(), mm.int8Scales(), 1, hidden);
                        assertArrayEquals(a.readBytes(mm.int8Activations(), hidden), values, w + ": int8 values of silu(g)·u");
                        assertArrayEquals(a.readBytes(mm.int8Scales(), hidden / 4), scales, w + ": their block scales");
                        mm.runPrepared(down, null, yLaunched, 1, true, d.stream());
                        assertArrayEquals(a.readFloats(yLaunched, outRows), a.readFloats(yCarried, outRows), w + ": the residual after down");
                    }
                    mm.close();
                }
            }
            return null;
        });
    }

    /**
     * The one-token products, which read their weights past L1, give the bits of their forms that read
     * them through it (-Dkvasir.gpu.weights-past-l1=false: gemv_*_k2r8l_1, gemv_*_glu32l_1; the same
     * lanes add the same chunks in the same order): over one to four rounds, the last one partial, rows
     * that end inside a block, plain and accumulating; the gate/up GEMV carrying the SwiGLU writes the
     * same int8 form, with and without its input norm, and down adds the same bits.
     */
    @Test
    void theOneTokenProductsGiveTheSameBitsPastL1AndThroughIt() {
        d.call(() -> {
            for (Object[] fg : new Object[][]{{QuantFormat.INT8, 32}, {QuantFormat.INT8, 0}, {QuantFormat.INT4, 32}, {QuantFormat.INT4, 128}}) {
                QuantFormat f = (QuantFormat) fg[0];
                String g = (int) fg[1] == 0 ? "cols" : String.valueOf(fg[1]);
                try (DeviceArrays a = new DeviceArrays(d)) {
                    for (int[] s : new int[][]{{77, 5120}, {300, 14336}, {33, 4096}}) {
                        int rows = s[0], cols = s[1], group = (int) fg[1] == 0 ? cols : (int) fg[1];
                        Packed p = Packed.random(f, rows, cols, group);
                        DeviceMatrix.Quantized m = new DeviceMatrix.Quantized(f, a.bytes(p.data()), a.bytes(p.scales()), rows, cols, group);
                        Matmuls throughL1 = Gpu.withProperties(Map.of("kvasir.gpu.weights-past-l1", "false"), () -> new Matmuls(a.kernels, a.memory, List.of(m)));
                        Matmuls pastL1 = new Matmuls(a.kernels, a.memory, List.of(m));
                        CUdeviceptr x = a.floats(randoms(cols));
                        float[] y0 = randoms(rows);
                        for (boolean acc : new boolean[]{false, true}) {
                            String what = "through L1: " + f + " G" + g + " " + rows + "x" + cols + (acc ? " +=" : "");
                            CUdeviceptr yThroughL1 = acc ? a.floats(y0) : a.poisoned(rows), yPastL1 = acc ? a.floats(y0) : a.poisoned(rows);
                            throughL1.run(m, x, yThroughL1, 1, acc, d.stream());
                            pastL1.run(m, x, yPastL1, 1, acc, d.stream());
                            assertArrayEquals(a.readFloats(yPastL1, rows), a.readFloats(yThroughL1, rows), what + ": as past L1");
                        }
                        throughL1.close();
                        pastL1.close();
                    }
                    int dim = 1536, hidden = 384, outRows = 300, group = (int) fg[1] == 0 ? dim : (int) fg[1];
                    Packed p1 = Packed.random(f, 2 * hidden, dim, group), p2 = Packed.random(f, outRows, hidden, (int) fg[1] == 0 ? hidden : group);
                    DeviceMatrix.Quantized gateUp = new DeviceMatrix.Quantized(f, a.bytes(p1.data()), a.bytes(p1.scales()), 2 * hidden, dim, p1.groupSize());
                    DeviceMatrix.Quantized down = new DeviceMatrix.Quantized(f, a.bytes(p2.data()), a.bytes(p2.scales()), outRows, hidden, p2.groupSize());
                    Matmuls throughL1 = Gpu.withProperties(Map.of("kvasir.gpu.weights-past-l1", "false"), () -> new Matmuls(a.kernels, a.memory, List.of(gateUp, down)));
                    Matmuls pastL1 = new Matmuls(a.kernels, a.memory, List.of(gateUp, down));
                    float[] partialsHost = new float[dim / 32];
                    for (int i = 0; i < partialsHost.length; i++) partialsHost[i] = 2f + i;
                    Matmuls.FusedNorm normIn = new Matmuls.FusedNorm(a.floats(partialsHost), a.floats(randoms(dim)), dim, 1e-5f);
                    CUdeviceptr act = a.floats(randoms(dim));
                    float[] x0 = randoms(outRows);
                    for (Matmuls.FusedNorm norm : new Matmuls.FusedNorm[]{null, normIn}) {
                        String what = "through L1: " + f + " G" + g + " gate/up " + 2 * hidden + "x" + dim + (norm == null ? "" : " with the input norm");
                        byte[][] forms = new byte[2][];
                        float[][] residuals = new float[2][];
                        Matmuls[] both = {pastL1, throughL1};
                        for (int i = 0; i < 2; i++) {
                            Matmuls mm = both[i];
                            assertTrue(mm.carriesSwiglu(gateUp, down, 1), what + ": carried");
                            mm.run(gateUp, act, a.poisoned(2 * hidden), 1, false, false, d.stream(), norm, null);  // gate/up's int8 input
                            CUdeviceptr y = a.floats(x0);
                            mm.runGatedFfn(gateUp, down, y, d.stream(), norm, null);
                            residuals[i] = a.readFloats(y, outRows);
                            forms[i] = a.readBytes(mm.int8Activations(), hidden);  // silu(g)·u as down read it
                        }
                        assertArrayEquals(forms[0], forms[1], what + ": int8 values of silu(g)·u as past L1");
                        assertArrayEquals(residuals[0], residuals[1], what + ": the residual after down as past L1");
                    }
                    throughL1.close();
                    pastL1.close();
                }
            }
            return null;
        });
    }

    /** Batches: on our tensor-core kernel up to QUANT_TC_MAX_TOKENS tokens, through the bf16 copy and cuBLAS above. */
    @Test
    void batchesOnTheTensorCoresAndThroughTheBf16Copy() {
        d.call(() -> {
            for (int[] s : SHAPES) {
                int[] batches = (long) s[0] * s[1] > 4_000_000 ? new int[]{5, 33} : new int[]{5, 33, 100};
                try (DeviceArrays a = new DeviceArrays(d)) {
                    for (int n : batches) {
                        checkProduct(a, QuantFormat.INT8, s[0], s[1], 32, n);
                        checkProduct(a, QuantFormat.INT8, s[0], s[1], s[1], n);
                        checkProduct(a, QuantFormat.INT4, s[0], s[1], 32, n);
                        checkProduct(a, QuantFormat.INT4, s[0], s[1], 128, n);
                    }
                }
            }
            return null;
        });
    }
}
