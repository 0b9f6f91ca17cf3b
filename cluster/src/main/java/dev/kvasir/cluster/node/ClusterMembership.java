package dev.kvasir.cluster.node;

import com.typesafe.config.Config;
import dev.kvasir.sharding.SelfJoin;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.management.javadsl.PekkoManagement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;
import java.util.TreeSet;

/**
 * How a node becomes a cluster member. With {@code pekko.cluster.seed-nodes} configured, Pekko joins
 * through them by itself (static seeds: the first seed in the list forms the cluster when it starts
 * first; the others join whichever seed answers); with none, the node joins itself (a cluster of one,
 * {@code ./kvasir serve}). Roles come from {@code pekko.cluster.roles}: {@code worker} nodes host
 * replicas, {@code gateway} nodes face clients (every node serves the HTTP/WebSocket gateway).
 * With {@code kvasir.management.enabled}, Pekko Management serves {@code /ready} (member Up) and
 * {@code /alive} on {@code pekko.management.http.port}.
 */
public final class ClusterMembership {
    private static final Logger log = LoggerFactory.getLogger(ClusterMembership.class);
    public static final String WORKER = "worker";
    public static final String GATEWAY = "gateway";

    private ClusterMembership() {
    }

    public static void join(ActorSystem<?> system) {
        Config c = system.settings().config();
        if (c.getStringList("pekko.cluster.seed-nodes").isEmpty()) {
            SelfJoin.join(system);
        } else {
            log.info("joining the cluster through seed nodes {}", c.getStringList("pekko.cluster.seed-nodes"));
        }
        if (c.getBoolean("kvasir.management.enabled")) {
            PekkoManagement.get(system.classicSystem()).start().whenComplete((uri, failure) -> {
                if (failure != null) log.error("Pekko Management did not start: {}", failure.getMessage());
                else log.info("Pekko Management at {} (/ready, /alive, /cluster/members)", uri);
            });
        }
    }

    public static Set<String> roles(ActorSystem<?> system) {
        Set<String> roles = new TreeSet<>(Cluster.get(system).selfMember().getRoles());
        roles.removeIf(r -> r.startsWith("dc-")); // Pekko's own data-center role
        return roles;
    }

    /** Whether the configuration gives this node the worker role (known before the actor system starts). */
    public static boolean hasWorkerRole(com.typesafe.config.Config config) {
        return config.hasPath("pekko.cluster.roles") && config.getStringList("pekko.cluster.roles").contains(WORKER);
    }

    public static boolean isWorker(ActorSystem<?> system) {
        return Cluster.get(system).selfMember().hasRole(WORKER);
    }

    /** {@code kvasir.node.name}, or host_port of the node's cluster address; names this node's replicas. */
    public static String nodeName(ActorSystem<?> system) {
        String name = system.settings().config().getString("kvasir.node.name");
        if (!name.isBlank()) return name;
        var a = Cluster.get(system).selfMember().address();
        return a.getHost().orElse("local") + "_" + a.getPort().map(String::valueOf).orElse("0");
    }
}
