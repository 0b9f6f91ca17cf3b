package dev.kvasir.actors;

import java.util.Arrays;

/**
 * A latency histogram's state, Prometheus style.
 *
 * @param upperBounds      bucket bounds in seconds; the last (implicit) bucket is +Inf
 * @param cumulativeCounts observations ≤ each bound, then the total for +Inf
 */
public record HistogramSnapshot(double[] upperBounds, long[] cumulativeCounts, long count, double sumSeconds) {
    public double meanSeconds() {
        return count == 0 ? 0 : sumSeconds / count;
    }

    /** The bound of the bucket holding quantile {@code q} (a coarse estimate), +Inf past the last bound. */
    public double quantileUpperBound(double q) {
        long rank = (long) Math.ceil(q * count);
        for (int i = 0; i < upperBounds.length; i++) if (cumulativeCounts[i] >= rank) return upperBounds[i];
        return Double.POSITIVE_INFINITY;
    }

    @Override
    public String toString() {
        return "Histogram[count=" + count + ", sum=" + sumSeconds + "s, cumulative=" + Arrays.toString(cumulativeCounts) + "]";
    }
}
