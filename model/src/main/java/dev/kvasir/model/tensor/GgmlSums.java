package dev.kvasir.model.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;

/**
 * The exact order in which llama.cpp's x86 kernels add up their vector lanes. Float addition is
 * not associative, and a result that is later rounded to f16 or quantized to 8 bits can flip on
 * one ulp; following ggml's order is what makes greedy outputs agree with llama.cpp's token for
 * token rather than only to within rounding.
 */
public final class GgmlSums {
    private GgmlSums() {
    }

    /** {@code hsum_float_8}: ((l4+l0)+(l6+l2)) + ((l5+l1)+(l7+l3)). */
    static float hsum8(FloatVector v) {
        // adding the upper half onto the lower half is lane-wise, so it may stay a vector operation
        FloatVector h = v.add(v.rearrange(UPPER_HALF));
        return (h.lane(0) + h.lane(2)) + (h.lane(1) + h.lane(3));
    }

    /**
     * {@link #hsum8(FloatVector)} of the eight floats at {@code v[o ..]}, in the same order (the
     * lane-wise upper-onto-lower add is the same float addition). For kernels whose accumulators
     * C2 would otherwise box to pass them to a reduction it does not inline: they store the
     * accumulators into a scratch array (a plain vector store) and reduce from there.
     */
    static float hsum8(float[] v, int o) {
        float h0 = v[o] + v[o + 4], h1 = v[o + 1] + v[o + 5], h2 = v[o + 2] + v[o + 6], h3 = v[o + 3] + v[o + 7];
        return (h0 + h2) + (h1 + h3);
    }

    /** Lane i takes lane i + 4 (the upper half moved down; the upper lanes are not used). */
    private static final VectorShuffle<Float> UPPER_HALF = VectorShuffle.fromOp(FloatVector.SPECIES_256, i -> (i + 4) % 8);

    /** {@code GGML_F32x8_REDUCE} of four 8-lane accumulators: pairwise, then within the vector. */
    static float reduce4(FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3) {
        FloatVector x = a0.add(a2).add(a1.add(a3));
        FloatVector t = x.add(x.rearrange(UPPER_HALF));
        return (t.lane(0) + t.lane(1)) + (t.lane(2) + t.lane(3));
    }

    /**
     * {@code ggml_vec_dot_f16} over values already rounded to f16 (held as floats): 4 × 8 fused
     * accumulators over whole groups of 32, reduced as {@link #reduce4}, the rest added in double.
     */
    public static float dotF16(float[] x, int xOffset, float[] y, int yOffset, int n) {
        int whole = n & ~31;
        float[] acc = new float[32];
        for (int i = 0; i < whole; i += 32) {
            for (int j = 0; j < 32; j++) acc[j] = Math.fma(x[xOffset + i + j], y[yOffset + i + j], acc[j]);
        }
        double sum = 0;
        if (whole > 0) {
            float[] v = new float[8];
            for (int l = 0; l < 8; l++) v[l] = (acc[l] + acc[16 + l]) + (acc[8 + l] + acc[24 + l]);
            sum = ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
        }
        for (int i = whole; i < n; i++) sum += x[xOffset + i] * y[yOffset + i];
        return (float) sum;
    }
}
