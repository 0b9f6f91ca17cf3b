package dev.kvasir.cluster.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.actors.GenerationEvent;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.model.sampling.SamplingParams;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.typed.javadsl.ActorSource;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code /health}: 200 only when the node can actually generate. While the model loads, after a
 * failed load, or while draining it answers 503 at once; otherwise it runs a one-token generation
 * through the router and the executor, and answers 503 if that fails or takes longer than the probe
 * timeout (a dead or wedged executor). Concurrent checks share one probe.
 */
final class HealthProbe {
    record Health(int status, String state, String detail) {
        ObjectNode body(ObjectMapper json) {
            ObjectNode o = json.createObjectNode().put("status", state);
            if (detail != null) o.put("detail", detail);
            return o;
        }
    }

    private final ActorSystem<?> system;
    private final Materializer materializer;
    private final ModelHolder models;
    private final InFlight inFlight;
    private final Duration timeout;
    private final AtomicLong ids = new AtomicLong();
    private final AtomicReference<CompletableFuture<Health>> running = new AtomicReference<>();

    HealthProbe(ActorSystem<?> system, ModelHolder models, InFlight inFlight, Duration timeout) {
        this.system = system;
        this.materializer = Materializer.matFromSystem(system);
        this.models = models;
        this.inFlight = inFlight;
        this.timeout = timeout;
    }

    CompletionStage<Health> check() {
        ServedModel m = models.model();
        if (m == null && models.failure() != null) return done(new Health(503, "failed", models.failure()));
        if (m == null) return done(new Health(503, "loading", "model '" + models.id() + "' is loading"));
        if (inFlight.draining()) return done(new Health(503, "draining", "the node is shutting down"));
        CompletableFuture<Health> mine = new CompletableFuture<>();
        CompletableFuture<Health> current = running.compareAndExchange(null, mine);
        if (current != null) return current;
        probe(m).whenComplete((h, t) -> {
            running.set(null);
            mine.complete(t != null ? new Health(503, "unhealthy", "probe failed: " + t.getMessage()) : h);
        });
        return mine;
    }

    private CompletionStage<Health> probe(ServedModel m) {
        String id = "health-" + ids.incrementAndGet();
        int token = m.tokenizer().bosId() >= 0 ? m.tokenizer().bosId() : 0;
        return ActorSource.<GenerationEvent>actorRef(e -> false, e -> Optional.empty(), 16, OverflowStrategy.fail())
                .mapMaterializedValue(ref -> {
                    m.router().tell(new RouterCommand.Submit(id, new int[]{token}, SamplingParams.greedy(), 1, List.of(), 1,
                            false, 0, null, ref));
                    return ref;
                })
                .filter(e -> e instanceof GenerationEvent.Finished || e instanceof GenerationEvent.Rejected)
                .completionTimeout(timeout)
                .runWith(Sink.head(), materializer)
                .handle((e, t) -> {
                    if (t != null) {
                        m.router().tell(new RouterCommand.Cancel(id));
                        return new Health(503, "unhealthy", "no answer from the engine within " + timeout.toMillis() + " ms");
                    }
                    if (e instanceof GenerationEvent.Rejected r) {
                        return new Health(503, r.code().wireName().equals("overloaded") ? "overloaded" : "unhealthy", r.message());
                    }
                    return new Health(200, "ok", null);
                });
    }

    private static CompletionStage<Health> done(Health h) {
        return CompletableFuture.completedFuture(h);
    }
}
