package dev.kvasir.gpu;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;


/**
 * Times the weight-product kernels alone on Llama 3 8B's matrix shapes, through the same dispatch
 * the forward pass uses: achieved weight bandwidth for decode (n = 1, each decode GEMV layout;
 * quantized formats also n = 4) and TFLOP/s for a batch of 32 (bf16: 4, 8, 16 and 32 tokens through cuBLAS
 * and each skinny kernel), for bf16 and for the quantized
 * formats (INT8 G=32 and per channel, INT4 G=32 and G=128; their bytes include the group scales).
 * Weights are a constant non-zero pattern, activations non-zero; several weight copies rotate so
 * that repeated launches do not run from L2. The launches are captured in a CUDA graph and the
 * graph's replay is timed, as the decode step runs them: a host launch per product would time
 * the launches of the small matrices, not their kernels.
 */
public final class KernelBench {
    /** One measurement: format, decode GEMV layout, shape, tokens, milliseconds per launch, weight GB/s, TFLOP/s. */
    public record Result(String format, String layout, int rows, int cols, int n, double ms, double gbPerS, double tflops) {
    }
    /** The decode GEMV layouts timed for dense 16-bit and for quantized matrices (Matmuls.chooseGemv). */
    private static final String[] DENSE_LAYOUTS = {"auto", "block", "block2", "wide", "cublas"};
    private static final String[] QUANT_LAYOUTS = java.util.stream.Stream.concat(java.util.stream.Stream.of("auto"), Matmuls.QUANT_LAYOUTS.stream())
            .toArray(String[]::new);

    /** One prefill-shape product: path (cublas or own), shape, tokens, milliseconds, TFLOP/s, error vs float64. */
    public record GemmResult(String path, int rows, int cols, int n, double ms, double tflops, double relError) {
    }
    private static final int[][] SHAPES = {{6144, 4096}, {4096, 4096}, {28672, 4096}, {4096, 14336}, {128256, 4096}};
    /** The quantized layouts timed: format and group size (0 = one group per row). */
    private static final Object[][] QUANTIZED = {{QuantFormat.INT8, 32}, {QuantFormat.INT8, 0}, {QuantFormat.INT4, 32}, {QuantFormat.INT4, 128}};
    /** fp16 1.0 twice: as a float, fills a scale array with valid scales (and INT4 biases). */
    private static final float HALF_ONES = Float.intBitsToFloat(0x3C003C00);

    private KernelBench() {
    }

    /**
     * The weight product at prefill shapes (Llama 3 8B's matrices, bf16 weights, fp32 activations in
     * and out) through {@link Matmuls}: with cuBLAS when present (its time includes rounding the
     * activations to bf16) and with the engine's own tensor-core kernel. Random weights and
     * activations; each result's relative error is checked against a float64 product of sampled
     * rows on the host. Compare with {@code deploy/matmul_bench.py} (torch.matmul, same shapes).
     */
    public static List<GemmResult> gemm(GpuDispatcher d, int[] tokenCounts) {
        return d.call(() -> {
            List<GemmResult> out = new ArrayList<>();
            try (DeviceMemory mem = new DeviceMemory(d); Kernels k = Kernels.load(d)) {
                Matmuls cublas = new Matmuls(k, mem, java.util.List.of(), true);
                Matmuls own = new Matmuls(k, mem, java.util.List.of(), false);
                int maxN = java.util.Arrays.stream(tokenCounts).max().orElse(1);
                cublas.ensureHalfActivations((long) maxN * 14336);
                int[][] shapes = {{6144, 4096}, {4096, 4096}, {28672, 4096}, {4096, 14336}};
                java.util.SplittableRandom random = new java.util.SplittableRandom(7);
                for (int[] shape : shapes) {
                    int rows = shape[0], cols = shape[1];
                    short[] wHost = new short[rows * cols];
                    for (int i = 0; i < wHost.length; i++) wHost[i] = dev.kvasir.model.tensor.Quantizer.toBf16((float) (random.nextGaussian() * 0.02));
                    CUdeviceptr wp = mem.allocate("bench", 2L * wHost.length);
                    jcuda.driver.JCudaDriver.cuMemcpyHtoD(wp, jcuda.Pointer.to(wHost), 2L * wHost.length);
                    DeviceMatrix.Dense w = new DeviceMatrix.Dense(wp, rows, cols, GpuDtype.BF16);
                    for (int n : tokenCounts) {
                        float[] xHost = new float[n * cols];
                        for (int i = 0; i < xHost.length; i++) xHost[i] = (float) random.nextGaussian();
                        CUdeviceptr x = mem.allocate("bench", 4L * xHost.length);
                        jcuda.driver.JCudaDriver.cuMemcpyHtoD(x, jcuda.Pointer.to(xHost), 4L * xHost.length);
                        CUdeviceptr y = mem.allocate("bench", 4L * n * rows);
                        for (Matmuls mm : new Matmuls[]{cublas, own}) {
                            if (mm == cublas && !cublas.usesCublas()) continue;
                            k.launch("fill_f32", (int) (((long) n * rows + 255) / 256), 1, 256, d.stream(), y, Float.NaN, (long) n * rows);
                            mm.run(w, x, y, n, false, d.stream());
                            double err = relativeError(wHost, xHost, y, rows, cols, n, random, d.stream());
                            double per = time(() -> mm.run(w, x, y, n, false, d.stream()), d, 10);
                            out.add(new GemmResult(mm == cublas ? "cublas" : "own", rows, cols, n, per, 2.0 * rows * cols * n / (per / 1e3) / 1e12, err));
                        }
                        mem.free("bench", x, 4L * xHost.length);
                        mem.free("bench", y, 4L * n * rows);
                    }
                    mem.free("bench", wp, 2L * wHost.length);
                }
                cublas.close();
            }
            return out;
        });
    }

    /** ‖y − ref‖ / ‖ref‖ over 64 sampled (token, row) entries, ref in float64 from the bf16 weights. */
    private static double relativeError(short[] w, float[] x, CUdeviceptr y, int rows, int cols, int n, java.util.SplittableRandom random,
                                        jcuda.driver.CUstream stream) {
        float[] got = new float[n * rows];
        jcuda.driver.JCudaDriver.cuStreamSynchronize(stream);
        jcuda.driver.JCudaDriver.cuMemcpyDtoH(jcuda.Pointer.to(got), y, 4L * got.length);
        double num = 0, den = 0;
        for (int s = 0; s < 64; s++) {
            int t = random.nextInt(n), r = random.nextInt(rows);
            double ref = 0;
            for (int c = 0; c < cols; c++) ref += (double) Float.intBitsToFloat(w[r * cols + c] << 16) * x[t * cols + c];
            double diff = got[t * rows + r] - ref;
            num += diff * diff;
            den += ref * ref;
        }
        return Math.sqrt(num / den);
    }

    /**
     * Milliseconds per call: a warm-up call, then the median over {@code reps} groups of 10 calls
     * queued back to back between two events (so the host's launch time overlaps the device's work,
     * as it does in a forward pass, instead of showing up in small products).
     */
    private static double time(Runnable call, GpuDispatcher d, int reps) {
        call.run();
        CUevent start = new CUevent();
        CUevent stop = new CUevent();
        cuEventCreate(start, 0);
        cuEventCreate(stop, 0);
        double[] ms = new double[reps];
        float[] one = new float[1];
        int group = 10;
        for (int i = 0; i < reps; i++) {
            cuEventRecord(start, d.stream());
            for (int j = 0; j < group; j++) call.run();
            cuEventRecord(stop, d.stream());
            cuEventSynchronize(stop);
            cuEventElapsedTime(one, start, stop);
            ms[i] = one[0] / group;
        }
        java.util.Arrays.sort(ms);
        return ms[reps / 2];
    }

    public static List<Result> run(GpuDispatcher d) {
        return d.call(() -> {
            List<Result> out = new ArrayList<>();
            try (DeviceMemory mem = new DeviceMemory(d); Kernels k = Kernels.load(d)) {
                Matmuls mm = new Matmuls(k, mem);
                mm.ensureHalfActivations(32L * 14336);  // cuBLAS's 16-bit activations, for the "cublas" layout and n = 32
                for (int[] shape : SHAPES) {
                    int rows = shape[0], cols = shape[1];
                    int copies = (int) Math.max(2, Math.min(8, (1L << 31) / ((long) rows * cols * 2)));
                    DeviceMatrix[] w = new DeviceMatrix[copies];
                    for (int i = 0; i < copies; i++) w[i] = new DeviceMatrix.Dense(filled(d, mem, k, (long) rows * cols * 2, 0.0123f), rows, cols, GpuDtype.BF16);
                    for (String layout : DENSE_LAYOUTS) {
                        mm.chooseGemv(layout, "auto");
                        out.add(time(d, mem, k, mm, "bf16", layout, w, 1));
                    }
                    mm.chooseGemv("auto", "auto");
                    for (String batched : Matmuls.BATCHED_CHOICES) {
                        mm.chooseBatched(batched);
                        for (int n : new int[]{4, 8, 16, 32}) out.add(time(d, mem, k, mm, "bf16", batched, w, n));
                    }
                    mm.chooseBatched("auto");
                }
                for (int[] shape : SHAPES) {
                    int rows = shape[0], cols = shape[1];
                    if (rows > 100_000) continue; // the output matrix: bf16 above shows the shape's behaviour
                    for (Object[] q : QUANTIZED) {
                        QuantFormat f = (QuantFormat) q[0];
                        int g = (int) q[1] == 0 ? cols : (int) q[1];
                        long dataBytes = rows * f.rowBytes(cols), scaleBytes = (long) rows * (cols / g) * f.groupBytes;
                        int copies = (int) Math.max(2, Math.min(8, (1L << 31) / (dataBytes + scaleBytes)));
                        // memory of its own, freed after the layout: the copies of all of them would not fit an 80 GB card
                        try (DeviceMemory qmem = new DeviceMemory(d)) {
                            DeviceMatrix[] w = new DeviceMatrix[copies];
                            for (int i = 0; i < copies; i++) {
                                w[i] = new DeviceMatrix.Quantized(f, filled(d, qmem, k, dataBytes, 0.0123f), filled(d, qmem, k, scaleBytes, HALF_ONES), rows, cols, g);
                            }
                            Matmuls qm = new Matmuls(k, qmem, List.of(w));
                            String name = f.name().toLowerCase(java.util.Locale.ROOT) + "_g" + ((int) q[1] == 0 ? "cols" : g);
                            for (int n : new int[]{1, 4}) {
                                for (String layout : QUANT_LAYOUTS) {
                                    qm.chooseGemv("auto", layout);
                                    out.add(time(d, qmem, k, qm, name, layout, w, n));
                                }
                            }
                            qm.chooseGemv("auto", "auto");
                            out.add(time(d, qmem, k, qm, name, "auto", w, 32));
                        }
                    }
                }
            }
            return out;
        });
    }

    /** One launch-chain timing: the chain, programmatic launch on or off, microseconds per link. */
    public record LaunchResult(String chain, boolean programmatic, double micros) {
    }

    /**
     * What programmatic dependent launch hides at a decode step's kernel boundaries on this card:
     * chains captured in a graph, each link waiting for the one before, timed with it off and on —
     * one-block kernels (the bare boundary), an RMSNorm written as int8 followed by the INT4
     * 4096 × 4096 GEMV that reads it (a layer's norm and attention-output product; 16 weight copies
     * rotate, so the weights come from memory), and that GEMV alone.
     */
    public static List<LaunchResult> launches(GpuDispatcher d) {
        return d.call(() -> {
            List<LaunchResult> out = new ArrayList<>();
            int dim = 4096, copies = 16;
            for (boolean programmatic : new boolean[]{false, true}) {
                try (DeviceMemory mem = new DeviceMemory(d); Kernels k = Kernels.load(d, programmatic)) {
                    CUstream s = d.stream();
                    CUdeviceptr small = filled(d, mem, k, 4L * 256, 1f);
                    out.add(new LaunchResult("one_block_kernel", programmatic,
                            1e3 * GraphTimer.millisPerCall(s, 256, i -> k.launch("fill_f32", 1, 1, 256, s, small, (float) i, 256L))));
                    long dataBytes = dim * QuantFormat.INT4.rowBytes(dim), scaleBytes = (long) dim * (dim / 32) * QuantFormat.INT4.groupBytes;
                    CUdeviceptr[] w = new CUdeviceptr[copies], scales = new CUdeviceptr[copies];
                    for (int i = 0; i < copies; i++) {
                        w[i] = filled(d, mem, k, dataBytes, 0.0123f);
                        scales[i] = filled(d, mem, k, scaleBytes, HALF_ONES);
                    }
                    CUdeviceptr x = filled(d, mem, k, 4L * dim, 0.5f), norm = filled(d, mem, k, 4L * dim, 1f);
                    CUdeviceptr xq = filled(d, mem, k, dim, 0f), xs = filled(d, mem, k, 8L * dim / 32, 0f), y = filled(d, mem, k, 4L * dim, 0f);
                    IntConsumer rmsnorm = i -> k.launch("rmsnorm_q8", 1, 1, 1024, s, x, null, norm, xq, xs, dim, 1e-5f);
                    IntConsumer gemv = i -> k.launch("gemv_q4_k2_1", dim / 4, 1, 128, s, w[i % copies], scales[i % copies], xq, xs, y, dim, dim, 0, 0,
                            null, 0, 0f, null, null, null, null, null);
                    out.add(new LaunchResult("rmsnorm_q8_then_gemv_q4", programmatic, 1e3 * GraphTimer.millisPerCall(s, 4 * copies, i -> {
                        rmsnorm.accept(i);
                        gemv.accept(i);
                    })));
                    out.add(new LaunchResult("gemv_q4", programmatic, 1e3 * GraphTimer.millisPerCall(s, 4 * copies, gemv)));
                    out.add(new LaunchResult("rmsnorm_q8", programmatic, 1e3 * GraphTimer.millisPerCall(s, 4 * copies, rmsnorm)));
                }
            }
            return out;
        });
    }

    /**
     * A one-token feed-forward at Llama 3 8B's shape (gate/up 28672 × 4096, down 4096 × 14336), INT4
     * G128 and INT8 G32, in graph replays with programmatic launch: each kernel alone, and gate/up,
     * swiglu_q8, down (three launches) against gate/up writing down's int8 activations itself
     * (glu32, and glu32w, which waits before it loads), then down. Four weight copies rotate, so the weights come from memory.
     */
    public static List<LaunchResult> ffn(GpuDispatcher d) {
        return d.call(() -> {
            List<LaunchResult> out = new ArrayList<>();
            int dim = 4096, hidden = 14336, copies = 4, calls = 4 * copies;
            for (Object[] q : new Object[][]{{QuantFormat.INT4, 128}, {QuantFormat.INT8, 32}}) {
                QuantFormat f = (QuantFormat) q[0];
                int g = (int) q[1];
                String sfx = f.kernelSuffix, name = f.name().toLowerCase(java.util.Locale.ROOT) + "_g" + g + " ";
                try (DeviceMemory mem = new DeviceMemory(d); Kernels k = Kernels.load(d)) {
                    CUstream s = d.stream();
                    DeviceMatrix.Quantized[] gu = new DeviceMatrix.Quantized[copies], down = new DeviceMatrix.Quantized[copies];
                    for (int i = 0; i < copies; i++) {
                        gu[i] = new DeviceMatrix.Quantized(f, filled(d, mem, k, 2L * hidden * f.rowBytes(dim), 0.0123f),
                                filled(d, mem, k, 2L * hidden * (dim / g) * f.groupBytes, HALF_ONES), 2 * hidden, dim, g);
                        down[i] = new DeviceMatrix.Quantized(f, filled(d, mem, k, dim * f.rowBytes(hidden), 0.0123f),
                                filled(d, mem, k, (long) dim * (hidden / g) * f.groupBytes, HALF_ONES), dim, hidden, g);
                    }
                    CUdeviceptr xq = filled(d, mem, k, hidden, 0f), xs = filled(d, mem, k, 8L * hidden / 32, 0f);
                    CUdeviceptr hq = filled(d, mem, k, hidden, 0f), hs = filled(d, mem, k, 8L * hidden / 32, 0f);
                    CUdeviceptr both = filled(d, mem, k, 8L * hidden, 0.5f), y = filled(d, mem, k, 4L * dim, 0f);
                    IntConsumer gateUp = i -> gemv(k, s, "gemv_" + sfx + "_k2r4_1", 2 * hidden / 8, gu[i % copies], xq, xs, both, null, null);
                    IntConsumer gateUpRows = i -> gemv(k, s, "gemv_" + sfx + "_1", 2 * hidden / 16, gu[i % copies], xq, xs, both, null, null);
                    IntConsumer glu32 = i -> gemv(k, s, "gemv_" + sfx + "_glu32_1", hidden / 32, gu[i % copies], xq, xs, null, hq, hs);
                    IntConsumer glu32w = i -> gemv(k, s, "gemv_" + sfx + "_glu32w_1", hidden / 32, gu[i % copies], xq, xs, null, hq, hs);
                    IntConsumer swiglu = i -> k.launch("swiglu_q8", hidden / 256, 1, 256, s, both, hq, hs, 1, hidden);
                    IntConsumer downK2r4 = i -> gemv(k, s, "gemv_" + sfx + "_k2r4_1", dim / 8, down[i % copies], hq, hs, y, null, null);
                    for (Object[] c : new Object[][]{{"gate/up k2r4", gateUp}, {"gate/up rows", gateUpRows}, {"gate/up glu32", glu32},
                            {"gate/up glu32w", glu32w}, {"swiglu_q8", swiglu}, {"down k2r4", downK2r4}}) {
                        out.add(new LaunchResult(name + c[0], true, 1e3 * GraphTimer.millisPerCall(s, calls, (IntConsumer) c[1])));
                    }
                    out.add(new LaunchResult(name + "chain launched", true, 1e3 * GraphTimer.millisPerCall(s, calls, i -> {
                        gateUp.accept(i);
                        swiglu.accept(i);
                        downK2r4.accept(i);
                    })));
                    out.add(new LaunchResult(name + "chain glu32", true, 1e3 * GraphTimer.millisPerCall(s, calls, i -> {
                        glu32.accept(i);
                        downK2r4.accept(i);
                    })));
                    out.add(new LaunchResult(name + "chain glu32w", true, 1e3 * GraphTimer.millisPerCall(s, calls, i -> {
                        glu32w.accept(i);
                        downK2r4.accept(i);
                    })));
                }
            }
            return out;
        });
    }

    /** A quantized GEMV kernel of quant.cuh with no fused norms (outQ/outS: the int8 output of the glu32 form). */
    private static void gemv(Kernels k, CUstream s, String kernel, int grid, DeviceMatrix.Quantized m, CUdeviceptr xq, CUdeviceptr xs,
                             CUdeviceptr y, CUdeviceptr outQ, CUdeviceptr outS) {
        k.launch(kernel, grid, 1, 128, s, m.data(), m.scales(), xq, xs, y, m.rows(), m.cols(), m.groupShift(), 0,
                null, 0, 0f, null, outQ, outS, null, null);
    }

    private static CUdeviceptr filled(GpuDispatcher d, DeviceMemory mem, Kernels k, long bytes, float value) {
        long floats = (bytes + 3) / 4;
        CUdeviceptr p = mem.allocate("bench", floats * 4);
        k.launch("fill_f32", (int) ((floats + 255) / 256), 1, 256, d.stream(), p, value, floats);
        return p;
    }

    private static Result time(GpuDispatcher d, DeviceMemory mem, Kernels k, Matmuls mm, String format, String layout, DeviceMatrix[] w, int n) {
        int rows = w[0].rows(), cols = w[0].cols(), copies = w.length;
        CUdeviceptr x = mem.allocate("bench", 4L * n * cols);
        CUdeviceptr y = mem.allocate("bench", 4L * n * rows);
        k.launch("fill_f32", (n * cols + 255) / 256, 1, 256, d.stream(), x, 0.5f, (long) n * cols);
        for (int i = 0; i < copies; i++) mm.run(w[i], x, y, n, false, d.stream());
        double per = GraphTimer.millisPerCall(d.stream(), 8 * copies, i -> mm.run(w[i % copies], x, y, n, false, d.stream()));
        double bytes = w[0].bytes();
        return new Result(format, layout, rows, cols, n, per, bytes / (per / 1e3) / 1e9, 2.0 * rows * cols * n / (per / 1e3) / 1e9 / 1e3);
    }
}
