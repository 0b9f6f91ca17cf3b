package dev.kvasir.cluster.routing;

import dev.kvasir.actors.FinishReason;
import dev.kvasir.actors.GenerationEvent;
import dev.kvasir.actors.RejectCode;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.cluster.gateway.GatewayMetrics;
import dev.kvasir.model.sampling.SamplingParams;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.ArrayList;
import java.util.List;

/**
 * Follows one request from the gateway to its replica and back, and keeps the request's progress
 * (the seed the replica chose, the tokens streamed so far) so that it survives the replica: when the
 * replica is lost — its node unreachable or removed, or its router stopped (DeathWatch) — the relay
 * asks the {@link ReplicaRouter} for another and resubmits with the streamed tokens as
 * {@link RouterCommand.Submit#resumeTokens()}. The new replica continues with the next index and the
 * same seeded draws; anything a lost replica still sends (an attempt has an id of its own) is ignored,
 * and a token whose index was already streamed is dropped, so the client sees every token once.
 *
 * <p>Single-sample requests resume; a lost n &gt; 1 request ends with an {@code internal} error.
 */
final class RequestRelay extends AbstractBehavior<Object> {

    private record FromReplica(GenerationEvent event) {
    }

    private record ReplicaStopped(ActorRef<RouterCommand> replica) {
    }

    private final RouterCommand.Submit submit;
    private final ActorRef<GenerationEvent> client;
    private final String wirePrefix;
    private final ActorRef<Object> parent;
    private final GatewayMetrics metrics;
    private final ActorRef<GenerationEvent> events;
    private final List<Integer> streamed = new ArrayList<>();
    private final List<ActorRef<RouterCommand>> lost = new ArrayList<>();
    private ActorRef<RouterCommand> replica;
    private String wireId;
    private int attempt;
    private boolean accepted;
    private Long seed;
    private int samples = 1;
    private int finishedSamples;
    private boolean cancelled;
    private long lostAtNanos;

    static Behavior<Object> create(RouterCommand.Submit submit, ActorRef<RouterCommand> replica, String wirePrefix,
                                   ActorRef<Object> parent, GatewayMetrics metrics) {
        return Behaviors.setup(ctx -> new RequestRelay(ctx, submit, replica, wirePrefix, parent, metrics));
    }

    private RequestRelay(ActorContext<Object> ctx, RouterCommand.Submit submit, ActorRef<RouterCommand> replica,
                         String wirePrefix, ActorRef<Object> parent, GatewayMetrics metrics) {
        super(ctx);
        this.submit = submit;
        this.client = submit.replyTo();
        this.wirePrefix = wirePrefix;
        this.parent = parent;
        this.metrics = metrics;
        this.events = ctx.messageAdapter(GenerationEvent.class, FromReplica::new);
        send(replica, submit.sampling(), new int[0]);
    }

    @Override
    public Receive<Object> createReceive() {
        return newReceiveBuilder()
                .onMessage(FromReplica.class, m -> onEvent(m.event()))
                .onMessage(RouterCommand.Cancel.class, c -> onCancel())
                .onMessage(ReplicaStopped.class, m -> onLost(m.replica(), "its router stopped"))
                .onMessage(ReplicaRouter.ReplicaLost.class, m -> onLost(m.replica(), m.why()))
                .onMessage(ReplicaRouter.Assigned.class, this::onAssigned)
                .build();
    }

    private void send(ActorRef<RouterCommand> to, SamplingParams sampling, int[] resume) {
        replica = to;
        wireId = wirePrefix + "-a" + attempt++;
        getContext().watchWith(to, new ReplicaStopped(to));
        to.tell(submit.resumed(wireId, events, sampling, resume));
    }

    private Behavior<Object> onEvent(GenerationEvent e) {
        if (replica == null || !e.requestId().equals(wireId)) return this; // from an attempt given up on
        String id = submit.requestId();
        switch (e) {
            case GenerationEvent.Accepted a -> {
                if (accepted) return this; // a resumed attempt: the client was told already
                accepted = true;
                seed = a.seed();
                samples = a.samples();
                client.tell(new GenerationEvent.Accepted(id, a.promptTokens(), a.samples(), a.seed()));
            }
            case GenerationEvent.Token t -> {
                if (samples == 1) {
                    if (t.index() < streamed.size()) return this; // streamed before the move
                    if (t.index() > streamed.size()) {
                        getContext().getLog().error("request {}: token {} arrived after {} (a gap); dropping it", id, t.index(), streamed.size());
                        return this;
                    }
                    streamed.add(t.tokenId());
                    if (lostAtNanos != 0) {
                        getContext().getLog().info("request {} continues on {} at token {}, {} ms after its replica was lost",
                                id, replica.path(), t.index(), (System.nanoTime() - lostAtNanos) / 1_000_000);
                        lostAtNanos = 0;
                    }
                }
                client.tell(new GenerationEvent.Token(id, t.sampleIndex(), t.index(), t.tokenId(), t.text(), t.logprob(), t.topLogprobs()));
            }
            case GenerationEvent.Finished f -> {
                client.tell(new GenerationEvent.Finished(id, f.sampleIndex(), f.finishReason(), f.promptTokens(),
                        f.completionTokens(), f.cachedPromptTokens(), f.trailingText()));
                if (++finishedSamples >= samples) return Behaviors.stopped();
            }
            case GenerationEvent.Rejected r -> {
                client.tell(new GenerationEvent.Rejected(id, r.code(), r.message()));
                return Behaviors.stopped();
            }
        }
        return this;
    }

    private Behavior<Object> onCancel() {
        cancelled = true;
        if (replica != null) replica.tell(new RouterCommand.Cancel(wireId));
        return this;
    }

    private Behavior<Object> onLost(ActorRef<RouterCommand> which, String why) {
        if (!which.equals(replica)) return this;
        getContext().unwatch(replica);
        replica.tell(new RouterCommand.Cancel(wireId)); // in case it is alive but cut off: free its blocks when it is back
        lost.add(replica);
        replica = null;
        lostAtNanos = System.nanoTime();
        String id = submit.requestId();
        if (cancelled) return finishCancelled();
        if (accepted && samples > 1) {
            client.tell(new GenerationEvent.Rejected(id, RejectCode.INTERNAL,
                    "the replica running this request was lost (" + why + "); requests with n > 1 are not resumed"));
            return Behaviors.stopped();
        }
        getContext().getLog().warn("request {}: replica lost ({}) after {} tokens; moving it", id, why, streamed.size());
        parent.tell(new ReplicaRouter.Reassign(getContext().getSelf(), List.copyOf(lost), submit.promptTokens()));
        return this;
    }

    private Behavior<Object> onAssigned(ReplicaRouter.Assigned a) {
        if (replica != null) return this;
        String id = submit.requestId();
        if (cancelled) return finishCancelled();
        if (a.replica() == null) {
            client.tell(new GenerationEvent.Rejected(id, RejectCode.INTERNAL,
                    "the replica running this request was lost and no other replica is reachable"));
            return Behaviors.stopped();
        }
        metrics.resumed();
        // Until the first Accepted the seed is unknown: then nothing was streamed and a fresh start is exact.
        SamplingParams sampling = seed != null ? submit.sampling().withSeed(seed) : submit.sampling();
        send(a.replica(), sampling, streamed.stream().mapToInt(Integer::intValue).toArray());
        return this;
    }

    private Behavior<Object> finishCancelled() {
        String id = submit.requestId();
        if (!accepted) client.tell(new GenerationEvent.Accepted(id, submit.promptTokens().length, 1, seed == null ? 0 : seed));
        client.tell(new GenerationEvent.Finished(id, 0, FinishReason.CANCELLED, submit.promptTokens().length, streamed.size(), 0, ""));
        return Behaviors.stopped();
    }
}
