package dev.kvasir.cluster.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.actors.GenerationEvent;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes one request's events in OpenAI's shapes: streaming chunks ({@code text_completion} or
 * {@code chat.completion.chunk}, one per token) and the final object ({@code text_completion} or
 * {@code chat.completion}) with {@code usage}. One instance per request, fed in event order.
 */
final class OpenAiResponder {
    private final ObjectMapper json;
    private final ServedModel model;
    private final String id;
    private final boolean chat;
    private final GenerateRequest request;
    private final long created = System.currentTimeMillis() / 1000;
    private final Map<Integer, Choice> choices = new TreeMap<>();
    private int promptTokens;
    private int cachedTokens;
    private int samples = 1;
    private int finishedSamples;

    /** What one sample has produced so far (kept only for non-streaming answers). */
    private static final class Choice {
        final StringBuilder text = new StringBuilder();
        final List<GenerationEvent.Token> tokens = new ArrayList<>();
        GenerationEvent.Finished finished;
    }

    OpenAiResponder(ObjectMapper json, ServedModel model, String id, boolean chat, GenerateRequest request) {
        this.json = json;
        this.model = model;
        this.id = id;
        this.chat = chat;
        this.request = request;
    }

    // ---- streaming ----------------------------------------------------------------------------

    /** The SSE {@code data:} payloads this event produces (possibly none). */
    List<String> chunks(GenerationEvent e) {
        List<String> out = new ArrayList<>();
        switch (e) {
            case GenerationEvent.Accepted a -> {
                promptTokens = a.promptTokens();
                samples = a.samples();
                if (chat) for (int i = 0; i < a.samples(); i++) {
                    ObjectNode delta = json.createObjectNode().put("role", "assistant").put("content", "");
                    out.add(chunk(i, delta, null, null));
                }
            }
            case GenerationEvent.Token t -> out.add(chunk(t.sampleIndex(), content(t.text()), logprobs(List.of(t), 0), null));
            case GenerationEvent.Finished f -> {
                record(f);
                out.add(chunk(f.sampleIndex(), chat && f.trailingText().isEmpty() ? json.createObjectNode() : content(f.trailingText()),
                        null, f.finishReason().wireName()));
                if (++finishedSamples == samples) out.addAll(end());
            }
            case GenerationEvent.Rejected r -> {
            }
        }
        return out;
    }

    /** The chunk after the last choice: usage, when the client asked for it. */
    private List<String> end() {
        if (!request.includeUsage()) return List.of();
        ObjectNode o = header(chat ? "chat.completion.chunk" : "text_completion");
        o.putArray("choices");
        o.set("usage", usage());
        return List.of(o.toString());
    }

    private ObjectNode content(String text) {
        return json.createObjectNode().put(chat ? "content" : "text", text);
    }

    private String chunk(int index, ObjectNode content, ObjectNode logprobs, String finishReason) {
        ObjectNode o = header(chat ? "chat.completion.chunk" : "text_completion");
        ObjectNode c = o.putArray("choices").addObject().put("index", index);
        if (chat) c.set("delta", content);
        else c.put("text", content.path("text").asText(""));
        if (logprobs != null) c.set("logprobs", logprobs);
        else c.putNull("logprobs");
        if (finishReason != null) c.put("finish_reason", finishReason);
        else c.putNull("finish_reason");
        return o.toString();
    }

    // ---- whole answer -------------------------------------------------------------------------

    void take(GenerationEvent e) {
        switch (e) {
            case GenerationEvent.Accepted a -> promptTokens = a.promptTokens();
            case GenerationEvent.Token t -> {
                Choice c = choices.computeIfAbsent(t.sampleIndex(), k -> new Choice());
                c.text.append(t.text());
                if (request.logprobs()) c.tokens.add(t);
            }
            case GenerationEvent.Finished f -> {
                record(f);
                choices.computeIfAbsent(f.sampleIndex(), k -> new Choice()).text.append(f.trailingText());
            }
            case GenerationEvent.Rejected r -> {
            }
        }
    }

    private void record(GenerationEvent.Finished f) {
        choices.computeIfAbsent(f.sampleIndex(), k -> new Choice()).finished = f;
        promptTokens = f.promptTokens();
        cachedTokens = Math.max(cachedTokens, f.cachedPromptTokens());
    }

    ObjectNode result() {
        ObjectNode o = header(chat ? "chat.completion" : "text_completion");
        ArrayNode cs = o.putArray("choices");
        for (Map.Entry<Integer, Choice> e : choices.entrySet()) {
            Choice c = e.getValue();
            ObjectNode n = cs.addObject().put("index", e.getKey());
            if (chat) n.putObject("message").put("role", "assistant").put("content", c.text.toString());
            else n.put("text", c.text.toString());
            if (request.logprobs()) n.set("logprobs", logprobs(c.tokens, 0));
            else n.putNull("logprobs");
            n.put("finish_reason", c.finished == null ? "cancelled" : c.finished.finishReason().wireName());
        }
        o.set("usage", usage());
        return o;
    }

    private ObjectNode header(String object) {
        return json.createObjectNode().put("id", id).put("object", object).put("created", created).put("model", model.id());
    }

    private ObjectNode usage() {
        int completion = 0;
        for (Choice c : choices.values()) if (c.finished != null) completion += c.finished.completionTokens();
        ObjectNode u = json.createObjectNode().put("prompt_tokens", promptTokens).put("completion_tokens", completion)
                .put("total_tokens", promptTokens + completion);
        u.putObject("prompt_tokens_details").put("cached_tokens", cachedTokens);
        return u;
    }

    /** OpenAI's logprobs object for these tokens: the chat shape or the legacy completions shape. */
    private ObjectNode logprobs(List<GenerationEvent.Token> tokens, int textOffset) {
        if (!request.logprobs()) return null;
        if (chat) {
            ObjectNode o = json.createObjectNode();
            ArrayNode content = o.putArray("content");
            for (GenerationEvent.Token t : tokens) {
                String piece = piece(t.tokenId());
                ObjectNode c = content.addObject().put("token", piece).put("logprob", t.logprob());
                bytes(c, piece);
                ArrayNode top = c.putArray("top_logprobs");
                for (GenerationEvent.TopLogprob tl : t.topLogprobs()) {
                    ObjectNode x = top.addObject().put("token", tl.text()).put("logprob", tl.logprob());
                    bytes(x, tl.text());
                }
            }
            return o;
        }
        ObjectNode o = json.createObjectNode();
        ArrayNode toks = o.putArray("tokens");
        ArrayNode lps = o.putArray("token_logprobs");
        ArrayNode tops = o.putArray("top_logprobs");
        ArrayNode offsets = o.putArray("text_offset");
        int offset = textOffset;
        for (GenerationEvent.Token t : tokens) {
            String piece = piece(t.tokenId());
            toks.add(piece);
            lps.add(t.logprob());
            ObjectNode top = tops.addObject();
            for (GenerationEvent.TopLogprob tl : t.topLogprobs()) top.put(tl.text(), tl.logprob());
            offsets.add(offset);
            offset += t.text().length();
        }
        return o;
    }

    private String piece(int tokenId) {
        return new String(model.tokenizer().tokenBytes(tokenId), StandardCharsets.UTF_8);
    }

    private static void bytes(ObjectNode node, String text) {
        ArrayNode b = node.putArray("bytes");
        for (byte x : text.getBytes(StandardCharsets.UTF_8)) b.add(x & 0xff);
    }
}
