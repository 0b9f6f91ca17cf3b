package dev.kvasir.model.bench;

import dev.kvasir.model.cpu.ComputePool;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.DoubleAdder;

/**
 * A STREAM-like read benchmark: the memory bandwidth that bounds decode. Each compute thread sums
 * its own contiguous part of a native buffer much larger than the caches, the way a matmul streams
 * its rows; bytes read per second, median of several passes, after a warm-up pass.
 */
public final class ReadBandwidth {
    private static final Logger log = LoggerFactory.getLogger(ReadBandwidth.class);
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_256;

    private ReadBandwidth() {
    }

    /** Bytes per second read by {@code pool}'s threads over a buffer of {@code bytes}, median of {@code passes}. */
    public static double measure(ComputePool pool, long bytes, int passes) {
        if (bytes < (1 << 20)) throw new IllegalArgumentException("buffer must be at least 1 MiB");
        long chunk = 64L * S.vectorByteSize();
        long n = bytes / chunk;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(n * chunk, 64);
            buf.fill((byte) 1);
            double[] runs = new double[passes];
            DoubleAdder sink = new DoubleAdder();
            // compile the loop before timing anything
            for (int i = 0; i < 200; i++) sink.add(sum(buf, 0, 1 << 16));
            for (int p = -1; p < passes; p++) {
                long t0 = System.nanoTime();
                pool.parallelFor((int) n, (start, end) -> sink.add(sum(buf, start * chunk, end * chunk)));
                double gbps = n * chunk / ((System.nanoTime() - t0) / 1e9);
                if (p >= 0) runs[p] = gbps;
                log.info("{}: {} GB/s", p < 0 ? "warm-up" : "pass " + (p + 1) + "/" + passes, String.format("%.2f", gbps / 1e9));
            }
            if (Double.isNaN(sink.sum())) log.debug("unreachable: keeps the sums alive");
            return ForwardBenchmark.median(runs);
        }
    }

    /** Four independent accumulators so the loads, not the adds, set the pace. */
    private static float sum(MemorySegment buf, long from, long to) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        long step = S.vectorByteSize();
        for (long o = from; o < to; o += 4 * step) {
            a0 = a0.add(FloatVector.fromMemorySegment(S, buf, o, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(FloatVector.fromMemorySegment(S, buf, o + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(FloatVector.fromMemorySegment(S, buf, o + 2 * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(FloatVector.fromMemorySegment(S, buf, o + 3 * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
    }
}
