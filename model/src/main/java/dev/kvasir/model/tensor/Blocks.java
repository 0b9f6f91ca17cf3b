package dev.kvasir.model.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * What the block kernels share: little-endian layouts, the 8-lane species they work in, and the
 * conversions from stored bytes and halves to float lanes.
 *
 * <p>The kernels work in groups of 8 elements (256-bit float vectors): every ggml block size
 * (16-element sub-blocks, 32-element blocks, 256-element super-blocks) is a multiple of 8, so no
 * group ever straddles two scales, and 256-bit vectors run at full speed on AVX2 and AVX-512 alike.
 *
 * <p>Shape of the hot loops, learned the hard way: C2 keeps Vector API values in registers only
 * when they live in one flat loop (accumulators as loop variables, everything else computed inside
 * the body). Nested loops over sub-blocks with vectors live across them, or a {@code ?:} choosing
 * between two vectors, made it box every vector on the heap and run 5-20 times slower. So the
 * multi-scale formats walk a row one group of 8 per iteration, picking nibbles and bits with
 * scalar shift counts, and refresh their scalar scales when a sub-block starts.
 */
final class Blocks {
    private Blocks() {
    }

    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** Eight floats: one group. */
    static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    /** Eight ints, lane for lane with {@link #F8}. */
    static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    /** Eight bytes, the stored form of one group of 8-bit (or nibble-packed) quants. */
    static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    /** Sixteen shorts: one 32-byte block of 8-bit quants, or 16 products of them, for the integer kernels. */
    static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    /** Eight shorts: one group of F16/BF16 values. */
    static final VectorSpecies<Short> S8 = ShortVector.SPECIES_128;

    /** The f16 at byte {@code offset}, as float. */
    static float f16(MemorySegment seg, long offset) {
        return Float.float16ToFloat(seg.get(SHORT_LE, offset));
    }

    /** The bfloat16 at byte {@code offset}, as float. */
    static float bf16(MemorySegment seg, long offset) {
        return Float.intBitsToFloat(seg.get(SHORT_LE, offset) << 16);
    }

    /** Eight signed bytes at {@code offset}, widened to ints. */
    static IntVector bytesAsInts(MemorySegment seg, long offset) {
        return (IntVector) ByteVector.fromMemorySegment(B8, seg, offset, LE).convertShape(VectorOperators.B2I, I8, 0);
    }

    /** Eight signed bytes at {@code offset}, as floats. */
    static FloatVector bytesAsFloats(MemorySegment seg, long offset) {
        return (FloatVector) ByteVector.fromMemorySegment(B8, seg, offset, LE).convertShape(VectorOperators.B2F, F8, 0);
    }

    /**
     * Sixteen 16-bit lanes summed in adjacent pairs into eight 32-bit lanes, as float (exact: the
     * sums are small integers). Lane j = shorts 2j + 2j+1.
     */
    static FloatVector pairSums(ShortVector p) {
        IntVector v = p.reinterpretAsInts();
        return toFloats(v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(v.lanewise(VectorOperators.ASHR, 16)));
    }

    static FloatVector toFloats(IntVector v) {
        return (FloatVector) v.convert(VectorOperators.I2F, 0);
    }

    private static final int F16_EXP_MASK = 0x7C00;
    private static final FloatVector TWO_POW_112 = FloatVector.broadcast(F8, 0x1p112f);

    /**
     * Eight IEEE half floats at {@code offset}, as floats, bit for bit as {@link Float#float16ToFloat}.
     * The magnitude bits shifted into float position read as the value times 2^-112 (for normal and
     * subnormal halves alike), so one exact multiply by 2^112 rebases them; infinities and NaNs keep
     * an all-ones exponent (NaNs made quiet); the sign is put back last.
     */
    static FloatVector halvesAsFloats(MemorySegment seg, long offset) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S8, seg, offset, LE).convertShape(VectorOperators.S2I, I8, 0);
        IntVector magnitude = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        FloatVector scaled = magnitude.reinterpretAsFloats().mul(TWO_POW_112);
        VectorMask<Integer> special = h.and(F16_EXP_MASK).eq(F16_EXP_MASK);
        IntVector bits = scaled.reinterpretAsInts().blend(magnitude.or(0x7F800000), special);
        // NaNs come out quiet, as the hardware conversion behind Float.float16ToFloat makes them.
        VectorMask<Integer> nan = special.and(h.and(0x3FF).compare(VectorOperators.NE, 0));
        bits = bits.blend(bits.or(0x00400000), nan);
        return bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /** Eight bfloat16 values at {@code offset}, as floats (exact: bf16 is the top half of an f32). */
    static FloatVector bf16AsFloats(MemorySegment seg, long offset) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S8, seg, offset, LE).convertShape(VectorOperators.S2I, I8, 0);
        return h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** 1, 2, 4, .., 128: lane i holds bit i. */
    private static final IntVector LANE_BIT = IntVector.fromArray(I8, new int[] {1, 2, 4, 8, 16, 32, 64, 128}, 0);

    /**
     * The fifth quant bits of a Q5_0/Q5_1 group as 0 or 16, lane i taking bit i of {@code bits}
     * (the block's qh shifted so the group's first element is bit 0). A test against constant
     * per-lane bits, because variable per-lane shifts compile poorly.
     */
    static IntVector fifthBits(int bits) {
        return IntVector.zero(I8).blend(16, IntVector.broadcast(I8, bits).and(LANE_BIT).compare(VectorOperators.NE, 0));
    }

    /** ggml's get_scale_min_k4: the 6-bit scale of sub-block {@code j} from the 12 packed bytes at {@code q}. */
    static int scaleK4(MemorySegment seg, long q, int j) {
        if (j < 4) return u8(seg, q + j) & 63;
        return (u8(seg, q + j + 4) & 0xF) | ((u8(seg, q + j - 4) >> 6) << 4);
    }

    /** ggml's get_scale_min_k4: the 6-bit min of sub-block {@code j}. */
    static int minK4(MemorySegment seg, long q, int j) {
        if (j < 4) return u8(seg, q + j + 4) & 63;
        return (u8(seg, q + j + 4) >> 4) | ((u8(seg, q + j) >> 6) << 4);
    }

    static int u8(MemorySegment seg, long offset) {
        return seg.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
    }

    /** Reduces the accumulators of a tile of up to four activations into {@code out}. */
    static void store(float[] out, int outStride, int row, int b, int n,
                      FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3) {
        out[b * outStride + row] = GgmlSums.hsum8(a0);
        if (n > 1) out[(b + 1) * outStride + row] = GgmlSums.hsum8(a1);
        if (n > 2) out[(b + 2) * outStride + row] = GgmlSums.hsum8(a2);
        if (n > 3) out[(b + 3) * outStride + row] = GgmlSums.hsum8(a3);
    }
}
