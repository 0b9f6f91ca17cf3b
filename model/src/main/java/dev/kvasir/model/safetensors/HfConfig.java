package dev.kvasir.model.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.model.arch.Architecture;
import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.arch.RopeLayout;
import dev.kvasir.model.arch.RopeScaling;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code config.json} of a Hugging Face Llama-family checkpoint, turned into a {@link ModelConfig}.
 * The layout is {@link RopeLayout#INTERLEAVED} because the loader un-permutes q/k from HF's
 * rotate_half order, so one forward pass serves GGUF and HF weights alike.
 */
public record HfConfig(ModelConfig config, boolean tieWordEmbeddings, Integer bosTokenId, Integer eosTokenId) {

    public static HfConfig read(Path dir) {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) throw new SafetensorsFormatException(dir, "has no config.json: not a Hugging Face model directory");
        JsonNode c = HfCheckpoint.readJson(file);
        String modelType = text(c, "model_type", file);
        Architecture arch = Architecture.forHfModelType(modelType);
        int dim = integer(c, "hidden_size", file);
        int heads = integer(c, "num_attention_heads", file);
        int kvHeads = c.has("num_key_value_heads") && !c.get("num_key_value_heads").isNull() ? c.get("num_key_value_heads").asInt() : heads;
        int headDim = c.has("head_dim") && !c.get("head_dim").isNull() ? c.get("head_dim").asInt() : dim / heads;
        double theta = c.has("rope_theta") ? c.get("rope_theta").asDouble() : 10000.0;
        double partial = c.has("partial_rotary_factor") ? c.get("partial_rotary_factor").asDouble() : 1.0;
        int ropeDim = (int) (headDim * partial);
        float[] factors = null;
        JsonNode scaling = c.get("rope_scaling");
        if (scaling != null && !scaling.isNull()) {
            String type = scaling.has("rope_type") ? scaling.get("rope_type").asText() : scaling.path("type").asText("");
            if (type.equals("llama3")) {
                factors = new RopeScaling(scaling.get("factor").asDouble(), scaling.get("low_freq_factor").asDouble(),
                        scaling.get("high_freq_factor").asDouble(), scaling.get("original_max_position_embeddings").asInt())
                        .frequencyFactors(ropeDim, theta);
            } else if (!type.equals("default")) {
                throw new SafetensorsFormatException(file, "unsupported rope_scaling type '" + type + "' (llama3 is supported)");
            }
        }
        String name = dir.toAbsolutePath().normalize().getFileName().toString();
        ModelConfig config;
        try {
            config = new ModelConfig(arch.ggufName(), name, dim, integer(c, "intermediate_size", file),
                    integer(c, "num_hidden_layers", file), heads, kvHeads, headDim, integer(c, "vocab_size", file),
                    integer(c, "max_position_embeddings", file),
                    c.has("rms_norm_eps") ? (float) c.get("rms_norm_eps").asDouble() : 1e-6f,
                    (float) theta, ropeDim, RopeLayout.INTERLEAVED, factors);
        } catch (IllegalArgumentException e) {
            throw new SafetensorsFormatException(file, "inconsistent hyperparameters: " + e.getMessage());
        }
        boolean tie = c.path("tie_word_embeddings").asBoolean(false);
        return new HfConfig(config, tie, optionalInt(c, "bos_token_id"), optionalInt(c, "eos_token_id"));
    }

    private static String text(JsonNode c, String key, Path file) {
        JsonNode n = c.get(key);
        if (n == null || !n.isTextual()) throw new SafetensorsFormatException(file, "missing \"" + key + "\"");
        return n.asText();
    }

    private static int integer(JsonNode c, String key, Path file) {
        JsonNode n = c.get(key);
        if (n == null || !n.canConvertToInt()) throw new SafetensorsFormatException(file, "missing or non-integer \"" + key + "\"");
        return n.asInt();
    }

    private static Integer optionalInt(JsonNode c, String key) {
        JsonNode n = c.get(key);
        return n != null && n.canConvertToInt() ? n.asInt() : null;
    }
}
