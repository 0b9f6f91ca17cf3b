package dev.kvasir.model.exec;

import dev.kvasir.model.arch.ModelConfig;

import java.util.List;

/**
 * Runs steps on one device (or the CPU) over a paged KV pool it owns. Calls come from one thread
 * at a time — the shard's compute thread — and block until the step is done, except
 * {@link #submit}, which may return while it runs; its {@link PendingStep#await} may be called from
 * another thread.
 */
public interface StepExecutor extends AutoCloseable {

    ModelConfig config();

    KvGeometry kvGeometry();

    /** Runs the step; returns one token for every sequence that asked to sample, in step order. */
    List<SampledToken> execute(Step step);

    /**
     * Whether {@link #submit} returns while the step runs, so that queueing the next step before
     * reading this one's tokens gains anything (false: it runs the step first, and a caller that
     * queues ahead only delays each token by a step).
     */
    default boolean queuesAhead() {
        return false;
    }

    /**
     * Starts the step after {@code before} (the step this executor was given last, or null) and
     * returns, where the executor can, before the step is done: a caller may so submit step n + 1
     * while step n runs, its {@linkplain SequenceWork#continuing continuing} sequences taking the
     * tokens they sample in step n. Waiting on the result is the caller's; results come in
     * submission order. This form waits for {@code before}, fills in its tokens and runs the step.
     */
    default PendingStep submit(Step step, PendingStep before) {
        if (step.continues()) {
            if (before == null) throw new IllegalArgumentException("a step with continuing sequences needs the step before it");
            step = step.withSampledTokens(before.await());
        }
        return PendingStep.done(execute(step));
    }

    /** Copies a block's contents to host memory (preemption by swapping). */
    HostKvBlock swapOut(int block);

    /** Restores host contents into a (possibly different) block. */
    void swapIn(HostKvBlock data, int block);

    /** A short name for logs and metrics, e.g. {@code cpu} or {@code cuda:0}. */
    String device();

    @Override
    void close();
}
