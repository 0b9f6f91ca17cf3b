package dev.kvasir.cluster.cli;

import dev.kvasir.gpu.GpuChunkScorer;
import dev.kvasir.gpu.GpuOptions;
import dev.kvasir.gpu.GpuStepExecutor;
import dev.kvasir.model.LoadedModel;
import dev.kvasir.model.cpu.ComputePool;
import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.eval.Perplexity;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code ./kvasir eval perplexity}: llama-perplexity's measurement on a text file. */
@Command(name = "perplexity", mixinStandardHelpOptions = true,
        description = "Perplexity of a model on a text file, computed as llama.cpp's llama-perplexity does.")
final class PerplexityCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "GGUF file or Hugging Face model directory")
    Path model;

    @Option(names = "--file", required = true, description = "UTF-8 text to score")
    Path file;

    @Option(names = "--context", defaultValue = "128", description = "chunk length in tokens (default ${DEFAULT-VALUE})")
    int context;

    @Option(names = "--threads", description = "compute threads (default: all cores)")
    Integer threads;

    @Option(names = "--json", description = "print one JSON object")
    boolean json;

    @Option(names = "--backend", defaultValue = "cpu", description = "cpu or gpu (default ${DEFAULT-VALUE})")
    String backend;

    @Option(names = "--dtype", defaultValue = "auto", description = "GPU weight type: auto, f32, bf16, f16 (default ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--quantization", defaultValue = "auto", description = "GPU weight-only quantization: auto, none, int8, int4 (default ${DEFAULT-VALUE})")
    String quantization;

    @Option(names = "--kv-cache-dtype", defaultValue = "auto", description = "GPU KV cache type: auto, fp32, fp16, bf16, int8, fp8 (default ${DEFAULT-VALUE})")
    String kvCacheDtype;

    @Override
    public Integer call() {
        if (threads != null && threads < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(new IOException(file + ": cannot read (" + e.getMessage() + ")", e));
        }
        PrintWriter out = spec.commandLine().getOut();
        try (LoadedModel loaded = LoadedModel.open(model);
             ComputePool pool = threads != null ? new ComputePool(threads) : ComputePool.ofAvailableCores()) {
            Perplexity.Result r;
            if (backend.equals("gpu")) {
                var c = loaded.weights().config();
                GpuOptions options = new GpuOptions(0, dtype, quantization, 0.9, 16, (context + 15) / 16 + 1, kvCacheDtype);
                try (GpuStepExecutor gpu = GpuStepExecutor.create(loaded.weights(), options)) {
                    r = Perplexity.evaluate(new GpuChunkScorer(gpu), c.vocabSize(), c.contextLength(), loaded.tokenizer(), text, context);
                }
            } else if (backend.equals("cpu")) {
                LlamaCpuModel cpu = new LlamaCpuModel(loaded.weights().config(), loaded.weights().weights(), pool);
                r = Perplexity.evaluate(cpu, loaded.tokenizer(), text, context);
            } else {
                throw new IllegalArgumentException("unknown backend '" + backend + "' (cpu, gpu)");
            }
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("perplexity", r.perplexity());
                o.put("standard_error", r.standardError());
                o.put("context", context);
                o.put("chunks", r.chunks());
                o.put("scored_tokens", r.scoredTokens());
                o.put("tokens", r.totalTokens());
                o.put("running", r.runningValues());
                out.println(Json.write(o));
            } else {
                out.printf("PPL = %.4f +/- %.5f (%d chunks of %d tokens, %d scored)%n", r.perplexity(), r.standardError(),
                        r.chunks(), context, r.scoredTokens());
            }
            out.flush();
        }
        return 0;
    }
}
