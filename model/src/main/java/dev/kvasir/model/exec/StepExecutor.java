package dev.kvasir.model.exec;

import dev.kvasir.model.arch.ModelConfig;

import java.util.List;

/**
 * Runs steps on one device (or the CPU) over a paged KV pool it owns. Calls come from one thread
 * at a time — the shard's compute thread — and block until the step is done.
 */
public interface StepExecutor extends AutoCloseable {

    ModelConfig config();

    KvGeometry kvGeometry();

    /** Runs the step; returns one token for every sequence that asked to sample, in step order. */
    List<SampledToken> execute(Step step);

    /** Copies a block's contents to host memory (preemption by swapping). */
    HostKvBlock swapOut(int block);

    /** Restores host contents into a (possibly different) block. */
    void swapIn(HostKvBlock data, int block);

    /** A short name for logs and metrics, e.g. {@code cpu} or {@code cuda:0}. */
    String device();

    @Override
    void close();
}
