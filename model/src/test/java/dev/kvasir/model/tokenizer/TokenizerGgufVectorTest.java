package dev.kvasir.model.tokenizer;

import dev.kvasir.model.ModelFormatException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every supported vocab of llama.cpp's test-tokenizer-0 must reproduce all 46 expected id sequences. */
class TokenizerGgufVectorTest {
    private static final Map<String, String> SUMMARY = new ConcurrentHashMap<>();

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "starcoder", "llama-bpe", "qwen2"})
    void vocabMatchesExpectedIds(String name) {
        Tokenizer tok = Tokenizers.fromGguf(TokenizerVectors.dir().resolve("ggml-vocab-" + name + ".gguf"));
        List<TokenizerVectors.Case> cases = TokenizerVectors.read(name);
        assertEquals(46, cases.size());
        List<String> fails = TokenizerVectors.failures(tok, cases);
        int passed = cases.size() - fails.size();
        SUMMARY.put("gguf " + name, passed + "/" + cases.size());
        assertTrue(fails.isEmpty(), name + ": " + passed + "/" + cases.size() + " passed; failures:\n" + String.join("\n", fails));
    }

    @Test
    void bertVocabIsRefusedByName() {
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> Tokenizers.fromGguf(TokenizerVectors.dir().resolve("ggml-vocab-bert-bge.gguf")));
        assertTrue(e.getMessage().contains("bert") && e.getMessage().contains("WordPiece"), e.getMessage());
    }

    @AfterAll
    static void printSummary() {
        System.out.println("tokenizer vector pass counts: " + new TreeMap<>(SUMMARY));
    }
}
