package dev.kvasir.gpu;

import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.weights.LlamaWeights;

import java.util.Locale;

/** The type weight matrices take on the device. Activations, norms and accumulation stay fp32. */
public enum GpuDtype {
    F32(4, "f32"), BF16(2, "bf16"), F16(2, "f16");

    public final int bytes;
    /** Suffix of the kernels that read this type. */
    final String kernelSuffix;

    GpuDtype(int bytes, String kernelSuffix) {
        this.bytes = bytes;
        this.kernelSuffix = kernelSuffix;
    }

    /** f32, bf16, f16, or auto. */
    public static GpuDtype parse(String name, LlamaWeights weights) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "f32", "fp32", "float32" -> F32;
            case "bf16", "bfloat16" -> BF16;
            case "f16", "fp16", "float16" -> F16;
            case "auto" -> auto(weights);
            default -> throw new IllegalArgumentException("unsupported --dtype '" + name + "' (auto, f32, bf16, f16)");
        };
    }

    /** f32 for f32 files (tiny models, exact checks), f16 for f16 files, bf16 for everything else. */
    public static GpuDtype auto(LlamaWeights w) {
        GgmlType t = w.layers().get(0).wq().type();
        if (t == GgmlType.F32 && w.tokenEmbedding().type() == GgmlType.F32) return F32;
        if (t == GgmlType.F16) return F16;
        return BF16;
    }
}
