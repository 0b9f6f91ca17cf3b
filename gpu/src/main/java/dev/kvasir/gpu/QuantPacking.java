package dev.kvasir.gpu;

import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.tensor.WeightMatrix;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The host side of the quantized device formats (pure Java, no device): which layout a matrix (or a
 * stack of matrices sharing one allocation) takes on the device, and its rows packed byte for byte
 * as quant.cuh reads them.
 * <ul>
 *   <li>GGUF Q8_0 → INT8, G = 32: the int8 values and the fp16 d copied (exact).</li>
 *   <li>GGUF Q4_0 → INT4, G = 32: the nibbles copied (Q4_0 already uses the device's nibble order),
 *       s = d, b = −8d (exact: ×8 is exact in fp16, and fma(d, q, −8d) = (q − 8)·d exactly in fp32).</li>
 *   <li>GGUF Q4_K → INT4, G = 32: per sub-block s = d·sc and b = −dmin·m, each computed in fp32 (as
 *       the CPU does) and then rounded to fp16: up to 2^-11 relative error in s and b, about
 *       7e-4 of a group's largest weight at worst (QuantPackingTest measures it).</li>
 *   <li>Quantized on load from any other type (dequantized to float first): INT8 per output channel
 *       (G = cols, symmetric: s = fp16(max|w| / 127), q = clamp(rint(w / s), ±127)), or INT4
 *       group-wise (G = 128, asymmetric: s = fp16((max − min) / 15), b = fp16(min),
 *       q = clamp(rint((w − b) / s), 0, 15)). The fp16 rounding comes first, so q is chosen for the
 *       scale the device really uses.</li>
 * </ul>
 */
public final class QuantPacking {
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    /** Group of INT4 quantized on load; smaller power-of-two multiples of 32 when cols is not a multiple. */
    static final int INT4_GROUP = 128;

    private QuantPacking() {
    }

    /**
     * The device layout of a (stacked) matrix: dense in the device's 16-bit type ({@code format}
     * null), or {@code format} with groups of {@code groupSize} columns, each part's rows repacked
     * from its GGUF blocks ({@code repack}) or quantized from floats.
     */
    public record Plan(QuantFormat format, int groupSize, boolean repack) {
        static final Plan DENSE = new Plan(null, 0, false);

        public boolean dense() {
            return format == null;
        }
    }

    /** The layout of parts stacked into one device matrix (all with the same column count). */
    public static Plan plan(Quantization q, List<WeightMatrix> parts) {
        int cols = parts.getFirst().cols();
        if (q == Quantization.NONE || cols % 32 != 0) return Plan.DENSE;
        boolean allQ8 = parts.stream().allMatch(m -> m.type() == GgmlType.Q8_0);
        boolean allQ4 = parts.stream().allMatch(m -> m.type() == GgmlType.Q4_0 || m.type() == GgmlType.Q4_K);
        return switch (q) {
            case AUTO -> allQ8 ? new Plan(QuantFormat.INT8, 32, true) : allQ4 ? new Plan(QuantFormat.INT4, 32, true) : Plan.DENSE;
            case INT8 -> allQ8 ? new Plan(QuantFormat.INT8, 32, true) : new Plan(QuantFormat.INT8, cols, false);
            case INT4 -> {
                if (allQ4) yield new Plan(QuantFormat.INT4, 32, true);
                int g = INT4_GROUP;
                while (cols % g != 0) g /= 2;
                yield new Plan(QuantFormat.INT4, g, false);
            }
            case NONE -> Plan.DENSE;
        };
    }

    /** Bytes of one row's group parameters. */
    public static long scaleRowBytes(Plan p, int cols) {
        return (long) (cols / p.groupSize()) * p.format().groupBytes;
    }

    /**
     * Row {@code row} of {@code m} in the plan's format: its values to {@code data} at
     * {@code dataOffset} ({@link QuantFormat#rowBytes} bytes) and its group parameters to
     * {@code scales} at {@code scaleOffset} ({@link #scaleRowBytes} bytes). {@code floats} is a
     * scratch row of at least cols floats.
     */
    public static void packRow(Plan p, WeightMatrix m, int row, float[] floats, MemorySegment data, long dataOffset,
                               MemorySegment scales, long scaleOffset) {
        if (p.repack()) {
            switch (m.type()) {
                case Q8_0 -> repackQ8_0(m, row, data, dataOffset, scales, scaleOffset);
                case Q4_0 -> repackQ4_0(m, row, data, dataOffset, scales, scaleOffset);
                case Q4_K -> repackQ4_K(m, row, data, dataOffset, scales, scaleOffset);
                default -> throw new IllegalArgumentException("no repacking of " + m.type() + " into " + p.format());
            }
            return;
        }
        m.dequantizeRow(row, floats, 0);
        switch (p.format()) {
            case INT8 -> quantizeInt8(floats, m.cols(), p.groupSize(), data, dataOffset, scales, scaleOffset);
            case INT4 -> quantizeInt4(floats, m.cols(), p.groupSize(), data, dataOffset, scales, scaleOffset);
        }
    }

    /** Q8_0 blocks {f16 d; i8 qs[32]}: qs and d as they are. */
    private static void repackQ8_0(WeightMatrix m, int row, MemorySegment data, long dOff, MemorySegment scales, long sOff) {
        MemorySegment src = m.data();
        int blocks = m.cols() / 32;
        long o = (long) row * blocks * 34;
        for (int b = 0; b < blocks; b++, o += 34) {
            scales.set(HALF, sOff + 2L * b, src.get(HALF, o));
            MemorySegment.copy(src, o + 2, data, dOff + 32L * b, 32);
        }
    }

    /** Q4_0 blocks {f16 d; u8 qs[16]} (low nibbles columns 0..15, high 16..31): qs as they are, (d, −8d). */
    private static void repackQ4_0(WeightMatrix m, int row, MemorySegment data, long dOff, MemorySegment scales, long sOff) {
        MemorySegment src = m.data();
        int blocks = m.cols() / 32;
        long o = (long) row * blocks * 18;
        for (int b = 0; b < blocks; b++, o += 18) {
            short d = src.get(HALF, o);
            scales.set(HALF, sOff + 4L * b, d);
            scales.set(HALF, sOff + 4L * b + 2, Float.floatToFloat16(-8f * Float.float16ToFloat(d)));
            MemorySegment.copy(src, o + 2, data, dOff + 16L * b, 16);
        }
    }

    /**
     * Q4_K super-blocks {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]} of eight 32-column sub-blocks:
     * sub-block j's quants are the low (j even) or high (j odd) nibbles of qs[32·(j/2) ..][32];
     * re-nibbled into the device order, with (fp16(d·sc_j), fp16(−dmin·m_j)).
     */
    private static void repackQ4_K(WeightMatrix m, int row, MemorySegment data, long dOff, MemorySegment scales, long sOff) {
        MemorySegment src = m.data();
        int supers = m.cols() / 256;
        long o = (long) row * supers * 144;
        for (int sb = 0; sb < supers; sb++, o += 144) {
            float d = Float.float16ToFloat(src.get(HALF, o));
            float dmin = Float.float16ToFloat(src.get(HALF, o + 2));
            for (int j = 0; j < 8; j++) {
                int block = sb * 8 + j;
                scales.set(HALF, sOff + 4L * block, Float.floatToFloat16(d * scaleK4(src, o + 4, j)));
                scales.set(HALF, sOff + 4L * block + 2, Float.floatToFloat16(-(dmin * minK4(src, o + 4, j))));
                long qs = o + 16 + 32L * (j >> 1);
                int shift = 4 * (j & 1);
                for (int i = 0; i < 16; i++) {
                    int lo = (u8(src, qs + i) >> shift) & 0xF;
                    int hi = (u8(src, qs + 16 + i) >> shift) & 0xF;
                    data.set(ValueLayout.JAVA_BYTE, dOff + 16L * block + i, (byte) (lo | hi << 4));
                }
            }
        }
    }

    /** ggml's get_scale_min_k4: the 6-bit scale of sub-block j from the 12 packed bytes at q. */
    private static int scaleK4(MemorySegment s, long q, int j) {
        if (j < 4) return u8(s, q + j) & 63;
        return (u8(s, q + j + 4) & 0xF) | ((u8(s, q + j - 4) >> 6) << 4);
    }

    /** ggml's get_scale_min_k4: the 6-bit min of sub-block j. */
    private static int minK4(MemorySegment s, long q, int j) {
        if (j < 4) return u8(s, q + j + 4) & 63;
        return (u8(s, q + j + 4) >> 4) | ((u8(s, q + j) >> 6) << 4);
    }

    private static int u8(MemorySegment s, long o) {
        return s.get(ValueLayout.JAVA_BYTE, o) & 0xFF;
    }

    /** Symmetric int8 per group: s = fp16(max|w| / 127), q = clamp(rint(w / s), −127, 127). */
    static void quantizeInt8(float[] w, int cols, int g, MemorySegment data, long dOff, MemorySegment scales, long sOff) {
        for (int g0 = 0; g0 < cols; g0 += g) {
            float amax = 0;
            for (int i = g0; i < g0 + g; i++) amax = Math.max(amax, Math.abs(w[i]));
            short s16 = Float.floatToFloat16(amax / 127f);
            float s = Float.float16ToFloat(s16);
            scales.set(HALF, sOff + 2L * (g0 / g), s16);
            for (int i = g0; i < g0 + g; i++) {
                int q = s > 0 ? (int) Math.max(-127, Math.min(127, Math.rint(w[i] / s))) : 0;
                data.set(ValueLayout.JAVA_BYTE, dOff + i, (byte) q);
            }
        }
    }

    /** Asymmetric 4-bit per group: s = fp16((max − min) / 15), b = fp16(min), q = clamp(rint((w − b) / s), 0, 15). */
    static void quantizeInt4(float[] w, int cols, int g, MemorySegment data, long dOff, MemorySegment scales, long sOff) {
        int[] q = new int[32];
        for (int g0 = 0; g0 < cols; g0 += g) {
            float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
            for (int i = g0; i < g0 + g; i++) {
                min = Math.min(min, w[i]);
                max = Math.max(max, w[i]);
            }
            short s16 = Float.floatToFloat16((max - min) / 15f);
            short b16 = Float.floatToFloat16(min);
            float s = Float.float16ToFloat(s16), b = Float.float16ToFloat(b16);
            scales.set(HALF, sOff + 4L * (g0 / g), s16);
            scales.set(HALF, sOff + 4L * (g0 / g) + 2, b16);
            for (int c0 = g0; c0 < g0 + g; c0 += 32) {
                for (int i = 0; i < 32; i++) q[i] = s > 0 ? (int) Math.max(0, Math.min(15, Math.rint((w[c0 + i] - b) / s))) : 0;
                for (int i = 0; i < 16; i++) data.set(ValueLayout.JAVA_BYTE, dOff + c0 / 2 + i, (byte) (q[i] | q[i + 16] << 4));
            }
        }
    }

    /**
     * One packed row back to floats as the device's dequantization computes it (s·q, or
     * fma(s, q, b) in fp32): the reference for the checks.
     */
    public static void unpackRow(QuantFormat f, int cols, int groupSize, MemorySegment data, long dOff, MemorySegment scales, long sOff,
                                 float[] dst) {
        for (int c = 0; c < cols; c++) {
            int g = c / groupSize;
            switch (f) {
                case INT8 -> dst[c] = Float.float16ToFloat(scales.get(HALF, sOff + 2L * g)) * data.get(ValueLayout.JAVA_BYTE, dOff + c);
                case INT4 -> {
                    int block = c / 32, i = c % 32;
                    int b = u8(data, dOff + 16L * block + (i & 15));
                    int q = i < 16 ? b & 0xF : b >> 4;
                    float s = Float.float16ToFloat(scales.get(HALF, sOff + 4L * g));
                    float bias = Float.float16ToFloat(scales.get(HALF, sOff + 4L * g + 2));
                    dst[c] = Math.fma(s, (float) q, bias);
                }
            }
        }
    }
}
