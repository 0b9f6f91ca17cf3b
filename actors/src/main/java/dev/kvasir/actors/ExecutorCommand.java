package dev.kvasir.actors;

import dev.kvasir.model.exec.HostKvBlock;
import dev.kvasir.model.exec.Step;
import org.apache.pekko.actor.typed.ActorRef;

import java.util.List;

/**
 * What a router sends to the shards that run its model: the protocol of a shard entity (module
 * {@code sharding}) and of {@link LocalShardGroup}. Carries ids, positions and block numbers only;
 * KV contents cross it only when swapping to host memory.
 */
public sealed interface ExecutorCommand permits ExecutorCommand.ExecuteStep {

    /**
     * Runs one step: first copy out {@code swapOut} blocks to host memory, then write {@code swapIn}
     * contents into their blocks, then the step (its block copies, then the forward pass). In that
     * order, a block freed by a preempted sequence can be reused in the same step.
     */
    record ExecuteStep(long stepNumber, Step step, int[] swapOut, List<SwapIn> swapIn, ActorRef<StepOutcome> replyTo)
            implements ExecutorCommand {
        public ExecuteStep {
            swapOut = swapOut == null ? new int[0] : swapOut;
            swapIn = swapIn == null ? List.of() : List.copyOf(swapIn);
        }
    }

    /** Host contents to restore into {@code block}. */
    record SwapIn(int block, HostKvBlock data) {
    }
}
