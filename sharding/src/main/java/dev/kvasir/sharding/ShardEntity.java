package dev.kvasir.sharding;

import dev.kvasir.actors.ExecutorCommand;
import dev.kvasir.actors.StepOutcome;
import dev.kvasir.actors.StepRunner;
import dev.kvasir.model.exec.StepExecutor;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * A shard: the Cluster Sharding entity that owns one device (or the CPU) and one partition of a
 * model, and runs steps on it. It runs on the pinned {@code kvasir.compute-dispatcher}, so each
 * shard has a thread of its own — the one that owns the device — and compute never touches Pekko's
 * default dispatcher. Steps arrive one at a time and run to completion in mailbox order.
 */
public final class ShardEntity {
    public static final EntityTypeKey<ExecutorCommand> TYPE_KEY = EntityTypeKey.create(ExecutorCommand.class, "kvasir-shard");
    public static final String DISPATCHER = "kvasir.compute-dispatcher";

    private ShardEntity() {
    }

    /** Registers the shard entity type with Cluster Sharding on this node (idempotent per system). */
    public static void init(ActorSystem<?> system, LocalShards shards) {
        ClusterSharding.get(system).init(Entity.of(TYPE_KEY, ctx -> create(ctx.getEntityId(), shards))
                .withEntityProps(DispatcherSelector.fromConfig(DISPATCHER))
                // A shard holds a device and its KV pool: it must not be passivated when idle.
                .withSettings(ClusterShardingSettings.create(system).withNoPassivationStrategy()));
    }

    static Behavior<ExecutorCommand> create(String entityId, LocalShards shards) {
        return Behaviors.setup(ctx -> {
            StepExecutor executor = shards.executor(entityId).orElse(null);
            if (executor == null) {
                ctx.getLog().error("no executor registered on this node for shard {}", entityId);
                return Behaviors.receive(ExecutorCommand.class)
                        .onMessage(ExecutorCommand.ExecuteStep.class, cmd -> {
                            cmd.replyTo().tell(new StepOutcome.Failed(cmd.stepNumber(), "shard " + entityId + " has no device on this node"));
                            return Behaviors.same();
                        }).build();
            }
            ctx.getLog().info("shard {} on {} ready", entityId, executor.device());
            return Behaviors.receive(ExecutorCommand.class)
                    .onMessage(ExecutorCommand.ExecuteStep.class, cmd -> {
                        cmd.replyTo().tell(StepRunner.run(executor, cmd));
                        return Behaviors.same();
                    }).build();
        });
    }
}
