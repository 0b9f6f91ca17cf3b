package dev.kvasir.actors;

import dev.kvasir.model.sampling.SamplingParams;
import org.apache.pekko.actor.typed.ActorRef;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * What a client (the HTTP/WebSocket gateway, the CLI, a test) sends to a {@link RequestRouter}.
 * Every accepted {@link Submit} gets {@link GenerationEvent.Accepted}, then a stream of
 * {@link GenerationEvent.Token}s, then one {@link GenerationEvent.Finished} per sample; a refused
 * one gets a single {@link GenerationEvent.Rejected}.
 */
public sealed interface RouterCommand
        permits RouterCommand.Submit, RouterCommand.Cancel, RouterCommand.GetMetrics, RouterCommand.CheckBlocks,
        RequestRouter.Internal {

    /**
     * Asks for a generation.
     *
     * @param requestId    chosen by the client, unique among its active requests; events carry it
     * @param promptTokens the encoded prompt (BOS included when the model wants one), at most the context window
     * @param sampling     how to sample; a null seed is replaced by a random one at submit, so that
     *                     preemption by recompute continues with the same draws
     * @param maxTokens    most tokens to generate per sample (the context window also ends a sample)
     * @param stop         stop strings; the text is cut before the first match (empty = none)
     * @param n            samples of the same prompt; they share the prompt's KV blocks (copy-on-write).
     *                     Sample {@code i} draws with seed {@link SampleSeeds#forSample(long, int)}
     * @param logprobs     report each token's log-probability
     * @param topLogprobs  also report this many most likely alternatives (0..20)
     * @param deadline     when the request must be finished (it then ends with
     *                     {@link FinishReason#DEADLINE}); null = none
     * @param replyTo      receives the request's {@link GenerationEvent}s
     * @param resumeTokens tokens this request already generated elsewhere (a replica that died mid-stream;
     *                     n = 1 only, with the seed the first replica chose): they are prefilled after the
     *                     prompt but count as output, so the next token has index {@code resumeTokens.length},
     *                     {@code maxTokens} still bounds the whole output, and seeded sampling continues with
     *                     the same (seed, index) draws. Empty for a fresh request.
     */
    record Submit(String requestId, int[] promptTokens, SamplingParams sampling, int maxTokens, List<String> stop, int n,
                  boolean logprobs, int topLogprobs, Instant deadline, ActorRef<GenerationEvent> replyTo,
                  int[] resumeTokens)
            implements RouterCommand {
        public Submit {
            Objects.requireNonNull(replyTo, "replyTo");
            stop = stop == null ? List.of() : List.copyOf(stop);
            sampling = sampling == null ? SamplingParams.greedy() : sampling;
            resumeTokens = resumeTokens == null ? new int[0] : resumeTokens;
        }

        /** A fresh request (nothing to resume). */
        public Submit(String requestId, int[] promptTokens, SamplingParams sampling, int maxTokens, List<String> stop, int n,
                      boolean logprobs, int topLogprobs, Instant deadline, ActorRef<GenerationEvent> replyTo) {
            this(requestId, promptTokens, sampling, maxTokens, stop, n, logprobs, topLogprobs, deadline, replyTo, null);
        }

        /** The same request under another id and reply address, continuing after {@code generated} tokens. */
        public Submit resumed(String id, ActorRef<GenerationEvent> to, SamplingParams seeded, int[] generated) {
            return new Submit(id, promptTokens, seeded, maxTokens, stop, n, logprobs, topLogprobs, deadline, to, generated);
        }

        /** A single-sample request without logprobs or deadline. */
        public static Submit of(String requestId, int[] promptTokens, SamplingParams sampling, int maxTokens,
                                ActorRef<GenerationEvent> replyTo) {
            return new Submit(requestId, promptTokens, sampling, maxTokens, List.of(), 1, false, 0, null, replyTo);
        }

        public Submit withN(int samples) {
            return new Submit(requestId, promptTokens, sampling, maxTokens, stop, samples, logprobs, topLogprobs, deadline, replyTo, resumeTokens);
        }

        public Submit withStop(List<String> stops) {
            return new Submit(requestId, promptTokens, sampling, maxTokens, stops, n, logprobs, topLogprobs, deadline, replyTo, resumeTokens);
        }

        public Submit withLogprobs(int top) {
            return new Submit(requestId, promptTokens, sampling, maxTokens, stop, n, true, top, deadline, replyTo, resumeTokens);
        }

        public Submit withDeadline(Instant at) {
            return new Submit(requestId, promptTokens, sampling, maxTokens, stop, n, logprobs, topLogprobs, at, replyTo, resumeTokens);
        }
    }

    /**
     * Ends a request at once, whatever state it is in: every unfinished sample gets
     * {@link GenerationEvent.Finished} with {@link FinishReason#CANCELLED} and all its KV blocks are
     * released. Unknown or already finished ids are ignored (a cancel may cross a finish).
     */
    record Cancel(String requestId) implements RouterCommand {
    }

    /** Asks for a {@link RouterMetrics} snapshot. */
    record GetMetrics(ActorRef<RouterMetrics> replyTo) implements RouterCommand {
    }

    /** Diagnostic: audits the KV-block manager's invariants (refcounts, free/cached lists, hashes). */
    record CheckBlocks(ActorRef<BlockAudit> replyTo) implements RouterCommand {
    }
}
