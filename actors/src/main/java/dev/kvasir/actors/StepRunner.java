package dev.kvasir.actors;

import dev.kvasir.model.exec.HostKvBlock;
import dev.kvasir.model.exec.PendingStep;
import dev.kvasir.model.exec.StepExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * Applies an {@link ExecutorCommand.ExecuteStep} to a {@link StepExecutor}: {@link #start} on a
 * shard's compute thread (swaps, then the step submitted after the one before), {@link #finish}
 * wherever the answer is awaited. Exceptions become {@link StepOutcome.Failed}, so a bad step fails
 * its requests and not the shard.
 */
public final class StepRunner {
    private static final Logger log = LoggerFactory.getLogger(StepRunner.class);

    private StepRunner() {
    }

    /** A step started: its pending tokens and swapped-out blocks, or why it could not start. */
    public record Started(ExecutorCommand.ExecuteStep command, PendingStep pending, List<HostKvBlock> swappedOut,
                          RuntimeException failure, long startNanos) {
    }

    /** Runs the command to the end on the calling thread (a shard's compute thread). */
    public static StepOutcome run(StepExecutor executor, ExecutorCommand.ExecuteStep command) {
        return finish(executor, start(executor, command, null));
    }

    /**
     * Makes the command's swaps, then submits its step after {@code before} (the step this executor
     * was given last; its continuing sequences take their tokens from there).
     */
    public static Started start(StepExecutor executor, ExecutorCommand.ExecuteStep command, PendingStep before) {
        long t0 = System.nanoTime();
        try {
            List<HostKvBlock> out = new ArrayList<>(command.swapOut().length);
            for (int block : command.swapOut()) out.add(executor.swapOut(block));
            for (ExecutorCommand.SwapIn in : command.swapIn()) executor.swapIn(in.data(), in.block());
            return new Started(command, executor.submit(command.step(), before), out, null, t0);
        } catch (RuntimeException e) {
            return new Started(command, null, List.of(), e, t0);
        }
    }

    /** Waits for a started step and makes its outcome. */
    public static StepOutcome finish(StepExecutor executor, Started started) {
        long step = started.command().stepNumber();
        RuntimeException failure = started.failure();
        if (failure == null) {
            try {
                return new StepOutcome.Completed(step, started.pending().await(), started.swappedOut(), System.nanoTime() - started.startNanos());
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        log.error("step {} failed on {}", step, executor.device(), failure);
        return new StepOutcome.Failed(step, failure.getClass().getSimpleName() + ": " + failure.getMessage());
    }
}
