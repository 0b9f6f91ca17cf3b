package dev.kvasir.gpu;

import java.util.Locale;

/**
 * Whether and how weight matrices are stored quantized on the device ({@code --quantization}).
 * The embedding table always stays 16-bit (rows are gathered, not streamed).
 */
public enum Quantization {
    /** Every matrix in the 16-bit (or f32) device type, as before quantized formats existed. */
    NONE,
    /** Every matrix INT8: GGUF Q8_0 repacked exactly (G = 32), anything else quantized per output channel. */
    INT8,
    /** Every matrix INT4: GGUF Q4_0/Q4_K repacked (G = 32), anything else quantized group-wise (G = 128, asymmetric). */
    INT4,
    /** Q8_0 matrices INT8, Q4_0/Q4_K matrices INT4 (repacked); everything else in the 16-bit type. */
    AUTO;

    public static Quantization parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "none", "off" -> NONE;
            case "int8" -> INT8;
            case "int4" -> INT4;
            case "auto" -> AUTO;
            default -> throw new IllegalArgumentException("unsupported --quantization '" + name + "' (auto, none, int8, int4)");
        };
    }
}
