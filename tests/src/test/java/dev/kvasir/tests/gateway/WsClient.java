package dev.kvasir.tests.gateway;

import com.fasterxml.jackson.databind.JsonNode;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertNotNull;

/** A {@code java.net.http} WebSocket client of /v1/stream that queues every frame it receives. */
final class WsClient implements WebSocket.Listener, AutoCloseable {
    final BlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
    final WebSocket socket;
    private final StringBuilder partial = new StringBuilder();

    WsClient(HttpClient http, int port) {
        socket = http.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + port + "/v1/stream"), this).join();
    }

    void send(String frame) {
        socket.sendText(frame, true).join();
    }

    JsonNode next() {
        try {
            JsonNode f = frames.poll(60, TimeUnit.SECONDS);
            assertNotNull(f, "no frame within 60 s");
            return f;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
        partial.append(data);
        if (last) {
            frames.add(GatewayNode.json(partial.toString()));
            partial.setLength(0);
        }
        ws.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
        ws.request(1);
        return null;
    }

    @Override
    public void close() {
        socket.abort();
    }

    static Duration timeout() {
        return Duration.ofSeconds(60);
    }
}
