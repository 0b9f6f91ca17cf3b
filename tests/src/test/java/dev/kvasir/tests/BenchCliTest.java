package dev.kvasir.tests;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.model.SharedData;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code ./kvasir bench} and {@code ./kvasir eval perplexity}: the JSON contract and the one-line errors; no timing is asserted. */
class BenchCliTest {

    @Test
    void benchPrintsPrefillAndDecodeRatesAsJson() {
        Cli r = Cli.run("bench", "--model", SharedData.require("models/stories260K/stories260K-q8_0.gguf").toString(),
                "--prompt-tokens", "16", "--gen-tokens", "4", "--batch", "3", "--threads", "2", "--repetitions", "1", "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode o = r.json();
        assertTrue(o.get("prefill_tokens_per_second").asDouble() > 0, r.out());
        assertTrue(o.get("decode_tokens_per_second").asDouble() > 0, r.out());
        assertEquals(3, o.get("batch").asInt());
        assertEquals(2, o.get("threads").asInt());
    }

    @Test
    void benchServingRunsBurstsThroughTheServingCore() {
        Cli r = Cli.run("bench", "--serving", "--model", SharedData.require("models/stories260K/stories260K-f32.gguf").toString(),
                "--concurrency", "1,3", "--prompt-tokens", "8", "--gen-tokens", "6", "--threads", "2", "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode runs = r.json().get("serving");
        assertEquals(2, runs.size(), r.out());
        for (int i = 0; i < 2; i++) {
            JsonNode run = runs.get(i);
            int c = new int[]{1, 3}[i];
            assertEquals(c, run.get("concurrent").asInt());
            assertEquals(8, run.get("prompt_tokens").asInt());
            // greedy over seeded prompts: every request runs to its 6 tokens (no EOS in these)
            assertEquals(c * 6, run.get("generated_tokens").asInt(), r.out());
            assertTrue(run.get("generated_tokens_per_second").asDouble() > 0, r.out());
        }
        assertEquals("cpu", r.json().get("backend").asText());
    }

    @Test
    void benchServingRejectsANegativeWarmUp() {
        Cli.run("bench", "--serving", "--warmup-bursts", "-1", "--model", SharedData.require("models/stories260K/stories260K-f32.gguf").toString())
                .assertOneLineError("--warmup-bursts must be >= 0");
    }

    @Test
    void benchServingOnAnUnknownBackendIsAOneLineError() {
        Cli.run("bench", "--serving", "--backend", "tpu", "--model", SharedData.require("models/stories260K/stories260K-f32.gguf").toString())
                .assertOneLineError("unknown backend 'tpu'");
    }

    @Test
    void benchMemoryPrintsReadBandwidth() {
        Cli r = Cli.run("bench", "--memory", "--memory-mib", "16", "--threads", "2", "--repetitions", "2", "--json");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.json().get("read_gb_per_second").asDouble() > 0, r.out());
    }

    @Test
    void benchWithoutAModelIsAOneLineError() {
        Cli.run("bench", "--threads", "1").assertOneLineError("--model");
    }

    @Test
    void perplexityOfAMissingFileIsAOneLineError() {
        Cli.run("eval", "perplexity", "--model", SharedData.require("models/stories260K/stories260K-f32.gguf").toString(),
                "--file", "/nonexistent/text.txt").assertOneLineError("/nonexistent/text.txt");
    }
}
