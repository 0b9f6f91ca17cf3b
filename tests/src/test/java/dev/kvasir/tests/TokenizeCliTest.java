package dev.kvasir.tests;

import dev.kvasir.model.SharedData;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@code ./kvasir tokenize} on vocab-only GGUF files, with the flags of DESIGN.md. */
class TokenizeCliTest {

    private static int[] tokenize(String vocab, String... flagsAndText) {
        String[] args = new String[3 + flagsAndText.length];
        args[0] = "tokenize";
        args[1] = "--model";
        args[2] = SharedData.require("vectors/tokenizer/" + vocab).toString();
        System.arraycopy(flagsAndText, 0, args, 3, flagsAndText.length);
        String[] withJson = java.util.Arrays.copyOf(args, args.length + 1);
        withJson[args.length] = "--json";
        Cli r = Cli.run(withJson);
        assertEquals(0, r.exitCode(), r.err());
        return Cli.ints(r.json().get("tokens"));
    }

    @Test
    void llamaSpmAddsBosAndTheDummyPrefix() {
        assertArrayEquals(new int[]{1, 15043, 3186}, tokenize("ggml-vocab-llama-spm.gguf", "Hello world"));
        assertArrayEquals(new int[]{15043, 3186}, tokenize("ggml-vocab-llama-spm.gguf", "--no-bos", "Hello world"));
    }

    @Test
    void specialTokensArePlainTextUnlessParsed() {
        String text = "<|begin_of_text|>Hello<|eot_id|>";
        assertArrayEquals(new int[]{128000, 9906, 128009}, tokenize("ggml-vocab-llama-bpe.gguf", "--no-bos", "--parse-special", text));
        assertArrayEquals(new int[]{128000, 128000, 9906, 128009}, tokenize("ggml-vocab-llama-bpe.gguf", "--parse-special", text));
        assertArrayEquals(new int[]{27, 91, 7413, 3659, 4424, 91, 29, 9906, 27, 91, 68, 354, 851, 91, 29},
                tokenize("ggml-vocab-llama-bpe.gguf", "--no-bos", text));
    }

    @Test
    void plainOutputIsIdsSeparatedBySpaces() {
        Cli r = Cli.run("tokenize", "--model", SharedData.require("vectors/tokenizer/ggml-vocab-qwen2.gguf").toString(), "Hello world");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals("9707 1879", r.out().strip());
    }

    @Test
    void wordPieceVocabularyIsRefusedClearly() {
        Cli r = Cli.run("tokenize", "--model", SharedData.require("vectors/tokenizer/ggml-vocab-bert-bge.gguf").toString(), "hi");
        assertEquals(1, r.exitCode());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        org.junit.jupiter.api.Assertions.assertTrue(r.err().contains("bert"), r.err());
    }
}
