package dev.kvasir.model.cpu;

import java.util.Locale;

/** Element type of the CPU KV cache. F16 halves KV memory, as llama.cpp's default cache does. */
public enum KvDtype {
    F32,
    F16;

    public static KvDtype parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "f32" -> F32;
            case "f16" -> F16;
            default -> throw new IllegalArgumentException("unsupported KV cache dtype '" + name + "' (f32, f16)");
        };
    }
}
