package dev.kvasir.cluster.cli;

import dev.kvasir.cluster.node.KvasirNode;
import dev.kvasir.cluster.node.NodeConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;

/**
 * {@code ./kvasir node --config FILE}: one member of a multi-node cluster, as its profile says (seed
 * nodes, roles, devices, model, ports); the options override single settings of the profile, which is
 * how {@code deploy/local-cluster.sh} starts N nodes from one file. Runs until stopped (SIGTERM
 * leaves the cluster gracefully and drains running requests first).
 */
@Command(name = "node", mixinStandardHelpOptions = true,
        description = "Run one node of a Kvasir cluster from a config profile (e.g. config/gateway.conf, config/cpu-worker.conf).")
final class NodeCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "HOCON profile: seed nodes, roles, devices, model, ports")
    Path config;

    @Option(names = "--model", description = "GGUF file or Hugging Face directory (overrides kvasir.node.model)")
    Path model;

    @Option(names = "--name", description = "node name used in replica names (overrides kvasir.node.name)")
    String name;

    @Option(names = "--roles", split = ",", description = "cluster roles, e.g. gateway,worker (overrides pekko.cluster.roles)")
    List<String> roles;

    @Option(names = "--seed-nodes", split = ",", description = "host:port of the seed nodes (overrides pekko.cluster.seed-nodes)")
    List<String> seeds;

    @Option(names = "--host", description = "address for remoting and management (overrides pekko.remote.artery.canonical.hostname)")
    String host;

    @Option(names = "--port", description = "HTTP port of the gateway (overrides kvasir.gateway.port)")
    Integer port;

    @Option(names = "--remote-port", description = "cluster remoting port (overrides pekko.remote.artery.canonical.port)")
    Integer remotePort;

    @Option(names = "--management-port", description = "Pekko Management port for /ready and /alive (overrides pekko.management.http.port)")
    Integer managementPort;

    @Option(names = "--devices", split = ",", description = "devices this worker offers, e.g. cpu (overrides kvasir.node.devices)")
    List<String> devices;

    @Option(names = "--threads", description = "compute threads per replica (overrides kvasir.serving.compute-threads)")
    Integer threads;

    @Override
    public Integer call() {
        Map<String, Object> o = new HashMap<>();
        if (name != null) o.put("kvasir.node.name", name);
        if (roles != null) o.put("pekko.cluster.roles", roles);
        if (seeds != null) o.put("pekko.cluster.seed-nodes", seeds.stream().map(NodeCommand::seedAddress).toList());
        if (host != null) o.put("pekko.remote.artery.canonical.hostname", host);
        if (port != null) o.put("kvasir.gateway.port", port);
        if (remotePort != null) o.put("pekko.remote.artery.canonical.port", remotePort);
        if (managementPort != null) o.put("pekko.management.http.port", managementPort);
        if (devices != null) o.put("kvasir.node.devices", devices);
        if (threads != null) o.put("kvasir.serving.compute-threads", threads);
        var cfg = NodeConfig.load(config, o);
        Path modelPath = model;
        if (modelPath == null && !cfg.getString("kvasir.node.model").isBlank()) modelPath = Path.of(cfg.getString("kvasir.node.model"));
        KvasirNode node = KvasirNode.start(cfg, new KvasirNode.ModelChoice(modelPath, cfg.getString("kvasir.node.served-model-name")));
        try {
            node.ready().toCompletableFuture().join();
        } catch (CompletionException e) {
            node.close();
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        node.terminated().toCompletableFuture().join();
        return 0;
    }

    /** host:port → the Pekko address of a seed (a full pekko:// address passes through). */
    static String seedAddress(String s) {
        if (s.startsWith("pekko://")) return s;
        if (!s.matches("[^:/]+:[0-9]+")) throw new IllegalArgumentException("seed node '" + s + "' is not host:port");
        return "pekko://kvasir@" + s;
    }
}
