package dev.kvasir.cluster.cli;

import dev.kvasir.model.LoadedModel;
import dev.kvasir.model.bench.ForwardBenchmark;
import dev.kvasir.model.bench.ReadBandwidth;
import dev.kvasir.model.cpu.ComputePool;
import dev.kvasir.model.cpu.LlamaCpuModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code ./kvasir bench}: prefill and decode tokens/s of the CPU engine on a model file (the
 * figures llama-bench's pp and tg tests give), or with {@code --memory} the read bandwidth that
 * bounds decode. Progress goes to the log (stderr); the result table or JSON to stdout.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure prefill and decode tokens/s on the CPU (median of several runs after a warm-up), or memory read bandwidth with --memory.")
final class BenchCommand implements Callable<Integer> {
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

    @Override
    public Integer call() {
        if (threads != null && threads < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
        if (repetitions < 1) throw new IllegalArgumentException("--repetitions must be >= 1, got " + repetitions);
        PrintWriter out = spec.commandLine().getOut();
        Map<String, Object> o = new LinkedHashMap<>();
        try (ComputePool pool = threads != null ? new ComputePool(threads) : ComputePool.ofAvailableCores()) {
            o.put("threads", pool.threads());
            if (memory) {
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

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }
}
