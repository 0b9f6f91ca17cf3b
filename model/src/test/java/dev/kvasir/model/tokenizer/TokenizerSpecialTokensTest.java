package dev.kvasir.model.tokenizer;

import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's "extra examples": special tokens in the text, BOS, whole chat prompts. */
class TokenizerSpecialTokensTest {

    static int[] ids(String s) {
        return Arrays.stream(s.trim().split("\\s+")).mapToInt(Integer::parseInt).toArray();
    }

    static final String LLAMA_CHAT = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    static final String LLAMA_CHAT_IDS = "128000 128006 9125 128007 271 2675 527 264 11190 18328 13 128009 128006 882 128007 271 9906 0 128009 128006 78191 128007 271";
    static final String QWEN_CHAT = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n";
    static final String QWEN_CHAT_IDS = "151644 8948 198 2610 525 264 10950 17847 13 151645 198 151644 872 198 9707 0 151645 198 151644 77091 198";

    /** Column A (parse_special, no BOS) holds for GGUF and tokenizer.json alike. */
    static void assertLlamaColumnA(Tokenizer t) {
        assertArrayEquals(ids("128000 9906 128009"), t.encode("<|begin_of_text|>Hello<|eot_id|>", false, true));
        assertArrayEquals(ids("128006 882 128007 271 6151 128009"), t.encode("<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", false, true));
        assertArrayEquals(ids("9906 1917"), t.encode("Hello world", false, true));
        assertArrayEquals(ids(LLAMA_CHAT_IDS), t.encode(LLAMA_CHAT, false, true));
        assertTrue(t.isEndOfGeneration(128009));
        assertTrue(t.isEndOfGeneration(128001));
        assertFalse(t.isEndOfGeneration(9906));
        assertEquals(0, t.tokenBytes(128009).length);
    }

    static void assertQwenColumnA(Tokenizer t) {
        assertArrayEquals(ids("151644 872 198 6023 151645"), t.encode("<|im_start|>user\nhi<|im_end|>", false, true));
        assertArrayEquals(ids("151667 271 151668 271"), t.encode("<think>\n\n</think>\n\n", false, true));
        assertArrayEquals(ids("151659 750 282 4555 151661 198 151660"), t.encode("<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>", false, true));
        assertArrayEquals(ids("9707 1879"), t.encode("Hello world", false, true));
        assertArrayEquals(ids(QWEN_CHAT_IDS), t.encode(QWEN_CHAT, false, true));
        assertTrue(t.isEndOfGeneration(151645));
        assertEquals(-1, t.bosId());
        assertFalse(t.addBosByDefault());
    }

    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    class LlamaGguf {
        final Tokenizer t = Tokenizers.fromGguf(TokenizerVectors.dir().resolve("ggml-vocab-llama-bpe.gguf"));

        @Test
        void columnA() {
            assertLlamaColumnA(t);
        }

        @Test
        void columnBAddsBosEvenBeforeABos() {
            assertTrue(t.addBosByDefault());
            assertEquals(128000, t.bosId());
            assertArrayEquals(ids("128000 128000 9906 128009"), t.encode("<|begin_of_text|>Hello<|eot_id|>", true, true));
            assertArrayEquals(ids("128000 128006 882 128007 271 6151 128009"), t.encode("<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", true, true));
            assertArrayEquals(ids("128000 9906 1917"), t.encode("Hello world", true, true));
        }

        @Test
        void columnCSpecialTextIsPlainText() {
            assertArrayEquals(ids("27 91 7413 3659 4424 91 29 9906 27 91 68 354 851 91 29"), t.encode("<|begin_of_text|>Hello<|eot_id|>", false, false));
            assertArrayEquals(ids("27 91 2527 8932 851 91 29 882 27 91 408 8932 851 91 1363 6151 27 91 68 354 851 91 29"),
                    t.encode("<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", false, false));
            assertArrayEquals(ids("9906 1917"), t.encode("Hello world", false, false));
        }
    }

    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    class QwenGguf {
        final Tokenizer t = Tokenizers.fromGguf(TokenizerVectors.dir().resolve("ggml-vocab-qwen2.gguf"));

        @Test
        void columnsAandB() {
            assertQwenColumnA(t);
            assertArrayEquals(ids("151644 872 198 6023 151645"), t.encode("<|im_start|>user\nhi<|im_end|>", true, true));
        }

        @Test
        void columnCUserDefinedStillSplit() {
            assertArrayEquals(ids("27 91 318 4906 91 29 872 198 6023 27 91 318 6213 91 29"), t.encode("<|im_start|>user\nhi<|im_end|>", false, false));
            assertArrayEquals(ids("151667 271 151668 271"), t.encode("<think>\n\n</think>\n\n", false, false));
            assertArrayEquals(ids("27 91 69 318 13974 91 29 750 282 4555 27 91 69 318 37151 91 397 27 91 69 318 62580 91 29"),
                    t.encode("<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>", false, false));
            assertArrayEquals(ids("9707 1879"), t.encode("Hello world", false, false));
        }
    }

    @Test
    void llamaTokenizerJsonColumnA() {
        Tokenizer t = HfTokenizers.fromDirectory(TokenizerVectors.dir().resolve("hf/llama3"));
        assertLlamaColumnA(t);
        // this tokenizer.json's post-processor adds nothing, as Hugging Face's encode shows
        assertFalse(t.addBosByDefault());
        assertEquals(128000, t.bosId());
        assertEquals(128001, t.eosId());
    }

    @Test
    void qwenTokenizerJsonColumnA() {
        Tokenizer t = HfTokenizers.fromDirectory(TokenizerVectors.dir().resolve("hf/qwen3"));
        assertQwenColumnA(t);
        assertEquals(151645, t.eosId());
    }

    @Test
    void chatTemplatesAreRead() {
        HfTokenizerConfig llama = HfTokenizerConfig.readDirectory(TokenizerVectors.dir().resolve("hf/llama3"));
        assertEquals(348, llama.chatTemplate().orElseThrow().length());
        assertEquals("<|begin_of_text|>", llama.bosToken());
        HfTokenizerConfig qwen = HfTokenizerConfig.readDirectory(TokenizerVectors.dir().resolve("hf/qwen3"));
        assertEquals(4116, qwen.chatTemplate().orElseThrow().length());
        assertEquals(null, qwen.bosToken());
        assertEquals(Boolean.FALSE, qwen.addBosToken());
    }
}
