package dev.kvasir.model.tensor;

import dev.kvasir.model.ModelFormatException;
import dev.kvasir.model.gguf.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.kvasir.model.tensor.Blocks.FLOAT_LE;
import static dev.kvasir.model.tensor.Blocks.INT_LE;
import static dev.kvasir.model.tensor.Blocks.SHORT_LE;

/**
 * Scalar dequantization of whole tensors, one plain loop per type following ggml's
 * {@code dequantize_row_*} line by line (same formulas, same order of float operations). It is the
 * oracle the vector kernels are tested against and serves small tensors such as norm weights.
 */
public final class GgmlDequantizer {
    private GgmlDequantizer() {
    }

    /** The first {@code elements} values of {@code src}, which holds them in {@code type}. */
    public static float[] dequantize(GgmlType type, MemorySegment src, long elements) {
        if (elements > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(elements + " elements do not fit a float[]");
        long bytes = type.bytesFor(elements);
        if (src.byteSize() < bytes) {
            throw new IllegalArgumentException(type + " x " + elements + " needs " + bytes + " bytes, got " + src.byteSize());
        }
        float[] y = new float[(int) elements];
        int n = (int) elements;
        switch (type) {
            case F32 -> MemorySegment.copy(src, FLOAT_LE, 0, y, 0, n);
            case F16 -> {
                for (int i = 0; i < n; i++) y[i] = f16(src, 2L * i);
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) y[i] = Float.intBitsToFloat((src.get(SHORT_LE, 2L * i) & 0xFFFF) << 16);
            }
            case Q4_0 -> q4_0(src, y, n);
            case Q4_1 -> q4_1(src, y, n);
            case Q5_0 -> q5_0(src, y, n);
            case Q5_1 -> q5_1(src, y, n);
            case Q8_0 -> q8_0(src, y, n);
            case Q4_K -> q4_K(src, y, n);
            case Q5_K -> q5_K(src, y, n);
            case Q6_K -> q6_K(src, y, n);
            default -> throw new ModelFormatException("cannot dequantize tensor type " + type);
        }
        return y;
    }

    private static float f16(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(SHORT_LE, off));
    }

    private static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    private static int i8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off);
    }

    private static void q4_0(MemorySegment s, float[] y, int k) {
        for (int i = 0; i < k / 32; i++) {
            long b = 18L * i;
            float d = f16(s, b);
            for (int j = 0; j < 16; j++) {
                int q = u8(s, b + 2 + j);
                y[32 * i + j] = ((q & 0x0F) - 8) * d;
                y[32 * i + j + 16] = ((q >> 4) - 8) * d;
            }
        }
    }

    private static void q4_1(MemorySegment s, float[] y, int k) {
        for (int i = 0; i < k / 32; i++) {
            long b = 20L * i;
            float d = f16(s, b), m = f16(s, b + 2);
            for (int j = 0; j < 16; j++) {
                int q = u8(s, b + 4 + j);
                y[32 * i + j] = (q & 0x0F) * d + m;
                y[32 * i + j + 16] = (q >> 4) * d + m;
            }
        }
    }

    private static void q5_0(MemorySegment s, float[] y, int k) {
        for (int i = 0; i < k / 32; i++) {
            long b = 22L * i;
            float d = f16(s, b);
            int qh = s.get(INT_LE, b + 2);
            for (int j = 0; j < 16; j++) {
                int xh0 = ((qh >>> j) << 4) & 0x10;
                int xh1 = (qh >>> (j + 12)) & 0x10;
                int q = u8(s, b + 6 + j);
                y[32 * i + j] = (((q & 0x0F) | xh0) - 16) * d;
                y[32 * i + j + 16] = (((q >> 4) | xh1) - 16) * d;
            }
        }
    }

    private static void q5_1(MemorySegment s, float[] y, int k) {
        for (int i = 0; i < k / 32; i++) {
            long b = 24L * i;
            float d = f16(s, b), m = f16(s, b + 2);
            int qh = s.get(INT_LE, b + 4);
            for (int j = 0; j < 16; j++) {
                int xh0 = ((qh >>> j) << 4) & 0x10;
                int xh1 = (qh >>> (j + 12)) & 0x10;
                int q = u8(s, b + 8 + j);
                y[32 * i + j] = ((q & 0x0F) | xh0) * d + m;
                y[32 * i + j + 16] = ((q >> 4) | xh1) * d + m;
            }
        }
    }

    private static void q8_0(MemorySegment s, float[] y, int k) {
        for (int i = 0; i < k / 32; i++) {
            long b = 34L * i;
            float d = f16(s, b);
            for (int j = 0; j < 32; j++) y[32 * i + j] = i8(s, b + 2 + j) * d;
        }
    }

    /** ggml's get_scale_min_k4: {scale, min} of sub-block j from the 12 bytes at {@code q}. */
    private static int[] scaleMinK4(MemorySegment s, long q, int j) {
        if (j < 4) return new int[] {u8(s, q + j) & 63, u8(s, q + j + 4) & 63};
        return new int[] {
                (u8(s, q + j + 4) & 0xF) | ((u8(s, q + j - 4) >> 6) << 4),
                (u8(s, q + j + 4) >> 4) | ((u8(s, q + j) >> 6) << 4)};
    }

    private static void q4_K(MemorySegment s, float[] y, int k) {
        int out = 0;
        for (int i = 0; i < k / 256; i++) {
            long b = 144L * i;
            float d = f16(s, b), min = f16(s, b + 2);
            long q = b + 16;
            int is = 0;
            for (int j = 0; j < 256; j += 64) {
                int[] sm = scaleMinK4(s, b + 4, is);
                float d1 = d * sm[0], m1 = min * sm[1];
                sm = scaleMinK4(s, b + 4, is + 1);
                float d2 = d * sm[0], m2 = min * sm[1];
                for (int l = 0; l < 32; l++) y[out++] = d1 * (u8(s, q + l) & 0xF) - m1;
                for (int l = 0; l < 32; l++) y[out++] = d2 * (u8(s, q + l) >> 4) - m2;
                q += 32;
                is += 2;
            }
        }
    }

    private static void q5_K(MemorySegment s, float[] y, int k) {
        int out = 0;
        for (int i = 0; i < k / 256; i++) {
            long b = 176L * i;
            float d = f16(s, b), min = f16(s, b + 2);
            long qh = b + 16, ql = b + 48;
            int is = 0;
            int u1 = 1, u2 = 2;
            for (int j = 0; j < 256; j += 64) {
                int[] sm = scaleMinK4(s, b + 4, is);
                float d1 = d * sm[0], m1 = min * sm[1];
                sm = scaleMinK4(s, b + 4, is + 1);
                float d2 = d * sm[0], m2 = min * sm[1];
                for (int l = 0; l < 32; l++) y[out++] = d1 * ((u8(s, ql + l) & 0xF) + ((u8(s, qh + l) & u1) != 0 ? 16 : 0)) - m1;
                for (int l = 0; l < 32; l++) y[out++] = d2 * ((u8(s, ql + l) >> 4) + ((u8(s, qh + l) & u2) != 0 ? 16 : 0)) - m2;
                ql += 32;
                is += 2;
                u1 <<= 2;
                u2 <<= 2;
            }
        }
    }

    private static void q6_K(MemorySegment s, float[] y, int k) {
        for (int i = 0; i < k / 256; i++) {
            long b = 210L * i;
            float d = f16(s, b + 208);
            long ql = b, qh = b + 128, sc = b + 192;
            int out = 256 * i;
            for (int n = 0; n < 256; n += 128) {
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int q1 = ((u8(s, ql + l) & 0xF) | (((u8(s, qh + l) >> 0) & 3) << 4)) - 32;
                    int q2 = ((u8(s, ql + l + 32) & 0xF) | (((u8(s, qh + l) >> 2) & 3) << 4)) - 32;
                    int q3 = ((u8(s, ql + l) >> 4) | (((u8(s, qh + l) >> 4) & 3) << 4)) - 32;
                    int q4 = ((u8(s, ql + l + 32) >> 4) | (((u8(s, qh + l) >> 6) & 3) << 4)) - 32;
                    y[out + l] = d * i8(s, sc + is) * q1;
                    y[out + l + 32] = d * i8(s, sc + is + 2) * q2;
                    y[out + l + 64] = d * i8(s, sc + is + 4) * q3;
                    y[out + l + 96] = d * i8(s, sc + is + 6) * q4;
                }
                out += 128;
                ql += 64;
                qh += 32;
                sc += 8;
            }
        }
    }
}
