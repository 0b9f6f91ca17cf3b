package dev.kvasir.cluster.cli;

import dev.kvasir.actors.ServingConfig;
import dev.kvasir.gpu.GpuOptions;
import dev.kvasir.gpu.GpuStepExecutor;
import dev.kvasir.model.LoadedModel;
import dev.kvasir.model.cpu.CpuStepExecutor;
import dev.kvasir.model.exec.StepExecutor;
import dev.kvasir.model.bench.ForwardBenchmark;
import dev.kvasir.model.bench.ReadBandwidth;
import dev.kvasir.model.cpu.ComputePool;
import dev.kvasir.model.cpu.LlamaCpuModel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code ./kvasir bench}: prefill and decode tokens/s of the CPU engine on a model file (the
 * figures llama-bench's pp and tg tests give), or with {@code --memory} the read bandwidth that
 * bounds decode, or with {@code --serving} generated tokens/s through the serving core at several
 * concurrencies (CPU or GPU). Progress goes to the log (stderr); the result table or JSON to stdout.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure prefill and decode tokens/s on the CPU (median of several runs after a warm-up), memory read bandwidth with --memory, "
                + "or serving throughput at several concurrencies with --serving (CPU or GPU).")
final class BenchCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(BenchCommand.class);

    @Spec
    CommandSpec spec;

    @Option(names = "--model", description = "GGUF file or Hugging Face model directory")
    Path model;

    @Option(names = "--prompt-tokens", defaultValue = "128", description = "prompt length for prefill, 0 = skip (default ${DEFAULT-VALUE})")
    int promptTokens;

    @Option(names = "--gen-tokens", defaultValue = "32", description = "decode steps, 0 = skip (default ${DEFAULT-VALUE})")
    int genTokens;

    @Option(names = "--batch", defaultValue = "1", description = "sequences decoded together in each step (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--threads", description = "compute threads (default: all cores)")
    Integer threads;

    @Option(names = "--repetitions", defaultValue = "5", description = "timed runs after the warm-up; the median is reported (default ${DEFAULT-VALUE})")
    int repetitions;

    @Option(names = "--memory", description = "measure memory read bandwidth instead of a model")
    boolean memory;

    @Option(names = "--memory-mib", defaultValue = "1024", description = "buffer size for --memory in MiB (default ${DEFAULT-VALUE})")
    int memoryMib;

    @Option(names = "--json", description = "print one JSON object instead of a table")
    boolean json;

    @Option(names = "--serving", description = "measure generated tokens/s through the serving core (continuous batching) for bursts of --concurrency requests")
    boolean serving;

    @Option(names = "--concurrency", defaultValue = "1,8,32", description = "with --serving: requests per burst, comma-separated (default ${DEFAULT-VALUE})")
    String concurrency;

    @Option(names = "--warmup-bursts", defaultValue = "3", description = "with --serving: untimed bursts of every --concurrency level first, "
            + "so that graphs are captured and the serving core is compiled as in a running server (default ${DEFAULT-VALUE})")
    int warmupBursts;

    @Option(names = "--queue-ahead", defaultValue = "true", arity = "1", description = "with --serving: send a step before the last one's tokens "
            + "are back where it can be planned without them (kvasir.serving.queue-ahead; default ${DEFAULT-VALUE})")
    boolean queueAhead;

    @Option(names = "--backend", defaultValue = "cpu", description = "with --serving: cpu or gpu (default ${DEFAULT-VALUE})")
    String backend;

    @Option(names = "--dtype", defaultValue = "auto", description = "with --serving --backend gpu: weight type auto, f32, bf16, f16 (default ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--quantization", defaultValue = "auto", description = "with --serving --backend gpu: weight-only quantization auto, none, int8, int4 (default ${DEFAULT-VALUE})")
    String quantization;

    @Option(names = "--kv-cache-dtype", defaultValue = "auto", description = "with --serving --backend gpu: KV cache type auto, fp32, fp16, bf16, int8, fp8 (default ${DEFAULT-VALUE})")
    String kvCacheDtype;

    @Override
    public Integer call() {
        if (threads != null && threads < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
        if (repetitions < 1) throw new IllegalArgumentException("--repetitions must be >= 1, got " + repetitions);
        PrintWriter out = spec.commandLine().getOut();
        Map<String, Object> o = new LinkedHashMap<>();
        try (ComputePool pool = threads != null ? new ComputePool(threads) : ComputePool.ofAvailableCores()) {
            o.put("threads", pool.threads());
            if (serving) {
                o.remove("threads");
                o.putAll(serving(pool));
            } else if (memory) {
                if (memoryMib < 1) throw new IllegalArgumentException("--memory-mib must be >= 1, got " + memoryMib);
                double bps = ReadBandwidth.measure(pool, (long) memoryMib << 20, repetitions);
                o.put("buffer_bytes", (long) memoryMib << 20);
                o.put("read_bytes_per_second", Math.round(bps));
                o.put("read_gb_per_second", round(bps / 1e9));
            } else {
                if (model == null) throw new IllegalArgumentException("--model is required (or --memory)");
                try (LoadedModel loaded = LoadedModel.open(model)) {
                    LlamaCpuModel cpu = new LlamaCpuModel(loaded.weights().config(), loaded.weights().weights(), pool);
                    ForwardBenchmark.Result r = new ForwardBenchmark(cpu, promptTokens, genTokens, batch, repetitions).run();
                    o.put("model", model.toString());
                    o.put("weight_bytes", cpu.weightBytes());
                    o.put("batch", batch);
                    o.put("prompt_tokens", promptTokens);
                    o.put("gen_tokens", genTokens);
                    o.put("repetitions", repetitions);
                    o.put("prefill_tokens_per_second", promptTokens > 0 ? round(r.prefillTokensPerSecond()) : null);
                    o.put("decode_tokens_per_second", genTokens > 0 ? round(r.decodeTokensPerSecond()) : null);
                }
            }
        }
        if (json) {
            out.println(Json.write(o));
        } else {
            for (Map.Entry<String, Object> e : o.entrySet()) out.printf("%-26s %s%n", e.getKey(), e.getValue());
        }
        out.flush();
        return 0;
    }

    /** Bursts of concurrent requests through a router over one executor of the chosen backend. */
    private Map<String, Object> serving(ComputePool pool) {
        if (model == null) throw new IllegalArgumentException("--serving needs --model");
        if (!backend.equals("cpu") && !backend.equals("gpu")) throw new IllegalArgumentException("unknown backend '" + backend + "' (cpu, gpu)");
        int[] levels;
        try {
            levels = Arrays.stream(concurrency.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--concurrency must be comma-separated integers, got '" + concurrency + "'");
        }
        if (levels.length == 0 || Arrays.stream(levels).anyMatch(c -> c < 1)) throw new IllegalArgumentException("--concurrency values must be >= 1");
        if (promptTokens < 1 || genTokens < 1) throw new IllegalArgumentException("--serving needs --prompt-tokens and --gen-tokens >= 1");
        if (warmupBursts < 0) throw new IllegalArgumentException("--warmup-bursts must be >= 0, got " + warmupBursts);
        int most = Arrays.stream(levels).max().orElseThrow();
        Map<String, Object> o = new LinkedHashMap<>();
        try (LoadedModel loaded = LoadedModel.open(model)) {
            ServingConfig config = ServingConfig.defaults().withQueues(Math.max(256, 2 * most), most).withMaxBatchedTokens(Math.max(2048, promptTokens))
                    .withQueueAhead(queueAhead);
            StepExecutor executor;
            if (backend.equals("gpu")) {
                executor = GpuStepExecutor.create(loaded.weights(), new GpuOptions(0, dtype, quantization, 0.9, config.blockSize(), 0, kvCacheDtype));
            } else {
                int blocks = most * ((promptTokens + genTokens) / config.blockSize() + 2);
                executor = new CpuStepExecutor(new LlamaCpuModel(loaded.weights().config(), loaded.weights().weights(), pool), config.blockSize(), blocks);
            }
            try {
                ServingThroughput bench = new ServingThroughput(loaded, executor, config);
                try {
                    for (int i = 0; i < warmupBursts; i++) {
                        log.info("serving warm-up {}/{}", i + 1, warmupBursts);
                        for (int c : levels) bench.burst(c, promptTokens, genTokens);
                    }
                    List<Map<String, Object>> runs = new ArrayList<>();
                    for (int c : levels) runs.add(bench.burst(c, promptTokens, genTokens));
                    o.put("model", model.toString());
                    o.put("backend", backend);
                    o.put("device", executor.device());
                    o.put("queue_ahead", queueAhead);
                    o.put("serving", runs);
                } finally {
                    bench.close();
                }
            } finally {
                executor.close();
            }
        }
        return o;
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }
}
