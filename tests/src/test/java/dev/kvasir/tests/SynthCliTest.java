package dev.kvasir.tests;

import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.gguf.GgufFile;
import dev.kvasir.model.gguf.GgufMetadata;
import dev.kvasir.model.gguf.GgufTensorInfo;
import dev.kvasir.model.gguf.GgufWriter;
import dev.kvasir.model.gguf.TensorData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code ./kvasir synth}: files that load, generate, are reproducible and survive a read/write round trip. */
class SynthCliTest {
    @TempDir
    Path tmp;

    @Test
    void synthesizedModelsLoadAndGenerateInEveryType() {
        for (String type : new String[]{"f32", "f16", "bf16", "q8_0", "q4_0"}) {
            Path out = tmp.resolve("s-" + type + ".gguf");
            Cli w = Cli.run("synth", "--shape", "stories260K", "--type", type, "--out", out.toString());
            assertEquals(0, w.exitCode(), w.err());
            Cli g = Cli.run("generate", "--model", out.toString(), "--prompt", "Once upon a time", "--max-tokens", "8",
                    "--temperature", "0", "--json");
            assertEquals(0, g.exitCode(), type + ": " + g.err());
            assertEquals(8, g.json().get("tokens").size(), type);
        }
    }

    @Test
    void sameSeedSameBytesAndReadWriteRoundTrip() throws IOException {
        Path a = tmp.resolve("a.gguf");
        Path b = tmp.resolve("b.gguf");
        assertEquals(0, Cli.run("synth", "--shape", "stories260K", "--type", "q8_0", "--seed", "7", "--out", a.toString()).exitCode());
        assertEquals(0, Cli.run("synth", "--shape", "stories260K", "--type", "q8_0", "--seed", "7", "--out", b.toString()).exitCode());
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));

        // read it, write everything back through the writer, and get the same file
        Path copy = tmp.resolve("copy.gguf");
        try (GgufFile f = GgufFile.open(a)) {
            GgufWriter w = GgufWriter.create(copy, new GgufMetadata(f.metadata().asMap()));
            for (GgufTensorInfo t : f.tensors()) w.addTensor(t.name(), t.shape(), t.type(), TensorData.of(f.data(t)));
            w.write();
        }
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(copy));

        try (GgufFile f = GgufFile.open(a)) {
            assertEquals(GgmlType.Q8_0, f.requireTensor("blk.0.attn_q.weight").type());
            // ffn_down rows hold 172 values, not whole Q8_0 blocks: stored as F16, as llama-quantize does
            assertEquals(GgmlType.F16, f.requireTensor("blk.0.ffn_down.weight").type());
            assertTrue(f.metadata().getBool("kvasir.synthetic").orElse(false));
        }
    }

    @Test
    void differentSeedsGiveDifferentWeights() throws IOException {
        Path a = tmp.resolve("a.gguf");
        Path b = tmp.resolve("b.gguf");
        Cli.run("synth", "--shape", "stories260K", "--seed", "1", "--out", a.toString());
        Cli.run("synth", "--shape", "stories260K", "--seed", "2", "--out", b.toString());
        try (GgufFile fa = GgufFile.open(a); GgufFile fb = GgufFile.open(b)) {
            GgufTensorInfo t = fa.requireTensor("blk.0.attn_q.weight");
            assertTrue(fa.data(t).mismatch(fb.data(fb.requireTensor("blk.0.attn_q.weight"))) >= 0);
        }
    }

    @Test
    void unknownShapeOrTypeIsRefused() {
        Cli r = Cli.run("synth", "--shape", "gpt-5", "--out", tmp.resolve("x.gguf").toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("unknown shape 'gpt-5'"), r.err());
        r = Cli.run("synth", "--shape", "stories260K", "--type", "q3_k", "--out", tmp.resolve("x.gguf").toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("q3_k"), r.err());
    }
}
