package dev.kvasir.cluster.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.model.sampling.SamplingParams;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads OpenAI-style request bodies (and WebSocket {@code generate} frames, which take the same
 * fields) into a {@link GenerateRequest}. Every problem becomes an {@link ApiError} naming the field,
 * so a client learns exactly what to fix. Unknown fields are ignored, as OpenAI does.
 */
public final class RequestParser {

    /** Which body shape is being read. */
    public enum Kind {
        /** {@code /v1/completions}: {@code prompt}; {@code logprobs} is a count. */
        COMPLETION,
        /** {@code /v1/chat/completions}: {@code messages}; {@code logprobs} a flag with {@code top_logprobs}. */
        CHAT,
        /** A WebSocket {@code generate} frame: {@code prompt} or {@code messages}. */
        STREAM_FRAME
    }

    static final int MAX_STOP_STRINGS = 16;
    static final int MAX_TOP_LOGPROBS = 20;

    private final int maxN;

    public RequestParser(int maxN) {
        this.maxN = maxN;
    }

    public GenerateRequest parse(JsonNode body, Kind kind) {
        if (body == null || !body.isObject()) throw ApiError.invalid(null, "the request body must be a JSON object");
        String model = optString(body, "model");
        PromptInput prompt = switch (kind) {
            case COMPLETION -> completionPrompt(body);
            case CHAT -> chat(body);
            case STREAM_FRAME -> body.has("messages") && !body.get("messages").isNull() ? chat(body) : completionPrompt(body);
        };
        Integer maxTokens = optInt(body, "max_tokens", 0, Integer.MAX_VALUE);
        if (kind != Kind.COMPLETION) {
            Integer mct = optInt(body, "max_completion_tokens", 0, Integer.MAX_VALUE);
            if (mct != null) maxTokens = mct;
        }
        SamplingParams sampling = sampling(body);
        List<String> stop = stop(body);
        Integer n = optInt(body, "n", 1, maxN);
        boolean logprobs;
        int top;
        if (kind == Kind.CHAT) {
            logprobs = Boolean.TRUE.equals(optBool(body, "logprobs"));
            Integer t = optInt(body, "top_logprobs", 0, MAX_TOP_LOGPROBS);
            if (t != null && !logprobs) throw ApiError.invalid("top_logprobs", "top_logprobs needs \"logprobs\": true");
            top = t == null ? 0 : t;
        } else {
            JsonNode lp = body.get("logprobs");
            if (lp != null && lp.isBoolean()) {
                logprobs = lp.asBoolean();
                Integer t = optInt(body, "top_logprobs", 0, MAX_TOP_LOGPROBS);
                top = t == null ? 0 : t;
            } else {
                Integer count = optInt(body, "logprobs", 0, MAX_TOP_LOGPROBS);
                logprobs = count != null;
                top = count == null ? 0 : count;
            }
        }
        boolean stream = Boolean.TRUE.equals(optBool(body, "stream"));
        boolean includeUsage = false;
        JsonNode so = body.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!so.isObject()) throw ApiError.invalid("stream_options", "stream_options must be an object");
            includeUsage = Boolean.TRUE.equals(optBool(so, "include_usage"));
        }
        return new GenerateRequest(model, prompt, maxTokens, sampling, stop, n == null ? 1 : n, logprobs, top, stream, includeUsage);
    }

    private static PromptInput completionPrompt(JsonNode body) {
        JsonNode p = body.get("prompt");
        if (p == null || p.isNull()) throw ApiError.invalid("prompt", "missing field 'prompt'");
        if (p.isTextual()) return new PromptInput.Text(p.asText());
        if (p.isArray()) {
            if (p.isEmpty()) throw ApiError.invalid("prompt", "prompt must not be empty");
            if (p.get(0).isTextual() || p.get(0).isArray()) {
                if (p.size() > 1) throw ApiError.invalid("prompt", "batched prompts are not supported: send one prompt per request");
                return completionPrompt(body.deepCopy().<com.fasterxml.jackson.databind.node.ObjectNode>require().set("prompt", p.get(0)));
            }
            int[] ids = new int[p.size()];
            for (int i = 0; i < ids.length; i++) {
                JsonNode t = p.get(i);
                if (!t.isInt() || t.asInt() < 0) throw ApiError.invalid("prompt", "prompt must be a string or an array of token ids (non-negative integers)");
                ids[i] = t.asInt();
            }
            return new PromptInput.TokenIds(ids);
        }
        throw ApiError.invalid("prompt", "prompt must be a string or an array of token ids, got " + kindOf(p));
    }

    private static PromptInput chat(JsonNode body) {
        JsonNode ms = body.get("messages");
        if (ms == null || ms.isNull()) throw ApiError.invalid("messages", "missing field 'messages'");
        if (!ms.isArray()) throw ApiError.invalid("messages", "messages must be an array, got " + kindOf(ms));
        if (ms.isEmpty()) throw ApiError.invalid("messages", "messages must not be empty");
        List<PromptInput.ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            String where = "messages[" + i + "]";
            if (!m.isObject()) throw ApiError.invalid(where, where + " must be an object");
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual()) throw ApiError.invalid(where + ".role", where + ".role must be a string");
            out.add(new PromptInput.ChatMessage(role.asText(), content(m.get("content"), where + ".content")));
        }
        return new PromptInput.Chat(out);
    }

    private static String content(JsonNode c, String where) {
        if (c == null || c.isNull()) return "";
        if (c.isTextual()) return c.asText();
        if (c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : c) {
                if (!part.isObject() || !"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiError.invalid(where, where + ": only text parts ({\"type\":\"text\",\"text\":...}) are supported");
                }
                sb.append(part.get("text").asText());
            }
            return sb.toString();
        }
        throw ApiError.invalid(where, where + " must be a string or an array of text parts");
    }

    private static SamplingParams sampling(JsonNode body) {
        float temperature = optFloat(body, "temperature", 0, 2, 1f);
        Integer topK = optInt(body, "top_k", -1, Integer.MAX_VALUE);
        float topP = optFloat(body, "top_p", Float.MIN_VALUE, 1, 1f);
        float minP = optFloat(body, "min_p", 0, 1, 0f);
        float presence = optFloat(body, "presence_penalty", -2, 2, 0f);
        float frequency = optFloat(body, "frequency_penalty", -2, 2, 0f);
        float repetition = optFloat(body, "repetition_penalty", Float.MIN_VALUE, 10, 1f);
        Long seed = null;
        JsonNode s = body.get("seed");
        if (s != null && !s.isNull()) {
            if (!s.isIntegralNumber() || !s.canConvertToLong()) throw ApiError.invalid("seed", "seed must be an integer");
            seed = s.asLong();
        }
        // vLLM's convention: top_k -1 means off, as 0 does here.
        return new SamplingParams(temperature, topK == null || topK < 0 ? 0 : topK, topP, minP, repetition,
                SamplingParams.DEFAULT_PENALTY_LAST_N, presence, frequency, seed);
    }

    private static List<String> stop(JsonNode body) {
        JsonNode s = body.get("stop");
        if (s == null || s.isNull()) return List.of();
        List<String> out = new ArrayList<>();
        if (s.isTextual()) out.add(s.asText());
        else if (s.isArray()) for (JsonNode e : s) {
            if (!e.isTextual()) throw ApiError.invalid("stop", "stop must be a string or an array of strings");
            out.add(e.asText());
        }
        else throw ApiError.invalid("stop", "stop must be a string or an array of strings, got " + kindOf(s));
        if (out.size() > MAX_STOP_STRINGS) throw ApiError.invalid("stop", "at most " + MAX_STOP_STRINGS + " stop strings");
        for (String x : out) if (x.isEmpty()) throw ApiError.invalid("stop", "stop strings must not be empty");
        return out;
    }

    static String optString(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isTextual()) throw ApiError.invalid(field, field + " must be a string, got " + kindOf(v));
        return v.asText();
    }

    static Integer optInt(JsonNode body, String field, int min, int max) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isIntegralNumber()) throw ApiError.invalid(field, field + " must be an integer, got " + kindOf(v));
        if (!v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
            throw ApiError.invalid(field, field + " must be in [" + min + ", " + max + "], got " + v.asText());
        }
        return v.asInt();
    }

    static float optFloat(JsonNode body, String field, float min, float max, float fallback) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return fallback;
        if (!v.isNumber()) throw ApiError.invalid(field, field + " must be a number, got " + kindOf(v));
        double d = v.asDouble();
        if (!(d >= min && d <= max)) throw ApiError.invalid(field, field + " must be in " + (min == Float.MIN_VALUE ? "(0" : "[" + min) + ", " + max + "], got " + v.asText());
        return (float) d;
    }

    static Boolean optBool(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isBoolean()) throw ApiError.invalid(field, field + " must be true or false, got " + kindOf(v));
        return v.asBoolean();
    }

    static String kindOf(JsonNode v) {
        return switch (v.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case NULL -> "null";
            default -> v.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
        };
    }
}
