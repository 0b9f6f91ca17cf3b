package dev.kvasir.model.cpu;

import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The fixed pool of CPU compute threads the kernels run on (sized to the cores, never Pekko's
 * dispatcher). A decode step hands the pool about a hundred short jobs (one per matmul), so a job
 * must start in well under a microsecond: workers spin for a while after each job before they
 * park, and a job is published through a volatile generation counter, not a queue. Nothing is
 * allocated or locked per job.
 *
 * <p>Work is claimed in chunks, and the caller claims chunks too; it waits only for chunks that
 * were claimed, never for a worker to show up. So a worker the OS has not scheduled (the machine
 * may be shared, or have fewer cores than threads) costs nothing: the caller does its share.
 * The claim counter carries the job's generation and is closed when the job ends, so a worker
 * that wakes late can claim nothing, neither of its own job nor of a newer one it has not read.
 *
 * <p>One job runs at a time; a call made while another is running (another caller thread, or
 * from inside a task) runs on its caller alone.
 */
public final class ComputePool implements AutoCloseable {

    @FunctionalInterface
    public interface RangeTask {
        /** Processes indices {@code [start, end)}; may be called several times per job with disjoint ranges. */
        void run(int start, int end);
    }

    /** How long an idle worker spins before parking: longer than the gap between two matmuls of one step. */
    private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(500);
    /** How long the caller spins on outstanding chunks before it yields its core to the threads running them. */
    private static final long WAIT_SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(50);
    /** Chunks per thread: small enough to balance, large enough that claiming one costs nothing. */
    private static final int CHUNKS_PER_THREAD = 4;
    /** The claim index of a finished job: beyond any chunk count. */
    private static final long CLOSED = 0xFFFF_FFFFL;

    private final int threads;
    private final Thread[] workers;
    private final boolean[] parked;
    private final AtomicBoolean busy = new AtomicBoolean();
    /** (generation << 32) | index of the next unclaimed chunk. */
    private final AtomicLong claims = new AtomicLong();
    private final AtomicInteger finished = new AtomicInteger();
    private volatile long generation;
    private volatile boolean closed;
    // the current job: written before generation is bumped, unchanged until all its chunks are finished
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
            int parts = Math.min(n, threads * CHUNKS_PER_THREAD);
            this.task = task;
            this.size = n;
            this.chunk = (n + parts - 1) / parts;
            this.chunks = (n + chunk - 1) / chunk;
            this.failure = null;
            finished.set(0);
            long g = generation + 1;
            claims.set(g << 32);
            generation = g;
            VarHandle.fullFence(); // pairs with the worker's fence between its parked flag and its re-read
            for (int i = 0; i < workers.length; i++) {
                if (parked[i]) LockSupport.unpark(workers[i]);
            }
            runChunks(g);
            awaitChunks();
            // close the job's claims before the next job's fields are written: a worker that woke
            // for this job only now must not claim a chunk against the next job's sizes
            claims.set((g << 32) | CLOSED);
            this.task = null;
            Throwable f = failure;
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error e) throw e;
            if (f != null) throw new IllegalStateException(f);
        } finally {
            busy.set(false);
        }
    }

    private void awaitChunks() {
        long yieldAfter = 0;
        for (int i = 0; finished.get() != chunks; i++) {
            if (i == 64) yieldAfter = System.nanoTime() + WAIT_SPIN_NANOS;
            if (i > 64 && (i & 15) == 0 && System.nanoTime() > yieldAfter) {
                Thread.yield();
            } else {
                Thread.onSpinWait();
            }
        }
    }

    /** Claims and runs chunks of job {@code g} until none is left (or the job is no longer {@code g}). */
    private void runChunks(long g) {
        RangeTask t = task;
        int n = size;
        int c = chunk;
        int total = chunks;
        while (true) {
            long s = claims.get();
            if (s >>> 32 != g) return;
            int index = (int) s;
            if (Integer.compareUnsigned(index, total) >= 0) return;
            if (!claims.compareAndSet(s, s + 1)) continue;
            try {
                int start = index * c;
                t.run(start, Math.min(n, start + c));
            } catch (Throwable e) {
                failure = e;
            }
            finished.incrementAndGet();
        }
    }

    private void workLoop(int id) {
        long seen = 0;
        while (true) {
            long g = awaitJob(id, seen);
            if (g < 0) return;
            seen = g;
            runChunks(g);
        }
    }

    /** Spins, then yields, then parks, until a job newer than {@code seen} is published; -1 once closed. */
    private long awaitJob(int id, long seen) {
        long start = System.nanoTime();
        for (int i = 0; ; i++) {
            long g = generation;
            if (g != seen) return g;
            if (closed) return -1;
            if (i < 256) {
                Thread.onSpinWait();
                continue;
            }
            long waited = System.nanoTime() - start;
            if (waited < SPIN_NANOS) {
                // past the first microseconds, offer the core: when the machine has fewer free
                // cores than threads, the caller's serial work between jobs needs it
                Thread.yield();
                continue;
            }
            // announce the park, then look again: a job published in between is seen here or unparks us
            parked[id] = true;
            VarHandle.fullFence();
            if (generation == seen && !closed) LockSupport.park(this);
            parked[id] = false;
            start = System.nanoTime();
            i = 0;
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
