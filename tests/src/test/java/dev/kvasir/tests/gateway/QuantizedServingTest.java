package dev.kvasir.tests.gateway;

import dev.kvasir.model.SharedData;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A quantized model served through the serving core generates what {@code ./kvasir generate} does
 * for it (and so what llama.cpp does: see LlamaCppAgreementTest): both run the same numerics,
 * including the F16 KV cache quantized models use.
 */
class QuantizedServingTest {
    private static GatewayNode node;

    @BeforeAll
    static void start() {
        node = new GatewayNode(SharedData.require("models/stories260K/stories260K-q8_0.gguf"));
    }

    @AfterAll
    static void stop() {
        if (node != null) node.close();
    }

    @Test
    void greedyCompletionEqualsCliGenerate() {
        String prompt = "One day, Lily";
        var cli = dev.kvasir.tests.CliAccess.run("generate", "--model", SharedData.require("models/stories260K/stories260K-q8_0.gguf").toString(),
                "--prompt", prompt, "--max-tokens", "100", "--temperature", "0", "--json");
        assertEquals(0, cli.exitCode(), cli.err());
        var response = node.post("/v1/completions", "{\"model\":\"" + node.modelId() + "\",\"prompt\":\"" + prompt
                + "\",\"max_tokens\":100,\"temperature\":0}");
        assertEquals(200, response.statusCode(), response.body());
        assertEquals(cli.json().get("text").asText(), GatewayNode.json(response.body()).get("choices").get(0).get("text").asText());
    }
}
