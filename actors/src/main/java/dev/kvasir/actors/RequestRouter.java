package dev.kvasir.actors;

import dev.kvasir.model.exec.KvGeometry;
import dev.kvasir.model.exec.SampledToken;
import dev.kvasir.model.exec.SequenceWork;
import dev.kvasir.model.generate.StopStrings;
import dev.kvasir.model.tokenizer.Tokenizer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The scheduler of one model replica, as an actor: takes requests, runs the engine one step at a
 * time on its {@link ShardGroup} with iteration-level (continuous) batching, and streams tokens back.
 *
 * <p>Each step it asks the {@link IterationScheduler} for a batch (admitting waiting requests,
 * retiring finished ones, chunking long prefills, preempting when blocks run out), sends it to the
 * shard group and returns to its mailbox: compute never runs on this actor's thread, so submits,
 * cancels and metrics queries are served while a step runs. When the step's tokens come back it
 * appends them, detokenizes incrementally, applies stop strings, emits {@link GenerationEvent}s,
 * finishes sequences (their full blocks stay in the prefix cache) and schedules the next step.
 *
 * <p>With {@link ServingConfig#queueAhead()} it sends the step after a running one before that
 * one's tokens are back, whenever it can be planned without them
 * ({@link IterationScheduler#continuation}): the shard queues it on the device, its sequences
 * continuing from the tokens they sample there, and the device runs step after step while this
 * actor handles the tokens. A token that ends a sequence then wastes that sequence's share of the
 * step queued after it, whose answer is dropped.
 */
public final class RequestRouter extends AbstractBehavior<RouterCommand> {

    /** Messages the router sends itself. */
    sealed interface Internal extends RouterCommand permits StepDone, DeadlineExpired {
    }

    record StepDone(StepOutcome outcome) implements Internal {
    }

    record DeadlineExpired(String requestId) implements Internal {
    }

    private final ServingConfig config;
    private final ShardGroup shards;
    private final Tokenizer tokenizer;
    private final int contextLength;
    private final KvBlockManager blocks;
    private final IterationScheduler scheduler;
    private final TimerScheduler<RouterCommand> timers;
    private final ActorRef<StepOutcome> outcomeAdapter;
    private final Map<String, ActiveRequest> requests = new HashMap<>();
    private long nextSequenceId;
    private long stepNumber;
    /** Steps sent and not answered yet, oldest first: one, or two when the second was queued ahead. */
    private final ArrayDeque<InFlight> inFlight = new ArrayDeque<>();

    private record InFlight(long stepNumber, IterationScheduler.Plan plan) {
    }

    private long accepted;
    private long rejected;
    private long finished;
    private long promptTokens;
    private long generatedTokens;
    private long steps;
    private long stepTokens;
    private long stepsQueuedAhead;
    private long forks;
    private long slotsAllocated;
    private long slotsFilled;
    private final LatencyHistogram ttft = new LatencyHistogram();
    private final LatencyHistogram itl = new LatencyHistogram();

    /**
     * @param geometry      the shard group's KV pool (every member has the same)
     * @param contextLength the model's context window
     */
    public static Behavior<RouterCommand> create(ServingConfig config, ShardGroup shards, KvGeometry geometry,
                                                 Tokenizer tokenizer, int contextLength) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
                new RequestRouter(ctx, timers, config, shards, geometry, tokenizer, contextLength)));
    }

    private RequestRouter(ActorContext<RouterCommand> ctx, TimerScheduler<RouterCommand> timers, ServingConfig config,
                          ShardGroup shards, KvGeometry geometry, Tokenizer tokenizer, int contextLength) {
        super(ctx);
        this.timers = timers;
        this.config = config;
        this.shards = shards;
        this.tokenizer = tokenizer;
        this.contextLength = contextLength;
        this.blocks = new KvBlockManager(geometry.blockSize(), geometry.numBlocks());
        this.scheduler = new IterationScheduler(config, blocks);
        this.outcomeAdapter = ctx.messageAdapter(StepOutcome.class, StepDone::new);
        ctx.getLog().info("router over {}: {} KV blocks of {} tokens, {} tokens per step, {} running, {} waiting",
                shards.describe(), geometry.numBlocks(), geometry.blockSize(), config.maxBatchedTokens(),
                config.maxRunning(), config.maxWaiting());
    }

    @Override
    public Receive<RouterCommand> createReceive() {
        return newReceiveBuilder()
                .onMessage(RouterCommand.Submit.class, this::onSubmit)
                .onMessage(RouterCommand.Cancel.class, this::onCancel)
                .onMessage(RouterCommand.GetMetrics.class, this::onGetMetrics)
                .onMessage(RouterCommand.CheckBlocks.class, m -> {
                    m.replyTo().tell(blocks.audit());
                    return this;
                })
                .onMessage(StepDone.class, this::onStepDone)
                .onMessage(DeadlineExpired.class, this::onDeadline)
                .build();
    }

    // ---- requests in -------------------------------------------------------------------------

    private Behavior<RouterCommand> onSubmit(RouterCommand.Submit s) {
        String invalid = validate(s);
        if (invalid != null) return reject(s, RejectCode.INVALID_REQUEST, invalid);
        if (scheduler.waitingRequests() >= config.maxWaiting()) {
            return reject(s, RejectCode.OVERLOADED, "server overloaded: " + config.maxWaiting() + " requests already waiting");
        }
        long seed = s.sampling().seed() != null ? s.sampling().seed() : ThreadLocalRandom.current().nextLong();
        ActiveRequest r = new ActiveRequest(s, seed, System.nanoTime());
        requests.put(r.requestId, r);
        accepted++;
        promptTokens += s.promptTokens().length;
        s.replyTo().tell(new GenerationEvent.Accepted(r.requestId, s.promptTokens().length, s.n(), seed));
        int resumed = s.resumeTokens().length;
        if (s.maxTokens() <= resumed || s.promptTokens().length + resumed >= contextLength) {
            // Nothing (left) to generate (no budget, or no room left in the context): every sample ends at once.
            for (int i = 0; i < s.n(); i++) r.samples.add(newSequence(r, i));
            for (Sequence q : List.copyOf(r.samples)) finish(q, FinishReason.LENGTH);
            return this;
        }
        if (resumed > 0) {
            Sequence q = newSequence(r, 0);
            r.samples.add(q);
            // The lost replica may have streamed the token that completed a stop string before it could say so.
            if (q.stops.matched()) {
                finish(q, FinishReason.STOP);
                return this;
            }
            scheduler.enqueue(q);
            startDeadline(r);
            maybeStep();
            return this;
        }
        if (s.n() > 1 && s.promptTokens().length > 1) {
            Sequence parent = newSequence(r, 0);
            parent.forkPending = true;
            r.samples.add(parent);
            scheduler.enqueue(parent);
        } else {
            for (int i = 0; i < s.n(); i++) {
                Sequence q = newSequence(r, i);
                r.samples.add(q);
                scheduler.enqueue(q);
            }
        }
        startDeadline(r);
        maybeStep();
        return this;
    }

    private void startDeadline(ActiveRequest r) {
        Instant deadline = r.submit.deadline();
        if (deadline == null) return;
        Duration left = Duration.between(Instant.now(), deadline);
        timers.startSingleTimer(r.requestId, new DeadlineExpired(r.requestId), left.isNegative() ? Duration.ZERO : left);
    }

    private String validate(RouterCommand.Submit s) {
        if (s.requestId() == null || s.requestId().isEmpty()) return "a request id is required";
        if (requests.containsKey(s.requestId())) return "request id '" + s.requestId() + "' is already in use";
        if (s.promptTokens() == null || s.promptTokens().length == 0) return "the prompt has no tokens";
        if (s.promptTokens().length > contextLength) {
            return "prompt of " + s.promptTokens().length + " tokens does not fit the context window of " + contextLength + " tokens";
        }
        for (int t : s.promptTokens()) {
            if (t < 0 || t >= tokenizer.vocabSize()) return "prompt token " + t + " is outside the vocabulary of " + tokenizer.vocabSize();
        }
        if (s.maxTokens() < 0) return "max_tokens must be >= 0, got " + s.maxTokens();
        if (s.resumeTokens().length > 0) {
            if (s.n() != 1) return "only a single-sample request can be resumed, got n = " + s.n();
            if (s.sampling().seed() == null) return "a resumed request needs the seed its first replica chose";
            for (int t : s.resumeTokens()) {
                if (t < 0 || t >= tokenizer.vocabSize()) return "resumed token " + t + " is outside the vocabulary of " + tokenizer.vocabSize();
            }
        }
        if (s.n() < 1 || s.n() > config.maxRunning()) return "n must be in [1, " + config.maxRunning() + "], got " + s.n();
        if (s.topLogprobs() < 0 || s.topLogprobs() > 20) return "top_logprobs must be in [0, 20], got " + s.topLogprobs();
        for (String stop : s.stop()) if (stop.isEmpty()) return "stop strings must not be empty";
        int longest = Math.min(contextLength, s.promptTokens().length + s.maxTokens());
        int needed = blocks.blocksFor(longest);
        if (needed > blocks.numBlocks()) {
            return "a sequence of " + longest + " tokens needs " + needed + " KV blocks but the pool holds " + blocks.numBlocks();
        }
        return null;
    }

    private Behavior<RouterCommand> reject(RouterCommand.Submit s, RejectCode code, String message) {
        rejected++;
        getContext().getLog().debug("rejected {}: {}", s.requestId(), message);
        s.replyTo().tell(new GenerationEvent.Rejected(s.requestId(), code, message));
        return this;
    }

    private Sequence newSequence(ActiveRequest r, int sampleIndex) {
        int[] resumed = r.submit.resumeTokens();
        Sequence q = new Sequence(nextSequenceId++, r, sampleIndex, SampleSeeds.forSample(r.seed, sampleIndex),
                r.submit.promptTokens(), resumed, tokenizer.streamingDetokenizer(), new StopStrings(r.submit.stop()));
        // Replay what was already streamed through the detokenizer and the stop strings (discarding the
        // text, which the client has): text held back there (a partial UTF-8 character, a possible stop
        // string) is then released exactly as the first replica would have released it.
        for (int t : resumed) q.stops.append(q.detokenizer.push(t));
        return q;
    }

    private Behavior<RouterCommand> onCancel(RouterCommand.Cancel c) {
        endRequest(c.requestId(), FinishReason.CANCELLED);
        return this;
    }

    private Behavior<RouterCommand> onDeadline(DeadlineExpired d) {
        endRequest(d.requestId(), FinishReason.DEADLINE);
        return this;
    }

    /** Finishes every live sample of a request at once, releasing all its blocks. */
    private void endRequest(String requestId, FinishReason reason) {
        ActiveRequest r = requests.get(requestId);
        if (r == null) return;
        for (Sequence q : List.copyOf(r.samples)) if (q.live()) finish(q, reason);
        maybeStep();
    }

    // ---- steps -------------------------------------------------------------------------------

    private void maybeStep() {
        if (inFlight.isEmpty()) {
            if (!scheduler.hasWork()) return;
            IterationScheduler.Plan plan = scheduler.schedule();
            // A step that only preempted (by recompute) admits nothing; the next planning pass re-admits.
            if (plan.isEmpty()) plan = scheduler.schedule();
            if (plan.isEmpty()) return;
            send(plan);
        }
        if (config.queueAhead() && inFlight.size() == 1) {
            IterationScheduler.Plan next = scheduler.continuation(inFlight.peekLast().plan(), contextLength);
            if (next != null) {
                stepsQueuedAhead++;
                send(next);
            }
        }
    }

    private void send(IterationScheduler.Plan plan) {
        stepNumber++;
        inFlight.addLast(new InFlight(stepNumber, plan));
        shards.execute(new ExecutorCommand.ExecuteStep(stepNumber, plan.step(), plan.swapOut(), plan.swapIn(), outcomeAdapter));
    }

    private Behavior<RouterCommand> onStepDone(StepDone done) {
        InFlight oldest = inFlight.peekFirst();
        if (oldest == null || done.outcome().stepNumber() != oldest.stepNumber()) {
            getContext().getLog().warn("ignoring result of step {} (expected {})", done.outcome().stepNumber(),
                    oldest == null ? "none" : oldest.stepNumber());
            return this;
        }
        inFlight.removeFirst();
        IterationScheduler.Plan plan = oldest.plan();
        switch (done.outcome()) {
            case StepOutcome.Completed c -> completed(plan, c);
            case StepOutcome.Failed f -> failed(plan, f);
        }
        maybeStep();
        return this;
    }

    private void completed(IterationScheduler.Plan plan, StepOutcome.Completed c) {
        steps++;
        stepTokens += plan.step().tokenCount();
        int swapAt = 0;
        for (int i = 0; i < plan.swapOutOwners().size(); i++) {
            int n = plan.swapOutCounts()[i];
            scheduler.swappedOut(plan.swapOutOwners().get(i), List.copyOf(c.swappedOut().subList(swapAt, swapAt + n)));
            swapAt += n;
        }
        int sampled = 0;
        List<Sequence> forkNow = new ArrayList<>();
        List<SequenceWork> works = plan.step().sequences();
        for (int i = 0; i < works.size(); i++) {
            Sequence q = plan.sequences().get(i);
            SampledToken token = works.get(i).sampling() != null ? c.tokens().get(sampled++) : null;
            if (!q.live()) continue; // cancelled or past its deadline while the step ran
            q.computed += plan.counts()[i];
            if (config.prefixCaching()) blocks.commitComputed(q.id, q.tokens(), q.computed);
            if (token != null) accept(q, token);
            else if (q.forkPending && q.computed == q.target()) forkNow.add(q);
        }
        for (Sequence parent : forkNow) fork(parent);
        long[] usage = blocks.slotUsage(scheduler.filledPositions());
        slotsAllocated += usage[0];
        slotsFilled += usage[1];
    }

    private void failed(IterationScheduler.Plan plan, StepOutcome.Failed f) {
        getContext().getLog().error("step {} failed: {}", f.stepNumber(), f.message());
        List<ActiveRequest> hit = new ArrayList<>();
        for (Sequence q : plan.sequences()) if (q.live() && !hit.contains(q.request)) hit.add(q.request);
        for (Sequence q : plan.swapOutOwners()) if (q.live() && !hit.contains(q.request)) hit.add(q.request);
        for (ActiveRequest r : hit) {
            for (Sequence q : r.samples) if (q.live()) scheduler.remove(q);
            dropRequest(r);
            r.replyTo.tell(new GenerationEvent.Rejected(r.requestId, RejectCode.INTERNAL, "engine failure: " + f.message()));
        }
    }

    /** The n > 1 parent has its prompt (less the last token) cached: its samples share those blocks from here. */
    private void fork(Sequence parent) {
        parent.forkPending = false;
        ActiveRequest r = parent.request;
        List<Sequence> children = new ArrayList<>();
        for (int i = 1; i < r.n(); i++) {
            Sequence child = newSequence(r, i);
            child.computed = parent.computed;
            child.cachedPromptTokens = parent.cachedPromptTokens;
            blocks.fork(parent.id, child.id);
            r.samples.add(child);
            children.add(child);
            forks++;
        }
        scheduler.addRunning(parent, children);
    }

    /** A sampled token: end of generation, or append, stream and check the stop conditions. */
    private void accept(Sequence q, SampledToken t) {
        long now = System.nanoTime();
        ActiveRequest r = q.request;
        if (!r.firstTokenSeen) {
            r.firstTokenSeen = true;
            ttft.observeNanos(now - r.submitNanos);
        } else if (q.lastTokenNanos != 0) {
            itl.observeNanos(now - q.lastTokenNanos);
        }
        q.lastTokenNanos = now;
        if (tokenizer.isEndOfGeneration(t.token())) {
            finish(q, FinishReason.STOP);
            return;
        }
        q.append(t.token());
        generatedTokens++;
        String text = q.stops.append(q.detokenizer.push(t.token()));
        r.replyTo.tell(new GenerationEvent.Token(r.requestId, q.sampleIndex, q.generated() - 1, t.token(), text,
                t.logprob(), alternatives(t)));
        if (q.stops.matched()) finish(q, FinishReason.STOP);
        else if (q.generated() >= r.submit.maxTokens() || q.length() >= contextLength) finish(q, FinishReason.LENGTH);
    }

    private List<GenerationEvent.TopLogprob> alternatives(SampledToken t) {
        if (t.topTokens() == null) return List.of();
        List<GenerationEvent.TopLogprob> out = new ArrayList<>(t.topTokens().length);
        for (int i = 0; i < t.topTokens().length; i++) {
            int id = t.topTokens()[i];
            out.add(new GenerationEvent.TopLogprob(id, new String(tokenizer.tokenBytes(id), StandardCharsets.UTF_8), t.topLogprobs()[i]));
        }
        return List.copyOf(out);
    }

    private void finish(Sequence q, FinishReason reason) {
        if (!q.live()) return;
        String tail = "";
        if ((reason == FinishReason.STOP || reason == FinishReason.LENGTH) && !q.stops.matched()) {
            tail = q.stops.append(q.detokenizer.flush()) + q.stops.finish();
        }
        scheduler.remove(q);
        ActiveRequest r = q.request;
        r.finishedSamples++;
        r.replyTo.tell(new GenerationEvent.Finished(r.requestId, q.sampleIndex, reason, q.promptLength, q.generated(),
                q.cachedPromptTokens, tail));
        // An n > 1 request cut off before its fork still owes the unborn samples a Finished each.
        if (q.forkPending && r.n() > 1 && r.samples.size() == 1) {
            for (int i = 1; i < r.n(); i++) {
                r.finishedSamples++;
                r.replyTo.tell(new GenerationEvent.Finished(r.requestId, i, reason, q.promptLength, 0, q.cachedPromptTokens, ""));
            }
        }
        if (r.done()) {
            finished++;
            dropRequest(r);
        }
    }

    private void dropRequest(ActiveRequest r) {
        requests.remove(r.requestId);
        timers.cancel(r.requestId);
    }

    private Behavior<RouterCommand> onGetMetrics(RouterCommand.GetMetrics m) {
        m.replyTo().tell(new RouterMetrics(scheduler.runningCount(), scheduler.waitingCount(), scheduler.swappedCount(),
                blocks.numBlocks(), blocks.usedCount(), blocks.freeCount(), blocks.cachedFreeCount(),
                accepted, rejected, finished, promptTokens, generatedTokens, steps, stepTokens, stepsQueuedAhead,
                scheduler.prefixQueries, scheduler.prefixHits, scheduler.preemptions, scheduler.swapOuts, forks,
                blocks.cowCopies(), slotsAllocated == 0 ? 0 : 1.0 - (double) slotsFilled / slotsAllocated,
                ttft.snapshot(), itl.snapshot()));
        return this;
    }
}
