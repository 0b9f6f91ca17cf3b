package dev.kvasir.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The independent greedy references for stories260K in {@code ../shared/reference/stories260K.json}. */
public record Stories260KReference(List<Prompt> prompts, int[] firstPromptIds, double[] firstPromptLogits) {

    public record Prompt(String text, int[] promptIds, int[] greedyIds, String continuation) {
    }

    /** Every prompt's token ids, in order. */
    public List<int[]> promptIds() {
        return prompts.stream().map(Prompt::promptIds).toList();
    }

    /** The length of the shortest greedy continuation: the steps every prompt has a reference for. */
    public int commonGreedySteps() {
        return prompts.stream().mapToInt(p -> p.greedyIds().length).min().orElse(0);
    }

    public static Stories260KReference load() {
        Path file = SharedData.require("reference/stories260K.json");
        try {
            JsonNode root = new ObjectMapper().readTree(file.toFile());
            List<Prompt> prompts = new ArrayList<>();
            for (JsonNode p : root.get("prompts")) {
                prompts.add(new Prompt(p.get("prompt").asText(), ints(p.get("prompt_ids")), ints(p.get("greedy_ids")),
                        p.get("continuation_text").asText()));
            }
            JsonNode first = root.get("first_prompt_logits");
            JsonNode logits = first.get("after_prompt");
            double[] l = new double[logits.size()];
            for (int i = 0; i < l.length; i++) l[i] = logits.get(i).asDouble();
            return new Stories260KReference(List.copyOf(prompts), ints(first.get("prompt_ids")), l);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }
}
