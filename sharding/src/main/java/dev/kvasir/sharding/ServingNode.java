package dev.kvasir.sharding;

import dev.kvasir.actors.RequestRouter;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.actors.ServingConfig;
import dev.kvasir.model.LoadedModel;
import dev.kvasir.model.exec.StepExecutor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.receptionist.Receptionist;

import java.nio.file.Path;

/**
 * The serving core of one node for one model, assembled: an executor (the CPU engine unless an
 * {@link ExecutorFactory} says otherwise) in a shard entity (Cluster Sharding, TP = PP = 1) and a {@link RequestRouter} addressing that shard group. The actor system
 * must use the cluster provider and be (or become) a cluster member, e.g. through {@link SelfJoin}.
 * The gateway and {@code ./kvasir serve} talk to {@link #router()}.
 */
public final class ServingNode implements AutoCloseable {
    private final ActorSystem<?> system;
    private final ActorRef<RouterCommand> router;
    private final LocalShards shards;
    private final ShardId shard;
    private final ExecutorFactory.Engine engine;
    private final LoadedModel ownedModel;

    private ServingNode(ActorSystem<?> system, ActorRef<RouterCommand> router, LocalShards shards, ShardId shard,
                        ExecutorFactory.Engine engine, LoadedModel ownedModel) {
        this.system = system;
        this.router = router;
        this.shards = shards;
        this.shard = shard;
        this.engine = engine;
        this.ownedModel = ownedModel;
    }

    /** Opens the model at {@code path} (GGUF) and serves it; closing the node closes the model. */
    public static ServingNode start(ActorSystem<?> system, Path path, ServingConfig config) {
        LoadedModel model = LoadedModel.open(path);
        try {
            return start(system, model, config, "replica-0", ExecutorFactory.cpu(), model);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** Serves an already loaded model (the caller keeps ownership of it). */
    public static ServingNode start(ActorSystem<?> system, LoadedModel model, ServingConfig config) {
        return start(system, model, config, "replica-0", ExecutorFactory.cpu(), null);
    }

    /** As {@link #start(ActorSystem, LoadedModel, ServingConfig)}, as a named replica (several may share a system). */
    public static ServingNode start(ActorSystem<?> system, LoadedModel model, ServingConfig config, String replica) {
        return start(system, model, config, replica, ExecutorFactory.cpu(), null);
    }

    /** As above, on the executor that {@code factory} opens (the GPU backend, say). */
    public static ServingNode start(ActorSystem<?> system, LoadedModel model, ServingConfig config, String replica,
                                    ExecutorFactory factory) {
        return start(system, model, config, replica, factory, null);
    }

    private static ServingNode start(ActorSystem<?> system, LoadedModel model, ServingConfig config, String replica,
                                     ExecutorFactory factory, LoadedModel owned) {
        ExecutorFactory.Engine engine = factory.open(model, config);
        try {
            return assemble(system, model, config, replica, engine, owned);
        } catch (RuntimeException e) {
            engine.close();
            throw e;
        }
    }

    private static ServingNode assemble(ActorSystem<?> system, LoadedModel model, ServingConfig config, String replica,
                                        ExecutorFactory.Engine engine, LoadedModel owned) {
        var modelConfig = model.weights().config();
        StepExecutor executor = engine.executor();
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
        return new ServingNode(system, router, shards, plan.leader(), engine, owned);
    }

    public String replica() {
        return shard.replica();
    }

    public ActorRef<RouterCommand> router() {
        return router;
    }

    public StepExecutor executor() {
        return engine.executor();
    }

    /** Stops the router and releases the executor and its compute threads or device (and the model, when this node opened it). */
    @Override
    public void close() {
        system.receptionist().tell(Receptionist.deregister(ReplicaService.KEY, router));
        system.classicSystem().stop(org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(router));
        shards.unregister(shard);
        engine.close();
        if (ownedModel != null) ownedModel.close();
    }
}
