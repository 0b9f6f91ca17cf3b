package dev.kvasir.sharding;

import dev.kvasir.actors.RouterCommand;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * How gateways find model replicas: every replica's {@link dev.kvasir.actors.RequestRouter} (which
 * lives on the worker node next to its shards) registers under {@link #KEY} with the cluster
 * Receptionist; a gateway subscribes to the key and routes among the listed routers.
 */
public final class ReplicaService {
    public static final ServiceKey<RouterCommand> KEY = ServiceKey.create(RouterCommand.class, "kvasir-replica");

    private ReplicaService() {
    }
}
