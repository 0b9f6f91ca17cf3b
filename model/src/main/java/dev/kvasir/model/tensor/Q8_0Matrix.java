package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.kvasir.model.tensor.Blocks.F8;
import static dev.kvasir.model.tensor.Blocks.I8;
import static dev.kvasir.model.tensor.Blocks.toFloats;
import static dev.kvasir.model.tensor.Blocks.S16;
import static dev.kvasir.model.tensor.Blocks.pairSums;
import static dev.kvasir.model.tensor.Blocks.LE;
import static dev.kvasir.model.tensor.Blocks.bytesAsFloats;
import static dev.kvasir.model.tensor.Blocks.f16;

/**
 * ggml Q8_0: blocks of 32 weights {@code {f16 d; i8 qs[32]}}, weight = qs[i] * d. The dot product
 * sums q·x per block and scales once, since d is shared by the whole block.
 */
final class Q8_0Matrix extends Q8BlockMatrix {
    private static final int BLOCK = 32;
    private static final int BLOCK_BYTES = 34;
    private static final int QS = 2;

    Q8_0Matrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q8_0, data, rows, cols);
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long o = row * rowBytes;
        FloatVector acc = FloatVector.zero(F8);
        for (int i = xOffset, end = xOffset + cols; i < end; i += BLOCK, o += BLOCK_BYTES) {
            FloatVector s = bytesAsFloats(data, o + QS).mul(FloatVector.fromArray(F8, x, i));
            s = bytesAsFloats(data, o + QS + 8).fma(FloatVector.fromArray(F8, x, i + 8), s);
            s = bytesAsFloats(data, o + QS + 16).fma(FloatVector.fromArray(F8, x, i + 16), s);
            s = bytesAsFloats(data, o + QS + 24).fma(FloatVector.fromArray(F8, x, i + 24), s);
            acc = s.fma(FloatVector.broadcast(F8, f16(data, o)), acc);
        }
        return GgmlSums.hsum8(acc);
    }

    @Override
    void dot4(int row, float[] x, int b, int n, float[] out, int outStride) {
        int x0 = xOffset(b, n, 0), x1 = xOffset(b, n, 1), x2 = xOffset(b, n, 2), x3 = xOffset(b, n, 3);
        long o = row * rowBytes;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < cols; i += BLOCK, o += BLOCK_BYTES) {
            float d = f16(data, o);
            for (int g = 0; g < BLOCK; g += 8) {
                FloatVector w = bytesAsFloats(data, o + QS + g).mul(d);
                a0 = w.fma(FloatVector.fromArray(F8, x, x0 + i + g), a0);
                a1 = w.fma(FloatVector.fromArray(F8, x, x1 + i + g), a1);
                a2 = w.fma(FloatVector.fromArray(F8, x, x2 + i + g), a2);
                a3 = w.fma(FloatVector.fromArray(F8, x, x3 + i + g), a3);
            }
        }
        Blocks.store(out, outStride, row, b, n, a0, a1, a2, a3);
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        long o = row * rowBytes;
        for (int i = 0; i < cols; i += BLOCK, o += BLOCK_BYTES) {
            float d = f16(data, o);
            for (int g = 0; g < BLOCK; g += 8) {
                bytesAsFloats(data, o + QS + g).mul(d).intoArray(dst, dstOffset + i + g);
            }
        }
    }

    /**
     * llama.cpp's {@code ggml_vec_dot_q8_0_q8_0}: per block, lane j of eight takes the integer sum
     * of the products of elements 4j..4j+3 (ggml's mul_sum_i8_pairs_float grouping), converted to
     * float and added into the accumulator scaled by both scales, block after block. The integer
     * sums are exact however they are formed, so they are formed in 16-bit lanes (see
     * {@link #blockSums}). Two blocks per iteration: their integer work is independent and
     * overlaps; the accumulator still takes them one after the other. (Four per iteration made
     * C2 spill the vectors to the heap.)
     */
    @Override
    float dotQ8(int row, Q8Activations a, int b) {
        short[] xs = a.pairs;
        float[] scales = a.scales;
        int blocks = cols / BLOCK;
        int xd = b * blocks;
        int i = b * cols;
        long o = row * rowBytes;
        MemorySegment data = this.data;
        FloatVector acc = FloatVector.zero(F8);
        for (int end = i + (blocks & ~1) * BLOCK; i < end; i += 2 * BLOCK, o += 2 * BLOCK_BYTES, xd += 2) {
            ShortVector q = ShortVector.fromMemorySegment(S16, data, o + QS, LE);
            ShortVector q2 = ShortVector.fromMemorySegment(S16, data, o + BLOCK_BYTES + QS, LE);
            ShortVector p = q.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(ShortVector.fromArray(S16, xs, i))
                    .add(q.lanewise(VectorOperators.ASHR, 8).mul(ShortVector.fromArray(S16, xs, i + 16)));
            ShortVector p2 = q2.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(ShortVector.fromArray(S16, xs, i + 32))
                    .add(q2.lanewise(VectorOperators.ASHR, 8).mul(ShortVector.fromArray(S16, xs, i + 48)));
            acc = pairSums(p).fma(FloatVector.broadcast(F8, f16(data, o) * scales[xd]), acc);
            acc = pairSums(p2).fma(FloatVector.broadcast(F8, f16(data, o + BLOCK_BYTES) * scales[xd + 1]), acc);
        }
        if ((blocks & 1) != 0) {
            ShortVector q = ShortVector.fromMemorySegment(S16, data, o + QS, LE);
            ShortVector p = q.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(ShortVector.fromArray(S16, xs, i))
                    .add(q.lanewise(VectorOperators.ASHR, 8).mul(ShortVector.fromArray(S16, xs, i + 16)));
            acc = pairSums(p).fma(FloatVector.broadcast(F8, f16(data, o) * scales[xd]), acc);
        }
        return GgmlSums.hsum8(acc);
    }

    /**
     * The eight lane sums of one block against the activations at {@code xs[i ..]} (see
     * {@link Q8Activations#pairs}): the 32 weight bytes read as 16 shorts, even and odd bytes split
     * off by shifts and multiplied by the even and odd activations (each product, and the sum of
     * two, fits 16 bits), then adjacent shorts added into 32-bit lanes: lane j = elements 4j..4j+3.
     */
    private static FloatVector blockSums(ShortVector q, short[] xs, int i) {
        ShortVector even = q.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8);
        ShortVector odd = q.lanewise(VectorOperators.ASHR, 8);
        return pairSums(even.mul(ShortVector.fromArray(S16, xs, i)).add(odd.mul(ShortVector.fromArray(S16, xs, i + 16))));
    }

    @Override
    public ActivationFormat activationFormat() {
        return ActivationFormat.Q8_0;
    }

    /**
     * Eight activations (a tile, see {@link Q8Activations#tiles}) against one row: each block's
     * weights are widened to float once and used eight times. Lane j of group t holds element 4j+t
     * (ggml's grouping), so each lane's sum of four products is exactly the integer {@link #dotQ8}
     * forms (products and sums of small integers are exact in float, in any order), and the scale
     * step is the same fused multiply-add: the results are identical. The tile layout puts all
     * eight activations' loads at constant offsets from one index, which keeps C2's loop body to
     * the vector work (about 85 instructions per block, 48 of them multiplies). The accumulators
     * leave through {@code sums} (see {@link GgmlSums#hsum8(float[], int)}: C2 boxed them for the
     * vector reduction, which it does not inline into a method this large).
     */
    @Override
    void tile8(int row, Q8Activations a, int b, float[] out, int outStride, float[] sums) {
        float[] xt = a.tiles;
        float[] st = a.tileScales;
        int blocks = cols / BLOCK;
        int x = b * cols;
        int sc = b * blocks;
        long o = row * rowBytes;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector s;
        for (int k = 0; k < blocks; k++, o += BLOCK_BYTES, x += 256, sc += 8) {
            IntVector q = IntVector.fromMemorySegment(I8, data, o + QS, LE);
            FloatVector w0 = signedByte(q, 0), w1 = signedByte(q, 1), w2 = signedByte(q, 2), w3 = signedByte(q, 3);
            FloatVector d = FloatVector.broadcast(F8, f16(data, o));
            s = w3.fma(FloatVector.fromArray(F8, xt, x + 24), w2.fma(FloatVector.fromArray(F8, xt, x + 16),
                    w1.fma(FloatVector.fromArray(F8, xt, x + 8), w0.mul(FloatVector.fromArray(F8, xt, x)))));
            a0 = s.fma(d.mul(st[sc]), a0);
            s = w3.fma(FloatVector.fromArray(F8, xt, x + 56), w2.fma(FloatVector.fromArray(F8, xt, x + 48),
                    w1.fma(FloatVector.fromArray(F8, xt, x + 40), w0.mul(FloatVector.fromArray(F8, xt, x + 32)))));
            a1 = s.fma(d.mul(st[sc + 1]), a1);
            s = w3.fma(FloatVector.fromArray(F8, xt, x + 88), w2.fma(FloatVector.fromArray(F8, xt, x + 80),
                    w1.fma(FloatVector.fromArray(F8, xt, x + 72), w0.mul(FloatVector.fromArray(F8, xt, x + 64)))));
            a2 = s.fma(d.mul(st[sc + 2]), a2);
            s = w3.fma(FloatVector.fromArray(F8, xt, x + 120), w2.fma(FloatVector.fromArray(F8, xt, x + 112),
                    w1.fma(FloatVector.fromArray(F8, xt, x + 104), w0.mul(FloatVector.fromArray(F8, xt, x + 96)))));
            a3 = s.fma(d.mul(st[sc + 3]), a3);
            s = w3.fma(FloatVector.fromArray(F8, xt, x + 152), w2.fma(FloatVector.fromArray(F8, xt, x + 144),
                    w1.fma(FloatVector.fromArray(F8, xt, x + 136), w0.mul(FloatVector.fromArray(F8, xt, x + 128)))));
            a4 = s.fma(d.mul(st[sc + 4]), a4);
            s = w3.fma(FloatVector.fromArray(F8, xt, x + 184), w2.fma(FloatVector.fromArray(F8, xt, x + 176),
                    w1.fma(FloatVector.fromArray(F8, xt, x + 168), w0.mul(FloatVector.fromArray(F8, xt, x + 160)))));
            a5 = s.fma(d.mul(st[sc + 5]), a5);
            s = w3.fma(FloatVector.fromArray(F8, xt, x + 216), w2.fma(FloatVector.fromArray(F8, xt, x + 208),
                    w1.fma(FloatVector.fromArray(F8, xt, x + 200), w0.mul(FloatVector.fromArray(F8, xt, x + 192)))));
            a6 = s.fma(d.mul(st[sc + 6]), a6);
            s = w3.fma(FloatVector.fromArray(F8, xt, x + 248), w2.fma(FloatVector.fromArray(F8, xt, x + 240),
                    w1.fma(FloatVector.fromArray(F8, xt, x + 232), w0.mul(FloatVector.fromArray(F8, xt, x + 224)))));
            a7 = s.fma(d.mul(st[sc + 7]), a7);
        }
        a0.intoArray(sums, 0);
        a1.intoArray(sums, 8);
        a2.intoArray(sums, 16);
        a3.intoArray(sums, 24);
        a4.intoArray(sums, 32);
        a5.intoArray(sums, 40);
        a6.intoArray(sums, 48);
        a7.intoArray(sums, 56);
        for (int t = 0; t < 8; t++) out[(b + t) * outStride + row] = GgmlSums.hsum8(sums, 8 * t);
    }

    @Override
    void tile4(int row, Q8Activations a, int b, float[] out, int outStride, float[] sums) {
        float[] xt = a.tiles;
        float[] st = a.tileScales;
        int blocks = cols / BLOCK;
        int x = b * cols;
        int sc = b * blocks;
        long o = row * rowBytes;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        FloatVector s;
        for (int k = 0; k < blocks; k++, o += BLOCK_BYTES, x += 128, sc += 4) {
            IntVector q = IntVector.fromMemorySegment(I8, data, o + QS, LE);
            FloatVector w0 = signedByte(q, 0), w1 = signedByte(q, 1), w2 = signedByte(q, 2), w3 = signedByte(q, 3);
            FloatVector d = FloatVector.broadcast(F8, f16(data, o));
            s = w3.fma(FloatVector.fromArray(F8, xt, x + 24), w2.fma(FloatVector.fromArray(F8, xt, x + 16),
                    w1.fma(FloatVector.fromArray(F8, xt, x + 8), w0.mul(FloatVector.fromArray(F8, xt, x)))));
            a0 = s.fma(d.mul(st[sc]), a0);
            s = w3.fma(FloatVector.fromArray(F8, xt, x + 56), w2.fma(FloatVector.fromArray(F8, xt, x + 48),
                    w1.fma(FloatVector.fromArray(F8, xt, x + 40), w0.mul(FloatVector.fromArray(F8, xt, x + 32)))));
            a1 = s.fma(d.mul(st[sc + 1]), a1);
            s = w3.fma(FloatVector.fromArray(F8, xt, x + 88), w2.fma(FloatVector.fromArray(F8, xt, x + 80),
                    w1.fma(FloatVector.fromArray(F8, xt, x + 72), w0.mul(FloatVector.fromArray(F8, xt, x + 64)))));
            a2 = s.fma(d.mul(st[sc + 2]), a2);
            s = w3.fma(FloatVector.fromArray(F8, xt, x + 120), w2.fma(FloatVector.fromArray(F8, xt, x + 112),
                    w1.fma(FloatVector.fromArray(F8, xt, x + 104), w0.mul(FloatVector.fromArray(F8, xt, x + 96)))));
            a3 = s.fma(d.mul(st[sc + 3]), a3);
        }
        a0.intoArray(sums, 0);
        a1.intoArray(sums, 8);
        a2.intoArray(sums, 16);
        a3.intoArray(sums, 24);
        for (int t = 0; t < 4; t++) out[(b + t) * outStride + row] = GgmlSums.hsum8(sums, 8 * t);
    }

    /** Byte {@code t} of every int lane, as a signed value, in float. */
    private static FloatVector signedByte(IntVector q, int t) {
        return toFloats(q.lanewise(VectorOperators.LSHL, 24 - 8 * t).lanewise(VectorOperators.ASHR, 24));
    }
}
