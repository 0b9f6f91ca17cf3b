package dev.kvasir.model.cpu;

/**
 * ggml's vectorized exponential ({@code ggml_v_expf}, from ARM's optimized routines; max error
 * about 1.5 ulp), evaluated lane by lane with the same fused multiply-adds. llama.cpp's CPU
 * backend uses it for softmax and SiLU; where a result is later rounded to f16 or quantized to
 * 8 bits, ulp-level differences can flip that rounding, so matching llama.cpp's outputs token for
 * token needs its exponential, not a more accurate one.
 */
final class GgmlMath {
    private GgmlMath() {
    }

    static float expf(float x) {
        float r = 0x1.8p23f;
        float z = Math.fma(x, 0x1.715476p+0f, r);
        float n = z - r;
        float b = Math.fma(-n, 0x1.7f7d1cp-20f, Math.fma(-n, 0x1.62e4p-1f, x));
        int e = Float.floatToRawIntBits(z) << 23;
        float k = Float.intBitsToFloat(e + Float.floatToRawIntBits(1f));
        float u = b * b;
        float j = Math.fma(Math.fma(Math.fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, Math.fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                u, 0x1.ffffecp-1f * b);
        float an = Math.abs(n);
        if (!(an > 126)) return Math.fma(k, j, k);
        int g = n <= 0 ? 0x82000000 : 0;
        float s1 = Float.intBitsToFloat(g + 0x7f000000);
        if (an > 192) return s1 * s1;
        float s2 = Float.intBitsToFloat(e - g);
        return Math.fma(s2, j, s2) * s1;
    }

    /** x / (1 + e^-x), as {@code ggml_v_silu}. */
    static float silu(float x) {
        return x / (1f + expf(-x));
    }
}
