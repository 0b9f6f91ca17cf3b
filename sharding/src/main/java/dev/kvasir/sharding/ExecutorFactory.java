package dev.kvasir.sharding;

import dev.kvasir.actors.ServingConfig;
import dev.kvasir.model.LoadedModel;
import dev.kvasir.model.cpu.ComputePool;
import dev.kvasir.model.cpu.CpuStepExecutor;
import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.exec.StepExecutor;

/**
 * How a replica gets its {@link StepExecutor}: the serving core above it is the same whatever the
 * backend. The CPU engine is built here; other backends (the GPU one lives in a module this one
 * does not depend on) are handed in by the node that chose them.
 */
@FunctionalInterface
public interface ExecutorFactory {

    /** Opens an executor for {@code model}; closing the result releases everything it holds. */
    Engine open(LoadedModel model, ServingConfig config);

    /** An executor and what must be closed after it (a compute pool, say; may be null). */
    record Engine(StepExecutor executor, AutoCloseable resources) implements AutoCloseable {
        @Override
        public void close() {
            try {
                executor.close();
            } finally {
                if (resources != null) {
                    try {
                        resources.close();
                    } catch (Exception e) {
                        throw new IllegalStateException("closing " + executor.device() + " resources", e);
                    }
                }
            }
        }
    }

    /** The CPU engine: its own compute pool, the KV pool sized by blocks or by the memory budget. */
    static ExecutorFactory cpu() {
        return (model, config) -> {
            var modelConfig = model.weights().config();
            ComputePool pool = config.computeThreads() > 0 ? new ComputePool(config.computeThreads()) : ComputePool.ofAvailableCores();
            try {
                LlamaCpuModel cpu = new LlamaCpuModel(modelConfig, model.weights().weights(), pool);
                int blocks = config.kvBlocks() > 0 ? config.kvBlocks()
                        : CpuStepExecutor.blocksForBudget(cpu, config.blockSize(), config.kvMemoryBytes());
                CpuStepExecutor executor = new CpuStepExecutor(cpu, config.blockSize(), blocks);
                return new Engine(executor, pool);
            } catch (RuntimeException e) {
                pool.close();
                throw e;
            }
        };
    }
}
