package dev.kvasir.actors;

import dev.kvasir.model.sampling.SamplingParams;
import org.apache.pekko.actor.typed.ActorRef;

import java.util.ArrayList;
import java.util.List;

/** An accepted request and its samples, from Submit until every sample has finished. */
final class ActiveRequest {
    final String requestId;
    final RouterCommand.Submit submit;
    final SamplingParams sampling;
    final long seed;
    final ActorRef<GenerationEvent> replyTo;
    final long submitNanos;
    final List<Sequence> samples = new ArrayList<>();
    /** Some sample has been admitted to the running batch (it no longer counts as queued). */
    boolean admitted;
    boolean firstTokenSeen;
    int finishedSamples;

    ActiveRequest(RouterCommand.Submit submit, long seed, long submitNanos) {
        this.requestId = submit.requestId();
        this.submit = submit;
        this.seed = seed;
        this.sampling = submit.sampling().withSeed(seed);
        this.replyTo = submit.replyTo();
        this.submitNanos = submitNanos;
    }

    int n() {
        return submit.n();
    }

    boolean done() {
        return finishedSamples == submit.n();
    }
}
