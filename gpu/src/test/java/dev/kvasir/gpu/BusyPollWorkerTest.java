package dev.kvasir.gpu;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The dispatcher's worker, with polling off (parks at once) and on: order, hand-back, shutdown. */
class BusyPollWorkerTest {

    @ParameterizedTest
    @ValueSource(longs = {0, 2_000_000})
    void runsEveryTaskOnItsThreadInEachSubmittersOrderAndHandsBackTheResults(long spinNanos) throws Exception {
        BusyPollWorker worker = new BusyPollWorker("test-worker", spinNanos);
        int submitters = 4, each = 2000;
        ConcurrentHashMap<Integer, List<Integer>> seen = new ConcurrentHashMap<>();
        List<String> threads = new ArrayList<>();
        CountDownLatch start = new CountDownLatch(1);
        List<CompletableFuture<Integer>> sums = new ArrayList<>();
        for (int s = 0; s < submitters; s++) {
            int id = s;
            sums.add(CompletableFuture.supplyAsync(() -> {
                try {
                    start.await();
                    int sum = 0;
                    for (int i = 0; i < each; i++) {
                        int n = i;
                        CompletableFuture<Integer> f = new CompletableFuture<>();
                        worker.execute(() -> {
                            seen.computeIfAbsent(id, k -> new ArrayList<>()).add(n);
                            if (n == 0) synchronized (threads) { threads.add(Thread.currentThread().getName()); }
                            f.complete(n);
                        });
                        // every other task waited for, the rest left queued behind it
                        if (i % 2 == 1) sum += worker.await(f);
                    }
                    return sum;
                } catch (InterruptedException | ExecutionException e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        start.countDown();
        for (CompletableFuture<Integer> sum : sums) assertEquals(each * each / 4, sum.get(60, TimeUnit.SECONDS));
        for (int s = 0; s < submitters; s++) {
            List<Integer> order = seen.get(s);
            assertEquals(each, order.size());
            for (int i = 0; i < each; i++) assertEquals(i, order.get(i), "submitter " + s + "'s tasks out of order");
        }
        assertEquals(List.of("test-worker", "test-worker", "test-worker", "test-worker"), threads);
        worker.shutdown();
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 2_000_000})
    void aTaskThatThrowsDoesNotStopTheOnesAfterIt(long spinNanos) throws Exception {
        BusyPollWorker worker = new BusyPollWorker("test-worker", spinNanos);
        CompletableFuture<String> after = new CompletableFuture<>();
        worker.execute(() -> {
            throw new IllegalStateException("a failing task (expected in this test)");
        });
        worker.execute(() -> after.complete("ran"));
        assertEquals("ran", worker.await(after));
        worker.shutdown();
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 2_000_000})
    void shutdownRunsWhatIsQueuedThenRefuses(long spinNanos) throws Exception {
        BusyPollWorker worker = new BusyPollWorker("test-worker", spinNanos);
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<String> queued = new CompletableFuture<>();
        worker.execute(() -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        worker.execute(() -> queued.complete("ran"));
        worker.shutdown();
        release.countDown();
        assertEquals("ran", queued.get(60, TimeUnit.SECONDS));
        assertThrows(RejectedExecutionException.class, () -> worker.execute(() -> { }));
        assertTrue(queued.isDone());
    }
}
