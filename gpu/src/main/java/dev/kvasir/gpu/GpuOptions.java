package dev.kvasir.gpu;

/**
 * How to place a model on a device.
 *
 * @param dtype       weight type on the device: auto, f32, bf16 or f16
 * @param quantization weight-only quantized matrices: auto, none, int8 or int4 (see {@link Quantization})
 * @param memoryFraction share of the card the executor may fill (weights + activations + KV), like vLLM's gpu_memory_utilization
 * @param maxKvBlocks cap on KV blocks (0 = as many as the budget allows)
 * @param kvCacheDtype KV pool type: auto, fp32, fp16, bf16, int8 or fp8 ({@link KvCacheDtype})
 */
public record GpuOptions(int device, String dtype, String quantization, double memoryFraction, int blockSize, int maxKvBlocks,
                         String kvCacheDtype) {
    public GpuOptions {
        if (memoryFraction <= 0 || memoryFraction > 1) throw new IllegalArgumentException("memory fraction must be in (0, 1], got " + memoryFraction);
        if (blockSize <= 0) throw new IllegalArgumentException("block size must be positive");
        Quantization.parse(quantization); // a bad value fails here, with the choices, before any device work
    }

    public static GpuOptions defaults() {
        return new GpuOptions(0, "auto", "auto", 0.9, 16, 0, "auto");
    }

    public GpuOptions withDtype(String value) {
        return new GpuOptions(device, value, quantization, memoryFraction, blockSize, maxKvBlocks, kvCacheDtype);
    }

    public GpuOptions withQuantization(String value) {
        return new GpuOptions(device, dtype, value, memoryFraction, blockSize, maxKvBlocks, kvCacheDtype);
    }

    public GpuOptions withMaxKvBlocks(int value) {
        return new GpuOptions(device, dtype, quantization, memoryFraction, blockSize, value, kvCacheDtype);
    }

    public GpuOptions withKvCacheDtype(String value) {
        return new GpuOptions(device, dtype, quantization, memoryFraction, blockSize, maxKvBlocks, value);
    }
}
