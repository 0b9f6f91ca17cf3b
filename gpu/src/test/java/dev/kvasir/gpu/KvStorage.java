package dev.kvasir.gpu;

/** Test helper: what the host reads back from a KV pool, decoded as the kernels decode it. */
final class KvStorage {
    private KvStorage() {
    }

    /** Element i of raw pool bytes of {@code type} as a float (scale not applied). */
    static float element(byte[] raw, long i, KvCacheDtype type) {
        int at = (int) (i * type.bytes);
        return switch (type) {
            case FP32 -> Float.intBitsToFloat((raw[at] & 0xff) | (raw[at + 1] & 0xff) << 8 | (raw[at + 2] & 0xff) << 16 | (raw[at + 3] & 0xff) << 24);
            case FP16 -> Float.float16ToFloat(shortAt(raw, at));
            case BF16 -> Float.intBitsToFloat(shortAt(raw, at) << 16);
            case INT8 -> raw[at];
            case FP8 -> e4m3(raw[at]);
        };
    }

    /** fp16 scale number i of raw scale bytes. */
    static float scale(byte[] raw, long i) {
        return Float.float16ToFloat(shortAt(raw, (int) (2 * i)));
    }

    private static short shortAt(byte[] raw, int at) {
        return (short) ((raw[at] & 0xff) | (raw[at + 1] & 0xff) << 8);
    }

    /** FP8 E4M3 (OCP): sign, 4 exponent bits with bias 7, 3 mantissa bits; S.1111.111 is NaN, no infinities. */
    static float e4m3(byte b) {
        int sign = (b & 0x80) != 0 ? -1 : 1;
        int exp = (b >> 3) & 0xf, man = b & 7;
        if (exp == 15 && man == 7) return Float.NaN;
        double v = exp == 0 ? man / 8.0 * Math.pow(2, -6) : (1 + man / 8.0) * Math.pow(2, exp - 7);
        return (float) (sign * v);
    }
}
