package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The Q8_0 and Q4_0 kernels with Q8_0 activations compute, bit for bit, llama.cpp's AVX2
 * {@code ggml_vec_dot_q8_0_q8_0} / {@code ggml_vec_dot_q4_0_q8_0}, written out here as plain scalar
 * code: per block eight integer lane sums over elements 4j..4j+3, each fused-multiply-added with
 * the product of the two scales into its lane, lanes summed in hsum_float_8's order. This is
 * what keeps the greedy outputs of quantized models equal to llama.cpp's; the kernels may form
 * the integer sums however they like, but must land on exactly these floats.
 */
class Q8ActivationDotTest {

    @ParameterizedTest(name = "{0} {1}x{2} batch {3}")
    @CsvSource({"Q8_0,67,256,1", "Q8_0,40,96,9", "Q8_0,9,32,3", "Q8_0,5,64,4", "Q8_0,70,64,15", "Q8_0,33,96,16", "Q4_0,67,256,1", "Q4_0,40,96,9", "Q4_0,9,32,3", "Q4_0,5,64,4", "Q4_0,70,64,15", "Q4_0,33,96,16"})
    void kernelEqualsGgmlsScalarArithmetic(GgmlType type, int rows, int cols, int batch) {
        Random r = new Random(rows * 31L + cols);
        float[] w = new float[rows * cols];
        // a few large values per row make some blocks' scales large and others small
        for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextGaussian() * (i % 53 == 0 ? 20 : 1));
        byte[] bytes = Quantizer.quantize(type, w);
        MemorySegment seg = java.lang.foreign.Arena.ofAuto().allocate(bytes.length, 64);
        MemorySegment.copy(bytes, 0, seg, ValueLayout.JAVA_BYTE, 0, bytes.length);
        WeightMatrix m = WeightMatrix.of(type, seg, rows, cols);
        float[] x = new float[batch * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * (i % 41 == 0 ? 8 : 1));
        Q8Activations a = new Q8Activations();
        a.quantize(x, batch, cols);

        float[] out = new float[batch * rows];
        m.matmul(a, out, rows, 0, rows);
        long rowBytes = type.bytesFor(cols);
        for (int b = 0; b < batch; b++) {
            for (int row = 0; row < rows; row++) {
                float expected = reference(type, seg, row * rowBytes, cols, a, b);
                assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(out[b * rows + row]),
                        "row " + row + " activation " + b + ": " + expected + " vs " + out[b * rows + row]);
            }
        }
    }

    private static float reference(GgmlType type, MemorySegment w, long o, int cols, Q8Activations a, int b) {
        int blockBytes = type == GgmlType.Q8_0 ? 34 : 18;
        float[] acc = new float[8];
        for (int blk = 0; blk < cols / 32; blk++, o += blockBytes) {
            float d = Float.float16ToFloat(w.get(Blocks.SHORT_LE, o));
            int[] sum = new int[8];
            for (int k = 0; k < 32; k++) {
                int q;
                if (type == GgmlType.Q8_0) {
                    q = w.get(ValueLayout.JAVA_BYTE, o + 2 + k);
                } else {
                    int packed = w.get(ValueLayout.JAVA_BYTE, o + 2 + (k % 16)) & 0xFF;
                    q = (k < 16 ? packed & 0xF : packed >> 4) - 8;
                }
                sum[k / 4] += q * activation(a, b, blk, k);
            }
            float scale = d * a.scales[b * (cols / 32) + blk];
            for (int j = 0; j < 8; j++) acc[j] = Math.fma((float) sum[j], scale, acc[j]);
        }
        return ((acc[4] + acc[0]) + (acc[6] + acc[2])) + ((acc[5] + acc[1]) + (acc[7] + acc[3]));
    }

    /** Element k of block blk of activation b, as the quantized integer. */
    private static int activation(Q8Activations a, int b, int blk, int k) {
        int o = b * a.cols + blk * 32;
        int viaLanes = (int) a.values[o + 8 * (k % 4) + k / 4];
        int viaPairs = a.pairs[o + (k % 2) * 16 + k / 2];
        assertEquals(viaLanes, viaPairs, "the two layouts of the quantized activations hold the same value");
        // the Q4_0 kernel's terms: e, o - 256 e (16 bits), 8 (e + o) for the pair holding element k
        int t = (b * (a.cols / 32) + blk) * 48 + k / 2;
        int even = a.q4Terms[t];
        int odd = (short) (a.q4Terms[t + 16] + 256 * even);
        assertEquals(viaLanes, k % 2 == 0 ? even : odd, "q4Terms hold the same values");
        assertEquals(8 * (even + odd), a.q4Terms[t + 32], "q4Terms hold 8 (e + o)");
        return viaLanes;
    }
}
