package dev.kvasir.gpu;

import jcuda.driver.CUdeviceptr;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;

/**
 * A device's memory, accounted by purpose (weights, activations, kv). Plain cuMemAlloc only (no
 * managed memory). The KV pool takes what is left of {@code fraction} of the card once everything
 * else is allocated — the same rule as vLLM's gpu_memory_utilization.
 */
public final class DeviceMemory implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DeviceMemory.class);
    private final GpuDispatcher dispatcher;
    private final List<CUdeviceptr> live = new ArrayList<>();
    private final Map<String, Long> bytesByPurpose = new LinkedHashMap<>();

    public DeviceMemory(GpuDispatcher dispatcher) {
        this.dispatcher = dispatcher;
    }

    public CUdeviceptr allocate(String purpose, long bytes) {
        dispatcher.checkThread();
        CUdeviceptr p = new CUdeviceptr();
        cuMemAlloc(p, Math.max(bytes, 16));
        live.add(p);
        bytesByPurpose.merge(purpose, bytes, Long::sum);
        return p;
    }

    /**
     * Frees after the device has finished everything queued: a step still in flight may use the
     * memory (GpuStepExecutor queues the next step before the last one is done).
     */
    public void free(String purpose, CUdeviceptr p, long bytes) {
        dispatcher.checkThread();
        if (live.remove(p)) {
            cuCtxSynchronize();
            cuMemFree(p);
            bytesByPurpose.merge(purpose, -bytes, Long::sum);
        }
    }

    /** {free, total} bytes of the device now. */
    public long[] info() {
        dispatcher.checkThread();
        long[] free = new long[1];
        long[] total = new long[1];
        cuMemGetInfo(free, total);
        return new long[]{free[0], total[0]};
    }

    /** Bytes the KV pool may take: fraction × total, less what the card already holds, less a reserve. */
    public long kvBudget(double fraction, long reserve) {
        long[] ft = info();
        long used = ft[1] - ft[0];
        long budget = (long) (ft[1] * fraction) - used - reserve;
        log.info("device memory: {} MiB total, {} MiB in use, KV budget at {} = {} MiB", ft[1] >> 20, used >> 20, fraction, Math.max(0, budget) >> 20);
        return Math.max(0, budget);
    }

    public Map<String, Long> bytesByPurpose() {
        return Map.copyOf(bytesByPurpose);
    }

    @Override
    public void close() {
        dispatcher.checkThread();
        for (CUdeviceptr p : live) cuMemFree(p);
        live.clear();
    }
}
