package dev.kvasir.actors;

import com.typesafe.config.ConfigFactory;
import dev.kvasir.model.sampling.SamplingParams;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The router's request life cycle on a local actor system, with a {@link ManualShardGroup} so that
 * the test decides when steps run: queue limits, cancellation, deadlines, validation, stop strings.
 */
class RequestRouterTest {
    static final int[] ONCE_UPON_A_TIME = {1, 403, 407, 261, 378};
    static ActorTestKit testKit;
    static Stories260K model;
    ManualShardGroup shards;
    ActorRef<RouterCommand> router;

    @BeforeAll
    static void start() {
        model = new Stories260K();
        testKit = ActorTestKit.create("router-test", ConfigFactory.parseString(
                "pekko.actor.default-dispatcher.fork-join-executor.minimum-runnable = -1"));
    }

    @AfterAll
    static void stop() {
        if (testKit != null) testKit.shutdownTestKit();
        if (model != null) model.close();
    }

    LocalShardGroup local;

    /** A router whose steps run when the test says so, one at a time (nothing queued ahead). */
    void router(ServingConfig config) {
        shards = new ManualShardGroup(model.executor(config.blockSize(), config.kvBlocks()));
        spawn(config.withQueueAhead(false), shards);
    }

    /** A router whose steps run by themselves on a local shard thread. */
    void autoRouter(ServingConfig config) {
        local = new LocalShardGroup(model.executor(config.blockSize(), config.kvBlocks()));
        spawn(config, local);
    }

    private void spawn(ServingConfig config, ShardGroup group) {
        router = testKit.spawn(RequestRouter.create(config, group, new dev.kvasir.model.exec.KvGeometry(config.blockSize(), config.kvBlocks()),
                model.model.tokenizer(), model.contextLength()));
    }

    @AfterEach
    void poolIsWhole() {
        if (router == null) return;
        TestProbe<BlockAudit> audit = testKit.createTestProbe();
        router.tell(new RouterCommand.CheckBlocks(audit.ref()));
        BlockAudit a = audit.receiveMessage();
        assertTrue(a.whole(), () -> "KV pool not whole after the test: " + a);
        testKit.stop(router);
        if (local != null) local.close();
    }

    static ServingConfig small() {
        return ServingConfig.defaults().withKvBlocks(64).withQueues(4, 8);
    }

    @Test
    void fullQueueRejectsAsOverloaded() throws Exception {
        router(small().withQueues(1, 1));
        TestProbe<GenerationEvent> probe = testKit.createTestProbe();
        router.tell(RouterCommand.Submit.of("a", ONCE_UPON_A_TIME, SamplingParams.greedy(), 50, probe.ref()));
        var held = shards.takeNext(); // a is running, its step held
        router.tell(RouterCommand.Submit.of("b", ONCE_UPON_A_TIME, SamplingParams.greedy(), 50, probe.ref()));
        router.tell(RouterCommand.Submit.of("c", ONCE_UPON_A_TIME, SamplingParams.greedy(), 50, probe.ref()));
        GenerationCollector events = new GenerationCollector();
        events.take(probe.receiveMessage()); // a accepted
        events.take(probe.receiveMessage()); // b accepted (waits)
        GenerationEvent third = probe.receiveMessage();
        assertEquals(new GenerationEvent.Rejected("c", RejectCode.OVERLOADED, "server overloaded: 1 requests already waiting"), third);
        assertEquals(RejectCode.OVERLOADED.wireName(), "overloaded");
        router.tell(new RouterCommand.Cancel("a"));
        router.tell(new RouterCommand.Cancel("b"));
        events.until(probe, 2);
        assertEquals(FinishReason.CANCELLED, events.sample("a", 0).finished.finishReason());
        assertEquals(FinishReason.CANCELLED, events.sample("b", 0).finished.finishReason());
        shards.run(held); // the step that was running when a was cancelled: its result is dropped
        TestProbe<RouterMetrics> metrics = testKit.createTestProbe();
        router.tell(new RouterCommand.GetMetrics(metrics.ref()));
        RouterMetrics m = metrics.receiveMessage();
        assertEquals(1, m.requestsRejected());
        assertEquals(0, m.running());
        assertEquals(0, m.waiting());
    }

    @Test
    void cancelMidDecodeFreesAllBlocksAtOnce() throws Exception {
        router(small());
        TestProbe<GenerationEvent> probe = testKit.createTestProbe();
        router.tell(RouterCommand.Submit.of("a", ONCE_UPON_A_TIME, SamplingParams.greedy(), 100, probe.ref()).withN(3)
                .withStop(List.of()));
        for (int i = 0; i < 6; i++) shards.runNext(); // prefill, fork, a few decodes
        var held = shards.takeNext();
        TestProbe<RouterMetrics> metrics = testKit.createTestProbe();
        router.tell(new RouterCommand.GetMetrics(metrics.ref()));
        RouterMetrics during = metrics.receiveMessage();
        assertEquals(3, during.running());
        assertTrue(during.kvBlocksUsed() > 0);
        router.tell(new RouterCommand.Cancel("a"));
        GenerationCollector events = new GenerationCollector().until(probe, 3);
        for (int s = 0; s < 3; s++) {
            var f = events.sample("a", s).finished;
            assertEquals(FinishReason.CANCELLED, f.finishReason());
            assertTrue(f.completionTokens() >= 4, "cancelled mid-decode: " + f);
        }
        TestProbe<BlockAudit> audit = testKit.createTestProbe();
        router.tell(new RouterCommand.CheckBlocks(audit.ref()));
        assertTrue(audit.receiveMessage().whole(), "all blocks back while the step still runs");
        shards.run(held);
        router.tell(new RouterCommand.GetMetrics(metrics.ref()));
        assertEquals(0, metrics.receiveMessage().kvBlocksUsed());
    }

    @Test
    void deadlineEndsARequestWhoseStepIsStuck() throws Exception {
        router(small());
        TestProbe<GenerationEvent> probe = testKit.createTestProbe();
        router.tell(RouterCommand.Submit.of("late", ONCE_UPON_A_TIME, SamplingParams.greedy(), 50, probe.ref())
                .withDeadline(Instant.now().plusMillis(200)));
        var held = shards.takeNext(); // never runs before the deadline
        assertInstanceOf(GenerationEvent.Accepted.class, probe.receiveMessage());
        var finished = (GenerationEvent.Finished) probe.receiveMessage(Duration.ofSeconds(30));
        assertEquals(FinishReason.DEADLINE, finished.finishReason());
        assertEquals("cancelled", finished.finishReason().wireName());
        shards.run(held);
    }

    @Test
    void invalidRequestsAreRejectedWithTheReason() {
        router(small().withKvBlocks(16));
        TestProbe<GenerationEvent> probe = testKit.createTestProbe();
        router.tell(RouterCommand.Submit.of("long", Stories260K.prompt(1, 513), SamplingParams.greedy(), 5, probe.ref()));
        var r = (GenerationEvent.Rejected) probe.receiveMessage();
        assertEquals(RejectCode.INVALID_REQUEST, r.code());
        assertTrue(r.message().contains("513") && r.message().contains("512"), r.message());
        router.tell(RouterCommand.Submit.of("big", Stories260K.prompt(1, 300), SamplingParams.greedy(), 10,
                probe.ref()));
        var tooBig = (GenerationEvent.Rejected) probe.receiveMessage();
        assertTrue(tooBig.message().contains("KV blocks"), tooBig.message());
        router.tell(RouterCommand.Submit.of("zero", ONCE_UPON_A_TIME, SamplingParams.greedy(), 0, probe.ref()));
        assertInstanceOf(GenerationEvent.Accepted.class, probe.receiveMessage());
        var f = (GenerationEvent.Finished) probe.receiveMessage();
        assertEquals(FinishReason.LENGTH, f.finishReason());
        assertEquals(0, f.completionTokens());
    }

    /**
     * Steps queued ahead (the default: the step after a running one sent before its tokens are back)
     * give every request the tokens, text and finish reason of one step at a time: greedy and seeded
     * sampling, a stop string, a short max_tokens, several requests at once; and steps were in fact
     * queued ahead (none without it).
     */
    @Test
    void stepsQueuedAheadGiveTheOutputOfOneStepAtATime() {
        String full = model.model.tokenizer().decode(model.alone(ONCE_UPON_A_TIME, 40, SamplingParams.greedy(), List.of()));
        String stop = full.substring(20, 24);
        List<Request> requests = List.of(
                new Request("greedy", ONCE_UPON_A_TIME, SamplingParams.greedy(), 40, List.of()),
                new Request("sampled", ONCE_UPON_A_TIME, SamplingParams.of(0.8f, 40, 0.9f, 5L), 30, List.of()),
                new Request("stop", ONCE_UPON_A_TIME, SamplingParams.greedy(), 40, List.of(stop)),
                new Request("short", Stories260K.prompt(5, 20), SamplingParams.greedy(), 3, List.of()));
        GenerationCollector oneAtATime = generateAll(small().withQueueAhead(false), requests, 0);
        GenerationCollector queued = generateAll(small(), requests, 1);
        for (Request r : requests) {
            var a = oneAtATime.sample(r.id(), 0);
            var b = queued.sample(r.id(), 0);
            assertArrayEquals(a.tokenArray(), b.tokenArray(), r.id());
            assertEquals(a.text.toString(), b.text.toString(), r.id());
            assertEquals(a.finished.finishReason(), b.finished.finishReason(), r.id());
            assertEquals(a.finished.completionTokens(), b.finished.completionTokens(), r.id());
        }
        assertEquals(FinishReason.STOP, queued.sample("stop", 0).finished.finishReason());
        assertEquals(3, queued.sample("short", 0).finished.completionTokens());
    }

    /** Runs the requests on a fresh router with its own shard thread; checks its pool is whole and whether steps were queued ahead. */
    private record Request(String id, int[] prompt, SamplingParams sampling, int maxTokens, List<String> stop) {
    }

    private GenerationCollector generateAll(ServingConfig config, List<Request> requests, int minQueuedAhead) {
        LocalShardGroup group = new LocalShardGroup(model.executor(config.blockSize(), config.kvBlocks()));
        ActorRef<RouterCommand> r = testKit.spawn(RequestRouter.create(config, group,
                new dev.kvasir.model.exec.KvGeometry(config.blockSize(), config.kvBlocks()), model.model.tokenizer(), model.contextLength()));
        try {
            TestProbe<GenerationEvent> probe = testKit.createTestProbe();
            for (Request q : requests) r.tell(RouterCommand.Submit.of(q.id(), q.prompt(), q.sampling(), q.maxTokens(), probe.ref()).withStop(q.stop()));
            GenerationCollector events = new GenerationCollector().until(probe, requests.size());
            TestProbe<RouterMetrics> metrics = testKit.createTestProbe();
            r.tell(new RouterCommand.GetMetrics(metrics.ref()));
            long ahead = metrics.receiveMessage().stepsQueuedAhead();
            if (minQueuedAhead == 0) assertEquals(0, ahead, "steps queued ahead with queue-ahead off");
            else assertTrue(ahead >= minQueuedAhead, "no step was queued ahead");
            TestProbe<BlockAudit> audit = testKit.createTestProbe();
            r.tell(new RouterCommand.CheckBlocks(audit.ref()));
            BlockAudit a = audit.receiveMessage();
            assertTrue(a.whole(), () -> "KV pool not whole: " + a);
            return events;
        } finally {
            testKit.stop(r);
            group.close();
        }
    }

    @Test
    void stopStringsCutTheTextLikeTheSingleSequenceGenerator() {
        autoRouter(small());
        String full = model.model.tokenizer().decode(model.alone(ONCE_UPON_A_TIME, 60, SamplingParams.greedy(), List.of()));
        String stop = full.substring(30, 34);
        int[] expected = model.alone(ONCE_UPON_A_TIME, 60, SamplingParams.greedy(), List.of(stop));
        TestProbe<GenerationEvent> probe = testKit.createTestProbe();
        router.tell(RouterCommand.Submit.of("s", ONCE_UPON_A_TIME, SamplingParams.greedy(), 60, probe.ref())
                .withStop(List.of(stop)).withLogprobs(3));
        GenerationCollector events = new GenerationCollector();
        while (events.sample("s", 0).finished == null) {
            GenerationEvent e = probe.receiveMessage(Duration.ofSeconds(30));
            events.take(e);
            if (e instanceof GenerationEvent.Token t) {
                assertFalse(Float.isNaN(t.logprob()));
                assertEquals(3, t.topLogprobs().size());
            }
        }
        var s = events.sample("s", 0);
        assertArrayEquals(expected, s.tokenArray());
        assertEquals(FinishReason.STOP, s.finished.finishReason());
        assertEquals(full.substring(0, full.indexOf(stop)), s.text.toString());
    }

    /**
     * A request resumed after k streamed tokens (as a gateway does when a replica dies) continues the
     * same stream: indices from k, the same tokens and text as an undisturbed run, the same seeded draws,
     * and usage counting all output — for greedy and for seeded sampling with penalties.
     */
    @Test
    void resumedRequestContinuesTheUndisturbedStream() {
        autoRouter(small());
        SamplingParams[] kinds = {SamplingParams.greedy(), SamplingParams.of(0.9f, 40, 0.95f, 42L).withPenalties(1.1f, 0.2f, 0.1f)};
        for (SamplingParams sampling : kinds) {
            TestProbe<GenerationEvent> probe = testKit.createTestProbe();
            router.tell(RouterCommand.Submit.of("whole", ONCE_UPON_A_TIME, sampling, 40, probe.ref()).withStop(List.of("zzz")));
            GenerationCollector whole = new GenerationCollector().until(probe, 1);
            long seed = whole.accepted.get("whole").seed();
            int[] tokens = whole.sample("whole", 0).tokenArray();
            assertTrue(tokens.length > 12, "the undisturbed run is long enough to cut");
            for (int k : new int[]{1, 12, tokens.length}) {
                int[] streamed = java.util.Arrays.copyOf(tokens, k);
                RouterCommand.Submit first = RouterCommand.Submit.of("x", ONCE_UPON_A_TIME, sampling, 40, probe.ref()).withStop(List.of("zzz"));
                router.tell(first.resumed("resume-" + k, probe.ref(), sampling.withSeed(seed), streamed));
                List<Integer> rest = new java.util.ArrayList<>();
                GenerationEvent.Finished done = null;
                while (done == null) {
                    switch (probe.receiveMessage(Duration.ofSeconds(60))) {
                        case GenerationEvent.Accepted a -> assertEquals(ONCE_UPON_A_TIME.length, a.promptTokens());
                        case GenerationEvent.Token t -> {
                            assertEquals(k + rest.size(), t.index(), "indices continue after the resumed tokens");
                            rest.add(t.tokenId());
                        }
                        case GenerationEvent.Finished f -> done = f;
                        case GenerationEvent.Rejected r -> fail("rejected: " + r);
                    }
                }
                int[] joined = java.util.stream.IntStream.concat(java.util.Arrays.stream(streamed),
                        rest.stream().mapToInt(Integer::intValue)).toArray();
                assertArrayEquals(tokens, joined, "k = " + k + ", " + sampling);
                assertEquals(whole.sample("whole", 0).finished.finishReason(), done.finishReason());
                assertEquals(tokens.length, done.completionTokens());
            }
        }
    }
}
