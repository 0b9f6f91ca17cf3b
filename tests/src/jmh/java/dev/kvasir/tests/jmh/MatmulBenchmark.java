package dev.kvasir.tests.jmh;

import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.tensor.ActivationFormat;
import dev.kvasir.model.tensor.Q8Activations;
import dev.kvasir.model.tensor.Quantizer;
import dev.kvasir.model.tensor.WeightMatrix;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * One thread's matmul kernel per weight type, over a set of matrices larger than the caches (so
 * weights stream from memory, as in decode), with the activations in the form the type takes.
 * One operation = every matrix of the set times {@code batch} activations; weight bytes per
 * second = {@link #setBytes} / time per operation (printed at setup). Weights live in native
 * memory, as a mapped model's do.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MatmulBenchmark {
    /** A TinyStories-110M-sized projection: 2048 x 768. */
    private static final int ROWS = 2048;
    private static final int COLS = 768;
    /** Total weight bytes per operation: far beyond L3. */
    private static final long SET_BYTES = 128L << 20;

    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    public String type;

    @Param({"1", "4", "16", "64"})
    public int batch;

    private Arena arena;
    private WeightMatrix[] matrices;
    private float[] x;
    private float[] out;
    private Q8Activations q8;
    private ActivationFormat format;
    long setBytes;

    @Setup(Level.Trial)
    public void setUp() {
        GgmlType t = GgmlType.valueOf(type);
        long bytes = t.bytesFor((long) ROWS * COLS);
        int count = (int) Math.max(1, SET_BYTES / bytes);
        arena = Arena.ofShared();
        matrices = new WeightMatrix[count];
        Random r = new Random(1);
        for (int i = 0; i < count; i++) {
            MemorySegment seg = arena.allocate(bytes, 64);
            fill(t, seg, r);
            matrices[i] = WeightMatrix.of(t, seg, ROWS, COLS);
        }
        setBytes = count * bytes;
        x = new float[batch * COLS];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        out = new float[batch * ROWS];
        format = matrices[0].activationFormat();
        switch (format) {
            case F16 -> {
                for (int i = 0; i < x.length; i++) x[i] = Float.float16ToFloat(Float.floatToFloat16(x[i]));
            }
            case BF16 -> {
                for (int i = 0; i < x.length; i++) x[i] = Float.intBitsToFloat(Quantizer.toBf16(x[i]) << 16);
            }
            case Q8_0 -> {
                q8 = new Q8Activations();
                q8.quantize(x, batch, COLS);
            }
            case F32 -> {
            }
        }
        System.out.printf("%n%s batch %d: %d matrices, %d MiB of weights per operation%n", type, batch, count, setBytes >> 20);
    }

    /** Quantized random weights where the quantizer knows the type; otherwise random blocks with sane f16 scales. */
    private static void fill(GgmlType t, MemorySegment seg, Random r) {
        if (Quantizer.supports(t)) {
            float[] w = new float[ROWS * COLS];
            for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextGaussian() * 0.05);
            byte[] q = Quantizer.quantize(t, w);
            MemorySegment.copy(q, 0, seg, ValueLayout.JAVA_BYTE, 0, q.length);
            return;
        }
        byte[] b = new byte[(int) seg.byteSize()];
        r.nextBytes(b);
        MemorySegment.copy(b, 0, seg, ValueLayout.JAVA_BYTE, 0, b.length);
        ValueLayout.OfShort f16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        short d = Float.floatToFloat16(0.01f);
        for (long o = 0; o < seg.byteSize(); o += t.blockBytes) {
            switch (t) {
                case Q4_K -> {
                    seg.set(f16, o, d);
                    seg.set(f16, o + 2, d);
                }
                case Q6_K -> seg.set(f16, o + t.blockBytes - 2, d);
                default -> throw new IllegalArgumentException("no filler for " + t);
            }
        }
    }

    @Benchmark
    public float[] matmul() {
        for (WeightMatrix m : matrices) {
            if (format == ActivationFormat.Q8_0) {
                m.matmul(q8, out, ROWS, 0, ROWS);
            } else {
                m.matmul(x, batch, out, ROWS, 0, ROWS);
            }
        }
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }
}
