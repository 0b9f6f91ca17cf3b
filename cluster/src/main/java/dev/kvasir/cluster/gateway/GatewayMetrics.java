package dev.kvasir.cluster.gateway;

import dev.kvasir.actors.HistogramSnapshot;
import dev.kvasir.actors.RouterMetrics;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The node's Prometheus metrics, named in the spirit of vLLM's ({@code kvasir_} where vLLM says
 * {@code vllm:}). Engine figures (running/waiting, KV usage, prefix cache, preemptions, token
 * counters, time to first token and inter-token latency) come from the router's cumulative
 * {@link RouterMetrics} at scrape time; what only the gateway sees (end-to-end latency, finish
 * reasons, errors, disconnects) is counted here as it happens.
 */
public final class GatewayMetrics {
    /** Seconds; like the router's buckets, from a millisecond to minutes. */
    private static final double[] E2E_BOUNDS = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320};

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Histogram endToEnd = Histogram.builder().name("kvasir_e2e_request_latency_seconds")
            .help("Time from receiving a request to its last token (all samples), in seconds")
            .classicUpperBounds(E2E_BOUNDS).classicOnly().register(registry);
    private final Counter finished = Counter.builder().name("kvasir_request_success")
            .help("Finished samples by finish reason (stop, length, cancelled)").labelNames("finished_reason").register(registry);
    private final Counter errors = Counter.builder().name("kvasir_request_errors")
            .help("Requests refused or failed, by error code").labelNames("code").register(registry);
    private final Counter disconnects = Counter.builder().name("kvasir_client_disconnects")
            .help("Requests cancelled because their client went away before the end").register(registry);
    private final Counter resumed = Counter.builder().name("kvasir_requests_resumed")
            .help("Requests moved to another replica after theirs was lost, continuing their stream").register(registry);
    private final Counter replicasLost = Counter.builder().name("kvasir_replicas_lost")
            .help("Times a replica this gateway routed to became unreachable or stopped").register(registry);
    private volatile int replicasReachable;
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    public void endToEnd(long nanos) {
        endToEnd.observe(nanos / 1e9);
    }

    public void finished(String reason) {
        finished.labelValues(reason).inc();
    }

    public void error(String code) {
        errors.labelValues(code).inc();
    }

    public void disconnected() {
        disconnects.inc();
    }

    public void resumed() {
        resumed.inc();
    }

    public void replicas(int reachable) {
        replicasReachable = reachable;
    }

    public void replicaLost() {
        replicasLost.inc();
    }

    public String contentType() {
        return writer.getContentType();
    }

    /** The text exposition of the gateway's metrics plus the engine's ({@code engine} null while the model loads). */
    public byte[] scrape(RouterMetrics engine, boolean ready) {
        List<MetricSnapshot> all = new ArrayList<>();
        registry.scrape().forEach(all::add);
        all.add(gauge("kvasir_model_ready", "1 when the model is loaded and the node can generate", ready ? 1 : 0));
        all.add(gauge("kvasir_replicas_reachable", "Model replicas in the cluster this node's gateway can route to", replicasReachable));
        if (engine != null) all.addAll(engine(engine));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writer.write(out, new MetricSnapshots(all));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static List<MetricSnapshot> engine(RouterMetrics m) {
        double kvUsage = m.kvBlocksTotal() == 0 ? 0 : (double) m.kvBlocksUsed() / m.kvBlocksTotal();
        double hitRate = m.prefixCacheQueries() == 0 ? 0 : (double) m.prefixCacheHits() / m.prefixCacheQueries();
        return List.of(
                gauge("kvasir_num_requests_running", "Sequences in the running batch", m.running()),
                gauge("kvasir_num_requests_waiting", "Sequences waiting for admission (new and preempted by recompute)", m.waiting()),
                gauge("kvasir_num_requests_swapped", "Sequences preempted to host memory", m.swapped()),
                gauge("kvasir_kv_cache_usage_perc", "Fraction of KV blocks referenced by live sequences (1 = full)", kvUsage),
                gauge("kvasir_kv_blocks_total", "KV blocks in the pool", m.kvBlocksTotal()),
                gauge("kvasir_kv_blocks_free", "KV blocks holding nothing", m.kvBlocksFree()),
                gauge("kvasir_kv_blocks_cached", "Unreferenced KV blocks kept for the prefix cache", m.kvBlocksCached()),
                gauge("kvasir_prefix_cache_hit_rate", "Prompt tokens found in the prefix cache / prompt tokens looked up, since start", hitRate),
                counter("kvasir_prefix_cache_queries", "Prompt tokens looked up in the prefix cache", m.prefixCacheQueries()),
                counter("kvasir_prefix_cache_hits", "Prompt tokens whose KV came from the prefix cache", m.prefixCacheHits()),
                counter("kvasir_num_preemptions", "Sequences preempted (recompute and swap)", m.preemptions()),
                counter("kvasir_prompt_tokens", "Prompt tokens of accepted requests", m.promptTokens()),
                counter("kvasir_generation_tokens", "Generated tokens", m.generatedTokens()),
                counter("kvasir_requests_accepted", "Requests the router accepted", m.requestsAccepted()),
                counter("kvasir_requests_rejected", "Requests the router refused", m.requestsRejected()),
                counter("kvasir_engine_steps", "Engine steps (batches) run", m.steps()),
                counter("kvasir_engine_steps_queued_ahead", "Engine steps sent before the step they follow had answered", m.stepsQueuedAhead()),
                histogram("kvasir_time_to_first_token_seconds", "Submit to first token, per request, in seconds", m.timeToFirstToken()),
                histogram("kvasir_inter_token_latency_seconds", "Time between consecutive tokens of a sample, in seconds", m.interTokenLatency()));
    }

    private static MetricSnapshot gauge(String name, String help, double value) {
        return GaugeSnapshot.builder().name(name).help(help)
                .dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().value(value).build()).build();
    }

    private static MetricSnapshot counter(String name, String help, double value) {
        return CounterSnapshot.builder().name(name).help(help)
                .dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().value(value).build()).build();
    }

    private static MetricSnapshot histogram(String name, String help, HistogramSnapshot h) {
        double[] bounds = new double[h.upperBounds().length + 1];
        System.arraycopy(h.upperBounds(), 0, bounds, 0, h.upperBounds().length);
        bounds[bounds.length - 1] = Double.POSITIVE_INFINITY;
        long[] counts = new long[bounds.length];
        long previous = 0;
        for (int i = 0; i < counts.length; i++) {
            counts[i] = h.cumulativeCounts()[i] - previous;
            previous = h.cumulativeCounts()[i];
        }
        return io.prometheus.metrics.model.snapshots.HistogramSnapshot.builder().name(name).help(help)
                .dataPoint(io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot.builder()
                        .classicHistogramBuckets(ClassicHistogramBuckets.of(bounds, counts)).sum(h.sumSeconds()).build())
                .build();
    }
}
