package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Plain float32 weights. */
final class F32Matrix implements WeightMatrix {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_256;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final MemorySegment data;
    private final int rows;
    private final int cols;

    F32Matrix(MemorySegment data, int rows, int cols) {
        this.data = data;
        this.rows = rows;
        this.cols = cols;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public GgmlType type() {
        return GgmlType.F32;
    }

    @Override
    public MemorySegment data() {
        return data;
    }

    /**
     * llama.cpp's {@code ggml_vec_dot_f32} on x86: four 8-lane fused accumulators over groups of 32,
     * reduced in ggml's order, the rest added one by one. A fixed order also keeps results identical
     * whichever JIT tier runs the code ({@code reduceLanes} may add lanes in any order).
     */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = (long) row * cols * Float.BYTES;
        int whole = cols & ~31;
        float sum = 0;
        if (whole > 0) {
            sum = GgmlSums.reduce4(accumulate(base, x, xOffset, 0, whole), accumulate(base, x, xOffset, 8, whole),
                    accumulate(base, x, xOffset, 16, whole), accumulate(base, x, xOffset, 24, whole));
        }
        for (int i = whole; i < cols; i++) sum += data.get(F, base + (long) i * Float.BYTES) * x[xOffset + i];
        return sum;
    }

    /** One of ggml's four accumulators: groups {@code first, first + 32, ...}; a flat loop of its own keeps C2 from spilling. */
    private FloatVector accumulate(long base, float[] x, int xOffset, int first, int whole) {
        FloatVector acc = FloatVector.zero(S);
        for (int i = first; i < whole; i += 32) {
            FloatVector w = FloatVector.fromMemorySegment(S, data, base + (long) i * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
            acc = w.fma(FloatVector.fromArray(S, x, xOffset + i), acc);
        }
        return acc;
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        MemorySegment.copy(data, F, (long) row * cols * Float.BYTES, dst, dstOffset, cols);
    }
}
