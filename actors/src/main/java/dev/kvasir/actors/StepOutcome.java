package dev.kvasir.actors;

import dev.kvasir.model.exec.HostKvBlock;
import dev.kvasir.model.exec.SampledToken;

import java.util.List;

/** A shard group's answer to {@link ExecutorCommand.ExecuteStep}. */
public sealed interface StepOutcome {

    long stepNumber();

    /** Sampled tokens in step order; {@code swappedOut} parallel to the step's swap-out blocks. */
    record Completed(long stepNumber, List<SampledToken> tokens, List<HostKvBlock> swappedOut, long computeNanos)
            implements StepOutcome {
    }

    /** The step threw; the router fails the requests in it and carries on with the rest. */
    record Failed(long stepNumber, String message) implements StepOutcome {
    }
}
