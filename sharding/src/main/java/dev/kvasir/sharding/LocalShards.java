package dev.kvasir.sharding;

import dev.kvasir.model.exec.StepExecutor;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The executors this node can host, by shard entity id. Cluster Sharding creates a shard entity by
 * id wherever it allocates it; the entity looks its device up here. (With more nodes, allocation
 * must follow devices — a custom allocation strategy, not needed for a cluster of one.) One per
 * actor system (an extension), because the entity factory is registered once per system.
 */
public final class LocalShards implements Extension {
    private static final ExtensionId<LocalShards> ID = new ExtensionId<>() {
        @Override
        public LocalShards createExtension(ActorSystem<?> system) {
            return new LocalShards();
        }
    };

    public static LocalShards get(ActorSystem<?> system) {
        return ID.apply(system);
    }

    private final Map<String, StepExecutor> executors = new ConcurrentHashMap<>();

    public void register(ShardId id, StepExecutor executor) {
        if (executors.putIfAbsent(id.entityId(), executor) != null) throw new IllegalStateException("shard " + id.entityId() + " already registered");
    }

    public Optional<StepExecutor> executor(String entityId) {
        return Optional.ofNullable(executors.get(entityId));
    }

    public void unregister(ShardId id) {
        executors.remove(id.entityId());
    }
}
