package dev.kvasir.sharding;

import dev.kvasir.actors.ExecutorCommand;
import dev.kvasir.actors.StepOutcome;
import dev.kvasir.actors.StepPipeline;
import dev.kvasir.model.exec.StepExecutor;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.ShardingMessageExtractor;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * A shard: the Cluster Sharding entity that owns one device (or the CPU) and one partition of a
 * model, and runs steps on it. It runs on the pinned {@code kvasir.compute-dispatcher}, so each
 * shard has a thread of its own — the one that owns the device — and compute never touches Pekko's
 * default dispatcher. Steps are submitted in mailbox order through a {@link StepPipeline}, which
 * answers each once it is done, so that a step sent before the last one's answer queues on the
 * device behind it.
 */
public final class ShardEntity {
    public static final EntityTypeKey<ExecutorCommand> TYPE_KEY = EntityTypeKey.create(ExecutorCommand.class, "kvasir-shard");
    public static final String DISPATCHER = "kvasir.compute-dispatcher";

    private ShardEntity() {
    }

    /**
     * Registers the shard entity type with Cluster Sharding on this node (idempotent per system). With
     * {@code kvasir.sharding.role} set, only nodes of that role host shards (and the coordinator).
     */
    public static void init(ActorSystem<?> system, LocalShards shards) {
        String role = system.settings().config().getString("kvasir.sharding.role");
        ClusterShardingSettings settings = ClusterShardingSettings.create(system).withNoPassivationStrategy();
        if (!role.isEmpty()) settings = settings.withRole(role);
        ClusterSharding.get(system).init(Entity.of(TYPE_KEY, ctx -> create(ctx.getEntityId(), shards))
                .withEntityProps(DispatcherSelector.fromConfig(DISPATCHER))
                // One shard per entity, placed on its device's node and never moved (see DeviceBoundAllocation).
                .withMessageExtractor(new OwnShard())
                .withAllocationStrategy(new DeviceBoundAllocation())
                // A shard holds a device and its KV pool: it must not be passivated when idle.
                .withSettings(settings));
    }

    /** Each entity is a shard of its own, so that two devices never share a shard (and a node). */
    private static final class OwnShard extends ShardingMessageExtractor<ShardingEnvelope<ExecutorCommand>, ExecutorCommand> {
        @Override
        public String entityId(ShardingEnvelope<ExecutorCommand> envelope) {
            return envelope.entityId();
        }

        @Override
        public String shardId(String entityId) {
            return entityId;
        }

        @Override
        public ExecutorCommand unwrapMessage(ShardingEnvelope<ExecutorCommand> envelope) {
            return envelope.message();
        }
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
            StepPipeline pipeline = new StepPipeline(executor, "kvasir-shard-" + entityId);
            return Behaviors.receive(ExecutorCommand.class)
                    .onMessage(ExecutorCommand.ExecuteStep.class, cmd -> {
                        pipeline.execute(cmd);
                        return Behaviors.same();
                    })
                    .onSignal(PostStop.class, signal -> {
                        pipeline.close();
                        return Behaviors.same();
                    }).build();
        });
    }
}
