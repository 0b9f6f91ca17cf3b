package dev.kvasir.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.model.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.StreamSupport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * stories260K: its GGUF and its Hugging Face tokenizer.model must both reproduce run.c's prompt ids
 * and edge cases (llama.cpp's SentencePiece semantics: no whitespace collapsing).
 */
class TokenizerStories260KTest {

    static Tokenizer load(String which) {
        return switch (which) {
            case "gguf" -> Tokenizers.fromGguf(SharedData.require("models/stories260K/stories260K-f32.gguf"));
            case "hf" -> HfTokenizers.fromDirectory(SharedData.require("models/stories260K/hf"));
            default -> throw new IllegalArgumentException(which);
        };
    }

    static JsonNode reference() throws IOException {
        return new ObjectMapper().readTree(SharedData.require("reference/stories260K.json").toFile());
    }

    static int[] ints(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).mapToInt(JsonNode::asInt).toArray();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gguf", "hf"})
    void promptsAndEdgeCasesMatchRunC(String which) throws IOException {
        Tokenizer t = load(which);
        JsonNode ref = reference();
        List<String> fails = new ArrayList<>();
        int n = 0;
        for (JsonNode p : ref.path("prompts")) {
            n++;
            int[] got = t.encode(p.path("prompt").asText(), true, false);
            if (!java.util.Arrays.equals(ints(p.path("prompt_ids")), got)) fails.add("prompt " + p.path("prompt") + " -> " + java.util.Arrays.toString(got));
        }
        for (JsonNode e : ref.path("tokenization").path("edge_cases")) {
            n++;
            int[] got = t.encode(e.path("text").asText(), true, false);
            if (!java.util.Arrays.equals(ints(e.path("run_c_ids")), got)) fails.add("edge case " + e.path("text") + " -> " + java.util.Arrays.toString(got));
        }
        System.out.println("stories260K " + which + ": " + (n - fails.size()) + "/" + n);
        assertTrue(fails.isEmpty(), which + ": " + (n - fails.size()) + "/" + n + " passed\n" + String.join("\n", fails));
    }

    @Test
    void specialIdsAndFlags() {
        for (String which : new String[]{"gguf", "hf"}) {
            Tokenizer t = load(which);
            assertEquals(512, t.vocabSize(), which);
            assertEquals(1, t.bosId(), which);
            assertEquals(2, t.eosId(), which);
            assertTrue(t.addBosByDefault(), which);
            assertTrue(t.isEndOfGeneration(2), which);
            assertEquals("▁Once", t.tokenText(403), which);
            assertEquals(" Once", new String(t.tokenBytes(403), java.nio.charset.StandardCharsets.UTF_8), which);
            assertArrayEquals(new byte[]{(byte) 0xF0}, t.tokenBytes(243), which);
            assertEquals(0, t.tokenBytes(1).length, which);
        }
    }

    @Test
    void greedyContinuationDecodes() throws IOException {
        Tokenizer t = load("gguf");
        for (JsonNode p : reference().path("prompts")) {
            String text = t.decode(ints(p.path("greedy_ids")));
            String expected = p.path("continuation_text").asText();
            // run.c drops the dummy-prefix space of a piece that directly follows BOS (the empty prompt)
            if (p.path("prompt").asText().isEmpty()) text = text.stripLeading();
            assertEquals(expected, text, p.path("prompt").asText());
        }
    }
}
