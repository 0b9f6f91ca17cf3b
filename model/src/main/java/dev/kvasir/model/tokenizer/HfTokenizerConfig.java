package dev.kvasir.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.model.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What a Hugging Face {@code tokenizer_config.json} says about special tokens and chat templates.
 * Token fields hold the token's text (the file writes them as strings or as {@code {"content": …}}
 * objects); null where the file leaves them out or sets them to null.
 *
 * @param chatTemplates templates by name; a single unnamed template is called "default"
 */
public record HfTokenizerConfig(String bosToken, String eosToken, String unkToken, String padToken,
                                Boolean addBosToken, Boolean addEosToken, Map<String, String> chatTemplates) {

    public HfTokenizerConfig {
        chatTemplates = Collections.unmodifiableMap(new LinkedHashMap<>(chatTemplates));
    }

    public static HfTokenizerConfig empty() {
        return new HfTokenizerConfig(null, null, null, null, null, null, Map.of());
    }

    /** Reads {@code tokenizer_config.json} of a model directory; an absent file gives {@link #empty()}. */
    public static HfTokenizerConfig readDirectory(Path dir) {
        Path file = dir.resolve("tokenizer_config.json");
        return Files.exists(file) ? read(file) : empty();
    }

    public static HfTokenizerConfig read(Path file) {
        try {
            return parse(new ObjectMapper().readTree(file.toFile()));
        } catch (IOException e) {
            throw new ModelFormatException(file + ": malformed tokenizer config: " + e.getMessage(), e);
        }
    }

    public static HfTokenizerConfig parse(JsonNode root) {
        Map<String, String> templates = new LinkedHashMap<>();
        JsonNode ct = root.path("chat_template");
        if (ct.isTextual()) {
            templates.put("default", ct.asText());
        } else if (ct.isArray()) {
            for (JsonNode t : ct) {
                if (t.path("name").isTextual() && t.path("template").isTextual()) templates.put(t.get("name").asText(), t.get("template").asText());
            }
        }
        return new HfTokenizerConfig(token(root.path("bos_token")), token(root.path("eos_token")), token(root.path("unk_token")),
                token(root.path("pad_token")), bool(root.path("add_bos_token")), bool(root.path("add_eos_token")), templates);
    }

    /** The default chat template: the one named "default", else the only/first one. */
    public Optional<String> chatTemplate() {
        if (chatTemplates.containsKey("default")) return Optional.of(chatTemplates.get("default"));
        return chatTemplates.values().stream().findFirst();
    }

    public Optional<String> chatTemplate(String name) {
        return Optional.ofNullable(chatTemplates.get(name));
    }

    private static String token(JsonNode n) {
        if (n.isTextual()) return n.asText();
        if (n.isObject() && n.path("content").isTextual()) return n.get("content").asText();
        return null;
    }

    private static Boolean bool(JsonNode n) {
        return n.isBoolean() ? n.asBoolean() : null;
    }
}
