package dev.kvasir.gpu;

/** What discovery learned about one CUDA device. */
public record GpuDeviceInfo(int ordinal, String name, int computeMajor, int computeMinor, int multiprocessors, long totalBytes) {
    @Override
    public String toString() {
        return "cuda:%d %s (sm_%d%d, %d SMs, %.1f GiB)".formatted(ordinal, name, computeMajor, computeMinor, multiprocessors,
                totalBytes / (double) (1L << 30));
    }
}
