package dev.kvasir.model.gguf;

/**
 * Tensor element types of the GGUF/ggml format, with their numeric ids and block geometry.
 * Ids follow ggml's {@code enum ggml_type}; ids that ggml retired or that Kvasir cannot read are
 * absent, so a file using one fails with a message naming the id.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    BF16(30, 1, 2);

    /** Elements in one quantization block (1 for plain types). */
    public final int blockSize;
    /** Bytes one block occupies. */
    public final int blockBytes;
    public final int id;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) BY_ID[t.id] = t;
    }

    /** The type with ggml id {@code id}, or null when Kvasir does not know it. */
    public static GgmlType byId(int id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[id] : null;
    }

    /** Name as ggml prints it for an id, including types Kvasir cannot read. */
    public static String nameOf(int id) {
        GgmlType t = byId(id);
        if (t != null) return t.name();
        return switch (id) {
            case 4 -> "Q4_2 (removed from ggml)";
            case 5 -> "Q4_3 (removed from ggml)";
            case 16 -> "IQ2_XXS";
            case 17 -> "IQ2_XS";
            case 18 -> "IQ3_XXS";
            case 19 -> "IQ1_S";
            case 20 -> "IQ4_NL";
            case 21 -> "IQ3_S";
            case 22 -> "IQ2_S";
            case 23 -> "IQ4_XS";
            case 29 -> "IQ1_M";
            case 34 -> "TQ1_0";
            case 35 -> "TQ2_0";
            case 39 -> "MXFP4";
            default -> "unknown type " + id;
        };
    }

    /** Bytes needed for {@code elements} elements; the count must be a whole number of blocks. */
    public long bytesFor(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(elements + " elements is not a multiple of the " + name()
                    + " block size " + blockSize);
        }
        return elements / blockSize * blockBytes;
    }

    public boolean isQuantized() {
        return blockSize > 1;
    }
}
