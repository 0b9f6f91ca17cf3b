package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/**
 * Seeded random tensors in a stored format: random bytes for the quants (every bit pattern is a
 * valid block) with realistic f16 scales written over the scale fields, so no NaN or infinity
 * sneaks into the data.
 */
final class RandomBlocks {
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private RandomBlocks() {
    }

    static MemorySegment of(GgmlType type, int rows, int cols, long seed) {
        Random rnd = new Random(seed);
        long elements = (long) rows * cols;
        byte[] bytes = new byte[Math.toIntExact(type.bytesFor(elements))];
        rnd.nextBytes(bytes);
        MemorySegment seg = MemorySegment.ofArray(bytes);
        switch (type) {
            case F32 -> {
                for (long i = 0; i < elements; i++) seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4 * i, (float) rnd.nextGaussian());
            }
            case F16 -> {
                for (long i = 0; i < elements; i++) seg.set(SHORT_LE, 2 * i, Float.floatToFloat16((float) rnd.nextGaussian()));
            }
            case BF16 -> {
                for (long i = 0; i < elements; i++) seg.set(SHORT_LE, 2 * i, Quantizer.toBf16((float) rnd.nextGaussian()));
            }
            default -> {
                long blocks = elements / type.blockSize;
                for (long b = 0; b < blocks; b++) {
                    long o = b * type.blockBytes;
                    switch (type) {
                        case Q8_0, Q4_0, Q5_0 -> half(seg, o, scale(rnd));
                        case Q4_1, Q5_1 -> {
                            half(seg, o, scale(rnd));
                            half(seg, o + 2, -0.5f * rnd.nextFloat());
                        }
                        case Q4_K, Q5_K -> {
                            half(seg, o, scale(rnd) / 16);
                            half(seg, o + 2, scale(rnd) / 16);
                        }
                        case Q6_K -> half(seg, o + 208, scale(rnd) / 64);
                        default -> throw new IllegalArgumentException("no random blocks for " + type);
                    }
                }
            }
        }
        return seg;
    }

    /** A scale of either sign, around the magnitudes real weights get. */
    private static float scale(Random rnd) {
        float s = 0.001f + 0.05f * rnd.nextFloat();
        return rnd.nextBoolean() ? s : -s;
    }

    private static void half(MemorySegment seg, long offset, float v) {
        seg.set(SHORT_LE, offset, Float.floatToFloat16(v));
    }
}
