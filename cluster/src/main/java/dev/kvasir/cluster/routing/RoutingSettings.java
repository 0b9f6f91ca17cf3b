package dev.kvasir.cluster.routing;

import com.typesafe.config.Config;

import java.time.Duration;

/**
 * How a gateway routes among replicas; HOCON {@code kvasir.routing.*}.
 *
 * @param loadPollInterval how often each replica's load (waiting, running, KV usage) is asked for
 * @param affinitySlack    see {@link ReplicaChooser}
 * @param kvHighWater      see {@link ReplicaChooser}
 */
public record RoutingSettings(Duration loadPollInterval, double affinitySlack, double kvHighWater) {

    public static RoutingSettings fromConfig(Config root) {
        Config c = root.getConfig("kvasir.routing");
        return new RoutingSettings(c.getDuration("load-poll-interval"), c.getDouble("affinity-slack"), c.getDouble("kv-high-water"));
    }
}
