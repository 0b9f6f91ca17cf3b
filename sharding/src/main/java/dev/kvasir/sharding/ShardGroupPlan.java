package dev.kvasir.sharding;

import java.util.ArrayList;
import java.util.List;

/**
 * How one replica of a model is split: {@code pipelineStages} stages of consecutive layers, each
 * split over {@code tensorRanks} ranks. Today only 1 × 1 runs (one shard holds the whole model);
 * parallelism later adds members to the group — the router already addresses the group.
 */
public record ShardGroupPlan(String replica, int pipelineStages, int tensorRanks) {
    public ShardGroupPlan {
        if (pipelineStages < 1 || tensorRanks < 1) throw new IllegalArgumentException("stages and ranks must be >= 1");
    }

    /** The whole model on one shard. */
    public static ShardGroupPlan single(String replica) {
        return new ShardGroupPlan(replica, 1, 1);
    }

    public List<ShardId> members() {
        List<ShardId> out = new ArrayList<>(pipelineStages * tensorRanks);
        for (int s = 0; s < pipelineStages; s++) for (int r = 0; r < tensorRanks; r++) out.add(new ShardId(replica, s, r));
        return List.copyOf(out);
    }

    /** The member that answers the router: the last stage's rank 0 holds the logits. */
    public ShardId leader() {
        return new ShardId(replica, pipelineStages - 1, 0);
    }
}
