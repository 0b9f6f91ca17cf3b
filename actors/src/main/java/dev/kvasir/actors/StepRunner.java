package dev.kvasir.actors;

import dev.kvasir.model.exec.HostKvBlock;
import dev.kvasir.model.exec.SampledToken;
import dev.kvasir.model.exec.StepExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * Applies an {@link ExecutorCommand.ExecuteStep} to a {@link StepExecutor}, on the calling thread —
 * which must be a shard's compute thread. Exceptions become {@link StepOutcome.Failed}, so a bad
 * step fails its requests and not the shard.
 */
public final class StepRunner {
    private static final Logger log = LoggerFactory.getLogger(StepRunner.class);

    private StepRunner() {
    }

    public static StepOutcome run(StepExecutor executor, ExecutorCommand.ExecuteStep command) {
        long t0 = System.nanoTime();
        try {
            List<HostKvBlock> out = new ArrayList<>(command.swapOut().length);
            for (int block : command.swapOut()) out.add(executor.swapOut(block));
            for (ExecutorCommand.SwapIn in : command.swapIn()) executor.swapIn(in.data(), in.block());
            List<SampledToken> tokens = executor.execute(command.step());
            return new StepOutcome.Completed(command.stepNumber(), tokens, out, System.nanoTime() - t0);
        } catch (RuntimeException e) {
            log.error("step {} failed on {}", command.stepNumber(), executor.device(), e);
            return new StepOutcome.Failed(command.stepNumber(), e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }
}
