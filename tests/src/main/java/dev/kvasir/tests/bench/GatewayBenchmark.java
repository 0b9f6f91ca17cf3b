package dev.kvasir.tests.bench;

import dev.kvasir.cluster.node.KvasirNode;
import dev.kvasir.cluster.node.NodeConfig;

import java.nio.file.Path;
import java.util.Map;

/**
 * The gateway under a bounded WebSocket load on loopback, as a benchmark: starts a node on the given
 * model, runs {@link GatewayLoad} and prints throughput and client-side TTFT / inter-token latency.
 * <pre>java ... dev.kvasir.tests.bench.GatewayBenchmark MODEL [connections] [requests] [max_tokens]</pre>
 */
public final class GatewayBenchmark {
    private GatewayBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        int connections = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        int requests = args.length > 2 ? Integer.parseInt(args[2]) : 512;
        int maxTokens = args.length > 3 ? Integer.parseInt(args[3]) : 64;
        KvasirNode node = KvasirNode.start(NodeConfig.load(null, Map.of("kvasir.gateway.port", 0, "kvasir.gateway.host", "127.0.0.1")),
                new KvasirNode.ModelChoice(model, null));
        try {
            node.ready().toCompletableFuture().join();
            GatewayLoad.run(node.port(), Math.min(connections, 8), Math.min(requests, 16), maxTokens); // warm-up (JIT)
            GatewayLoad.Result r = GatewayLoad.run(node.port(), connections, requests, maxTokens);
            System.out.printf("model %s, %d WebSocket streams, %d requests x %d tokens%n", model.getFileName(), connections, requests, maxTokens);
            System.out.printf("completed %d, errors %d, protocol violations %d%n", r.completed(), r.errors(), r.violations().size());
            System.out.printf("throughput %.0f tokens/s (%.1f requests/s) over %.1f s%n", r.tokensPerSecond(), r.completed() / r.seconds(), r.seconds());
            System.out.printf("TTFT p50 %.1f ms, p99 %.1f ms; inter-token p50 %.1f ms, p99 %.1f ms%n",
                    GatewayLoad.Result.percentile(r.ttftMs(), 0.5), GatewayLoad.Result.percentile(r.ttftMs(), 0.99),
                    GatewayLoad.Result.percentile(r.itlMs(), 0.5), GatewayLoad.Result.percentile(r.itlMs(), 0.99));
        } finally {
            node.close();
        }
    }
}
