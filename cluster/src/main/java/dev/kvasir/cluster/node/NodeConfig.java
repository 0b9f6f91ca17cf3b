package dev.kvasir.cluster.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A node's configuration, in layers (each above the next): command-line overrides, the
 * {@code --config} profile file, {@code kvasir-node.conf} (the node base), application.conf and the
 * modules' reference.conf files.
 */
public final class NodeConfig {
    private NodeConfig() {
    }

    public static Config load(Path profile, Map<String, ?> overrides) {
        Config layered = ConfigFactory.parseMap(overrides);
        if (profile != null) {
            if (!Files.isRegularFile(profile)) throw new IllegalArgumentException("config file " + profile + " does not exist");
            layered = layered.withFallback(ConfigFactory.parseFile(profile.toFile(), ConfigParseOptions.defaults().setAllowMissing(false)));
        }
        layered = layered.withFallback(ConfigFactory.parseResources("kvasir-node.conf"));
        return ConfigFactory.load(layered);
    }
}
