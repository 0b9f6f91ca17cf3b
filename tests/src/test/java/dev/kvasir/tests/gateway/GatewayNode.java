package dev.kvasir.tests.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.actors.BlockAudit;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.actors.RouterMetrics;
import dev.kvasir.cluster.node.KvasirNode;
import dev.kvasir.cluster.node.NodeConfig;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** A real node on a free loopback port, for end-to-end tests with real clients. */
final class GatewayNode implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    final KvasirNode node;
    final HttpClient http = HttpClient.newHttpClient();

    GatewayNode(Path model, Map<String, Object> extra) {
        Map<String, Object> o = new HashMap<>(Map.of("kvasir.gateway.port", 0, "kvasir.gateway.host", "127.0.0.1",
                "kvasir.serving.compute-threads", 2, "kvasir.serving.kv-blocks", 512,
                "kvasir.gateway.max-body-size", "64KiB", "kvasir.gateway.drain-timeout", "5s"));
        o.putAll(extra);
        node = KvasirNode.start(NodeConfig.load(null, o), new KvasirNode.ModelChoice(model, null));
        node.ready().toCompletableFuture().join();
    }

    GatewayNode(Path model) {
        this(model, Map.of());
    }

    String modelId() {
        return node.models().id();
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + node.port() + path);
    }

    HttpResponse<String> post(String path, String body) {
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    HttpResponse<String> postBytes(String path, byte[] body) {
        return send(HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build());
    }

    HttpResponse<String> get(String path) {
        return send(HttpRequest.newBuilder(uri(path)).GET().build());
    }

    HttpResponse<String> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static JsonNode json(String s) {
        try {
            return JSON.readTree(s);
        } catch (IOException e) {
            throw new UncheckedIOException("not JSON: " + s, e);
        }
    }

    RouterMetrics metrics() {
        return AskPattern.<RouterCommand, RouterMetrics>ask(node.router(), RouterCommand.GetMetrics::new, Duration.ofSeconds(10),
                node.system().scheduler()).toCompletableFuture().join();
    }

    BlockAudit audit() {
        return AskPattern.<RouterCommand, BlockAudit>ask(node.router(), RouterCommand.CheckBlocks::new, Duration.ofSeconds(10),
                node.system().scheduler()).toCompletableFuture().join();
    }

    /**
     * Waits until the engine has nothing running or waiting and the KV pool is whole, asking the
     * router again after each answer (each ask is a round trip through its mailbox, so cancels sent
     * before are processed by then). Fails after 30 s.
     */
    void awaitIdleAndWhole() {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            RouterMetrics m = metrics();
            if (m.running() + m.waiting() + m.swapped() == 0) {
                BlockAudit a = audit();
                assertTrue(a.ok(), () -> "KV block invariants broken: " + a);
                if (a.whole()) return;
            }
            Thread.onSpinWait();
        }
        fail("engine not idle with a whole KV pool after 30 s: " + metrics() + " " + audit());
    }

    @Override
    public void close() {
        node.close();
    }
}
