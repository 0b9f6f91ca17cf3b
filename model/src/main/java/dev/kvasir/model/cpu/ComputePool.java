package dev.kvasir.model.cpu;

import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The fixed pool of CPU compute threads the kernels run on (sized to the cores, never Pekko's
 * dispatcher). A decode step hands the pool about a hundred short jobs (one per matmul), so a job
 * must start in well under a microsecond: workers spin for a while after each job before they
 * park, and a job is published through a volatile generation counter, not a queue. Nothing is
 * allocated or locked per job. Work is claimed in chunks from a shared counter, so a thread the OS
 * descheduled (the machine may be shared) delays the job by one chunk, not by a whole share.
 * One job runs at a time; a call made while another is running (another caller thread, or from
 * inside a task) runs on its caller alone.
 */
public final class ComputePool implements AutoCloseable {

    @FunctionalInterface
    public interface RangeTask {
        /** Processes indices {@code [start, end)}; may be called several times per job with disjoint ranges. */
        void run(int start, int end);
    }

    /** How long an idle worker spins before parking: longer than the gap between two matmuls of one step. */
    private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(500);
    /** Chunks per thread: small enough to balance, large enough that claiming one costs nothing. */
    private static final int CHUNKS_PER_THREAD = 4;

    private final int threads;
    private final Thread[] workers;
    private final boolean[] parked;
    private final AtomicBoolean busy = new AtomicBoolean();
    private final AtomicInteger nextChunk = new AtomicInteger();
    private final AtomicInteger running = new AtomicInteger();
    private volatile long generation;
    private volatile boolean closed;
    // the current job; written before generation is bumped, read after it is seen
    private RangeTask task;
    private int size;
    private int chunk;
    private int chunks;
    private volatile Throwable failure;

    public ComputePool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        this.parked = new boolean[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            int id = i;
            workers[i] = new Thread(() -> workLoop(id), "kvasir-compute-" + (i + 1));
            workers[i].setDaemon(true);
            workers[i].start();
        }
    }

    public static ComputePool ofAvailableCores() {
        return new ComputePool(Runtime.getRuntime().availableProcessors());
    }

    public int threads() {
        return threads;
    }

    /** Runs {@code task} over {@code [0, n)} on all threads; returns when every index is done. */
    public void parallelFor(int n, RangeTask task) {
        if (n <= 0) return;
        if (threads == 1 || n == 1 || !busy.compareAndSet(false, true)) {
            task.run(0, n);
            return;
        }
        try {
            this.task = task;
            this.size = n;
            this.chunks = Math.min(n, threads * CHUNKS_PER_THREAD);
            this.chunk = (n + chunks - 1) / chunks;
            this.chunks = (n + chunk - 1) / chunk;
            this.failure = null;
            nextChunk.set(0);
            running.set(workers.length);
            generation = generation + 1;
            VarHandle.fullFence(); // pairs with the worker's fence between its parked flag and its re-read
            for (int i = 0; i < workers.length; i++) {
                if (parked[i]) LockSupport.unpark(workers[i]);
            }
            runChunks();
            while (running.get() != 0) Thread.onSpinWait();
            this.task = null;
            Throwable f = failure;
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error e) throw e;
            if (f != null) throw new IllegalStateException(f);
        } finally {
            busy.set(false);
        }
    }

    private void runChunks() {
        try {
            for (int c; (c = nextChunk.getAndIncrement()) < chunks; ) {
                int start = c * chunk;
                task.run(start, Math.min(size, start + chunk));
            }
        } catch (Throwable t) {
            failure = t;
            nextChunk.set(chunks);
        }
    }

    private void workLoop(int id) {
        long seen = 0;
        while (true) {
            long g = awaitJob(id, seen);
            if (g < 0) return;
            seen = g;
            runChunks();
            running.decrementAndGet();
        }
    }

    /** Spins, then parks, until a job newer than {@code seen} is published; -1 once closed. */
    private long awaitJob(int id, long seen) {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        for (int i = 0; ; i++) {
            long g = generation;
            if (g != seen) return g;
            if (closed) return -1;
            if ((i & 63) != 63 || System.nanoTime() < spinUntil) {
                Thread.onSpinWait();
                continue;
            }
            // announce the park, then look again: a job published in between is seen here or unparks us
            parked[id] = true;
            VarHandle.fullFence();
            if (generation == seen && !closed) LockSupport.park(this);
            parked[id] = false;
            spinUntil = System.nanoTime() + SPIN_NANOS;
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
