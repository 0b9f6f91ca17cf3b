package dev.kvasir.model.tensor;

import dev.kvasir.model.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Plain float32 weights. */
final class F32Matrix implements WeightMatrix {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
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

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = (long) row * cols * Float.BYTES;
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        int upper = S.loopBound(cols);
        for (; i < upper; i += S.length()) {
            FloatVector w = FloatVector.fromMemorySegment(S, data, base + (long) i * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
            acc = w.fma(FloatVector.fromArray(S, x, xOffset + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < cols; i++) sum += data.get(F, base + (long) i * Float.BYTES) * x[xOffset + i];
        return sum;
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        MemorySegment.copy(data, F, (long) row * cols * Float.BYTES, dst, dstOffset, cols);
    }
}
