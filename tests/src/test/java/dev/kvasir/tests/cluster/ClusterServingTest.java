package dev.kvasir.tests.cluster;

import dev.kvasir.tests.CheckedStream;

import dev.kvasir.cluster.node.KvasirNode;
import dev.kvasir.cluster.node.NodeConfig;
import dev.kvasir.model.SharedData;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A real 3-node cluster on loopback — node1 a gateway, node2 and node3 workers, each a JVM of its own
 * started as deploy/local-cluster.sh starts one — against single-node greedy runs of the same prompts:
 * requests spread over both workers with identical outputs; a worker killed with kill -9 under load
 * loses and repeats no token (its requests move to the other worker and continue where they stopped);
 * with no worker left the gateway answers with an error instead of hanging.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterServingTest {
    static final int SPREAD_REQUESTS = 100;
    static final int SPREAD_TOKENS = 48;
    static final int KILL_REQUESTS = 40;
    static final int KILL_TOKENS = 200;

    static Path model;
    static NodeProcess gateway;
    static NodeProcess worker2;
    static NodeProcess worker3;
    static final List<String> prompts = new ArrayList<>();
    static final Map<String, String> expected = new HashMap<>();

    @BeforeAll
    static void start() {
        model = SharedData.require("models/stories260K/stories260K-f32.gguf");
        String[] openings = {"Once upon a time", "One day", "Tom and Sue", "The little dog", "Lily wanted", "In the park",
                "A big red ball", "The sun was", "Mom said", "Ben found"};
        String[] endings = {"", " there was", " a girl", " the cat", " they saw", " it was", " he ran", " she felt", " we can", " so happy"};
        for (String o : openings) for (String e : endings) prompts.add(o + e);
        // The cluster starts (in other processes) while this JVM computes the single-node answers.
        int seedPort = NodeProcess.freePort();
        gateway = NodeProcess.start("node1", "gateway", seedPort, seedPort, model);
        singleNodeAnswers();
        Instant deadline = Instant.now().plusSeconds(180);
        gateway.awaitReady(deadline);
        worker2 = NodeProcess.start("node2", "worker", NodeProcess.freePort(), seedPort, model);
        worker3 = NodeProcess.start("node3", "worker", NodeProcess.freePort(), seedPort, model);
        worker2.awaitReady(deadline);
        worker3.awaitReady(deadline);
        gateway.awaitReplicas(2, deadline);
    }

    /** The same prompts on one in-process node (a cluster of one), greedy. */
    static void singleNodeAnswers() {
        KvasirNode single = KvasirNode.start(NodeConfig.load(null, Map.of("kvasir.gateway.port", 0, "kvasir.gateway.host", "127.0.0.1",
                "kvasir.serving.compute-threads", 1, "kvasir.gateway.drain-timeout", "2s")), new KvasirNode.ModelChoice(model, null));
        try {
            single.ready().toCompletableFuture().join();
            try (StreamClient c = new StreamClient(single.port())) {
                for (int i = 0; i < SPREAD_REQUESTS; i++) c.generate("s" + i, prompts.get(i), SPREAD_TOKENS);
                for (int i = 0; i < KILL_REQUESTS; i++) c.generate("k" + i, prompts.get(i), KILL_TOKENS);
                c.collect(SPREAD_REQUESTS + KILL_REQUESTS, null).forEach((id, s) -> expected.put(id, s.outcome()));
            }
        } finally {
            single.close();
        }
    }

    @AfterAll
    static void stop() {
        // Every child JVM ends here, whatever happened: SIGTERM, then kill -9 after a grace period.
        List<CompletableFuture<Void>> stops = new ArrayList<>();
        for (NodeProcess n : new NodeProcess[]{worker3, worker2, gateway}) {
            if (n != null) stops.add(CompletableFuture.runAsync(n::close));
        }
        stops.forEach(CompletableFuture::join);
    }

    @Test
    @Order(1)
    void hundredRequestsSpreadOverBothWorkersWithSingleNodeOutputs() {
        double before2 = worker2.metric("kvasir_requests_accepted");
        double before3 = worker3.metric("kvasir_requests_accepted");
        Map<String, CheckedStream> got;
        try (StreamClient c = new StreamClient(gateway.httpPort)) {
            for (int i = 0; i < SPREAD_REQUESTS; i++) c.generate("s" + i, prompts.get(i), SPREAD_TOKENS);
            got = c.collect(SPREAD_REQUESTS, null);
        }
        for (int i = 0; i < SPREAD_REQUESTS; i++) assertEquals(expected.get("s" + i), got.get("s" + i).outcome(), "request s" + i);
        double served2 = worker2.metric("kvasir_requests_accepted") - before2;
        double served3 = worker3.metric("kvasir_requests_accepted") - before3;
        System.out.printf("cluster spread: node2 served %.0f, node3 served %.0f of %d requests%n", served2, served3, SPREAD_REQUESTS);
        assertTrue(served2 > 0 && served3 > 0, "both workers serve: node2 " + served2 + ", node3 " + served3);
        assertEquals(SPREAD_REQUESTS, served2 + served3, "each request ran once");
        assertEquals(0, gateway.metric("kvasir_requests_accepted"), "the gateway-only node runs no replica");
    }

    @Test
    @Order(2)
    void killingAWorkerMidStreamLosesAndRepeatsNoToken() throws IOException {
        double resumedBefore = gateway.metric("kvasir_requests_resumed");
        long[] killedAt = {0};
        Map<String, CheckedStream> got;
        try (StreamClient c = new StreamClient(gateway.httpPort)) {
            for (int i = 0; i < KILL_REQUESTS; i++) c.generate("k" + i, prompts.get(i), KILL_TOKENS);
            got = c.collect(KILL_REQUESTS, () -> {
                if (killedAt[0] != 0) return;
                // Kill once the load is running on both workers: every request has streamed a few tokens.
                if (c.streams.size() == KILL_REQUESTS && c.streams.values().stream().allMatch(s -> s.tokens.size() >= 3)) {
                    killedAt[0] = System.nanoTime();
                    worker3.kill();
                }
            });
        }
        long allDone = System.nanoTime();
        assertNotEquals(0, killedAt[0], "the worker was killed during the load");
        int lost = 0;
        int duplicated = 0;
        long longestStall = 0;
        for (int i = 0; i < KILL_REQUESTS; i++) {
            CheckedStream s = got.get("k" + i);
            assertNotNull(s.done, () -> "request ended without done: " + s.error);
            assertEquals(expected.get("k" + i), s.outcome(), "request k" + i + " matches the undisturbed single-node run");
            longestStall = Math.max(longestStall, s.longestGapNanos);
        }
        double resumed = gateway.metric("kvasir_requests_resumed") - resumedBefore;
        assertTrue(resumed > 0, "some requests were running on the killed worker and moved");
        String figures = String.format("kill -9 of a worker under load: requests %d, kills 1, resumed %.0f, lost %d, duplicated %d, "
                        + "longest stall of a stream %.2f s, kill to last done %.2f s%n",
                KILL_REQUESTS, resumed, lost, duplicated, longestStall / 1e9, (allDone - killedAt[0]) / 1e9);
        System.out.print(figures);
        Files.writeString(Path.of("target", "cluster-test", "failover-figures.txt"), figures);
        // Lost and duplicated are counted by the checks above (indices contiguous from 0, one done each,
        // the same tokens as the undisturbed run): any loss or repeat fails the test before this line.
    }

    @Test
    @Order(3)
    void withNoWorkerLeftTheGatewayAnswersWithAnError() {
        worker2.kill();
        worker3.kill();
        try (StreamClient c = new StreamClient(gateway.httpPort)) {
            c.generate("orphan", "Once upon a time", 20);
            CheckedStream s = c.collect(1, null).get("orphan");
            assertNotNull(s.error, () -> "expected an error frame, got " + s.outcome());
            String code = s.error.get("code").asText();
            assertTrue(code.equals("overloaded") || code.equals("internal"), s.error::toString);
        }
    }
}
