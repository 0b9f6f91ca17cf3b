package dev.kvasir.sharding;

import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;

/** A cluster of one: the node joins itself, so Cluster Sharding runs with no other node and no discovery. */
public final class SelfJoin {
    private SelfJoin() {
    }

    public static void join(ActorSystem<?> system) {
        Cluster cluster = Cluster.get(system);
        cluster.manager().tell(Join.create(cluster.selfMember().address()));
    }
}
