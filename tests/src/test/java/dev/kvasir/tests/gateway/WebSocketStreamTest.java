package dev.kvasir.tests.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.model.SharedData;
import dev.kvasir.tests.CheckedStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The /v1/stream protocol with Java's own WebSocket client: multiplexing, cancel, errors, vanishing clients, load. */
class WebSocketStreamTest {
    static GatewayNode node;

    @BeforeAll
    static void start() {
        node = new GatewayNode(SharedData.require("models/stories260K/stories260K-f32.gguf"));
    }

    @AfterAll
    static void stop() {
        if (node != null) node.close();
    }

    @AfterEach
    void engineIsIdleAndPoolWhole() {
        node.awaitIdleAndWhole();
    }

    static Map<String, CheckedStream> collect(WsClient ws, int requests) {
        Map<String, CheckedStream> streams = new HashMap<>();
        int over = 0;
        while (over < requests) {
            JsonNode f = ws.next();
            CheckedStream s = streams.computeIfAbsent(f.get("id").asText(), k -> new CheckedStream());
            s.take(f);
            if (s.over()) over++;
        }
        return streams;
    }

    @Test
    void eightMultiplexedRequestsWithOneCancelledMidway() {
        try (WsClient ws = new WsClient(node.http, node.node.port())) {
            for (int i = 0; i < 8; i++) {
                ws.send("{\"type\":\"generate\",\"id\":\"r" + i + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":" + (i == 3 ? 400 : 20 + i * 5)
                        + ",\"temperature\":0}");
            }
            Map<String, CheckedStream> streams = new HashMap<>();
            int over = 0;
            boolean cancelled = false;
            while (over < 8) {
                JsonNode f = ws.next();
                String id = f.get("id").asText();
                CheckedStream s = streams.computeIfAbsent(id, k -> new CheckedStream());
                s.take(f);
                if (s.over()) over++;
                if (!cancelled && id.equals("r3") && s.tokens.size() == 5) {
                    ws.send("{\"type\":\"cancel\",\"id\":\"r3\"}");
                    cancelled = true;
                }
            }
            String greedy = OpenAiSdkTest.cliGreedy("Once upon a time", 20);
            assertEquals(greedy, streams.get("r0").text.toString(), "greedy text equals ./kvasir generate");
            for (int i = 0; i < 8; i++) {
                CheckedStream s = streams.get("r" + i);
                if (i == 3) {
                    assertEquals("cancelled", s.done.get("finish_reason").asText());
                    assertTrue(s.tokens.size() < 400);
                } else {
                    assertEquals("length", s.done.get("finish_reason").asText(), "r" + i);
                    assertEquals(20 + i * 5, s.tokens.size());
                    assertTrue(s.text.toString().startsWith(greedy), "same prompt, same greedy prefix");
                }
            }
        }
    }

    @Test
    void badFramesGetErrorFramesAndTheSocketKeepsServing() {
        try (WsClient ws = new WsClient(node.http, node.node.port())) {
            String[][] cases = {
                    {"{not json", "invalid_request", "malformed JSON"},
                    {"[1,2]", "invalid_request", "JSON object"},
                    {"{\"id\":\"x\"}", "invalid_request", "'type'"},
                    {"{\"type\":\"dance\",\"id\":\"x\"}", "invalid_request", "unknown frame type 'dance'"},
                    {"{\"type\":\"generate\",\"prompt\":\"hi\"}", "invalid_request", "'id'"},
                    {"{\"type\":\"generate\",\"id\":\"x\"}", "invalid_request", "missing field 'prompt'"},
                    {"{\"type\":\"generate\",\"id\":\"x\",\"prompt\":\"hi\",\"max_tokens\":\"ten\"}", "invalid_request", "max_tokens must be an integer"},
                    {"{\"type\":\"generate\",\"id\":\"x\",\"prompt\":\"hi\",\"max_tokens\":-1}", "invalid_request", "max_tokens must be in"},
                    {"{\"type\":\"generate\",\"id\":\"x\",\"prompt\":\"hi\",\"max_tokens\":100000}", "invalid_request", "exceeds the context window"},
                    {"{\"type\":\"generate\",\"id\":\"x\",\"prompt\":\"hi\",\"model\":\"nope\"}", "not_found", "'nope'"},
                    {"{\"type\":\"generate\",\"id\":\"x\",\"prompt\":\"" + "Once upon a time ".repeat(200) + "\"}", "invalid_request", "context window"},
                    {"{\"type\":\"generate\",\"id\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "invalid_request", "no chat template"},
                    {"{\"type\":\"cancel\",\"id\":\"never-started\"}", "not_found", "never-started"},
            };
            for (String[] c : cases) {
                ws.send(c[0]);
                JsonNode f = ws.next();
                assertEquals("error", f.get("type").asText(), c[0]);
                assertEquals(c[1], f.get("code").asText(), () -> c[0] + " -> " + f);
                assertTrue(f.get("message").asText().contains(c[2]), () -> c[0] + " -> " + f);
            }
            ws.socket.sendBinary(ByteBuffer.wrap(new byte[]{1, 2, 3}), true).join();
            JsonNode bin = ws.next();
            assertEquals("error", bin.get("type").asText());
            assertTrue(bin.get("id").isNull());
            assertTrue(bin.get("message").asText().contains("binary"));
            ws.send("{\"type\":\"generate\",\"id\":\"ok\",\"prompt\":\"Once upon a time\",\"max_tokens\":10,\"temperature\":0}");
            CheckedStream s = collect(ws, 1).get("ok");
            assertEquals(OpenAiSdkTest.cliGreedy("Once upon a time", 10), s.text.toString());
        }
    }

    @Test
    void aClientVanishingMidStreamHasItsRequestsCancelledAndBlocksFreed() {
        WsClient ws = new WsClient(node.http, node.node.port());
        for (int i = 0; i < 4; i++) ws.send("{\"type\":\"generate\",\"id\":\"v" + i + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":400}");
        JsonNode first = ws.next();
        assertEquals("token", first.get("type").asText());
        ws.socket.abort();
        // @AfterEach: nothing running, every KV block back in the pool
        node.awaitIdleAndWhole();
        try (WsClient again = new WsClient(node.http, node.node.port())) {
            again.send("{\"type\":\"generate\",\"id\":\"a\",\"prompt\":\"Once\",\"max_tokens\":5}");
            assertNotNull(collect(again, 1).get("a").done);
        }
    }

    @Test
    void sixtyFourConcurrentStreamsEachCompleteExactlyOnceWithoutLostOrRepeatedTokens() throws Exception {
        var result = dev.kvasir.tests.bench.GatewayLoad.run(node.node.port(), 64, 192, 24);
        assertEquals(List.of(), result.violations());
        assertEquals(192, result.completed(), "every request completed exactly once");
        assertEquals(0, result.errors());
        assertEquals(192L * 24, result.tokens());
    }
}
