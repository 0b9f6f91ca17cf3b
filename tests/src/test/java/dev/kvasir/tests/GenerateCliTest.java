package dev.kvasir.tests;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.model.SharedData;
import dev.kvasir.model.Stories260KReference;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@code ./kvasir generate --json} against the independent greedy references of stories260K. */
class GenerateCliTest {

    private static void assertMatchesReference(Path model) {
        Stories260KReference ref = Stories260KReference.load();
        for (Stories260KReference.Prompt p : ref.prompts()) {
            Cli r = Cli.run("generate", "--model", model.toString(), "--prompt", p.text(), "--max-tokens", "100",
                    "--temperature", "0", "--json");
            assertEquals(0, r.exitCode(), r.err());
            JsonNode o = r.json();
            assertArrayEquals(p.promptIds(), Cli.ints(o.get("prompt_tokens")), "prompt ids of '" + p.text() + "'");
            assertArrayEquals(p.greedyIds(), Cli.ints(o.get("tokens")), "greedy ids of '" + p.text() + "'");
            assertEquals("length", o.get("finish_reason").asText());
            assertEquals(p.continuation().stripLeading(), o.get("text").asText().stripLeading(), "text of '" + p.text() + "'");
        }
    }

    @Test
    void ggufF32MatchesReferenceForEveryPrompt() {
        assertMatchesReference(SharedData.require("models/stories260K/stories260K-f32.gguf"));
    }

    @Test
    void huggingFaceDirectoryMatchesReferenceForEveryPrompt() {
        assertMatchesReference(SharedData.require("models/stories260K/hf"));
    }

    @Test
    void stopStringEndsGenerationAndIsCutFromTheText() {
        Cli r = Cli.run("generate", "--model", SharedData.require("models/stories260K/stories260K-f32.gguf").toString(),
                "--prompt", "Once upon a time", "--max-tokens", "100", "--temperature", "0", "--stop", "Lily", "--json");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(", there was a little girl named ", r.json().get("text").asText());
        assertEquals("stop", r.json().get("finish_reason").asText());
    }

    @Test
    void seededSamplingIsReproducible() {
        String model = SharedData.require("models/stories260K/stories260K-q8_0.gguf").toString();
        String[] args = {"generate", "--model", model, "--prompt", "One day", "--max-tokens", "40", "--temperature", "0.9",
                "--top-p", "0.95", "--top-k", "40", "--seed", "1234", "--json"};
        assertEquals(Cli.run(args).json().get("tokens"), Cli.run(args).json().get("tokens"));
    }
}
