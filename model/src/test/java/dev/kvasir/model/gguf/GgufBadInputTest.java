package dev.kvasir.model.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Broken files fail with a {@link GgufFormatException} that names the file, the tensor where one is involved, and the problem. */
class GgufBadInputTest {
    @TempDir
    Path dir;

    private Path validFile() {
        Path p = dir.resolve("valid.gguf");
        GgufWriter.create(p, new GgufMetadata().putString("general.architecture", "llama").putUInt32("llama.block_count", 1))
                .addTensor("blk.0.attn_q.weight", new long[] {32, 4}, GgmlType.Q8_0, MemorySegment.ofArray(new byte[4 * 34]))
                .addTensor("output_norm.weight", new long[] {32}, GgmlType.F32, MemorySegment.ofArray(new byte[128]))
                .write();
        return p;
    }

    private Path cut(Path src, String name, long length) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, Arrays.copyOf(Files.readAllBytes(src), (int) length));
        return p;
    }

    private static GgufFormatException failure(Path p) {
        return assertThrows(GgufFormatException.class, () -> GgufFile.open(p).close());
    }

    private static void assertMentions(GgufFormatException e, String... parts) {
        for (String part : parts) assertTrue(e.getMessage().contains(part), () -> "'" + e.getMessage() + "' should mention '" + part + "'");
    }

    @Test
    void fileCutInsideTheHeader() throws IOException {
        Path p = cut(validFile(), "cut-header.gguf", 40);
        assertMentions(failure(p), p.toString(), "truncated");
    }

    @Test
    void fileCutInsideTensorData() throws IOException {
        Path valid = validFile();
        Path p = cut(valid, "cut-data.gguf", Files.size(valid) - 100);
        assertMentions(failure(p), p.toString(), "output_norm.weight", "truncated");
    }

    @Test
    void wrongMagic() throws IOException {
        Path p = dir.resolve("model.safetensors");
        Files.writeString(p, "{\"__metadata__\": {}} and then some bytes");
        assertMentions(failure(p), p.toString(), "not a GGUF file");
    }

    @Test
    void emptyFile() throws IOException {
        Path p = dir.resolve("empty.gguf");
        Files.write(p, new byte[0]);
        assertMentions(failure(p), p.toString(), "too short");
    }

    /** A tensor of type 16 (IQ2_XXS), written by hand: Kvasir reads no IQ types. */
    @Test
    void unsupportedTensorType() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(256 + 66).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x46554747).putInt(3).putLong(1).putLong(0);
        byte[] name = "blk.0.ffn_up.weight".getBytes(StandardCharsets.UTF_8);
        b.putLong(name.length).put(name).putInt(2).putLong(256).putLong(1).putInt(16).putLong(0);
        while (b.position() % 32 != 0) b.put((byte) 0);
        b.put(new byte[66]); // one IQ2_XXS super-block
        Path p = dir.resolve("iq2.gguf");
        Files.write(p, Arrays.copyOf(b.array(), b.position()));
        assertMentions(failure(p), p.toString(), "blk.0.ffn_up.weight", "unsupported tensor type IQ2_XXS");
    }

    @Test
    void missingFile() {
        Path p = dir.resolve("nowhere.gguf");
        assertMentions(failure(p), p.toString(), "no such file");
    }

    @Test
    void directory() {
        assertMentions(failure(dir), dir.toString(), "directory");
    }
}
