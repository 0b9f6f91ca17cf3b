package dev.kvasir.actors;


/**
 * A cumulative latency histogram with fixed bucket bounds (Prometheus style). Owned by one actor,
 * so not thread-safe; {@link #snapshot()} hands out an immutable copy.
 */
final class LatencyHistogram {
    /** Upper bounds in seconds, from a millisecond (a CPU decode step of a small model) to a minute. */
    static final double[] BOUNDS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

    private final long[] counts = new long[BOUNDS.length + 1];
    private long count;
    private double sum;

    void observeNanos(long nanos) {
        double s = nanos / 1e9;
        int i = 0;
        while (i < BOUNDS.length && s > BOUNDS[i]) i++;
        counts[i]++;
        count++;
        sum += s;
    }

    HistogramSnapshot snapshot() {
        long[] cumulative = new long[counts.length];
        long c = 0;
        for (int i = 0; i < counts.length; i++) cumulative[i] = c += counts[i];
        return new HistogramSnapshot(BOUNDS.clone(), cumulative, count, sum);
    }
}
