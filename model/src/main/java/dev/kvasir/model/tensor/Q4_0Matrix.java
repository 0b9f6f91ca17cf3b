package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.kvasir.model.tensor.Blocks.F8;
import static dev.kvasir.model.tensor.Blocks.I8;
import static dev.kvasir.model.tensor.Blocks.S16;
import static dev.kvasir.model.tensor.Blocks.LE;
import static dev.kvasir.model.tensor.Blocks.bytesAsInts;
import static dev.kvasir.model.tensor.Blocks.f16;
import static dev.kvasir.model.tensor.Blocks.toFloats;

/**
 * ggml Q4_0: blocks of 32 weights {@code {f16 d; u8 qs[16]}}. Low nibbles hold elements 0..15,
 * high nibbles 16..31; weight = (q - 8) * d.
 */
final class Q4_0Matrix extends Q8BlockMatrix {
    private static final int BLOCK = 32;
    private static final int BLOCK_BYTES = 18;
    private static final int QS = 2;

    Q4_0Matrix(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q4_0, data, rows, cols);
    }

    private static FloatVector low(IntVector q) {
        return toFloats(q.and(0xF).sub(8));
    }

    private static FloatVector high(IntVector q) {
        return toFloats(q.lanewise(VectorOperators.ASHR, 4).and(0xF).sub(8));
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long o = row * rowBytes;
        FloatVector acc = FloatVector.zero(F8);
        for (int i = xOffset, end = xOffset + cols; i < end; i += BLOCK, o += BLOCK_BYTES) {
            IntVector q0 = bytesAsInts(data, o + QS);
            IntVector q1 = bytesAsInts(data, o + QS + 8);
            FloatVector s = low(q0).mul(FloatVector.fromArray(F8, x, i));
            s = low(q1).fma(FloatVector.fromArray(F8, x, i + 8), s);
            s = high(q0).fma(FloatVector.fromArray(F8, x, i + 16), s);
            s = high(q1).fma(FloatVector.fromArray(F8, x, i + 24), s);
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
            for (int half = 0; half < 2; half++) {
                IntVector q = bytesAsInts(data, o + QS + 8 * half);
                int lo = i + 8 * half, hi = lo + 16;
                FloatVector w = low(q).mul(d);
                a0 = w.fma(FloatVector.fromArray(F8, x, x0 + lo), a0);
                a1 = w.fma(FloatVector.fromArray(F8, x, x1 + lo), a1);
                a2 = w.fma(FloatVector.fromArray(F8, x, x2 + lo), a2);
                a3 = w.fma(FloatVector.fromArray(F8, x, x3 + lo), a3);
                w = high(q).mul(d);
                a0 = w.fma(FloatVector.fromArray(F8, x, x0 + hi), a0);
                a1 = w.fma(FloatVector.fromArray(F8, x, x1 + hi), a1);
                a2 = w.fma(FloatVector.fromArray(F8, x, x2 + hi), a2);
                a3 = w.fma(FloatVector.fromArray(F8, x, x3 + hi), a3);
            }
        }
        Blocks.store(out, outStride, row, b, n, a0, a1, a2, a3);
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        long o = row * rowBytes;
        for (int i = dstOffset, end = dstOffset + cols; i < end; i += BLOCK, o += BLOCK_BYTES) {
            float d = f16(data, o);
            IntVector q0 = bytesAsInts(data, o + QS);
            IntVector q1 = bytesAsInts(data, o + QS + 8);
            low(q0).mul(d).intoArray(dst, i);
            low(q1).mul(d).intoArray(dst, i + 8);
            high(q0).mul(d).intoArray(dst, i + 16);
            high(q1).mul(d).intoArray(dst, i + 24);
        }
    }

    /**
     * llama.cpp's {@code ggml_vec_dot_q4_0_q8_0}: per block, lane j of eight takes the integer sum
     * of the products of elements 4j..4j+3 (ggml's mul_sum_i8_pairs_float grouping), converted to
     * float and added into the accumulator scaled by both scales, block after block. The integer
     * sums are exact however they are formed, so they are formed in 16-bit lanes: the 16 bytes read
     * twice into one 256-bit vector, the upper copy shifted down a nibble, masked, so that byte k
     * holds element k (low nibbles are elements 0..15, high nibbles 16..31); each short lane then
     * holds an element pair {@code lo + 256 hi}, and with {@link Q8Activations#q4Terms} one
     * multiply by the even activations, one by the adjusted odd ones (of {@code hi}) and one
     * subtraction give {@code (lo - 8) e + (hi - 8) o}; adjacent pairs are added into 32-bit lanes.
     *
     * <p>The loop's shape matters to C2 (measured, one thread, Zen 4): the index that walks the
     * activations is the loop variable and the bound is {@code end}, which C2 compiles to one block
     * per iteration; a loop counting blocks from 0 got unrolled four times and ran ~30% slower.
     * One block per iteration, written out: with a helper method or two blocks per iteration C2
     * boxed the vectors (3x slower).
     */
    @Override
    float dotQ8(int row, Q8Activations a, int b) {
        short[] xs = a.q4Terms;
        float[] scales = a.scales;
        int blocks = cols / BLOCK;
        int xd = b * blocks;
        int i = xd * 48;
        long o = row * rowBytes;
        MemorySegment data = this.data;
        FloatVector acc = FloatVector.zero(F8);
        for (int end = i + blocks * 48; i < end; i += 48, o += BLOCK_BYTES, xd++) {
            IntVector twice = ((IntVector) IntVector.fromMemorySegment(I4, data, o + QS, LE).reinterpretShape(I8, 0)).rearrange(TWICE);
            ShortVector q = twice.lanewise(VectorOperators.LSHR, HIGH_HALF).and(0x0F0F0F0F).reinterpretAsShorts();
            ShortVector p = q.mul(ShortVector.fromArray(S16, xs, i))
                    .add(q.lanewise(VectorOperators.LSHR, 8).mul(ShortVector.fromArray(S16, xs, i + 16)))
                    .sub(ShortVector.fromArray(S16, xs, i + 32));
            // adjacent pairs into 32-bit lanes in three operations: the high half of v + (v << 16) is
            // their sum, exact while it fits 16 bits (here at most 4 * 8 * 127)
            IntVector v = p.reinterpretAsInts();
            IntVector sums = v.add(v.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            acc = toFloats(sums).fma(FloatVector.broadcast(F8, f16(data, o) * scales[xd]), acc);
        }
        return GgmlSums.hsum8(acc);
    }

    private static final VectorSpecies<Integer> I4 = IntVector.SPECIES_128;
    private static final VectorShuffle<Integer> TWICE = VectorShuffle.fromOp(I8, lane -> lane % 4);
    /** 0 for the lower copy (low nibbles), 4 for the upper copy (high nibbles). */
    private static final IntVector HIGH_HALF = IntVector.fromArray(I8, new int[]{0, 0, 0, 0, 4, 4, 4, 4}, 0);

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
            IntVector q = ((IntVector) IntVector.fromMemorySegment(I4, data, o + QS, LE).reinterpretShape(I8, 0)).rearrange(TWICE);
            FloatVector w0 = nibble(q, 0), w1 = nibble(q, 1), w2 = nibble(q, 2), w3 = nibble(q, 3);
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
            IntVector q = ((IntVector) IntVector.fromMemorySegment(I4, data, o + QS, LE).reinterpretShape(I8, 0)).rearrange(TWICE);
            FloatVector w0 = nibble(q, 0), w1 = nibble(q, 1), w2 = nibble(q, 2), w3 = nibble(q, 3);
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

    /** Per lane and group t: the shift that brings the wanted nibble down (8t, or 8t + 4 for high nibbles). */
    private static final IntVector[] SHIFTS = new IntVector[4];

    static {
        for (int t = 0; t < 4; t++) {
            int[] shift = new int[8];
            for (int j = 0; j < 8; j++) shift[j] = 8 * t + (j < 4 ? 0 : 4);
            SHIFTS[t] = IntVector.fromArray(I8, shift, 0);
        }
    }

    private static FloatVector nibble(IntVector q, int t) {
        return toFloats(q.lanewise(VectorOperators.LSHR, SHIFTS[t]).and(0x0F).sub(8));
    }
}
