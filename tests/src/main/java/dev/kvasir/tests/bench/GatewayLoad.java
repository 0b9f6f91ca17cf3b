package dev.kvasir.tests.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A bounded load on one node's /v1/stream: {@code connections} WebSockets, each keeping one request in
 * flight, until {@code requests} have been sent. Checks the protocol on the way (token indices
 * contiguous from 0, exactly one done per request, nothing after it) and measures client-side time
 * to first token and inter-token latency. Used by the load test (correctness only) and by
 * {@link GatewayBenchmark} (figures).
 */
public final class GatewayLoad {
    private static final ObjectMapper JSON = new ObjectMapper();

    public record Result(int completed, int errors, long tokens, List<String> violations, double seconds,
                         List<Double> ttftMs, List<Double> itlMs) {
        public double tokensPerSecond() {
            return tokens / seconds;
        }

        public static double percentile(List<Double> values, double q) {
            if (values.isEmpty()) return Double.NaN;
            List<Double> s = new ArrayList<>(values);
            Collections.sort(s);
            return s.get(Math.min(s.size() - 1, (int) Math.ceil(q * s.size()) - 1));
        }
    }

    private GatewayLoad() {
    }

    public static Result run(int port, int connections, int requests, int maxTokens) throws Exception {
        AtomicInteger toSend = new AtomicInteger(requests);
        List<String> violations = Collections.synchronizedList(new ArrayList<>());
        List<Double> ttft = Collections.synchronizedList(new ArrayList<>());
        List<Double> itl = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger completed = new AtomicInteger();
        AtomicInteger errors = new AtomicInteger();
        AtomicInteger tokens = new AtomicInteger();
        HttpClient http = HttpClient.newHttpClient();
        List<Connection> all = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int c = 0; c < connections; c++) {
            Connection conn = new Connection(c, maxTokens, toSend, violations, ttft, itl, completed, errors, tokens);
            conn.socket = http.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + port + "/v1/stream"), conn).join();
            all.add(conn);
        }
        for (Connection c : all) c.sendNext();
        for (Connection c : all) c.finished.get(10, TimeUnit.MINUTES);
        double seconds = (System.nanoTime() - t0) / 1e9;
        for (Connection c : all) c.socket.sendClose(WebSocket.NORMAL_CLOSURE, "done").join();
        http.close();
        return new Result(completed.get(), errors.get(), tokens.get(), List.copyOf(violations), seconds, List.copyOf(ttft), List.copyOf(itl));
    }

    private static final class Connection implements WebSocket.Listener {
        final int number;
        final int maxTokens;
        final AtomicInteger toSend;
        final List<String> violations;
        final List<Double> ttft;
        final List<Double> itl;
        final AtomicInteger completed;
        final AtomicInteger errors;
        final AtomicInteger tokens;
        final CompletableFuture<Void> finished = new CompletableFuture<>();
        final StringBuilder partial = new StringBuilder();
        WebSocket socket;
        String current;
        int sequence;
        int nextIndex;
        long sentAt;
        long lastTokenAt;

        Connection(int number, int maxTokens, AtomicInteger toSend, List<String> violations, List<Double> ttft, List<Double> itl,
                   AtomicInteger completed, AtomicInteger errors, AtomicInteger tokens) {
            this.number = number;
            this.maxTokens = maxTokens;
            this.toSend = toSend;
            this.violations = violations;
            this.ttft = ttft;
            this.itl = itl;
            this.completed = completed;
            this.errors = errors;
            this.tokens = tokens;
        }

        void sendNext() {
            if (toSend.getAndDecrement() <= 0) {
                finished.complete(null);
                return;
            }
            current = "c" + number + "-" + sequence++;
            nextIndex = 0;
            sentAt = System.nanoTime();
            // Prompts differ per request so that the prefix cache does not turn the load into copies.
            String frame = "{\"type\":\"generate\",\"id\":\"" + current + "\",\"prompt\":\"Once upon a time, story " + current
                    + "\",\"max_tokens\":" + maxTokens + ",\"temperature\":0}";
            socket.sendText(frame, true);
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    frame(JSON.readTree(partial.toString()));
                } catch (IOException e) {
                    violations.add("not JSON: " + partial);
                }
                partial.setLength(0);
            }
            ws.request(1);
            return null;
        }

        private void frame(JsonNode f) {
            String id = f.path("id").asText();
            if (!id.equals(current)) {
                violations.add("frame for " + id + " while " + current + " runs (or after its done): " + f);
                return;
            }
            long now = System.nanoTime();
            switch (f.path("type").asText()) {
                case "token" -> {
                    if (f.get("index").asInt() != nextIndex) violations.add(id + ": index " + f.get("index") + ", expected " + nextIndex);
                    if (nextIndex == 0) ttft.add((now - sentAt) / 1e6);
                    else itl.add((now - lastTokenAt) / 1e6);
                    lastTokenAt = now;
                    nextIndex++;
                    tokens.incrementAndGet();
                }
                case "done" -> {
                    int n = f.get("usage").get("completion_tokens").asInt();
                    if (n != nextIndex) violations.add(id + ": done says " + n + " tokens, received " + nextIndex);
                    completed.incrementAndGet();
                    current = null;
                    sendNext();
                }
                case "error" -> {
                    errors.incrementAndGet();
                    violations.add(id + ": " + f);
                    current = null;
                    sendNext();
                }
                default -> violations.add("unknown frame " + f);
            }
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            violations.add("connection " + number + " failed: " + error);
            finished.complete(null);
        }
    }
}
