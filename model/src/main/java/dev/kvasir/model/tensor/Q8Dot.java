package dev.kvasir.model.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static dev.kvasir.model.tensor.Blocks.F8;
import static dev.kvasir.model.tensor.Blocks.LE;
import static dev.kvasir.model.tensor.Blocks.f16;

/**
 * Integer dot products of 8-bit and 4-bit weight blocks with Q8_0 activations: per block the
 * products are summed exactly in integers, then scaled by {@code d_weight * d_activation} into
 * float accumulators — llama.cpp's {@code ggml_vec_dot_q8_0_q8_0} and {@code _q4_0_q8_0}.
 */
final class Q8Dot {
    private static final VectorSpecies<Byte> B32 = ByteVector.SPECIES_256;
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;

    private Q8Dot() {
    }

    /** Row starting at byte {@code rowOffset} of a Q8_0 matrix, dotted with activation row {@code b}. */
    static float q8_0(MemorySegment w, long rowOffset, Q8Activations a, int b) {
        int blocks = a.cols / Q8Activations.BLOCK;
        int xq = b * a.cols;
        int xd = b * blocks;
        FloatVector acc = FloatVector.zero(F8);
        long o = rowOffset;
        for (int i = 0; i < blocks; i++, o += 34) {
            ByteVector wv = ByteVector.fromMemorySegment(B32, w, o + 2, LE);
            ByteVector xv = ByteVector.fromArray(B32, a.qs, xq + 32 * i);
            ShortVector p = widen(wv, 0).mul(widen(xv, 0)).add(widen(wv, 1).mul(widen(xv, 1)));
            acc = sumPairs(p).fma(FloatVector.broadcast(F8, f16(w, o) * a.scales[xd + i]), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** Row starting at byte {@code rowOffset} of a Q4_0 matrix (nibbles minus 8), dotted with activation row {@code b}. */
    static float q4_0(MemorySegment w, long rowOffset, Q8Activations a, int b) {
        int blocks = a.cols / Q8Activations.BLOCK;
        int xq = b * a.cols;
        int xd = b * blocks;
        FloatVector acc = FloatVector.zero(F8);
        long o = rowOffset;
        for (int i = 0; i < blocks; i++, o += 18) {
            ByteVector packed = ByteVector.fromMemorySegment(B16, w, o + 2, LE);
            ByteVector lo = packed.and((byte) 0x0F).sub((byte) 8);
            ByteVector hi = packed.lanewise(VectorOperators.LSHR, 4).and((byte) 0x0F).sub((byte) 8);
            ShortVector xlo = (ShortVector) ByteVector.fromArray(B16, a.qs, xq + 32 * i).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector xhi = (ShortVector) ByteVector.fromArray(B16, a.qs, xq + 32 * i + 16).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector p = ((ShortVector) lo.convertShape(VectorOperators.B2S, S16, 0)).mul(xlo)
                    .add(((ShortVector) hi.convertShape(VectorOperators.B2S, S16, 0)).mul(xhi));
            acc = sumPairs(p).fma(FloatVector.broadcast(F8, f16(w, o) * a.scales[xd + i]), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** Half {@code part} of 32 signed bytes, widened to 16 shorts (products of two stay within a short). */
    private static ShortVector widen(ByteVector v, int part) {
        return (ShortVector) v.convertShape(VectorOperators.B2S, S16, part);
    }

    /** 16 short products summed into 8 int lanes, as floats (exact: sums stay far below 2^24). */
    private static FloatVector sumPairs(ShortVector p) {
        IntVector s = ((IntVector) p.convertShape(VectorOperators.S2I, I8, 0)).add((IntVector) p.convertShape(VectorOperators.S2I, I8, 1));
        return (FloatVector) s.convert(VectorOperators.I2F, 0);
    }
}
