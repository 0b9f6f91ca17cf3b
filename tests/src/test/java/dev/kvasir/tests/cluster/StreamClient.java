package dev.kvasir.tests.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.tests.CheckedStream;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.WebSocket;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** A /v1/stream client that checks every request's frames as they come: indices from 0 without gaps or repeats, one done. */
final class StreamClient implements WebSocket.Listener, AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    private record Frame(JsonNode json, long nanos) {
    }

    private final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
    private final StringBuilder partial = new StringBuilder();
    private final WebSocket socket;
    final Map<String, CheckedStream> streams = new HashMap<>();

    StreamClient(int port) {
        socket = NodeProcess.HTTP.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + port + "/v1/stream"), this).join();
    }

    void generate(String id, String prompt, int maxTokens) {
        String frame = JSON.createObjectNode().put("type", "generate").put("id", id).put("prompt", prompt)
                .put("max_tokens", maxTokens).put("temperature", 0).toString();
        socket.sendText(frame, true).join();
    }

    /** Receives until {@code n} requests are over; {@code onFrame} sees the streams after each frame. */
    Map<String, CheckedStream> collect(int n, Runnable onFrame) {
        int over = 0;
        for (CheckedStream s : streams.values()) if (s.over()) over++;
        while (over < n) {
            Frame f;
            try {
                f = frames.poll(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            assertNotNull(f, "no frame within 60 s (" + over + " of " + n + " requests over)");
            CheckedStream s = streams.computeIfAbsent(f.json().get("id").asText(), k -> new CheckedStream());
            s.take(f.json(), f.nanos());
            if (s.over()) over++;
            if (onFrame != null) onFrame.run();
        }
        return streams;
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
        partial.append(data);
        if (last) {
            try {
                frames.add(new Frame(JSON.readTree(partial.toString()), System.nanoTime()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            partial.setLength(0);
        }
        ws.request(1);
        return null;
    }

    @Override
    public void close() {
        socket.abort();
    }
}
