package dev.kvasir.gpu;

/**
 * A weight-only quantized device format (see quant.cuh): integer values row-major plus, per group
 * of {@code G} columns of a row, an fp16 scale (INT8) or an fp16 scale and bias pair (INT4).
 */
public enum QuantFormat {
    /** int8 values, w = s·q. */
    INT8(8, 2, "q8"),
    /** two unsigned nibbles a byte (per 32 columns: byte i = column i | column i+16 << 4), w = s·q + b. */
    INT4(4, 4, "q4");

    public final int bits;
    /** Bytes of one group's parameters: a half (INT8) or a half2 {scale, bias} (INT4). */
    public final int groupBytes;
    /** Suffix of the kernels that read this format. */
    final String kernelSuffix;

    QuantFormat(int bits, int groupBytes, String kernelSuffix) {
        this.bits = bits;
        this.groupBytes = groupBytes;
        this.kernelSuffix = kernelSuffix;
    }

    /** Bytes of one row's values. */
    public long rowBytes(int cols) {
        return (long) cols * bits / 8;
    }

    /** Columns one lane's 16-byte load covers in the GEMV kernels (16 INT8, 32 INT4). */
    int chunkCols() {
        return 128 / bits;
    }
}
