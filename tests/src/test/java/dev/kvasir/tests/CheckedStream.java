package dev.kvasir.tests;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * One request's frames on /v1/stream, checked as they come: token indices from 0 without gaps or
 * repeats, nothing after {@code done}, usage agreeing with the tokens seen. Shared by the
 * single-node WebSocket tests and the multi-node cluster tests.
 */
public final class CheckedStream {
    public final List<Integer> tokens = new ArrayList<>();
    public final StringBuilder text = new StringBuilder();
    public JsonNode done;
    public JsonNode error;
    private long lastFrameNanos;
    /** The longest pause between two frames of this stream (a failover shows up here). */
    public long longestGapNanos;

    public void take(JsonNode f) {
        take(f, System.nanoTime());
    }

    public void take(JsonNode f, long now) {
        assertNull(done, () -> "frame after done: " + f);
        if (lastFrameNanos != 0) longestGapNanos = Math.max(longestGapNanos, now - lastFrameNanos);
        lastFrameNanos = now;
        switch (f.get("type").asText()) {
            case "token" -> {
                assertEquals(tokens.size(), f.get("index").asInt(), () -> "token index gap or repeat: " + f);
                tokens.add(f.get("token").asInt());
                text.append(f.get("text").asText());
            }
            case "done" -> {
                done = f;
                text.append(f.path("text").asText(""));
                assertEquals(tokens.size(), f.get("usage").get("completion_tokens").asInt(), () -> "usage disagrees: " + f);
            }
            case "error" -> error = f;
            default -> fail("unexpected frame " + f);
        }
    }

    public boolean over() {
        return done != null || error != null;
    }

    /** finish reason, ids and text, or the error: what must equal an undisturbed run. */
    public String outcome() {
        return done != null ? done.get("finish_reason").asText() + ":" + tokens + ":" + text : "error:" + error;
    }
}
