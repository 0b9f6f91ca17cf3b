package dev.kvasir.actors;

import dev.kvasir.model.exec.StepExecutor;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A group of one shard that runs its executor on a dedicated thread of this JVM, without Cluster
 * Sharding: for tools and tests that want the serving core without a cluster. Steps run in order,
 * through a {@link StepPipeline}.
 */
public final class LocalShardGroup implements ShardGroup, AutoCloseable {
    private final StepExecutor executor;
    private final ExecutorService thread;
    private final StepPipeline pipeline;

    public LocalShardGroup(StepExecutor executor) {
        this.executor = executor;
        this.thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "kvasir-shard-" + executor.device());
            t.setDaemon(true);
            return t;
        });
        this.pipeline = new StepPipeline(executor, "kvasir-shard-" + executor.device());
    }

    @Override
    public void execute(ExecutorCommand.ExecuteStep command) {
        thread.execute(() -> pipeline.execute(command));
    }

    @Override
    public String describe() {
        return "local:" + executor.device();
    }

    /** Stops the thread; the executor belongs to the caller. */
    @Override
    public void close() {
        thread.shutdownNow();
        pipeline.close();
    }
}
