package dev.kvasir.sharding;

import dev.kvasir.actors.RequestRouter;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.actors.ServingConfig;
import dev.kvasir.model.LoadedModel;
import dev.kvasir.model.cpu.ComputePool;
import dev.kvasir.model.cpu.CpuStepExecutor;
import dev.kvasir.model.cpu.LlamaCpuModel;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.receptionist.Receptionist;

import java.nio.file.Path;

/**
 * The serving core of one node for one model, assembled: a CPU executor in a shard entity (Cluster
 * Sharding, TP = PP = 1) and a {@link RequestRouter} addressing that shard group. The actor system
 * must use the cluster provider and be (or become) a cluster member, e.g. through {@link SelfJoin}.
 * The gateway and {@code ./kvasir serve} talk to {@link #router()}.
 */
public final class ServingNode implements AutoCloseable {
    private final ActorSystem<?> system;
    private final ActorRef<RouterCommand> router;
    private final LocalShards shards;
    private final ShardId shard;
    private final CpuStepExecutor executor;
    private final ComputePool pool;
    private final LoadedModel ownedModel;

    private ServingNode(ActorSystem<?> system, ActorRef<RouterCommand> router, LocalShards shards, ShardId shard,
                        CpuStepExecutor executor, ComputePool pool, LoadedModel ownedModel) {
        this.system = system;
        this.router = router;
        this.shards = shards;
        this.shard = shard;
        this.executor = executor;
        this.pool = pool;
        this.ownedModel = ownedModel;
    }

    /** Opens the model at {@code path} (GGUF) and serves it; closing the node closes the model. */
    public static ServingNode start(ActorSystem<?> system, Path path, ServingConfig config) {
        LoadedModel model = LoadedModel.open(path);
        try {
            return start(system, model, config, "replica-0", model);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** Serves an already loaded model (the caller keeps ownership of it). */
    public static ServingNode start(ActorSystem<?> system, LoadedModel model, ServingConfig config) {
        return start(system, model, config, "replica-0", null);
    }

    /** As {@link #start(ActorSystem, LoadedModel, ServingConfig)}, as a named replica (several may share a system). */
    public static ServingNode start(ActorSystem<?> system, LoadedModel model, ServingConfig config, String replica) {
        return start(system, model, config, replica, null);
    }

    private static ServingNode start(ActorSystem<?> system, LoadedModel model, ServingConfig config, String replica,
                                     LoadedModel owned) {
        var modelConfig = model.weights().config();
        ComputePool pool = config.computeThreads() > 0 ? new ComputePool(config.computeThreads()) : ComputePool.ofAvailableCores();
        int blocks = config.kvBlocks() > 0 ? config.kvBlocks()
                : CpuStepExecutor.blocksForBudget(modelConfig, config.blockSize(), config.kvMemoryBytes());
        CpuStepExecutor executor = new CpuStepExecutor(new LlamaCpuModel(modelConfig, model.weights().weights(), pool),
                config.blockSize(), blocks);
        ShardGroupPlan plan = ShardGroupPlan.single(replica);
        LocalShards shards = LocalShards.get(system);
        shards.register(plan.leader(), executor);
        ShardEntity.init(system, shards);
        ActorRef<RouterCommand> router = system.systemActorOf(
                RequestRouter.create(config, new ShardedGroup(system, plan), executor.kvGeometry(), model.tokenizer(),
                        modelConfig.contextLength()),
                "kvasir-router-" + replica, Props.empty());
        // Gateways anywhere in the cluster find the replica through the Receptionist.
        system.receptionist().tell(Receptionist.register(ReplicaService.KEY, router));
        return new ServingNode(system, router, shards, plan.leader(), executor, pool, owned);
    }

    public String replica() {
        return shard.replica();
    }

    public ActorRef<RouterCommand> router() {
        return router;
    }

    public CpuStepExecutor executor() {
        return executor;
    }

    /** Stops the router and releases compute threads (and the model, when this node opened it). */
    @Override
    public void close() {
        system.receptionist().tell(Receptionist.deregister(ReplicaService.KEY, router));
        system.classicSystem().stop(org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(router));
        shards.unregister(shard);
        executor.close();
        pool.close();
        if (ownedModel != null) ownedModel.close();
    }
}
