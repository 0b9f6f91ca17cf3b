package dev.kvasir.gpu;

import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.tensor.Quantizer;
import dev.kvasir.model.tensor.WeightMatrix;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The host side of the quantized device formats, no device needed: packed rows, unpacked as the
 * kernels dequantize them, against the CPU engine's {@link WeightMatrix#dequantizeRow}.
 */
class QuantPackingTest {
    private static final Logger log = LoggerFactory.getLogger(QuantPackingTest.class);
    private final SplittableRandom random = new SplittableRandom(42);

    private float[] uniform(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (random.nextDouble() * 2 - 1) * 0.05f;
        return v;
    }

    private static WeightMatrix matrix(GgmlType type, float[] values, int rows, int cols) {
        return WeightMatrix.of(type, MemorySegment.ofArray(Quantizer.quantize(type, values)), rows, cols);
    }

    /** Every row of {@code m} packed by {@code plan} and unpacked again. */
    private static float[][] roundTrip(QuantPacking.Plan plan, WeightMatrix m) {
        int cols = m.cols();
        long rowBytes = plan.format().rowBytes(cols), scaleBytes = QuantPacking.scaleRowBytes(plan, cols);
        MemorySegment data = MemorySegment.ofArray(new byte[(int) (m.rows() * rowBytes)]);
        MemorySegment scales = MemorySegment.ofArray(new byte[(int) (m.rows() * scaleBytes)]);
        float[] scratch = new float[cols];
        float[][] out = new float[m.rows()][cols];
        for (int r = 0; r < m.rows(); r++) QuantPacking.packRow(plan, m, r, scratch, data, r * rowBytes, scales, r * scaleBytes);
        for (int r = 0; r < m.rows(); r++) QuantPacking.unpackRow(plan.format(), cols, plan.groupSize(), data, r * rowBytes, scales, r * scaleBytes, out[r]);
        return out;
    }

    private static float[] row(WeightMatrix m, int r) {
        float[] v = new float[m.cols()];
        m.dequantizeRow(r, v, 0);
        return v;
    }

    @Test
    void q8_0AndQ4_0RepackBitExactly() {
        for (GgmlType type : new GgmlType[]{GgmlType.Q8_0, GgmlType.Q4_0}) {
            for (int[] shape : new int[][]{{7, 256}, {3, 4096}, {5, 32}}) {
                WeightMatrix m = matrix(type, uniform(shape[0] * shape[1]), shape[0], shape[1]);
                QuantPacking.Plan plan = QuantPacking.plan(Quantization.AUTO, List.of(m));
                assertEquals(new QuantPacking.Plan(type == GgmlType.Q8_0 ? QuantFormat.INT8 : QuantFormat.INT4, 32, true), plan);
                float[][] back = roundTrip(plan, m);
                for (int r = 0; r < m.rows(); r++) {
                    float[] expected = row(m, r);
                    // the same floats; only a zero's sign may differ (Q4_0's (q − 8)·d is −0 for d < 0, fma(d, 8, −8d) is +0)
                    for (int c = 0; c < m.cols(); c++) {
                        assertTrue(expected[c] == back[r][c], type + " row " + r + " col " + c + ": " + expected[c] + " vs " + back[r][c]);
                    }
                }
            }
        }
    }

    /** Random Q4_K super-blocks: d and dmin of realistic size, random 6-bit scales/mins and nibbles. */
    private WeightMatrix randomQ4_K(int rows, int cols) {
        byte[] b = new byte[rows * cols / 256 * 144];
        random.nextBytes(b);
        MemorySegment s = MemorySegment.ofArray(b);
        for (long o = 0; o < b.length; o += 144) {
            s.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, o, Float.floatToFloat16((float) (1e-4 + random.nextDouble() * 4e-4)));
            s.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, o + 2, Float.floatToFloat16((float) (1e-4 + random.nextDouble() * 8e-4)));
        }
        return WeightMatrix.of(GgmlType.Q4_K, s, rows, cols);
    }

    /**
     * Q4_K's per-sub-block scale d·sc and offset dmin·m are rounded to fp16 on the way: each weight
     * may move by up to half an fp16 ulp of s·q and of b, about 7e-4 of its group's largest weight
     * at worst (3·2^-12). Measured and bounded here.
     */
    @Test
    void q4_KRepacksWithinTheFp16RoundingOfItsScales() {
        int rows = 16, cols = 4096;
        WeightMatrix m = randomQ4_K(rows, cols);
        QuantPacking.Plan plan = QuantPacking.plan(Quantization.AUTO, List.of(m));
        assertEquals(new QuantPacking.Plan(QuantFormat.INT4, 32, true), plan);
        float[][] back = roundTrip(plan, m);
        double worst = 0, diff = 0, norm = 0;
        for (int r = 0; r < rows; r++) {
            float[] expected = row(m, r);
            for (int g = 0; g < cols; g += 32) {
                double max = 0;
                for (int c = g; c < g + 32; c++) max = Math.max(max, Math.abs(expected[c]));
                for (int c = g; c < g + 32; c++) {
                    double e = Math.abs(back[r][c] - expected[c]);
                    worst = Math.max(worst, max > 0 ? e / max : e);
                    diff += e * e;
                    norm += (double) expected[c] * expected[c];
                }
            }
        }
        log.info("Q4_K → INT4: max error {} of a group's largest weight, relative (Frobenius) error {}", worst, Math.sqrt(diff / norm));
        assertTrue(worst < 1e-3, "max error " + worst + " of a group's largest weight");
        assertTrue(Math.sqrt(diff / norm) < 3e-4, "relative error " + Math.sqrt(diff / norm));
    }

    /** Per-channel INT8 from floats: every weight within half a step of the fp16 scale; ~0.4% relative error on uniform weights. */
    @Test
    void int8QuantizedOnLoadPerChannel() {
        for (GgmlType type : new GgmlType[]{GgmlType.F32, GgmlType.BF16, GgmlType.F16}) {
            int rows = 9, cols = 4096;
            WeightMatrix m = matrix(type, uniform(rows * cols), rows, cols);
            QuantPacking.Plan plan = QuantPacking.plan(Quantization.INT8, List.of(m));
            assertEquals(new QuantPacking.Plan(QuantFormat.INT8, cols, false), plan);
            float[][] back = roundTrip(plan, m);
            double diff = 0, norm = 0;
            for (int r = 0; r < rows; r++) {
                float[] w = row(m, r);
                float amax = 0;
                for (float v : w) amax = Math.max(amax, Math.abs(v));
                float s = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
                for (int c = 0; c < cols; c++) {
                    double e = Math.abs(back[r][c] - w[c]);
                    assertTrue(e <= 0.5 * s * (1 + 1e-4), type + " row " + r + " col " + c + ": error " + e + " over half a step " + s);
                    diff += e * e;
                    norm += (double) w[c] * w[c];
                }
            }
            double rel = Math.sqrt(diff / norm);
            log.info("{} → INT8 per channel: relative error {}", type, rel);
            assertTrue(rel < 6e-3, "relative error " + rel);
        }
    }

    /** Group-wise asymmetric INT4 (G = 128) from floats: within half a step plus the fp16 rounding of s and b; ~7% relative on uniform weights. */
    @Test
    void int4QuantizedOnLoadGroupWise() {
        int rows = 9, cols = 4096;
        WeightMatrix m = matrix(GgmlType.BF16, uniform(rows * cols), rows, cols);
        QuantPacking.Plan plan = QuantPacking.plan(Quantization.INT4, List.of(m));
        assertEquals(new QuantPacking.Plan(QuantFormat.INT4, 128, false), plan);
        float[][] back = roundTrip(plan, m);
        double diff = 0, norm = 0;
        for (int r = 0; r < rows; r++) {
            float[] w = row(m, r);
            for (int g = 0; g < cols; g += 128) {
                float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
                for (int c = g; c < g + 128; c++) {
                    min = Math.min(min, w[c]);
                    max = Math.max(max, w[c]);
                }
                double step = (max - min) / 15.0;
                double bound = 0.5 * step + 0x1p-10 * (Math.abs(min) + (max - min));
                for (int c = g; c < g + 128; c++) {
                    double e = Math.abs(back[r][c] - w[c]);
                    assertTrue(e <= bound, "row " + r + " col " + c + ": error " + e + " over " + bound);
                    diff += e * e;
                    norm += (double) w[c] * w[c];
                }
            }
        }
        double rel = Math.sqrt(diff / norm);
        log.info("BF16 → INT4 G=128: relative error {}", rel);
        assertTrue(rel < 0.08, "relative error " + rel);
    }

    @Test
    void plansFollowTheOptionAndTheStackedTypes() {
        WeightMatrix q8 = matrix(GgmlType.Q8_0, uniform(4 * 256), 4, 256);
        WeightMatrix q4 = matrix(GgmlType.Q4_0, uniform(4 * 256), 4, 256);
        WeightMatrix q4k = randomQ4_K(4, 256);
        WeightMatrix f16 = matrix(GgmlType.F16, uniform(4 * 256), 4, 256);
        WeightMatrix narrow = matrix(GgmlType.F32, uniform(4 * 172), 4, 172);
        WeightMatrix odd = matrix(GgmlType.F32, uniform(4 * 96), 4, 96);
        assertTrue(QuantPacking.plan(Quantization.NONE, List.of(q8)).dense());
        assertTrue(QuantPacking.plan(Quantization.AUTO, List.of(f16)).dense());
        assertTrue(QuantPacking.plan(Quantization.AUTO, List.of(q8, f16)).dense(), "a stack of mixed types stays dense under auto");
        assertEquals(new QuantPacking.Plan(QuantFormat.INT4, 32, true), QuantPacking.plan(Quantization.AUTO, List.of(q4, q4k)));
        assertEquals(new QuantPacking.Plan(QuantFormat.INT8, 256, false), QuantPacking.plan(Quantization.INT8, List.of(q8, f16)));
        assertEquals(new QuantPacking.Plan(QuantFormat.INT8, 32, true), QuantPacking.plan(Quantization.INT8, List.of(q8, q8)));
        assertEquals(new QuantPacking.Plan(QuantFormat.INT4, 32, true), QuantPacking.plan(Quantization.INT4, List.of(q4k)));
        assertEquals(new QuantPacking.Plan(QuantFormat.INT4, 128, false), QuantPacking.plan(Quantization.INT4, List.of(q8)));
        assertEquals(new QuantPacking.Plan(QuantFormat.INT4, 32, false), QuantPacking.plan(Quantization.INT4, List.of(odd)));
        assertTrue(QuantPacking.plan(Quantization.INT8, List.of(narrow)).dense(), "172 columns: no whole 32-column blocks");
    }

    @Test
    void deviceMatrixBytesAndGroupShifts() {
        DeviceMatrix.Quantized q8 = new DeviceMatrix.Quantized(QuantFormat.INT8, null, null, 4096, 14336, 32);
        assertEquals(4096L * 14336 + 4096L * 448 * 2, q8.bytes());
        assertEquals(1, q8.groupShift());
        assertEquals(31, new DeviceMatrix.Quantized(QuantFormat.INT8, null, null, 10, 14336, 14336).groupShift());
        DeviceMatrix.Quantized q4 = new DeviceMatrix.Quantized(QuantFormat.INT4, null, null, 4096, 4096, 128);
        assertEquals(4096L * 2048 + 4096L * 32 * 4, q4.bytes());
        assertEquals(2, q4.groupShift());
        assertEquals(0, new DeviceMatrix.Quantized(QuantFormat.INT4, null, null, 1, 64, 32).groupShift());
        assertThrows(IllegalArgumentException.class, () -> new DeviceMatrix.Quantized(QuantFormat.INT4, null, null, 1, 384, 96));
        assertEquals(4096L * 4096 * 2, new DeviceMatrix.Dense(null, 4096, 4096, GpuDtype.BF16).bytes());
    }

    @Test
    void quantizationOptionValues() {
        assertEquals(Quantization.INT4, Quantization.parse("INT4"));
        assertEquals(Quantization.NONE, Quantization.parse("none"));
        assertEquals(Quantization.AUTO, GpuOptions.defaults().quantization().equals("auto") ? Quantization.AUTO : null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GpuOptions.defaults().withQuantization("fp8"));
        assertTrue(e.getMessage().contains("'fp8'") && e.getMessage().contains("int4"), e.getMessage());
    }
}
