package dev.kvasir.model.tokenizer;

import dev.kvasir.model.ModelFormatException;
import dev.kvasir.model.gguf.GgufFile;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Loading: vocab-only GGUFs, speed of the big vocabularies, clear errors, linear-time BPE. */
class TokenizerLoadTest {

    @Test
    void vocabOnlyGgufLoads() {
        Path p = TokenizerVectors.dir().resolve("ggml-vocab-gpt-2.gguf");
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(0, f.tensors().size());
            Tokenizer t = Tokenizers.fromGguf(f);
            assertEquals(50257, t.vocabSize());
            assertEquals(50256, t.eosId());
        }
    }

    @Test
    void llama3VocabLoadsQuickly() {
        Path gguf = TokenizerVectors.dir().resolve("ggml-vocab-llama-bpe.gguf");
        Path json = TokenizerVectors.dir().resolve("hf/llama3");
        Tokenizers.fromGguf(gguf); // warm up class loading and JIT a little
        long t0 = System.nanoTime();
        Tokenizer g = Tokenizers.fromGguf(gguf);
        long t1 = System.nanoTime();
        Tokenizer h = HfTokenizers.fromDirectory(json);
        long t2 = System.nanoTime();
        System.out.printf("llama3 load: gguf %.0f ms, tokenizer.json %.0f ms%n", (t1 - t0) / 1e6, (t2 - t1) / 1e6);
        assertEquals(128256, g.vocabSize());
        assertEquals(128256, h.vocabSize());
        assertTrue((t1 - t0) / 1e9 < 3, "GGUF load took " + (t1 - t0) / 1e6 + " ms");
        assertTrue((t2 - t1) / 1e9 < 5, "tokenizer.json load took " + (t2 - t1) / 1e6 + " ms");
    }

    @Test
    void longTextsEncodeInReasonableTime() {
        Tokenizer bpe = Tokenizers.fromGguf(TokenizerVectors.dir().resolve("ggml-vocab-qwen2.gguf"));
        Tokenizer spm = Tokenizers.fromGguf(TokenizerVectors.dir().resolve("ggml-vocab-llama-spm.gguf"));
        String word = "x".repeat(20_000); // one pre-token word: merging must not be quadratic
        String prose = "The quick brown fox jumps over the lazy dog, again and again. ".repeat(3_000);
        long t0 = System.nanoTime();
        int[] a = bpe.encode(word, false, false);
        int[] b = bpe.encode(prose, false, false);
        int[] c = spm.encode(prose, false, false);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("long texts: " + a.length + " + " + b.length + " + " + c.length + " tokens in " + ms + " ms");
        assertEquals(word, bpe.decode(a));
        assertEquals(prose, bpe.decode(b));
        assertTrue(ms < 10_000, ms + " ms");
    }

    @Test
    void unknownPreTokenizerIsNamed() {
        var md = new dev.kvasir.model.gguf.GgufMetadata()
                .putString("tokenizer.ggml.model", "gpt2")
                .putString("tokenizer.ggml.pre", "no-such-pre");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromGguf(md));
        assertTrue(e.getMessage().contains("no-such-pre") && e.getMessage().contains("llama-bpe"), e.getMessage());
    }

    @Test
    void unsupportedModelTypesAreNamed() {
        for (String type : new String[]{"t5", "rwkv"}) {
            var md = new dev.kvasir.model.gguf.GgufMetadata().putString("tokenizer.ggml.model", type);
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromGguf(md));
            assertTrue(e.getMessage().contains(type), e.getMessage());
        }
    }

    @Test
    void everyPresetRegexCompiles() {
        for (String name : BpePreset.names()) {
            PreTokenizer p = PreTokenizer.ofRegexes(BpePreset.byName(name).orElseThrow().regexes());
            String sample = "Hello, y'all! 123456 你好 🦙\n\n  x";
            assertEquals(sample, String.join("", p.split(sample)), name); // splitting loses nothing
        }
    }
}
