package dev.kvasir.model.gguf;

import dev.kvasir.model.SharedData;
import dev.kvasir.model.tensor.GgmlDequantizer;
import dev.kvasir.model.tensor.Quantizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Array;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgufWriterTest {
    @TempDir
    Path dir;

    /** Metadata holding every value type, arrays of each, and arrays nested two and three deep. */
    static GgufMetadata everyValueType() {
        GgufMetadata m = new GgufMetadata();
        m.put("u8", GgufValueType.UINT8, 255L);
        m.put("i8", GgufValueType.INT8, -128L);
        m.put("u16", GgufValueType.UINT16, 65535L);
        m.put("i16", GgufValueType.INT16, -32768L);
        m.put("u32", GgufValueType.UINT32, 4294967295L);
        m.put("i32", GgufValueType.INT32, -2147483648L);
        m.put("u64", GgufValueType.UINT64, -1L); // 2^64-1: unsigned 64-bit values keep their bits in a long
        m.put("i64", GgufValueType.INT64, Long.MIN_VALUE);
        m.put("f32", GgufValueType.FLOAT32, 1e-5f);
        m.put("f64", GgufValueType.FLOAT64, Math.PI);
        m.put("bool.true", GgufValueType.BOOL, true);
        m.put("bool.false", GgufValueType.BOOL, false);
        m.put("string", GgufValueType.STRING, "héllo ▁ wörld \u0000 end");
        m.put("string.empty", GgufValueType.STRING, "");
        m.putArray("a.u8", new GgufArray(GgufValueType.UINT8, new byte[] {0, 1, (byte) 255}));
        m.putArray("a.i8", new GgufArray(GgufValueType.INT8, new byte[] {-128, 0, 127}));
        m.putArray("a.bool", new GgufArray(GgufValueType.BOOL, new byte[] {1, 0, 1}));
        m.putArray("a.u16", new GgufArray(GgufValueType.UINT16, new short[] {0, (short) 65535}));
        m.putArray("a.i16", new GgufArray(GgufValueType.INT16, new short[] {-1, 300}));
        m.putArray("a.u32", new GgufArray(GgufValueType.UINT32, new int[] {0, -1, 7}));
        m.putArray("a.i32", new GgufArray(GgufValueType.INT32, new int[] {Integer.MIN_VALUE, 3}));
        m.putArray("a.u64", new GgufArray(GgufValueType.UINT64, new long[] {-1L, 1L << 40}));
        m.putArray("a.i64", new GgufArray(GgufValueType.INT64, new long[] {Long.MIN_VALUE, Long.MAX_VALUE}));
        m.putArray("a.f32", new GgufArray(GgufValueType.FLOAT32, new float[] {-0.0f, Float.MAX_VALUE, 1.5f}));
        m.putArray("a.f64", new GgufArray(GgufValueType.FLOAT64, new double[] {Double.MIN_VALUE, -2.25}));
        m.putArray("a.string", new GgufArray(GgufValueType.STRING, new String[] {"<s>", "", "▁the"}));
        m.putArray("a.empty", new GgufArray(GgufValueType.INT32, new int[0]));
        m.putArray("a.nested", new GgufArray(GgufValueType.ARRAY, new GgufArray[] {
                new GgufArray(GgufValueType.INT32, new int[] {1, 2}),
                new GgufArray(GgufValueType.STRING, new String[] {"a", "bc"}),
                new GgufArray(GgufValueType.ARRAY, new GgufArray[] {new GgufArray(GgufValueType.FLOAT64, new double[] {0.5})}),
                new GgufArray(GgufValueType.UINT8, new byte[0])}));
        return m;
    }

    static void assertSameMetadata(GgufMetadata want, GgufMetadata got) {
        assertEquals(new ArrayList<>(want.keys()), new ArrayList<>(got.keys()), "keys in order");
        for (Map.Entry<String, GgufMetadata.Value> e : want.asMap().entrySet()) {
            GgufMetadata.Value g = got.get(e.getKey()).orElseThrow();
            assertEquals(e.getValue().type(), g.type(), e.getKey());
            assertTrue(sameValue(e.getValue().value(), g.value()), () -> e.getKey() + ": wrote " + e.getValue().value() + ", read " + g.value());
        }
    }

    private static boolean sameValue(Object a, Object b) {
        if (a instanceof GgufArray x && b instanceof GgufArray y) {
            if (x.elementType() != y.elementType() || x.length() != y.length()) return false;
            if (x.values().getClass() != y.values().getClass()) return false;
            for (int i = 0; i < x.length(); i++) if (!sameValue(Array.get(x.values(), i), Array.get(y.values(), i))) return false;
            return true;
        }
        // Float/Double equals compares bits, so -0.0 and NaN payloads count.
        return Objects.equals(a, b);
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void metadataAndTensorsRoundTrip(int version) {
        GgufMetadata meta = everyValueType();
        Random rnd = new Random(version);
        float[] weights = new float[64 * 5];
        for (int i = 0; i < weights.length; i++) weights[i] = (float) rnd.nextGaussian();
        byte[] raw = new byte[3 * 7 * 4];
        rnd.nextBytes(raw);
        Path p = dir.resolve("all-v" + version + ".gguf");

        GgufWriter.create(p, meta).version(version)
                .addTensor("raw.f32", new long[] {3, 7}, GgmlType.F32, MemorySegment.ofArray(raw))
                .addTensor("w.q8_0", new long[] {64, 5}, GgmlType.Q8_0, Quantizer.tensorData(GgmlType.Q8_0, weights))
                .addTensor("w.q4_1.rows", new long[] {64, 5}, GgmlType.Q4_1,
                        Quantizer.tensorData(GgmlType.Q4_1, 64, 5, (r, dst) -> System.arraycopy(weights, (int) r * 64, dst, 0, 64)))
                .addTensor("norm.f16", new long[] {5}, GgmlType.F16, Quantizer.tensorData(GgmlType.F16, new float[] {1, 2, 3, 4, 5}))
                .write();

        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(version, f.version());
            assertSameMetadata(meta, f.metadata());
            assertEquals(List.of("raw.f32", "w.q8_0", "w.q4_1.rows", "norm.f16"), f.tensors().stream().map(GgufTensorInfo::name).toList());
            for (GgufTensorInfo t : f.tensors()) assertEquals(0, (f.dataOffset() + t.offset()) % 32, t.name() + " aligned");
            assertArrayEquals(raw, bytes(f, "raw.f32"));
            assertArrayEquals(new long[] {3, 7}, f.requireTensor("raw.f32").shape());
            assertArrayEquals(Quantizer.quantize(GgmlType.Q8_0, weights), bytes(f, "w.q8_0"));
            assertArrayEquals(Quantizer.quantize(GgmlType.Q4_1, weights), bytes(f, "w.q4_1.rows"));
            assertArrayEquals(new float[] {1, 2, 3, 4, 5},
                    GgmlDequantizer.dequantize(GgmlType.F16, f.data(f.requireTensor("norm.f16")), 5));
        }
        assertFalse(Files.exists(p.resolveSibling(p.getFileName() + ".partial")));
    }

    /**
     * A tensor of many pieces (each about a megabyte, made on several cores at once) is written in
     * row order: the same bytes as quantizing all of it in one go, the last piece partial.
     */
    @Test
    void rowsStreamedInParallelPiecesKeepTheirOrder() {
        int cols = 4096, rows = 1000;  // Q8_0: 4352 bytes a row, 240 rows a piece, five pieces
        float[] weights = new float[cols * rows];
        Random rnd = new Random(7);
        for (int i = 0; i < weights.length; i++) weights[i] = (float) rnd.nextGaussian();
        Path p = dir.resolve("pieces.gguf");
        GgufWriter.create(p, new GgufMetadata())
                .addTensor("w", new long[] {cols, rows}, GgmlType.Q8_0,
                        Quantizer.tensorData(GgmlType.Q8_0, cols, rows, (r, dst) -> System.arraycopy(weights, (int) r * cols, dst, 0, cols)))
                .write();
        try (GgufFile f = GgufFile.open(p)) {
            assertArrayEquals(Quantizer.quantize(GgmlType.Q8_0, weights), bytes(f, "w"));
        }
    }

    @Test
    void honoursGeneralAlignment() {
        GgufMetadata meta = new GgufMetadata().putUInt32("general.alignment", 64);
        Path p = dir.resolve("align64.gguf");
        GgufWriter.create(p, meta)
                .addTensor("a", new long[] {3}, GgmlType.F32, MemorySegment.ofArray(new byte[12]))
                .addTensor("b", new long[] {5}, GgmlType.F32, MemorySegment.ofArray(new byte[20]))
                .write();
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(64, f.alignment());
            assertEquals(0, f.dataOffset() % 64);
            assertEquals(64, f.requireTensor("b").offset());
        }
    }

    @Test
    void refusesDataOfTheWrongSizeAndLeavesNoFile() {
        Path p = dir.resolve("bad.gguf");
        assertThrows(IllegalArgumentException.class, () -> GgufWriter.create(p, new GgufMetadata())
                .addTensor("a", new long[] {4}, GgmlType.F32, MemorySegment.ofArray(new byte[12])));
        assertThrows(IllegalArgumentException.class, () -> GgufWriter.create(p, new GgufMetadata())
                .addTensor("a", new long[] {30, 2}, GgmlType.Q8_0, MemorySegment.ofArray(new byte[68])));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> GgufWriter.create(p, new GgufMetadata())
                .addTensor("short", new long[] {4}, GgmlType.F32, sink -> sink.write(MemorySegment.ofArray(new byte[8])))
                .write());
        assertTrue(e.getMessage().contains("short"), e.getMessage());
        assertFalse(Files.exists(p));
        assertFalse(Files.exists(p.resolveSibling("bad.gguf.partial")));
    }

    /** stories260K-f32 rewritten tensor by tensor reads back identical; the layout even matches byte for byte. */
    @Test
    void rewritingStories260KKeepsEverything() throws Exception {
        Path src = SharedData.require("models/stories260K/stories260K-f32.gguf");
        Path copy = dir.resolve("copy.gguf");
        try (GgufFile f = GgufFile.open(src)) {
            GgufWriter w = GgufWriter.create(copy, f.metadata()).version(f.version());
            for (GgufTensorInfo t : f.tensors()) w.addTensor(t.name(), t.shape(), t.type(), f.data(t));
            w.write();
            try (GgufFile g = GgufFile.open(copy)) {
                assertEquals(f.version(), g.version());
                assertSameMetadata(f.metadata(), g.metadata());
                assertEquals(f.tensors(), g.tensors());
                for (GgufTensorInfo t : f.tensors()) {
                    assertArrayEquals(f.data(t).toArray(ValueLayout.JAVA_BYTE), g.data(g.requireTensor(t.name())).toArray(ValueLayout.JAVA_BYTE), t.name());
                }
            }
        }
        assertArrayEquals(Files.readAllBytes(src), Files.readAllBytes(copy), "the rewrite is byte-identical to the original");
    }

    private static byte[] bytes(GgufFile f, String tensor) {
        return f.data(f.requireTensor(tensor)).toArray(ValueLayout.JAVA_BYTE);
    }
}
