package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.gguf.TensorData;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.stream.IntStream;

import static dev.kvasir.model.tensor.Blocks.FLOAT_LE;
import static dev.kvasir.model.tensor.Blocks.INT_LE;
import static dev.kvasir.model.tensor.Blocks.SHORT_LE;

/**
 * float32 → stored bytes, following ggml's {@code quantize_row_*_ref} step for step (same scale
 * choice, same float operations in the same order, same rounding and clamping), so that a file we
 * quantize holds the bytes llama-quantize (without an importance matrix) would write.
 */
public final class Quantizer {
    private Quantizer() {
    }

    /** Whether {@link #quantize} can produce {@code type}. */
    public static boolean supports(GgmlType type) {
        return switch (type) {
            case F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 -> true;
            default -> false;
        };
    }

    /** All of {@code x} in {@code type}. */
    public static byte[] quantize(GgmlType type, float[] x) {
        byte[] out = new byte[Math.toIntExact(type.bytesFor(x.length))];
        quantize(type, x, 0, x.length, MemorySegment.ofArray(out), 0);
        return out;
    }

    /**
     * Writes {@code x[xOffset .. xOffset+n)} in {@code type} to {@code dst} at {@code dstOffset}
     * ({@code type.bytesFor(n)} bytes); {@code n} must be a whole number of blocks.
     */
    public static void quantize(GgmlType type, float[] x, int xOffset, int n, MemorySegment dst, long dstOffset) {
        type.bytesFor(n); // refuses partial blocks
        switch (type) {
            case F32 -> MemorySegment.copy(x, xOffset, dst, FLOAT_LE, dstOffset, n);
            case F16 -> {
                for (int i = 0; i < n; i++) dst.set(SHORT_LE, dstOffset + 2L * i, Float.floatToFloat16(x[xOffset + i]));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) dst.set(SHORT_LE, dstOffset + 2L * i, toBf16(x[xOffset + i]));
            }
            case Q8_0 -> {
                for (int b = 0; b < n / 32; b++) q8_0(x, xOffset + 32 * b, dst, dstOffset + 34L * b);
            }
            case Q4_0 -> {
                for (int b = 0; b < n / 32; b++) q4_0(x, xOffset + 32 * b, dst, dstOffset + 18L * b);
            }
            case Q4_1 -> {
                for (int b = 0; b < n / 32; b++) q4_1(x, xOffset + 32 * b, dst, dstOffset + 20L * b);
            }
            case Q5_0 -> {
                for (int b = 0; b < n / 32; b++) q5_0(x, xOffset + 32 * b, dst, dstOffset + 22L * b);
            }
            case Q5_1 -> {
                for (int b = 0; b < n / 32; b++) q5_1(x, xOffset + 32 * b, dst, dstOffset + 24L * b);
            }
            default -> throw new UnsupportedOperationException("no quantizer for " + type);
        }
    }

    /**
     * Produces row {@code index} (of {@code dst.length} floats) of a tensor on demand. Rows are asked
     * for from several threads at once (each with its own {@code dst}), so a source must be safe to
     * call concurrently for different rows.
     */
    @FunctionalInterface
    public interface RowSource {
        void row(long index, float[] dst);
    }

    /** Output piece size when quantizing rows for a writer: big enough for fast writes, small enough to stay in cache. */
    private static final int PIECE_BYTES = 1 << 20;
    /** Pieces made at once, one a core: a synthetic 8B file is half random numbers, half writing. */
    private static final int PIECES_AT_ONCE = Math.max(1, Math.min(32, Runtime.getRuntime().availableProcessors()));

    /** Tensor data for a GGUF writer: {@code values} quantized to {@code type} when written. */
    public static TensorData tensorData(GgmlType type, float[] values) {
        return tensorData(type, values.length, 1, (index, dst) -> System.arraycopy(values, 0, dst, 0, values.length));
    }

    /**
     * Tensor data for a GGUF writer: {@code rows} rows of {@code cols} floats, asked of {@code source}
     * while the writer streams this tensor, quantized to {@code type}. Pieces of about a megabyte are
     * made on several cores at once (the common fork-join pool) and written in order, so the bytes do
     * not depend on the number of cores; memory use is about a megabyte of output and a row of floats
     * per piece in flight, whatever the tensor's size.
     */
    public static TensorData tensorData(GgmlType type, int cols, long rows, RowSource source) {
        if (!supports(type)) throw new UnsupportedOperationException("no quantizer for " + type);
        long rowBytes = type.bytesFor(cols);
        int rowsPerPiece = (int) Math.max(1, Math.min(rows, PIECE_BYTES / rowBytes));
        long pieces = (rows + rowsPerPiece - 1) / rowsPerPiece;
        return sink -> {
            int inFlight = (int) Math.min(PIECES_AT_ONCE, pieces);
            MemorySegment[] buffers = new MemorySegment[inFlight], made = new MemorySegment[inFlight];
            for (int i = 0; i < inFlight; i++) buffers[i] = MemorySegment.ofArray(new byte[Math.toIntExact(rowsPerPiece * rowBytes)]);
            for (long first = 0; first < pieces; first += inFlight) {
                long base = first;
                int n = (int) Math.min(inFlight, pieces - first);
                IntStream.range(0, n).parallel().forEach(i -> {
                    float[] row = new float[cols];
                    long from = (base + i) * rowsPerPiece, to = Math.min(rows, from + rowsPerPiece);
                    for (long r = from; r < to; r++) {
                        source.row(r, row);
                        quantize(type, row, 0, cols, buffers[i], (r - from) * rowBytes);
                    }
                    made[i] = buffers[i].asSlice(0, (to - from) * rowBytes);  // the last piece may be partial
                });
                for (int i = 0; i < n; i++) sink.write(made[i]);
            }
        };
    }

    /**
     * float32 → bfloat16 as ggml_compute_fp32_to_bf16: round to nearest even on the upper 16 bits,
     * NaNs forced quiet. Subnormals round like any other value (current ggml no longer flushes them).
     */
    public static short toBf16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7FFFFFFF) > 0x7F800000) return (short) ((u >>> 16) | 64);
        return (short) ((u + (0x7FFF + ((u >>> 16) & 1))) >>> 16);
    }

    /** C's roundf: halves away from zero (Math.round would send -2.5 to -2). Exact: |v| + 0.5 fits a double. */
    static float roundf(float v) {
        double r = Math.floor(Math.abs((double) v) + 0.5);
        return (float) (v < 0 ? -r : r);
    }

    private static void f16(MemorySegment dst, long offset, float v) {
        dst.set(SHORT_LE, offset, Float.floatToFloat16(v));
    }

    private static void u8(MemorySegment dst, long offset, int v) {
        dst.set(ValueLayout.JAVA_BYTE, offset, (byte) v);
    }

    // quantize_row_q8_0_ref
    private static void q8_0(float[] x, int xi, MemorySegment dst, long o) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xi + j]));
        float d = amax / ((1 << 7) - 1);
        float id = d != 0 ? 1.0f / d : 0.0f;
        f16(dst, o, d);
        for (int j = 0; j < 32; j++) u8(dst, o + 2 + j, (int) roundf(x[xi + j] * id));
    }

    /** The value of largest magnitude, the first one when several tie (ggml's amax/max scan). */
    private static float signedAbsMax(float[] x, int xi) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[xi + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    // quantize_row_q4_0_ref: the largest-magnitude value maps to -8, so its sign picks the scale's sign.
    private static void q4_0(float[] x, int xi, MemorySegment dst, long o) {
        float d = signedAbsMax(x, xi) / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        f16(dst, o, d);
        for (int j = 0; j < 16; j++) {
            float x0 = x[xi + j] * id;
            float x1 = x[xi + 16 + j] * id;
            // C's (int8_t) conversion truncates toward zero; the operands are positive here.
            int xi0 = Math.min(15, (int) (x0 + 8.5f));
            int xi1 = Math.min(15, (int) (x1 + 8.5f));
            u8(dst, o + 2 + j, xi0 | (xi1 << 4));
        }
    }

    // quantize_row_q4_1_ref
    private static void q4_1(float[] x, int xi, MemorySegment dst, long o) {
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (int j = 0; j < 32; j++) {
            float v = x[xi + j];
            if (v < min) min = v;
            if (v > max) max = v;
        }
        float d = (max - min) / ((1 << 4) - 1);
        float id = d != 0 ? 1.0f / d : 0.0f;
        f16(dst, o, d);
        f16(dst, o + 2, min);
        for (int j = 0; j < 16; j++) {
            float x0 = (x[xi + j] - min) * id;
            float x1 = (x[xi + 16 + j] - min) * id;
            int xi0 = Math.min(15, (int) (x0 + 0.5f));
            int xi1 = Math.min(15, (int) (x1 + 0.5f));
            u8(dst, o + 4 + j, xi0 | (xi1 << 4));
        }
    }

    // quantize_row_q5_0_ref
    private static void q5_0(float[] x, int xi, MemorySegment dst, long o) {
        float d = signedAbsMax(x, xi) / -16;
        float id = d != 0 ? 1.0f / d : 0.0f;
        f16(dst, o, d);
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            float x0 = x[xi + j] * id;
            float x1 = x[xi + 16 + j] * id;
            int xi0 = Math.min(31, (int) (x0 + 16.5f));
            int xi1 = Math.min(31, (int) (x1 + 16.5f));
            u8(dst, o + 6 + j, (xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= ((xi0 & 0x10) >>> 4) << j;
            qh |= ((xi1 & 0x10) >>> 4) << (j + 16);
        }
        dst.set(INT_LE, o + 2, qh);
    }

    // quantize_row_q5_1_ref
    private static void q5_1(float[] x, int xi, MemorySegment dst, long o) {
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (int j = 0; j < 32; j++) {
            float v = x[xi + j];
            if (v < min) min = v;
            if (v > max) max = v;
        }
        float d = (max - min) / ((1 << 5) - 1);
        float id = d != 0 ? 1.0f / d : 0.0f;
        f16(dst, o, d);
        f16(dst, o + 2, min);
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            float x0 = (x[xi + j] - min) * id;
            float x1 = (x[xi + 16 + j] - min) * id;
            // ggml converts to uint8_t with no clamp here; mirror that, wrap-around included.
            int xi0 = (int) (x0 + 0.5f) & 0xFF;
            int xi1 = (int) (x1 + 0.5f) & 0xFF;
            u8(dst, o + 8 + j, (xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= ((xi0 & 0x10) >>> 4) << j;
            qh |= ((xi1 & 0x10) >>> 4) << (j + 16);
        }
        dst.set(INT_LE, o + 4, qh);
    }
}
