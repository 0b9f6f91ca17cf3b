package dev.kvasir.cluster.gateway;

import dev.kvasir.actors.GenerationEvent;
import dev.kvasir.actors.RouterCommand;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSource;

import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Turns one request into a stream of its {@link GenerationEvent}s: materializing the source submits
 * it to the router; the stream completes after the last sample's {@code Finished} (or a
 * {@code Rejected}). If the stream ends any other way — the HTTP client went away, the socket
 * closed — the request is cancelled, which frees its KV blocks at once.
 *
 * <p>Events are buffered per request: the router never waits for a client, and a request's events
 * are bounded by its samples times its token budget, so the buffer cannot grow without bound.
 */
public final class Generations {
    private final AtomicLong ids = new AtomicLong();
    private final InFlight inFlight;
    private final GatewayMetrics metrics;

    public Generations(InFlight inFlight, GatewayMetrics metrics) {
        this.inFlight = inFlight;
        this.metrics = metrics;
    }

    public String nextId(String prefix) {
        return prefix + "-" + Long.toString(System.currentTimeMillis(), 36) + "-" + ids.incrementAndGet();
    }

    /**
     * @param submit the router command, given the actor that receives the events
     * @param events upper bound on the request's events (sizes the buffer)
     */
    public Source<GenerationEvent, NotUsed> run(ActorRef<RouterCommand> router, String requestId, int events,
                                                Function<ActorRef<GenerationEvent>, RouterCommand.Submit> submit) {
        AtomicBoolean complete = new AtomicBoolean();
        int[] remaining = {Integer.MAX_VALUE};
        long start = System.nanoTime();
        Source<GenerationEvent, ActorRef<GenerationEvent>> source =
                ActorSource.actorRef(e -> false, e -> Optional.empty(), Math.max(16, events), OverflowStrategy.fail());
        return source
                .mapMaterializedValue(ref -> {
                    inFlight.begin();
                    router.tell(submit.apply(ref));
                    return NotUsed.notUsed();
                })
                .takeWhile(e -> switch (e) {
                    case GenerationEvent.Accepted a -> {
                        remaining[0] = a.samples();
                        yield true;
                    }
                    case GenerationEvent.Token t -> true;
                    case GenerationEvent.Finished f -> {
                        metrics.finished(f.finishReason().wireName());
                        if (--remaining[0] > 0) yield true;
                        complete.set(true);
                        metrics.endToEnd(System.nanoTime() - start);
                        yield false;
                    }
                    case GenerationEvent.Rejected r -> {
                        complete.set(true);
                        metrics.error(r.code().wireName());
                        yield false;
                    }
                }, true)
                .watchTermination((notUsed, done) -> {
                    done.whenComplete((d, failure) -> {
                        inFlight.end();
                        if (!complete.get()) {
                            // counted before the cancel is sent, so whoever sees the cancel's effect sees the count
                            metrics.disconnected();
                            router.tell(new RouterCommand.Cancel(requestId));
                        }
                    });
                    return notUsed;
                });
    }
}
