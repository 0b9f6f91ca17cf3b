package dev.kvasir.sharding;

import com.typesafe.config.ConfigFactory;
import dev.kvasir.actors.BlockAudit;
import dev.kvasir.actors.FinishReason;
import dev.kvasir.actors.GenerationCollector;
import dev.kvasir.actors.GenerationEvent;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.actors.RouterMetrics;
import dev.kvasir.actors.SampleSeeds;
import dev.kvasir.actors.ServingConfig;
import dev.kvasir.actors.Stories260K;
import dev.kvasir.model.sampling.SamplingParams;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The whole serving core on a cluster of one: router → Cluster Sharding → shard entity → CPU
 * executor, on stories260K. The oracle is the single-sequence generator: batching, chunked prefill,
 * preemption, prefix caching and forking must not change a single token.
 */
class ServingNodeTest {
    static ActorTestKit testKit;
    static Stories260K model;
    static int replicas;
    ServingNode node;

    @BeforeAll
    static void start() {
        model = new Stories260K();
        testKit = ActorTestKit.create("serving-test", ConfigFactory.parseString("""
                pekko.actor.provider = cluster
                pekko.remote.artery.canonical.hostname = 127.0.0.1
                pekko.remote.artery.canonical.port = 0
                pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
                pekko.actor.default-dispatcher.fork-join-executor.minimum-runnable = -1
                pekko.actor.internal-dispatcher.fork-join-executor.minimum-runnable = -1
                """).withFallback(ConfigFactory.load()));
        SelfJoin.join(testKit.system());
    }

    @AfterAll
    static void stop() {
        if (testKit != null) testKit.shutdownTestKit();
        if (model != null) model.close();
    }

    ServingNode node(ServingConfig config) {
        node = ServingNode.start(testKit.system(), model.model, config.withComputeThreads(2), "test-" + replicas++);
        return node;
    }

    @AfterEach
    void poolIsWholeAgain() {
        if (node == null) return;
        TestProbe<BlockAudit> audit = testKit.createTestProbe();
        node.router().tell(new RouterCommand.CheckBlocks(audit.ref()));
        BlockAudit a = audit.receiveMessage();
        assertTrue(a.whole(), () -> "KV pool not whole after the test: " + a);
        RouterMetrics m = metrics();
        assertEquals(0, m.running() + m.waiting() + m.swapped());
        node.close();
        node = null;
    }

    RouterMetrics metrics() {
        TestProbe<RouterMetrics> probe = testKit.createTestProbe();
        node.router().tell(new RouterCommand.GetMetrics(probe.ref()));
        return probe.receiveMessage();
    }

    record Job(String id, int[] prompt, int maxTokens) {
    }

    /** 32 requests: prompts of 1 to ~300 tokens (some longer than a step's budget), 1 to 80 new tokens. */
    static List<Job> mixedJobs() {
        List<Job> jobs = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            int promptLength = 1 + (i * 37) % 300;
            int maxTokens = 1 + (i * 29) % 80;
            jobs.add(new Job("r" + i, Stories260K.prompt(i, promptLength), maxTokens));
        }
        return jobs;
    }

    GenerationCollector runConcurrently(List<Job> jobs) {
        TestProbe<GenerationEvent> probe = testKit.createTestProbe();
        for (Job j : jobs) node.router().tell(RouterCommand.Submit.of(j.id, j.prompt, SamplingParams.greedy(), j.maxTokens, probe.ref()));
        return new GenerationCollector().until(probe, jobs.size());
    }

    void assertSameAsAlone(List<Job> jobs, GenerationCollector events) {
        assertEquals(0, events.rejected.size(), () -> "rejected: " + events.rejected);
        for (Job j : jobs) {
            int[] alone = model.alone(j.prompt, j.maxTokens, SamplingParams.greedy(), List.of());
            var s = events.sample(j.id, 0);
            assertArrayEquals(alone, s.tokenArray(), j.id + " (prompt " + j.prompt.length + ", max " + j.maxTokens + ")");
            assertEquals(alone.length == j.maxTokens ? FinishReason.LENGTH : FinishReason.STOP, s.finished.finishReason(), j.id);
            assertEquals(model.model.tokenizer().decode(alone), s.text.toString(), j.id);
        }
    }

    static ServingConfig roomy() {
        return ServingConfig.defaults().withKvBlocks(1024).withMaxBatchedTokens(256).withQueues(64, 64);
    }

    @Test
    void concurrentMixedRequestsEqualEachRunAlone() {
        node(roomy());
        List<Job> jobs = mixedJobs();
        assertSameAsAlone(jobs, runConcurrently(jobs));
        RouterMetrics m = metrics();
        assertEquals(0, m.preemptions(), "enough blocks for everyone");
        assertEquals(32, m.requestsFinished());
        assertTrue(m.steps() < jobs.stream().mapToInt(Job::maxTokens).sum(), "requests shared steps: " + m.steps());
        assertEquals(32, m.timeToFirstToken().count());
    }

    @Test
    void preemptionByRecomputeKeepsOutputsIdentical() {
        node(roomy().withKvBlocks(40));
        List<Job> jobs = mixedJobs();
        assertSameAsAlone(jobs, runConcurrently(jobs));
        RouterMetrics m = metrics();
        assertTrue(m.preemptions() > 0, "a 40-block pool must preempt: " + m);
        assertEquals(0, m.swapOuts());
    }

    @Test
    void preemptionBySwapKeepsOutputsIdentical() {
        node(roomy().withKvBlocks(40).withSwap(4096));
        List<Job> jobs = mixedJobs();
        assertSameAsAlone(jobs, runConcurrently(jobs));
        RouterMetrics m = metrics();
        assertTrue(m.swapOuts() > 0, "a 40-block pool must swap: " + m);
    }

    @Test
    void sharedPrefixIsComputedOnce() {
        node(roomy().withPrefixCaching(true));
        int[] prefix = Stories260K.prompt(99, 200);
        List<Job> jobs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            int[] p = Arrays.copyOf(prefix, 220);
            System.arraycopy(Stories260K.prompt(1000 + i, 21), 1, p, 200, 20);
            jobs.add(new Job("p" + i, p, 20));
        }
        GenerationCollector first = runConcurrently(jobs.subList(0, 1));
        GenerationCollector rest = runConcurrently(jobs.subList(1, 8));
        assertSameAsAlone(jobs.subList(0, 1), first);
        assertSameAsAlone(jobs.subList(1, 8), rest);
        int cachedBlocksTokens = 200 / 16 * 16; // 12 full blocks of the shared prefix
        assertEquals(0, first.sample("p0", 0).finished.cachedPromptTokens());
        for (int i = 1; i < 8; i++) assertEquals(cachedBlocksTokens, rest.sample("p" + i, 0).finished.cachedPromptTokens(), "p" + i);
        RouterMetrics m = metrics();
        assertEquals(7L * cachedBlocksTokens, m.prefixCacheHits());
        assertEquals(8L * 220, m.prefixCacheQueries());
        // tokens computed: the prefix once, the 8 suffixes (+8 unshared remainder tokens), one per generated token but the last
        long computedPrompt = m.stepTokens() - (m.generatedTokens() - 8);
        assertEquals(8L * 220 - 7L * cachedBlocksTokens, computedPrompt);
    }

    @Test
    void samplesOfOneRequestShareThePromptAndEachEqualsItsSeedAlone() {
        node(roomy());
        int[] prompt = Stories260K.prompt(7, 40); // 2.5 blocks: the partial third block is shared, then copied on write
        SamplingParams sampling = SamplingParams.of(0.9f, 0, 1f, 1234L);
        TestProbe<GenerationEvent> probe = testKit.createTestProbe();
        node.router().tell(RouterCommand.Submit.of("n4", prompt, sampling, 30, probe.ref()).withN(4));
        GenerationCollector events = new GenerationCollector().until(probe, 4);
        assertEquals(1234L, events.accepted.get("n4").seed());
        Set<List<Integer>> distinct = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            int[] alone = model.alone(prompt, 30, sampling.withSeed(SampleSeeds.forSample(1234L, i)), List.of());
            assertArrayEquals(alone, events.sample("n4", i).tokenArray(), "sample " + i);
            distinct.add(events.sample("n4", i).tokens);
        }
        assertTrue(distinct.size() > 1, "samples with different seeds differ");
        RouterMetrics m = metrics();
        assertEquals(3, m.forks());
        assertEquals(3, m.cowCopies(), "three of the four samples copied the shared partial block; the last wrote in place");
        // the prompt was computed once (less its last token, which each sample runs), not four times:
        // each sample then runs its last prompt token and every generated token it went on from
        long expected = 39;
        for (int i = 0; i < 4; i++) {
            var f = events.sample("n4", i).finished;
            expected += f.finishReason() == FinishReason.LENGTH ? f.completionTokens() : f.completionTokens() + 1;
        }
        assertEquals(expected, m.stepTokens());
    }
}
