package dev.kvasir.model.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** decode(encode(s)) gives s back, and streaming gives the same text with no broken characters. */
class TokenizerRoundTripTest {

    static Tokenizer load(String name) {
        return name.startsWith("hf/") ? HfTokenizers.fromDirectory(TokenizerVectors.dir().resolve(name))
                : Tokenizers.fromGguf(TokenizerVectors.dir().resolve("ggml-vocab-" + name + ".gguf"));
    }

    static String stream(Tokenizer t, int[] ids, List<String> pieces) {
        StreamingDetokenizer d = t.streamingDetokenizer();
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            String s = d.push(id);
            pieces.add(s);
            sb.append(s);
        }
        String rest = d.flush();
        pieces.add(rest);
        return sb.append(rest).toString();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "starcoder", "llama-bpe", "qwen2",
            "hf/llama3", "hf/qwen3"})
    void vectorStringsRoundTrip(String name) {
        Tokenizer t = load(name);
        boolean spm = t instanceof SpmTokenizer;
        for (TokenizerVectors.Case c : TokenizerVectors.read("llama-spm")) {
            int[] ids = t.encode(c.text(), false, false);
            // SentencePiece puts the dummy-prefix space in front; decode keeps it
            String expected = spm && !c.text().isEmpty() ? " " + c.text() : c.text();
            assertEquals(expected, t.decode(ids), c.toString());
            List<String> pieces = new ArrayList<>();
            assertEquals(expected, stream(t, ids, pieces), "stream " + c);
            for (String p : pieces) assertFalse(p.contains("\uFFFD"), "broken character in streamed piece of " + c);
        }
    }

    @Test
    void emojiSplitOverByteTokensIsHeldBack() {
        Tokenizer t = load("llama-spm");
        int[] ids = t.encode("🦙 and 😶\u200d🌫️", false, false);
        List<String> pieces = new ArrayList<>();
        String text = stream(t, ids, pieces);
        assertEquals(" 🦙 and 😶\u200d🌫️", text);
        assertTrue(pieces.stream().anyMatch(String::isEmpty), "some byte tokens must have been held back");
        for (String p : pieces) assertFalse(p.contains("\uFFFD"));
    }

    @Test
    void incompleteTailFlushesAsReplacement() {
        Tokenizer t = load("llama-spm");
        StreamingDetokenizer d = t.streamingDetokenizer();
        int f0 = t.encode("🦙", false, false)[1]; // [▁, <0xF0>, ...]
        assertEquals("", d.push(f0));
        assertEquals(1, d.pendingBytes());
        assertEquals("\uFFFD", d.flush());
    }

    @Test
    void controlTokensDecodeToNothing() {
        Tokenizer t = load("llama-bpe");
        assertEquals("Hello", t.decode(new int[]{128000, 9906, 128009}));
        assertEquals("<|eot_id|>", t.tokenText(128009));
        assertEquals(" world", new String(t.tokenBytes(1917), StandardCharsets.UTF_8));
    }
}
