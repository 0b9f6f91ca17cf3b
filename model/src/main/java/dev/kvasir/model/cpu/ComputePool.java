package dev.kvasir.model.cpu;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The fixed pool of CPU compute threads the kernels run on (sized to the cores, never Pekko's
 * dispatcher). Work is split into contiguous index ranges, one per thread; the caller runs one
 * range itself.
 */
public final class ComputePool implements AutoCloseable {

    @FunctionalInterface
    public interface RangeTask {
        void run(int start, int end);
    }

    private final int threads;
    private final ExecutorService executor;

    public ComputePool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        AtomicInteger n = new AtomicInteger();
        this.executor = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, r -> {
            Thread t = new Thread(r, "kvasir-compute-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    public static ComputePool ofAvailableCores() {
        return new ComputePool(Runtime.getRuntime().availableProcessors());
    }

    public int threads() {
        return threads;
    }

    /** Runs {@code task} over {@code [0, n)} split into at most {@code threads} ranges; returns when all are done. */
    public void parallelFor(int n, RangeTask task) {
        int parts = Math.min(threads, n);
        if (parts <= 1) {
            if (n > 0) task.run(0, n);
            return;
        }
        @SuppressWarnings("unchecked")
        Future<?>[] futures = new Future<?>[parts - 1];
        for (int p = 0; p < parts - 1; p++) {
            int start = (int) ((long) n * p / parts);
            int end = (int) ((long) n * (p + 1) / parts);
            futures[p] = executor.submit(() -> task.run(start, end));
        }
        task.run((int) ((long) n * (parts - 1) / parts), n);
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while computing", e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException re) throw re;
                throw new IllegalStateException(e.getCause());
            }
        }
    }

    @Override
    public void close() {
        if (executor != null) executor.shutdownNow();
    }
}
