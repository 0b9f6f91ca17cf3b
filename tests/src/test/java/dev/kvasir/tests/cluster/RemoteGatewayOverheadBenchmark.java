package dev.kvasir.tests.cluster;

import dev.kvasir.tests.CheckedStream;

import dev.kvasir.model.SharedData;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;

/**
 * A benchmark, not a test (runs only with -Dkvasir.bench=true): what a token costs when the client's
 * gateway is on another node than the replica (every token crosses the cluster transport, Kryo both
 * ways) versus on the replica's own node. Two JVMs on loopback: node1 gateway only, node2 a worker with
 * its own gateway. Each round streams the same requests through node2 (local) and node1 (remote),
 * alternating, and compares wall time per token; one request at a time (latency) and 16 at once
 * (throughput). Run:
 * {@code flock /tmp/kvasir-mvn.lock mvn -o -q -B install -pl tests -am -Dtest=RemoteGatewayOverheadBenchmark -Dkvasir.bench=true -Dsurefire.failIfNoSpecifiedTests=false}
 */
@Tag("benchmark")
@EnabledIfSystemProperty(named = "kvasir.bench", matches = "true")
class RemoteGatewayOverheadBenchmark {
    static final int TOKENS = 200;

    @Test
    void remoteVersusLocalGatewayPerToken() throws IOException {
        Path model = SharedData.require("models/stories260K/stories260K-f32.gguf");
        int seed = NodeProcess.freePort();
        try (NodeProcess gateway = NodeProcess.start("bench-gateway", "gateway", seed, seed, model)) {
            Instant deadline = Instant.now().plusSeconds(180);
            gateway.awaitReady(deadline);
            try (NodeProcess worker = NodeProcess.start("bench-worker", "worker", NodeProcess.freePort(), seed, model)) {
                worker.awaitReady(deadline);
                gateway.awaitReplicas(1, deadline);
                StringBuilder out = new StringBuilder("| concurrency | gateway | tokens | wall s | µs per token |\n|---|---|---|---|---|\n");
                for (int concurrency : new int[]{1, 16}) {
                    run(worker.httpPort, concurrency, 3); // warm-up: JIT, prefix cache
                    run(gateway.httpPort, concurrency, 3);
                    long localNs = 0, remoteNs = 0, localTokens = 0, remoteTokens = 0;
                    for (int round = 0; round < 5; round++) {
                        long[] l = run(worker.httpPort, concurrency, 8);
                        long[] r = run(gateway.httpPort, concurrency, 8);
                        localNs += l[0];
                        localTokens += l[1];
                        remoteNs += r[0];
                        remoteTokens += r[1];
                    }
                    out.append(row(concurrency, "local (node2)", localTokens, localNs));
                    out.append(row(concurrency, "remote (node1)", remoteTokens, remoteNs));
                    out.append(String.format("| %d | remote − local | | | %.1f |%n", concurrency,
                            remoteNs / 1e3 / remoteTokens - localNs / 1e3 / localTokens));
                }
                System.out.print(out);
                Files.createDirectories(Path.of("target", "cluster-test"));
                Files.writeString(Path.of("target", "cluster-test", "remote-gateway-benchmark.md"), out);
            }
        }
    }

    private static String row(int concurrency, String where, long tokens, long nanos) {
        return String.format("| %d | %s | %d | %.2f | %.1f |%n", concurrency, where, tokens, nanos / 1e9, nanos / 1e3 / tokens);
    }

    /** {@code batches} batches of {@code concurrency} requests at once; returns {wall nanos, tokens}. */
    private static long[] run(int port, int concurrency, int batches) {
        long tokens = 0;
        long t0 = System.nanoTime();
        try (StreamClient c = new StreamClient(port)) {
            for (int b = 0; b < batches; b++) {
                for (int i = 0; i < concurrency; i++) c.generate("b" + b + "-" + i, "Once upon a time, " + (i % 4), TOKENS);
                Map<String, CheckedStream> got = c.collect((b + 1) * concurrency, null);
                for (int i = 0; i < concurrency; i++) tokens += got.get("b" + b + "-" + i).tokens.size();
            }
        }
        return new long[]{System.nanoTime() - t0, tokens};
    }
}
