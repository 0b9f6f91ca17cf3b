package dev.kvasir.sharding;

import dev.kvasir.actors.ExecutorCommand;
import dev.kvasir.actors.ShardGroup;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;

/**
 * A router's view of its replica's shards through Cluster Sharding: entity refs by id, wherever
 * the shards live. With one member it forwards the step; with several (not yet implemented) every
 * member gets the step and the plan's leader answers.
 */
public final class ShardedGroup implements ShardGroup {
    private final ShardGroupPlan plan;
    private final EntityRef<ExecutorCommand> leader;

    public ShardedGroup(ActorSystem<?> system, ShardGroupPlan plan) {
        if (plan.members().size() != 1) {
            throw new UnsupportedOperationException("tensor/pipeline parallelism is not implemented yet: plan " + plan);
        }
        this.plan = plan;
        this.leader = ClusterSharding.get(system).entityRefFor(ShardEntity.TYPE_KEY, plan.leader().entityId());
    }

    @Override
    public void execute(ExecutorCommand.ExecuteStep command) {
        leader.tell(command);
    }

    @Override
    public String describe() {
        return "sharded:" + plan.members().stream().map(ShardId::entityId).toList();
    }
}
