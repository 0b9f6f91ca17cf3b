package dev.kvasir.gpu;

import java.util.Locale;

/**
 * The type keys and values take in the paged KV pool. fp16 and bf16 are plain conversions; int8 and
 * fp8 (E4M3) are symmetric quantizations with one fp16 scale per (token slot, kv head): the scale is
 * max|x| / 127 (int8) or max|x| / 448 (fp8) over that head's values, kept in a parallel array of the
 * pool (see {@link PagedKvPool}). Attention always computes in fp32.
 */
public enum KvCacheDtype {
    FP32(4, false, "f32"), FP16(2, false, "f16"), BF16(2, false, "bf16"), INT8(1, true, "i8"), FP8(1, true, "fp8");

    /** Bytes of one stored key or value element (scales not counted). */
    public final int bytes;
    /** Whether an fp16 scale per (slot, kv head) goes with the values. */
    public final boolean scaled;
    /** Suffix of the kernels that read and write this type. */
    final String kernelSuffix;

    KvCacheDtype(int bytes, boolean scaled, String kernelSuffix) {
        this.bytes = bytes;
        this.scaled = scaled;
        this.kernelSuffix = kernelSuffix;
    }

    /** auto, fp32, fp16, bf16, int8 or fp8; auto follows the weights: fp32 for fp32 weights, else their 16-bit type. */
    public static KvCacheDtype parse(String name, GpuDtype weights) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "fp32", "f32", "float32" -> FP32;
            case "fp16", "f16", "float16" -> FP16;
            case "bf16", "bfloat16" -> BF16;
            case "int8", "i8" -> INT8;
            case "fp8", "fp8_e4m3", "e4m3" -> FP8;
            case "auto" -> switch (weights) {
                case F32 -> FP32;
                case F16 -> FP16;
                default -> BF16;
            };
            default -> throw new IllegalArgumentException("unsupported --kv-cache-dtype '" + name + "' (auto, fp32, fp16, bf16, int8, fp8)");
        };
    }

    /** Why this type cannot run on a card of compute capability major.minor, or null when it can. */
    public String unsupportedReason(int computeMajor, int computeMinor) {
        if (this == FP8 && computeMajor * 10 + computeMinor < 89) {
            return "--kv-cache-dtype fp8 (E4M3) needs compute capability 8.9 or newer (Ada, Hopper); this card is "
                    + computeMajor + "." + computeMinor + ": use int8, fp16 or bf16";
        }
        return null;
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
