package dev.kvasir.tests;

import dev.kvasir.model.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input to the CLI: one clear line on stderr naming the problem, a non-zero exit, nothing on stdout. */
class BadInputCliTest {
    @TempDir
    Path tmp;

    private static Path f32() {
        return SharedData.require("models/stories260K/stories260K-f32.gguf");
    }

    private static Cli generate(Path model, String prompt) {
        return Cli.run("generate", "--model", model.toString(), "--prompt", prompt, "--max-tokens", "5", "--temperature", "0");
    }

    @Test
    void unknownQuantization() {
        Cli.run("generate", "--model", f32().toString(), "--prompt", "hi", "--quantization", "fp8").assertOneLineError("'fp8'", "int8", "int4");
    }

    @Test
    void truncatedInsideTensorData() throws IOException {
        byte[] all = Files.readAllBytes(f32());
        Path cut = tmp.resolve("cut.gguf");
        Files.write(cut, Arrays.copyOf(all, all.length - 1000));
        generate(cut, "hi").assertOneLineError("cut.gguf", "truncated", "tensor '");
    }

    @Test
    void truncatedInsideHeader() throws IOException {
        Path cut = tmp.resolve("header.gguf");
        Files.write(cut, Arrays.copyOf(Files.readAllBytes(f32()), 100));
        generate(cut, "hi").assertOneLineError("header.gguf", "truncated");
    }

    @Test
    void wrongMagic() throws IOException {
        Path bad = tmp.resolve("magic.gguf");
        byte[] all = Files.readAllBytes(f32());
        all[0] = 'X';
        Files.write(bad, all);
        generate(bad, "hi").assertOneLineError("magic.gguf", "not a GGUF file");
    }

    @Test
    void unsupportedTensorType() throws IOException {
        byte[] all = Files.readAllBytes(f32());
        // the tensor directory entry of token_embd.weight: name, n_dims (u32), 2 dims (u64), then the type (u32)
        byte[] name = "token_embd.weight".getBytes(StandardCharsets.US_ASCII);
        int at = indexOf(all, name);
        assertTrue(at > 0);
        int typeOffset = at + name.length + 4 + 2 * 8;
        all[typeOffset] = 16; // IQ2_XXS
        Path bad = tmp.resolve("iq2.gguf");
        Files.write(bad, all);
        generate(bad, "hi").assertOneLineError("iq2.gguf", "token_embd.weight", "unsupported tensor type IQ2_XXS");
    }

    @Test
    void missingFile() {
        generate(tmp.resolve("nowhere.gguf"), "hi").assertOneLineError("nowhere.gguf", "no such file");
    }

    @Test
    void promptLongerThanTheContext() {
        String longPrompt = "Once upon a time there was a cat. ".repeat(120);
        generate(f32(), longPrompt).assertOneLineError("context window of 512");
    }

    @Test
    void malformedCommandLine() {
        Cli r = Cli.run("generate", "--model", f32().toString(), "--max-tokens", "lots", "--prompt", "x");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("--max-tokens"), r.err());
    }

    @Test
    void invalidSamplingValue() {
        Cli r = Cli.run("generate", "--model", f32().toString(), "--prompt", "x", "--temperature", "-1");
        r.assertOneLineError("temperature");
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }
}
