package dev.kvasir.model.cpu;

import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ComputePoolTest {

    /**
     * Many short jobs of varying sizes back to back (as a decode step issues them), with more
     * threads than the machine may have cores: every index runs exactly once per job, including
     * when a worker wakes late for a job that is already over.
     */
    @Test
    void everyIndexRunsExactlyOncePerJob() {
        Random r = new Random(3);
        try (ComputePool pool = new ComputePool(3)) {
            for (int job = 0; job < 20_000; job++) {
                int n = 1 + r.nextInt(r.nextBoolean() ? 12 : 300);
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                pool.parallelFor(n, (start, end) -> {
                    for (int i = start; i < end; i++) hits.incrementAndGet(i);
                });
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "job " + job + " index " + i + " of " + n);
            }
        }
    }

    @Test
    void aFailingTaskFailsTheCallAndThePoolCarriesOn() {
        try (ComputePool pool = new ComputePool(2)) {
            assertThrows(IllegalStateException.class, () -> pool.parallelFor(100, (start, end) -> {
                if (start == 0) throw new IllegalStateException("boom");
            }));
            int[] sum = new int[1];
            pool.parallelFor(100, (start, end) -> {
                synchronized (sum) {
                    sum[0] += end - start;
                }
            });
            assertEquals(100, sum[0]);
        }
    }
}
