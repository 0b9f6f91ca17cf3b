package dev.kvasir.tests.cluster;

import com.typesafe.config.Config;
import dev.kvasir.cluster.node.NodeConfig;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every node profile in config/ keeps the cluster's safety settings: Java serialization off, Kvasir's
 * messages bound to Kryo, the Split Brain Resolver (keep-majority) as downing provider, shards on
 * workers only.
 */
class ClusterConfigTest {

    @Test
    void everyProfileKeepsJavaSerializationOffAndTheSplitBrainResolverOn() throws IOException {
        List<Path> profiles;
        try (Stream<Path> s = Files.list(NodeProcess.projectRoot().resolve("config"))) {
            profiles = s.filter(p -> p.toString().endsWith(".conf")).sorted().toList();
        }
        assertTrue(profiles.size() >= 4, "profiles: " + profiles);
        for (Path p : profiles) {
            Config c = NodeConfig.load(p, Map.of());
            String where = p.getFileName().toString();
            assertFalse(c.getBoolean("pekko.actor.allow-java-serialization"), where);
            assertEquals("kvasir-kryo", c.getString("pekko.actor.serialization-bindings.\"dev.kvasir.actors.RouterCommand\""), where);
            assertEquals("kvasir-kryo", c.getString("pekko.actor.serialization-bindings.\"dev.kvasir.actors.GenerationEvent\""), where);
            assertEquals("org.apache.pekko.cluster.sbr.SplitBrainResolverProvider", c.getString("pekko.cluster.downing-provider-class"), where);
            assertEquals("keep-majority", c.getString("pekko.cluster.split-brain-resolver.active-strategy"), where);
            assertEquals("worker", c.getString("kvasir.sharding.role"), where);
        }
    }

    @Test
    void localClusterProfileNamesASeedAndServesManagement() {
        Config c = NodeConfig.load(NodeProcess.projectRoot().resolve("config/local-cluster.conf"), Map.of());
        assertEquals(List.of("pekko://kvasir@127.0.0.1:25520"), c.getStringList("pekko.cluster.seed-nodes"));
        assertTrue(c.getBoolean("kvasir.management.enabled"));
        assertEquals(List.of("cpu"), c.getStringList("kvasir.node.devices"));
    }
}
