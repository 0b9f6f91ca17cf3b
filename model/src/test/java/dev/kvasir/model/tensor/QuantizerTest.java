package dev.kvasir.model.tensor;

import dev.kvasir.model.SharedData;
import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.gguf.GgufFile;
import dev.kvasir.model.gguf.GgufTensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class QuantizerTest {
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static float[] gaussian(int n, long seed) {
        Random rnd = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * 0.02);
        // Edge cases: an all-zero block, a constant block, a block with one outlier.
        for (int i = 0; i < 32; i++) x[i] = 0;
        for (int i = 32; i < 64; i++) x[i] = -0.25f;
        x[70] = 3f;
        return x;
    }

    /**
     * Round trip through quantize and the reference dequantizer stays within half a quantization step
     * per element; Q4_0/Q5_0 map the largest magnitude to -8/-16 and clamp the other side at +7/+15,
     * so values of the opposite sign near the maximum may be off by up to one whole step.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"})
    void roundTripErrorIsAtMostHalfAStep(GgmlType type) {
        float[] x = gaussian(32 * 64, 1 + type.id);
        byte[] q = Quantizer.quantize(type, x);
        assertEquals(type.bytesFor(x.length), q.length);
        MemorySegment seg = MemorySegment.ofArray(q);
        float[] y = GgmlDequantizer.dequantize(type, seg, x.length);
        for (int b = 0; b < x.length / 32; b++) {
            float d = Math.abs(Float.float16ToFloat(seg.get(SHORT_LE, (long) b * type.blockBytes)));
            float m = type == GgmlType.Q4_1 || type == GgmlType.Q5_1 ? Float.float16ToFloat(seg.get(SHORT_LE, (long) b * type.blockBytes + 2)) : 0;
            for (int j = 0; j < 32; j++) {
                int i = 32 * b + j;
                // Half a step, plus what rounding d (and m) to f16 moves the grid: up to 2^-11 relative per step.
                double step = type == GgmlType.Q4_0 || type == GgmlType.Q5_0 ? d : d / 2;
                double bound = step + (Math.abs(x[i]) + Math.abs(m)) * 1e-3 + 1e-7;
                assertTrue(Math.abs(x[i] - y[i]) <= bound,
                        () -> type + " element " + i + ": " + x[i] + " came back as " + y[i] + " (d " + d + ")");
            }
        }
        for (int i = 0; i < 32; i++) assertEquals(0f, Math.abs(y[i]), type + ": zero block");
    }

    @Test
    void f16AndBf16RoundToNearestEven() {
        float[] x = {1f, -2.5f, 1e-8f, 65504f, 70000f, Float.MIN_VALUE, 1.00048828125f, 1.001953125f + 0x1p-10f};
        MemorySegment f16 = MemorySegment.ofArray(Quantizer.quantize(GgmlType.F16, x));
        for (int i = 0; i < x.length; i++) assertEquals(Float.floatToFloat16(x[i]), f16.get(SHORT_LE, 2L * i));
        // bf16: 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7; ties go to the even mantissa (1).
        assertEquals((short) 0x3F80, Quantizer.toBf16(1f + 0x1p-8f));
        assertEquals((short) 0x3F82, Quantizer.toBf16(1f + 3 * 0x1p-8f));
        assertEquals((short) 0x3F81, Quantizer.toBf16(1f + 0x1p-8f + 0x1p-20f));
        assertEquals((short) 0x7FC0, Quantizer.toBf16(Float.NaN));
        float[] back = GgmlDequantizer.dequantize(GgmlType.BF16, MemorySegment.ofArray(Quantizer.quantize(GgmlType.BF16, new float[] {-3.140625f})), 1);
        assertEquals(-3.140625f, back[0]);
    }

    @Test
    void roundfRoundsHalvesAwayFromZero() {
        assertEquals(-3f, Quantizer.roundf(-2.5f));
        assertEquals(3f, Quantizer.roundf(2.5f));
        assertEquals(0f, Quantizer.roundf(0.49999997f));
        assertEquals(-1f, Quantizer.roundf(-0.5f));
    }

    // --- Bit-for-bit agreement with llama-quantize (stories260K q8_0 / q4_0 files, see QUANTIZED.md) ---

    @Test
    void q8_0FileIsReproducedBitForBit() {
        assertQuantizedLikeLlamaCpp("models/stories260K/stories260K-q8_0.gguf", GgmlType.Q8_0);
    }

    @Test
    void q4_0FileIsReproducedBitForBit() {
        assertQuantizedLikeLlamaCpp("models/stories260K/stories260K-q4_0.gguf", GgmlType.Q4_0);
    }

    /**
     * Every non-F32 tensor of the llama-quantize output (Q8_0, Q4_0, and F16 for ffn_down) equals our
     * quantization of the same tensor from the F32 file, byte for byte. At least one tensor of
     * {@code mainType} and one F16 tensor must be among them.
     */
    private static void assertQuantizedLikeLlamaCpp(String quantized, GgmlType mainType) {
        try (GgufFile f32 = GgufFile.open(SharedData.require("models/stories260K/stories260K-f32.gguf"));
             GgufFile q = GgufFile.open(SharedData.require(quantized))) {
            List<String> checked = new ArrayList<>();
            boolean sawMain = false, sawF16 = false;
            for (GgufTensorInfo t : q.tensors()) {
                if (t.type() == GgmlType.F32) continue;
                GgufTensorInfo src = f32.requireTensor(t.name());
                assertEquals(GgmlType.F32, src.type());
                float[] x = GgmlDequantizer.dequantize(GgmlType.F32, f32.data(src), src.elementCount());
                byte[] ours = Quantizer.quantize(t.type(), x);
                byte[] theirs = q.data(t).toArray(ValueLayout.JAVA_BYTE);
                if (!java.util.Arrays.equals(theirs, ours)) {
                    int at = java.util.Arrays.mismatch(theirs, ours);
                    fail(t + ": differs from llama-quantize at byte " + at + " (block " + at / t.type().blockBytes + ")");
                }
                checked.add(t.name() + ":" + t.type());
                sawMain |= t.type() == mainType;
                sawF16 |= t.type() == GgmlType.F16;
            }
            assertTrue(sawMain && sawF16, "expected " + mainType + " and F16 tensors, checked " + checked);
        }
    }

    /** llama-quantize's Q4_0 values, read back by our kernels, stay within a step of the F32 originals. */
    @Test
    void llamaCppQuantizedTensorsReadBackCloseToTheOriginals() {
        try (GgufFile f32 = GgufFile.open(SharedData.require("models/stories260K/stories260K-f32.gguf"));
             GgufFile q = GgufFile.open(SharedData.require("models/stories260K/stories260K-q4_0.gguf"))) {
            GgufTensorInfo t = q.requireTensor("blk.0.attn_q.weight");
            assertEquals(GgmlType.Q4_0, t.type());
            float[] orig = GgmlDequantizer.dequantize(GgmlType.F32, f32.data(f32.requireTensor(t.name())), t.elementCount());
            WeightMatrix m = WeightMatrix.of(t.type(), q.data(t), (int) t.rows(), (int) t.cols());
            float[] row = new float[m.cols()];
            for (int r = 0; r < m.rows(); r++) {
                m.dequantizeRow(r, row, 0);
                for (int c = 0; c < m.cols(); c += 32) {
                    float amax = 0;
                    for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(orig[r * m.cols() + c + j]));
                    for (int j = 0; j < 32; j++) {
                        assertEquals(orig[r * m.cols() + c + j], row[c + j], amax / 8 * 1.01 + 1e-7);
                    }
                }
            }
            float[] ref = GgmlDequantizer.dequantize(t.type(), q.data(t), t.elementCount());
            float[] all = new float[ref.length];
            for (int r = 0; r < m.rows(); r++) m.dequantizeRow(r, all, r * m.cols());
            assertArrayEquals(ref, all);
        }
    }
}
