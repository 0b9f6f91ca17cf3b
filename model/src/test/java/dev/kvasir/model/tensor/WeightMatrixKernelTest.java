package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every vector kernel against the scalar reference dequantizer: dequantizeRow bit for bit, dot and
 * matmul against a double-precision dot of the reference weights.
 */
class WeightMatrixKernelTest {
    private static final int ROWS = 9;

    /** Columns: several blocks, and for the plain 16-bit types a count that leaves a tail past the last 8. */
    private static int colsFor(GgmlType type) {
        return switch (type.blockSize) {
            case 1 -> 172;
            case 32 -> 32 * 5;
            default -> 256 * 3;
        };
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void kernelsAgreeWithTheScalarReference(GgmlType type) {
        int cols = colsFor(type);
        MemorySegment data = RandomBlocks.of(type, ROWS, cols, 42 + type.id);
        WeightMatrix m = WeightMatrix.of(type, data, ROWS, cols);
        float[] ref = GgmlDequantizer.dequantize(type, data, (long) ROWS * cols);

        // dequantizeRow: exactly the reference values, at an offset into dst.
        for (int r = 0; r < ROWS; r++) {
            float[] row = new float[cols + 5];
            m.dequantizeRow(r, row, 3);
            assertArrayEquals(Arrays.copyOfRange(ref, r * cols, (r + 1) * cols), Arrays.copyOfRange(row, 3, 3 + cols),
                    type + " row " + r);
        }

        Random rnd = new Random(7);
        int maxBatch = 8;
        float[] x = new float[maxBatch * cols + 11];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();

        // dot, at an unaligned offset into x.
        for (int r = 0; r < ROWS; r++) {
            assertClose(ref, r, cols, x, 11, m.dot(r, x, 11), type + " dot row " + r);
        }

        // matmul over a sub-range of rows, with an output stride wider than the matrix.
        for (int batch : new int[] {1, 2, 3, 4, 5, 8}) {
            int outStride = ROWS + 2;
            float[] out = new float[batch * outStride];
            Arrays.fill(out, Float.NaN);
            m.matmul(x, batch, out, outStride, 1, ROWS - 1);
            for (int b = 0; b < batch; b++) {
                for (int r = 0; r < ROWS; r++) {
                    float got = out[b * outStride + r];
                    if (r < 1 || r >= ROWS - 1) {
                        assertTrue(Float.isNaN(got), type + " matmul wrote outside its rows");
                    } else {
                        assertClose(ref, r, cols, x, b * cols, got, type + " matmul batch " + batch + " b " + b + " row " + r);
                    }
                }
            }
        }
    }

    private static void assertClose(float[] w, int row, int cols, float[] x, int xOffset, float got, String what) {
        double exact = 0, magnitude = 0;
        for (int i = 0; i < cols; i++) {
            double p = (double) w[row * cols + i] * x[xOffset + i];
            exact += p;
            magnitude += Math.abs(p);
        }
        // float accumulation over a few hundred terms: a few ulps of the sum of magnitudes.
        double tolerance = 2e-6 * magnitude + 1e-30;
        assertEquals(exact, got, tolerance, what);
    }

    @Test
    void everyHalfWidensExactlyAsFloat16ToFloat() {
        int n = 1 << 16;
        MemorySegment seg = MemorySegment.ofArray(new byte[2 * n]);
        for (int i = 0; i < n; i++) seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i, (short) i);
        float[] out = new float[n];
        WeightMatrix.of(GgmlType.F16, seg, 1, n).dequantizeRow(0, out, 0);
        for (int i = 0; i < n; i++) {
            int half = i;
            int want = Float.floatToRawIntBits(Float.float16ToFloat((short) i));
            assertEquals(want, Float.floatToRawIntBits(out[i]), () -> "half 0x" + Integer.toHexString(half) + " widened wrong");
        }
    }
}
