package dev.kvasir.cluster.gateway;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts generations between submit and their last event, so that shutdown can stop taking new
 * ones ({@link #startDraining()}) and wait for the running ones ({@link #drained()}).
 */
public final class InFlight {
    private final AtomicInteger count = new AtomicInteger();
    private final CompletableFuture<Void> drained = new CompletableFuture<>();
    private volatile boolean draining;

    public void begin() {
        count.incrementAndGet();
    }

    public void end() {
        if (count.decrementAndGet() == 0 && draining) drained.complete(null);
    }

    public int count() {
        return count.get();
    }

    public boolean draining() {
        return draining;
    }

    /** From now on new requests are refused; {@link #drained()} completes once the count reaches zero. */
    public void startDraining() {
        draining = true;
        if (count.get() == 0) drained.complete(null);
    }

    public CompletionStage<Void> drained() {
        return drained;
    }
}
