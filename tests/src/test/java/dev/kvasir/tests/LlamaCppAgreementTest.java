package dev.kvasir.tests;

import dev.kvasir.model.SharedData;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The q8_0 and q4_0 files of stories260K (made by llama-quantize) generate exactly what llama.cpp
 * printed for them ({@code ../shared/reference/llamacpp-stories260K.txt}). llama.cpp quantizes
 * activations to Q8_0 and rounds them to f16 for F16 weights; Kvasir does the same, in the same
 * order of operations, so the greedy ids agree token for token rather than only approximately.
 */
class LlamaCppAgreementTest {

    @ParameterizedTest(name = "{0} \"{1}\"")
    @CsvSource({"F32,Once upon a time", "F32,'One day, Lily'", "Q8_0,Once upon a time", "Q8_0,'One day, Lily'",
            "Q4_0,Once upon a time", "Q4_0,'One day, Lily'"})
    void greedyIdsEqualLlamaCpp(String type, String prompt) throws IOException {
        String ref = Files.readString(SharedData.require("reference/llamacpp-stories260K.txt"));
        Matcher m = Pattern.compile(Pattern.quote(type) + "  prompt \"" + Pattern.quote(prompt)
                + "\".*?\\n  generated ids \\(100\\): \\[(.*?)]", Pattern.DOTALL).matcher(ref);
        assertTrue(m.find(), "reference for " + type + " '" + prompt + "'");
        int[] expected = Arrays.stream(m.group(1).split(",\\s*")).mapToInt(Integer::parseInt).toArray();
        assertEquals(100, expected.length);

        String file = "models/stories260K/stories260K-" + type.toLowerCase() + ".gguf";
        Cli r = Cli.run("generate", "--model", SharedData.require(file).toString(), "--prompt", prompt,
                "--max-tokens", "100", "--temperature", "0", "--json");
        assertEquals(0, r.exitCode(), r.err());
        assertArrayEquals(expected, Cli.ints(r.json().get("tokens")), type + " '" + prompt + "'");
    }
}
