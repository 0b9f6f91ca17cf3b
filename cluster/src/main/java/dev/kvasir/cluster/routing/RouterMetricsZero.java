package dev.kvasir.cluster.routing;

import dev.kvasir.actors.HistogramSnapshot;
import dev.kvasir.actors.RouterMetrics;

/** The engine metrics of a node that runs no replica (a gateway-only node): all zero. */
final class RouterMetricsZero {
    static final RouterMetrics INSTANCE = new RouterMetrics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            empty(), empty());

    private RouterMetricsZero() {
    }

    private static HistogramSnapshot empty() {
        return new HistogramSnapshot(new double[0], new long[1], 0, 0);
    }
}
