package dev.kvasir.cluster.cli;

import dev.kvasir.cluster.node.KvasirNode;
import dev.kvasir.cluster.node.NodeConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;

/**
 * {@code ./kvasir serve}: one node with the HTTP/WebSocket gateway. Runs until stopped (Ctrl-C or
 * SIGTERM drain running requests first). Options override the {@code --config} profile.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve one model over OpenAI-compatible HTTP and WebSocket (with no --model: the embedded default).")
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", description = "GGUF file or Hugging Face directory (default: the embedded synthetic model)")
    Path model;

    @Option(names = "--served-model-name", description = "the id clients send as \"model\" (default: the file or folder name)")
    String servedName;

    @Option(names = "--port", description = "HTTP port (default 8080, or the profile's)")
    Integer port;

    @Option(names = "--host", description = "address to listen on (default 0.0.0.0, or the profile's)")
    String host;

    @Option(names = "--backend", description = "cpu (default) or gpu")
    String backend;

    @Option(names = "--device", description = "GPU ordinal for --backend gpu (default 0, or the profile's devices)")
    Integer device;

    @Option(names = "--dtype", description = "GPU weight type: auto, f32, bf16, f16 (default auto)")
    String dtype;

    @Option(names = "--kv-cache-dtype", description = "GPU KV cache type: auto (fp32 for f32 weights, else the weights' 16-bit type), fp32, fp16, bf16, int8, fp8 (sm_89+)")
    String kvCacheDtype;

    @Option(names = "--quantization", description = "GPU weight-only quantization: auto, none, int8, int4 (default auto)")
    String quantization;

    @Option(names = "--config", description = "HOCON profile, e.g. config/single-node.conf")
    Path config;

    @Option(names = "--kv-memory", description = "KV cache budget, e.g. 512MiB (default 256MiB)")
    String kvMemory;

    @Option(names = "--kv-blocks", description = "KV blocks in the pool (overrides --kv-memory)")
    Integer kvBlocks;

    @Option(names = "--block-size", description = "tokens per KV block (default 16)")
    Integer blockSize;

    @Option(names = "--max-running", description = "sequences in the running batch (default 64)")
    Integer maxRunning;

    @Option(names = "--max-waiting", description = "requests waiting for admission before 'overloaded' (default 256)")
    Integer maxWaiting;

    @Option(names = "--threads", description = "compute threads (default: all cores)")
    Integer threads;

    @Override
    public Integer call() {
        Map<String, Object> o = new HashMap<>();
        if (port != null) o.put("kvasir.gateway.port", port);
        if (host != null) o.put("kvasir.gateway.host", host);
        if (backend != null) o.put("kvasir.node.backend", backend);
        if (device != null) o.put("kvasir.node.devices", java.util.List.of("gpu" + device));
        if (dtype != null) o.put("kvasir.node.gpu.dtype", dtype);
        if (kvCacheDtype != null) o.put("kvasir.node.gpu.kv-cache-dtype", kvCacheDtype);
        if (quantization != null) o.put("kvasir.node.gpu.quantization", quantization);
        if (kvMemory != null) o.put("kvasir.serving.kv-memory", kvMemory);
        if (kvBlocks != null) o.put("kvasir.serving.kv-blocks", kvBlocks);
        if (blockSize != null) o.put("kvasir.serving.block-size", blockSize);
        if (maxRunning != null) o.put("kvasir.serving.max-running", maxRunning);
        if (maxWaiting != null) o.put("kvasir.serving.max-waiting", maxWaiting);
        if (threads != null) o.put("kvasir.serving.compute-threads", threads);
        var cfg = NodeConfig.load(config, o);
        // --backend gpu over a profile that lists only CPU devices (the default [cpu]) serves on card 0
        if (cfg.getString("kvasir.node.backend").equals("gpu")
                && cfg.getStringList("kvasir.node.devices").stream().allMatch(d -> d.startsWith("cpu"))) {
            o.put("kvasir.node.devices", java.util.List.of("gpu0"));
            cfg = NodeConfig.load(config, o);
        }
        Path modelPath = model;
        if (modelPath == null && !cfg.getString("kvasir.node.model").isBlank()) modelPath = Path.of(cfg.getString("kvasir.node.model"));
        String name = servedName != null ? servedName : cfg.getString("kvasir.node.served-model-name");
        KvasirNode node = KvasirNode.start(cfg, new KvasirNode.ModelChoice(modelPath, name));
        try {
            node.ready().toCompletableFuture().join();
        } catch (CompletionException e) {
            node.close();
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        node.terminated().toCompletableFuture().join();
        return 0;
    }
}
