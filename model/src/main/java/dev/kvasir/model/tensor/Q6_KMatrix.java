package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.kvasir.model.tensor.Blocks.F8;
import static dev.kvasir.model.tensor.Blocks.bytesAsInts;
import static dev.kvasir.model.tensor.Blocks.f16;
import static dev.kvasir.model.tensor.Blocks.toFloats;

/**
 * ggml Q6_K: super-blocks of 256 weights {@code {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}}, sixteen
 * sub-blocks of 16 with signed 8-bit scales; weight = d·scale·(q − 32). Each half of 128 weights
 * uses 64 bytes of ql and 32 of qh: for l in 0..31, ql[l] low/high nibble and ql[l+32] low/high
 * nibble give weights l, l+64, l+32, l+96, whose top two bits are qh[l] bits 0-1, 4-5, 2-3, 6-7.
 */
final class Q6_KMatrix extends BlockMatrix {
    private static final int BLOCK = 256;
    private static final int BLOCK_BYTES = 210;
    private static final int QH = 128;
    private static final int SCALES = 192;
    private static final int D = 208;

    Q6_KMatrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q6_K, data, rows, cols);
    }

    /** q − 32 from four low bits and the two high bits at {@code shift} of qh. */
    private static FloatVector quant(IntVector fourBits, IntVector qh, int shift) {
        return toFloats(fourBits.or(qh.lanewise(VectorOperators.ASHR, shift).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32));
    }

    private static IntVector low(IntVector q) {
        return q.and(0xF);
    }

    private static IntVector high(IntVector q) {
        return q.lanewise(VectorOperators.ASHR, 4).and(0xF);
    }

    /** d times the signed scale {@code k} of the super-block at {@code o}. */
    private float scale(long o, float d, int k) {
        return d * data.get(ValueLayout.JAVA_BYTE, o + SCALES + k);
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long o = row * rowBytes;
        FloatVector acc = FloatVector.zero(F8);
        for (int i = xOffset, end = xOffset + cols; i < end; i += BLOCK, o += BLOCK_BYTES) {
            float d = f16(data, o + D);
            for (int h = 0; h < 2; h++) {
                long ql = o + 64 * h, qhOff = o + QH + 32 * h;
                int e = i + 128 * h;
                // Two sub-blocks of 16 per quarter: l in 0..15 and 16..31.
                for (int s = 0; s < 2; s++) {
                    FloatVector s1 = FloatVector.zero(F8), s2 = s1, s3 = s1, s4 = s1;
                    for (int g = 16 * s; g < 16 * s + 16; g += 8) {
                        IntVector a = bytesAsInts(data, ql + g);
                        IntVector b = bytesAsInts(data, ql + 32 + g);
                        IntVector qh = bytesAsInts(data, qhOff + g);
                        s1 = quant(low(a), qh, 0).fma(FloatVector.fromArray(F8, x, e + g), s1);
                        s2 = quant(low(b), qh, 2).fma(FloatVector.fromArray(F8, x, e + 32 + g), s2);
                        s3 = quant(high(a), qh, 4).fma(FloatVector.fromArray(F8, x, e + 64 + g), s3);
                        s4 = quant(high(b), qh, 6).fma(FloatVector.fromArray(F8, x, e + 96 + g), s4);
                    }
                    int k = 8 * h + s;
                    acc = s1.fma(FloatVector.broadcast(F8, scale(o, d, k)), acc);
                    acc = s2.fma(FloatVector.broadcast(F8, scale(o, d, k + 2)), acc);
                    acc = s3.fma(FloatVector.broadcast(F8, scale(o, d, k + 4)), acc);
                    acc = s4.fma(FloatVector.broadcast(F8, scale(o, d, k + 6)), acc);
                }
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Override
    void dot4(int row, float[] x, int b, int n, float[] out, int outStride) {
        int x0 = xOffset(b, n, 0), x1 = xOffset(b, n, 1), x2 = xOffset(b, n, 2), x3 = xOffset(b, n, 3);
        long o = row * rowBytes;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < cols; i += BLOCK, o += BLOCK_BYTES) {
            float d = f16(data, o + D);
            for (int h = 0; h < 2; h++) {
                long ql = o + 64 * h, qhOff = o + QH + 32 * h;
                for (int g = 0; g < 32; g += 8) {
                    int k = 8 * h + g / 16;
                    IntVector a = bytesAsInts(data, ql + g);
                    IntVector bq = bytesAsInts(data, ql + 32 + g);
                    IntVector qh = bytesAsInts(data, qhOff + g);
                    for (int quarter = 0; quarter < 4; quarter++) {
                        IntVector four = switch (quarter) {
                            case 0 -> low(a);
                            case 1 -> low(bq);
                            case 2 -> high(a);
                            default -> high(bq);
                        };
                        FloatVector w = quant(four, qh, 2 * quarter).mul(scale(o, d, k + 2 * quarter));
                        int e = i + 128 * h + 32 * quarter + g;
                        a0 = w.fma(FloatVector.fromArray(F8, x, x0 + e), a0);
                        a1 = w.fma(FloatVector.fromArray(F8, x, x1 + e), a1);
                        a2 = w.fma(FloatVector.fromArray(F8, x, x2 + e), a2);
                        a3 = w.fma(FloatVector.fromArray(F8, x, x3 + e), a3);
                    }
                }
            }
        }
        Blocks.store(out, outStride, row, b, n, a0, a1, a2, a3);
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        long o = row * rowBytes;
        for (int i = dstOffset, end = dstOffset + cols; i < end; i += BLOCK, o += BLOCK_BYTES) {
            float d = f16(data, o + D);
            for (int h = 0; h < 2; h++) {
                long ql = o + 64 * h, qhOff = o + QH + 32 * h;
                int e = i + 128 * h;
                for (int g = 0; g < 32; g += 8) {
                    int k = 8 * h + g / 16;
                    IntVector a = bytesAsInts(data, ql + g);
                    IntVector b = bytesAsInts(data, ql + 32 + g);
                    IntVector qh = bytesAsInts(data, qhOff + g);
                    // (d * scale) * q, in ggml's order of rounding.
                    quant(low(a), qh, 0).mul(scale(o, d, k)).intoArray(dst, e + g);
                    quant(low(b), qh, 2).mul(scale(o, d, k + 2)).intoArray(dst, e + 32 + g);
                    quant(high(a), qh, 4).mul(scale(o, d, k + 4)).intoArray(dst, e + 64 + g);
                    quant(high(b), qh, 6).mul(scale(o, d, k + 6)).intoArray(dst, e + 96 + g);
                }
            }
        }
    }
}
