package dev.kvasir.gpu.tools;

import dev.kvasir.gpu.AttentionBench;
import dev.kvasir.gpu.DeviceMemory;
import dev.kvasir.gpu.GpuDevices;
import dev.kvasir.gpu.GpuDispatcher;
import dev.kvasir.gpu.GpuDtype;
import dev.kvasir.gpu.GpuOptions;
import dev.kvasir.gpu.GpuStepExecutor;
import dev.kvasir.gpu.KernelBench;
import dev.kvasir.gpu.KvCacheDtype;
import dev.kvasir.model.exec.Step;
import dev.kvasir.model.sampling.SamplingParams;
import dev.kvasir.model.weights.ModelLoader;
import dev.kvasir.model.weights.ModelWeights;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;

/**
 * Measurements on a GPU machine, run from the bundle ({@code bin/gpu-bench}):
 * <ul>
 *   <li>{@code bandwidth}: device-to-device copy bandwidth (bytes read + written per second)</li>
 *   <li>{@code kernels}: the weight-product kernels alone on Llama 3 8B's shapes</li>
 *   <li>{@code launches}: kernel chains with and without programmatic dependent launch</li>
 *   <li>{@code gemm [--tokens 512,2048,8192]}: prefill-shape products, cuBLAS path and own kernel, TFLOP/s and error</li>
 *   <li>{@code logits MODEL OUTDIR [--lengths 7,33,100] [--steps 24] [--dtype D] [--quantization Q]}: last-position logits
 *       of seeded random prompts and their greedy continuations, for comparison with transformers</li>
 *   <li>{@code decode MODEL [--batch 1,32] [--prompt 16] [--steps 64] [--dtype D] [--quantization Q] [--sample true]
 *       [--bandwidth GB/s] [--step-timing true] [--inline true] [--warmup 4] [--pipelined false]}: decode tokens/s, and the floor a step's weight bytes (as stored: quantized ones count
 *       their packed values and scales) set at that bandwidth
 *       (greedy, or with temperature 0.8, top-p 0.95 and top-k 50 sampled on the device); with step timing also
 *       the mean step as the stream saw it (stream_step_ms, see GpuStepExecutor.timeSteps), so that step_ms minus it
 *       is the time between steps; inline runs the generation loop on the dispatcher thread; each step is queued
 *       before the last one's tokens are back unless pipelined is false (BatchGeneration)</li>
 *   <li>{@code prefill MODEL [--lengths 128,512,2048] [--dtype D] [--quantization Q] [--tc-prefill true]}: one prompt's prefill step, tiled
 *       and per-token attention</li>
 *   <li>{@code attention [--length 4096] [--heads 32] [--kv-heads 8] [--head-dim 128] [--kv-cache-dtype fp32,bf16]
 *       [--reps 20]}: the tiled prefill attention kernel alone (and its tensor-core version for fp16/bf16), one
 *       causal prefill per KV type: median ms and
 *       TFLOP/s counting 2·L²·heads·headDim (QKᵀ and PV, 2·L²·d each per head, halved for the causal mask),
 *       the count deploy/sdpa_bench.py uses for torch's scaled_dot_product_attention</li>
 * </ul>
 * The model commands take {@code --kv-cache-dtype D} (auto, fp32, fp16, bf16, int8, fp8) too.
 * A command-line tool: it prints to standard output.
 */
public final class GpuBench {
    private static final PrintStream out = System.out;

    private GpuBench() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            out.println("usage: gpu-bench bandwidth | kernels | launches | ffn | logits MODEL OUTDIR [...] | decode MODEL [...] | prefill MODEL [...] | attention [...]");
            System.exit(2);
        }
        String reason = GpuDevices.unavailableReason();
        if (reason != null) {
            out.println("no GPU: " + reason);
            System.exit(3);
        }
        out.println("devices: " + GpuDevices.list());
        Map<String, String> opts = options(args);
        switch (args[0]) {
            case "bandwidth" -> bandwidth();
            case "kernels" -> {
                try (GpuDispatcher d = GpuDispatcher.open(0)) {
                    for (KernelBench.Result r : KernelBench.run(d)) {
                        out.printf("{\"bench\":\"matmul_%s\",\"layout\":\"%s\",\"rows\":%d,\"cols\":%d,\"n\":%d,\"ms\":%.4f,\"weight_gb_per_s\":%.0f,\"tflops\":%.1f}%n",
                                r.format(), r.layout(), r.rows(), r.cols(), r.n(), r.ms(), r.gbPerS(), r.tflops());
                    }
                }
            }
            case "launches" -> {
                try (GpuDispatcher d = GpuDispatcher.open(0)) {
                    for (KernelBench.LaunchResult r : KernelBench.launches(d)) {
                        out.printf("{\"bench\":\"launch_chain\",\"chain\":\"%s\",\"programmatic\":%b,\"us_per_link\":%.2f}%n", r.chain(), r.programmatic(), r.micros());
                    }
                }
            }
            case "ffn" -> {
                try (GpuDispatcher d = GpuDispatcher.open(0)) {
                    for (KernelBench.LaunchResult r : KernelBench.ffn(d)) {
                        out.printf("{\"bench\":\"ffn\",\"what\":\"%s\",\"us\":%.2f}%n", r.chain(), r.micros());
                    }
                }
            }
            case "gemm" -> {
                try (GpuDispatcher d = GpuDispatcher.open(0)) {
                    for (KernelBench.GemmResult r : KernelBench.gemm(d, ints(opts.getOrDefault("tokens", "512,2048,8192")))) {
                        out.printf("{\"bench\":\"gemm_bf16\",\"path\":\"%s\",\"rows\":%d,\"cols\":%d,\"n\":%d,\"ms\":%.4f,\"tflops\":%.1f,\"rel_error\":%.2e}%n",
                                r.path(), r.rows(), r.cols(), r.n(), r.ms(), r.tflops(), r.relError());
                    }
                }
            }
            case "logits" -> logits(Path.of(args[1]), Path.of(args[2]), opts);
            case "decode" -> decode(Path.of(args[1]), opts);
            case "prefill" -> prefill(Path.of(args[1]), opts);
            case "attention" -> attention(opts);
            default -> throw new IllegalArgumentException("unknown command " + args[0]);
        }
        System.exit(0);
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < args.length - 1; i++) if (args[i].startsWith("--")) m.put(args[i].substring(2), args[i + 1]);
        return m;
    }

    private static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    static double bandwidth() {
        try (GpuDispatcher d = GpuDispatcher.open(0)) {
            double gbs = d.call(() -> {
                DeviceMemory mem = new DeviceMemory(d);
                long bytes = 2L << 30;
                CUdeviceptr a = mem.allocate("bench", bytes);
                CUdeviceptr b = mem.allocate("bench", bytes);
                CUevent start = new CUevent();
                CUevent stop = new CUevent();
                cuEventCreate(start, 0);
                cuEventCreate(stop, 0);
                for (int i = 0; i < 3; i++) cuMemcpyDtoDAsync(b, a, bytes, d.stream());
                int reps = 20;
                cuEventRecord(start, d.stream());
                for (int i = 0; i < reps; i++) cuMemcpyDtoDAsync(i % 2 == 0 ? b : a, i % 2 == 0 ? a : b, bytes, d.stream());
                cuEventRecord(stop, d.stream());
                cuEventSynchronize(stop);
                float[] ms = new float[1];
                cuEventElapsedTime(ms, start, stop);
                mem.close();
                return 2.0 * bytes * reps / (ms[0] / 1e3) / 1e9;
            });
            out.printf("{\"bench\":\"copy_bandwidth\",\"gb_per_s\":%.1f}%n", gbs);
            return gbs;
        }
    }

    /** Seeded random prompts: BOS then ids drawn from the ordinary vocabulary. */
    static List<int[]> prompts(int[] lengths, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<int[]> out = new ArrayList<>();
        for (int len : lengths) {
            int[] p = new int[len];
            p[0] = 1;
            for (int i = 1; i < len; i++) p[i] = 259 + r.nextInt(vocab - 259);
            out.add(p);
        }
        return out;
    }

    private static GpuStepExecutor open(Path model, ModelWeights w, Map<String, String> opts, int maxBlocks) {
        GpuOptions o = GpuOptions.defaults().withDtype(opts.getOrDefault("dtype", "auto"))
                .withQuantization(opts.getOrDefault("quantization", "auto")).withMaxKvBlocks(maxBlocks)
                .withKvCacheDtype(opts.getOrDefault("kv-cache-dtype", "auto"));
        return GpuStepExecutor.create(w, o);
    }

    private static void logits(Path model, Path dir, Map<String, String> opts) throws IOException {
        int[] lengths = ints(opts.getOrDefault("lengths", "7,33,100"));
        int steps = Integer.parseInt(opts.getOrDefault("steps", "24"));
        Files.createDirectories(dir);
        try (ModelWeights w = ModelLoader.load(model); GpuStepExecutor e = open(model, w, opts, 4096)) {
            int vocab = w.config().vocabSize();
            List<int[]> prompts = prompts(lengths, vocab, Long.parseLong(opts.getOrDefault("seed", "1")));
            Step prefill = Step.greedyPrefill(prompts, e.kvGeometry());
            int bs = e.kvGeometry().blockSize();
            long t0 = System.nanoTime();
            float[] logits = e.logits(prefill);
            long t1 = System.nanoTime();
            ByteBuffer bb = ByteBuffer.allocate(logits.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            bb.asFloatBuffer().put(logits);
            Files.write(dir.resolve("logits.bin"), bb.array());
            int[][] greedy = new BatchGeneration(e).generate(prompts, steps);
            StringBuilder j = new StringBuilder("{\"vocab\":" + vocab + ",\"block_size\":" + bs + ",\"prefill_ms\":" + (t1 - t0) / 1e6 + ",\"prompts\":[");
            j.append(prompts.stream().map(Arrays::toString).collect(Collectors.joining(","))).append("],\"greedy\":[");
            j.append(Arrays.stream(greedy).map(Arrays::toString).collect(Collectors.joining(","))).append("]}");
            Files.writeString(dir.resolve("kvasir.json"), j.toString());
            out.println("wrote " + dir.resolve("logits.bin") + " and kvasir.json; greedy[0] = " + Arrays.toString(greedy[0]));
        }
    }

    private static void decode(Path model, Map<String, String> opts) {
        int[] batches = ints(opts.getOrDefault("batch", "1,32"));
        int promptLen = Integer.parseInt(opts.getOrDefault("prompt", "16"));
        int steps = Integer.parseInt(opts.getOrDefault("steps", "64"));
        double bw = opts.containsKey("bandwidth") ? Double.parseDouble(opts.get("bandwidth")) : 0;
        try (ModelWeights w = ModelLoader.load(model); GpuStepExecutor e = open(model, w, opts, 0)) {
            String graphMode = opts.getOrDefault("graphs", "both");
            // --inline true: the generation loop on the device's dispatcher thread, so no step crosses threads
            boolean inline = Boolean.parseBoolean(opts.getOrDefault("inline", "false"));
            // --warmup N: decode steps run before the measured ones (4: the graphs captured; more lets the JIT compile the host's step path)
            int warmup = Integer.parseInt(opts.getOrDefault("warmup", "4"));
            boolean timed = Boolean.parseBoolean(opts.getOrDefault("step-timing", "false"));
            // --pipelined false: each step only after the last one's tokens are back (the default queues the next one first)
            boolean pipelined = Boolean.parseBoolean(opts.getOrDefault("pipelined", "true"));
            for (int batch : batches) for (boolean graphs : new boolean[]{true, false}) {
                if (graphMode.equals(graphs ? "off" : "on")) continue;
                e.useGraphs(graphs);
                int[] lengths = new int[batch];
                Arrays.fill(lengths, promptLen);
                List<int[]> prompts = prompts(lengths, w.config().vocabSize(), 3);
                boolean sample = Boolean.parseBoolean(opts.getOrDefault("sample", "false"));
                SamplingParams params = sample ? SamplingParams.of(0.8f, 50, 0.95f, null) : SamplingParams.greedy();
                new BatchGeneration(e, params, 7).generate(prompts, warmup);
                BatchGeneration g = new BatchGeneration(e, params, 7);
                if (!pipelined) g.stepByStep();
                if (timed) e.timeSteps(true);
                if (inline) {
                    e.dispatcher().call(() -> g.generate(prompts, steps));
                } else {
                    g.generate(prompts, steps);
                }
                double streamMs = timed ? e.timedStepMillis() : Double.NaN;
                if (timed) e.timeSteps(false);
                double floorMs = bw > 0 ? e.weightBytes() / (bw * 1e9) * 1e3 : Double.NaN;
                out.printf("{\"bench\":\"decode\",\"quantization\":\"%s\",\"sampled\":%b,\"model\":\"%s\",\"graphs\":%b,\"batch\":%d,\"prompt\":%d,\"steps\":%d,\"tokens_per_s\":%.1f,\"step_ms\":%.3f,"
                                + "\"weight_bytes\":%d,\"weight_gb_per_s\":%.0f,\"floor_step_ms\":%.3f,\"stream_step_ms\":%.3f,\"inline\":%b,\"pipelined\":%b}%n",
                        opts.getOrDefault("quantization", "auto"), sample, model.getFileName(), graphs, batch, promptLen, steps, g.decodeTokensPerSecond(batch), g.decodeStepMillis(), e.weightBytes(),
                        e.weightBytes() / (g.decodeStepMillis() / 1e3) / 1e9, floorMs, streamMs, inline, pipelined);
            }
        }
    }

    /** The tiled prefill attention kernel alone, for each KV type asked (comma-separated). */
    private static void attention(Map<String, String> opts) {
        int length = Integer.parseInt(opts.getOrDefault("length", "4096"));
        int heads = Integer.parseInt(opts.getOrDefault("heads", "32"));
        int kvHeads = Integer.parseInt(opts.getOrDefault("kv-heads", "8"));
        int headDim = Integer.parseInt(opts.getOrDefault("head-dim", "128"));
        int reps = Integer.parseInt(opts.getOrDefault("reps", "20"));
        try (GpuDispatcher d = GpuDispatcher.open(0)) {
            var card = GpuDevices.list().getFirst();
            for (String name : opts.getOrDefault("kv-cache-dtype", "fp32").split(",")) {
                KvCacheDtype dtype = KvCacheDtype.parse(name, GpuDtype.BF16);
                String unsupported = dtype.unsupportedReason(card.computeMajor(), card.computeMinor());
                if (unsupported != null) {
                    out.println("skipped: " + unsupported);
                    continue;
                }
                for (boolean tc : new boolean[]{false, true}) {
                    if (tc && !AttentionBench.tensorCoresFit(dtype, headDim)) continue;
                    AttentionBench.Result r = AttentionBench.run(d, length, heads, kvHeads, headDim, dtype, tc, reps);
                    out.printf("{\"bench\":\"attention_prefill\",\"impl\":\"%s\",\"kv_cache_dtype\":\"%s\",\"length\":%d,\"heads\":%d,\"kv_heads\":%d,"
                                    + "\"head_dim\":%d,\"causal\":true,\"reps\":%d,\"ms\":%.4f,\"flops\":%.0f,\"flop_count\":\"2*L^2*heads*head_dim\",\"tflops\":%.2f}%n",
                            tc ? "kvasir_paged_tiled_tensor_cores" : "kvasir_paged_tiled", r.dtype(), r.length(), r.heads(), r.kvHeads(), r.headDim(), reps,
                            r.ms(), r.flops(), r.tflops());
                }
            }
        }
    }

    /** One prompt's prefill step (forward pass and its logits row), best of 3, tiled and per-token attention. */
    private static void prefill(Path model, Map<String, String> opts) {
        int[] lengths = ints(opts.getOrDefault("lengths", "128,512,2048"));
        try (ModelWeights w = ModelLoader.load(model); GpuStepExecutor e = open(model, w, opts, 0)) {
            boolean tc = Boolean.parseBoolean(opts.getOrDefault("tc-prefill", "true"));
            e.useTensorCorePrefill(tc);
            for (int len : lengths) {
                int[] p = prompts(new int[]{len}, w.config().vocabSize(), 5).getFirst();
                Step step = Step.greedyPrefill(List.of(p), e.kvGeometry());
                for (boolean tiled : new boolean[]{true, false}) {
                    e.useTiledPrefill(tiled);
                    e.logits(step); // warm-up (buffers sized)
                    double best = Double.MAX_VALUE;
                    for (int i = 0; i < 3; i++) {
                        long t0 = System.nanoTime();
                        e.logits(step);
                        best = Math.min(best, (System.nanoTime() - t0) / 1e6);
                    }
                    out.printf("{\"bench\":\"prefill\",\"quantization\":\"%s\",\"model\":\"%s\",\"kv_cache_dtype\":\"%s\",\"tokens\":%d,\"tiled_attention\":%b,\"tc_prefill\":%b,\"ms\":%.3f,\"tokens_per_s\":%.0f}%n",
                            opts.getOrDefault("quantization", "auto"), model.getFileName(), e.kvCacheDtype(), len, tiled,
                            tiled && tc && AttentionBench.tensorCoresFit(e.kvCacheDtype(), w.config().headDim()), best, len / best * 1e3);
                }
            }
            e.useTiledPrefill(true);
        }
    }
}
