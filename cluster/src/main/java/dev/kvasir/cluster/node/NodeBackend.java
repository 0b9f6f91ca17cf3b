package dev.kvasir.cluster.node;

import com.typesafe.config.Config;
import dev.kvasir.gpu.GpuDevices;
import dev.kvasir.gpu.GpuOptions;
import dev.kvasir.gpu.GpuStepExecutor;
import dev.kvasir.gpu.Quantization;
import dev.kvasir.sharding.ExecutorFactory;

import java.util.List;

/**
 * The node's backend ({@code kvasir.node.backend}) and its devices ({@code kvasir.node.devices}),
 * checked at start so a node that cannot serve says why in one line before it binds anything:
 * {@code cpu} takes devices cpu, cpu0, cpu1, ...; {@code gpu} takes gpu0, gpu1, ... (CUDA ordinals).
 */
record NodeBackend(String name, List<String> devices, String gpuDtype, String gpuQuantization, double gpuMemoryFraction,
                   String kvCacheDtype) {

    private static final List<String> KV_CACHE_DTYPES = List.of("auto", "fp32", "fp16", "bf16", "int8", "fp8");

    static NodeBackend fromConfig(Config config, boolean worker) {
        String backend = config.getString("kvasir.node.backend");
        List<String> devices = config.getStringList("kvasir.node.devices");
        NodeBackend b = new NodeBackend(backend, devices, config.getString("kvasir.node.gpu.dtype"),
                config.getString("kvasir.node.gpu.quantization"), config.getDouble("kvasir.node.gpu.memory-fraction"),
                config.getString("kvasir.node.gpu.kv-cache-dtype"));
        b.check(worker);
        return b;
    }

    private void check(boolean worker) {
        switch (name) {
            case "cpu" -> {
                for (String d : devices) {
                    if (!d.matches("cpu[0-9]*")) throw new IllegalArgumentException("device '" + d + "' does not belong to backend cpu (cpu, cpu0, cpu1, ...)");
                }
            }
            case "gpu" -> {
                for (String d : devices) {
                    if (!d.matches("gpu[0-9]+")) throw new IllegalArgumentException("device '" + d + "' does not belong to backend gpu (gpu0, gpu1, ...)");
                }
                if (!KV_CACHE_DTYPES.contains(kvCacheDtype)) {
                    throw new IllegalArgumentException("kvasir.node.gpu.kv-cache-dtype must be one of " + KV_CACHE_DTYPES + ", got '" + kvCacheDtype + "'");
                }
                try {
                    Quantization.parse(gpuQuantization);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("kvasir.node.gpu.quantization: " + e.getMessage());
                }
                if (gpuMemoryFraction <= 0 || gpuMemoryFraction > 1) {
                    throw new IllegalArgumentException("kvasir.node.gpu.memory-fraction must be in (0, 1], got " + gpuMemoryFraction);
                }
                // only a node that serves needs a device; a gateway-only node of a GPU cluster does not
                if (worker) {
                    String reason = GpuDevices.unavailableReason();
                    if (reason != null) throw new IllegalArgumentException("backend gpu unavailable: " + reason);
                    int count = GpuDevices.list().size();
                    for (String d : devices) {
                        if (ordinal(d) >= count) throw new IllegalArgumentException("device " + d + " not present: this host has " + count + " CUDA device(s)");
                    }
                }
            }
            default -> throw new IllegalArgumentException("unknown backend '" + name + "' (cpu, gpu)");
        }
    }

    /** The executor for one of this node's devices. */
    ExecutorFactory factory(String device) {
        if (name.equals("cpu")) return ExecutorFactory.cpu();
        int ordinal = ordinal(device);
        return (model, serving) -> {
            // the executor's dispatcher thread makes every CUDA call; the shard's thread only hands steps over
            GpuOptions options = new GpuOptions(ordinal, gpuDtype, gpuQuantization, gpuMemoryFraction, serving.blockSize(), serving.kvBlocks(), kvCacheDtype);
            return new ExecutorFactory.Engine(GpuStepExecutor.create(model.weights(), options), null);
        };
    }

    private static int ordinal(String device) {
        return Integer.parseInt(device.substring(3));
    }
}
