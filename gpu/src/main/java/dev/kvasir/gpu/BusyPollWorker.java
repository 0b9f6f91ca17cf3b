package dev.kvasir.gpu;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.locks.LockSupport;

/**
 * One worker thread that runs its tasks in submission order and, once idle, polls for the next
 * task for a while ({@code spinNanos}) before it parks; {@link #await} waits for a result the same
 * way. Why not a single-thread {@code ExecutorService}: a decode step crosses to the device's thread
 * and back, and the wake-ups of parked threads kept the GPU idle between steps (docs/PERFORMANCE.md,
 * S9-4: 131–181 µs between 8B batch-1 steps parked, 52–104 polled; INT8 +2.7% on average). Polling
 * costs a core per waiting thread for at most {@code spinNanos}; with {@code spinNanos = 0} both
 * sides park at once, as an executor would.
 */
final class BusyPollWorker implements Executor {
    private static final Logger log = LoggerFactory.getLogger(BusyPollWorker.class);
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final long spinNanos;
    private final Thread thread;
    private volatile boolean shutdown;

    BusyPollWorker(String name, long spinNanos) {
        this.spinNanos = spinNanos;
        this.thread = new Thread(this::loop, name);
        thread.setDaemon(true);
        thread.start();
    }

    /** Queues {@code task}; refused after {@link #shutdown}. A task that throws is logged, and the next one runs. */
    @Override
    public void execute(Runnable task) {
        if (shutdown) throw new RejectedExecutionException(thread.getName() + " is shut down");
        tasks.add(task);
        LockSupport.unpark(thread);
    }

    /** Runs what is queued already, then lets the thread end. */
    void shutdown() {
        shutdown = true;
        LockSupport.unpark(thread);
    }

    /** The result of {@code f}, polled for up to {@code spinNanos} before blocking. */
    <T> T await(CompletableFuture<T> f) throws ExecutionException, InterruptedException {
        long deadline = System.nanoTime() + spinNanos;
        while (!f.isDone() && System.nanoTime() - deadline < 0) Thread.onSpinWait();
        return f.get();
    }

    private void loop() {
        while (true) {
            Runnable task = tasks.poll();
            if (task != null) {
                try {
                    task.run();
                } catch (Throwable e) {
                    log.error("task on {} failed", thread.getName(), e);
                }
                continue;
            }
            if (shutdown) return;
            long deadline = System.nanoTime() + spinNanos;
            while (tasks.isEmpty() && !shutdown && System.nanoTime() - deadline < 0) Thread.onSpinWait();
            // an execute() between the check and park() leaves its permit, so park() returns at once
            if (tasks.isEmpty() && !shutdown) LockSupport.park(this);
        }
    }
}
