package dev.kvasir.cluster.cli;

import dev.kvasir.gpu.GpuOptions;
import dev.kvasir.gpu.Quantization;
import dev.kvasir.gpu.GpuStepExecutor;
import dev.kvasir.model.LoadedModel;
import dev.kvasir.model.cpu.ComputePool;
import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.generate.GenerationRequest;
import dev.kvasir.model.generate.GenerationResult;
import dev.kvasir.model.generate.Generator;
import dev.kvasir.model.generate.StepGenerator;
import dev.kvasir.model.generate.TokenSink;
import dev.kvasir.model.sampling.SamplingParams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code ./kvasir generate}: one prompt in, generated text out (streamed), or one JSON object. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text from a prompt with a GGUF file or Hugging Face directory.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "GGUF file or Hugging Face model directory")
    Path model;

    @Option(names = "--prompt", required = true, description = "prompt text")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "128", description = "most tokens to generate (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0.8", description = "0 = greedy (default ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--seed", description = "seed for sampling (default: random)")
    Long seed;

    @Option(names = "--top-k", defaultValue = "0", description = "keep the k most likely tokens, 0 = off")
    int topK;

    @Option(names = "--top-p", defaultValue = "1.0", description = "nucleus sampling mass, 1 = off")
    float topP;

    @Option(names = "--min-p", defaultValue = "0.0", description = "drop tokens below this fraction of the best, 0 = off")
    float minP;

    @Option(names = "--repeat-penalty", defaultValue = "1.0", description = "repetition penalty, 1 = off")
    float repeatPenalty;

    @Option(names = "--presence-penalty", defaultValue = "0.0")
    float presencePenalty;

    @Option(names = "--frequency-penalty", defaultValue = "0.0")
    float frequencyPenalty;

    @Option(names = "--stop", description = "stop string (repeatable)")
    List<String> stop;

    @Option(names = "--threads", description = "compute threads (default: all cores)")
    Integer threads;

    @Option(names = "--backend", defaultValue = "cpu", description = "cpu or gpu (default ${DEFAULT-VALUE})")
    String backend;

    @Option(names = "--dtype", defaultValue = "auto", description = "GPU weight type: auto, f32, bf16, f16 (default ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--kv-cache-dtype", defaultValue = "auto",
            description = "GPU KV cache type: auto (fp32 for f32 weights, else the weights' 16-bit type), fp32, fp16, bf16, int8, fp8 (sm_89+) (default ${DEFAULT-VALUE})")
    String kvCacheDtype;

    @Option(names = "--quantization", defaultValue = "auto",
            description = "GPU weight-only quantization: auto (Q8_0 files INT8, Q4_0/Q4_K INT4), none, int8, int4 (default ${DEFAULT-VALUE})")
    String quantization;

    @Option(names = "--device", defaultValue = "0", description = "GPU ordinal (default ${DEFAULT-VALUE})")
    int device;

    @Option(names = "--json", description = "print one JSON object instead of the text")
    boolean json;

    @Override
    public Integer call() {
        if (!backend.equals("cpu") && !backend.equals("gpu")) throw new IllegalArgumentException("unknown backend '" + backend + "' (cpu, gpu)");
        if (maxTokens < 0) throw new IllegalArgumentException("--max-tokens must be >= 0, got " + maxTokens);
        Quantization.parse(quantization); // a bad value fails with the choices, whatever the backend
        SamplingParams sampling = new SamplingParams(temperature, topK, topP, minP, repeatPenalty,
                SamplingParams.DEFAULT_PENALTY_LAST_N, presencePenalty, frequencyPenalty, seed);
        PrintWriter out = spec.commandLine().getOut();
        try (LoadedModel loaded = LoadedModel.open(model)) {
            int[] promptTokens = loaded.tokenizer().encode(prompt, loaded.tokenizer().addBosByDefault(), false);
            GenerationRequest request = new GenerationRequest(promptTokens, maxTokens, sampling, stop);
            TokenSink sink = json ? TokenSink.NONE : new TokenSink() {
                @Override
                public void accept(int index, int token, String text) {
                    out.print(text);
                    out.flush();
                }

                @Override
                public void flush(String text) {
                    out.print(text);
                }
            };
            GenerationResult result;
            if (backend.equals("gpu")) {
                GpuOptions options = new GpuOptions(device, dtype, quantization, 0.9, 16, 0, kvCacheDtype);
                try (GpuStepExecutor gpu = GpuStepExecutor.create(loaded.weights(), options)) {
                    result = new StepGenerator(gpu, loaded.tokenizer()).generate(request, sink);
                }
            } else {
                try (ComputePool pool = threads != null ? new ComputePool(threads) : ComputePool.ofAvailableCores()) {
                    LlamaCpuModel cpu = new LlamaCpuModel(loaded.weights().config(), loaded.weights().weights(), pool);
                    result = new Generator(cpu, loaded.tokenizer()).generate(request, sink);
                }
            }
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("prompt_tokens", result.promptTokens());
                o.put("tokens", result.tokens());
                o.put("text", result.text());
                o.put("finish_reason", result.finishReason().wireName());
                o.put("tokens_per_second", Math.round(result.tokensPerSecond() * 100) / 100.0);
                out.println(Json.write(o));
            } else {
                out.println();
            }
            out.flush();
        }
        return 0;
    }
}
