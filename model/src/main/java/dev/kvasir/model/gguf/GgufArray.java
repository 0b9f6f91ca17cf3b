package dev.kvasir.model.gguf;

import java.lang.reflect.Array;

/**
 * A GGUF metadata array. Numeric elements live in a primitive array of the type's width
 * ({@code byte[]} for UINT8/INT8/BOOL, {@code short[]} for 16-bit, {@code int[]} for 32-bit,
 * {@code long[]} for 64-bit, {@code float[]}, {@code double[]}), strings in {@code String[]},
 * nested arrays in {@code GgufArray[]}. Unsigned values keep their bits; read them with
 * {@link #getLong(int)}.
 */
public record GgufArray(GgufValueType elementType, Object values) {

    public int length() {
        return Array.getLength(values);
    }

    /** Element i as a long, honouring unsignedness. */
    public long getLong(int i) {
        return switch (elementType) {
            case UINT8, BOOL -> ((byte[]) values)[i] & 0xFFL;
            case INT8 -> ((byte[]) values)[i];
            case UINT16 -> ((short[]) values)[i] & 0xFFFFL;
            case INT16 -> ((short[]) values)[i];
            case UINT32 -> ((int[]) values)[i] & 0xFFFFFFFFL;
            case INT32 -> ((int[]) values)[i];
            case UINT64, INT64 -> ((long[]) values)[i];
            case FLOAT32 -> (long) ((float[]) values)[i];
            case FLOAT64 -> (long) ((double[]) values)[i];
            default -> throw new IllegalStateException("array of " + elementType + " holds no integers");
        };
    }

    public double getDouble(int i) {
        return switch (elementType) {
            case FLOAT32 -> ((float[]) values)[i];
            case FLOAT64 -> ((double[]) values)[i];
            default -> getLong(i);
        };
    }

    public String[] strings() {
        if (elementType != GgufValueType.STRING) throw new IllegalStateException("array of " + elementType + ", not strings");
        return (String[]) values;
    }

    /** Elements as ints (token types, ids); unsigned 32-bit values above int range are refused. */
    public int[] toIntArray() {
        if (values instanceof int[] ints && elementType == GgufValueType.INT32) return ints;
        int n = length();
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = Math.toIntExact(getLong(i));
        return out;
    }

    public float[] toFloatArray() {
        if (values instanceof float[] floats) return floats;
        int n = length();
        float[] out = new float[n];
        for (int i = 0; i < n; i++) out[i] = (float) getDouble(i);
        return out;
    }
}
