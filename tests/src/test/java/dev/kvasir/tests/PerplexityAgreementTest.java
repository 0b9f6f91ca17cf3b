package dev.kvasir.tests;

import dev.kvasir.model.SharedData;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ./kvasir eval perplexity} on {@code tinystory-eval.txt} gives llama-perplexity's figures for
 * the f32, q8_0 and q4_0 files of stories260K to 1% (the reference lists them, with the method):
 * the accuracy cost of 8-bit activations and quantized weights is measured against the peer,
 * not assumed.
 */
class PerplexityAgreementTest {

    @ParameterizedTest(name = "{0} c={1}")
    @CsvSource({"f32,128", "q8_0,128", "q4_0,128"})
    void perplexityEqualsLlamaCppToOnePercent(String type, int context) throws IOException {
        String ref = Files.readString(SharedData.require("reference/llamacpp-stories260K.txt"));
        Matcher m = Pattern.compile("c=" + context + "\\s+" + Pattern.quote(type) + "\\s*: PPL = ([0-9.]+) \\+/- [0-9.]+\\s+\\((\\d+) chunks\\)").matcher(ref);
        assertTrue(m.find(), "llama-perplexity reference for " + type + " c=" + context);
        double expected = Double.parseDouble(m.group(1));
        int expectedChunks = Integer.parseInt(m.group(2));

        Cli r = Cli.run("eval", "perplexity", "--model", SharedData.require("models/stories260K/stories260K-" + type + ".gguf").toString(),
                "--file", SharedData.require("reference/tinystory-eval.txt").toString(), "--context", String.valueOf(context),
                "--threads", "2", "--json");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(expectedChunks, r.json().get("chunks").asInt(), "chunks");
        double ppl = r.json().get("perplexity").asDouble();
        assertEquals(expected, ppl, 0.01 * expected, type + " perplexity " + ppl + " vs llama.cpp " + expected);
    }
}
