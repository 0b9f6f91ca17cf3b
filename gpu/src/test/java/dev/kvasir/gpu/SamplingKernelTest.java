package dev.kvasir.gpu;

import dev.kvasir.model.exec.SamplingRequest;
import dev.kvasir.model.sampling.Logprobs;
import dev.kvasir.model.sampling.Sampler;
import dev.kvasir.model.sampling.SamplingParams;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The device sampler ({@link DeviceSampler}, sampling.cuh) against the CPU {@link Sampler} and
 * {@link Logprobs} on the same logits, and its draw frequencies against a float64 softmax. Logits
 * are distinct multiples of a step (plus a few exact ties), so no two candidates' probabilities
 * are within float noise of each other except where they are equal by construction.
 */
@GpuTest
class SamplingKernelTest {
    private static final Logger log = LoggerFactory.getLogger(SamplingKernelTest.class);
    private static GpuDispatcher d;
    private static final SplittableRandom random = new SplittableRandom(System.nanoTime());

    @BeforeAll
    static void open() {
        Gpu.assume();
        d = GpuDispatcher.open(0);
    }

    @AfterAll
    static void close() {
        if (d != null) d.close();
    }

    /** A shuffled ramp of distinct values {@code step} apart, with a few exact ties planted. */
    private static float[] separated(int vocab, float step) {
        float[] l = new float[vocab];
        for (int i = 0; i < vocab; i++) l[i] = (i - vocab / 2) * step;
        for (int i = vocab - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            float t = l[i]; l[i] = l[j]; l[j] = t;
        }
        for (int k = 0; k < 4; k++) l[random.nextInt(vocab)] = l[random.nextInt(vocab)];
        return l;
    }

    private static List<SamplingParams> parameterSets() {
        return List.of(
                SamplingParams.of(0.7f, 0, 1f, null),
                SamplingParams.of(1f, 40, 0.9f, null).withMinP(0.02f),
                SamplingParams.of(1.3f, 0, 0.95f, null),
                SamplingParams.of(0.5f, 0, 1f, null).withMinP(0.05f),
                SamplingParams.of(1f, 1, 1f, null),
                SamplingParams.greedy(),
                SamplingParams.of(0.9f, 100, 0.8f, null).withPenalties(1.3f, 0.5f, 0.2f),
                SamplingParams.greedy().withPenalties(1.5f, 0f, 0f),
                SamplingParams.of(2f, 0, 0.5f, null).withPenalties(1f, -0.4f, 0.7f));
    }

    @Test
    void drawsAndLogprobsEqualTheCpuSampler() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                // {vocabulary, rows per parameter set, spread}: the logits span about ±20 × spread nats, so the
                // candidates within the kernel's cutoff are all of them (small vocabularies), most of them
                // (the histogram prefix decides, or the tail is sorted), few of them, or all in one
                // histogram bin (spread 1e-4: the full sort)
                for (double[] shape : new double[][]{{512, 4, 1}, {5000, 3, 1}, {32000, 2, 3}, {128256, 1, 3}, {128256, 1, 30}, {128256, 1, 1e-4}}) {
                    int vocab = (int) shape[0];
                    List<SamplingParams> sets = parameterSets();
                    int rows = sets.size() * (int) shape[1];
                    float step = (float) (40.0 / vocab * shape[2]);
                    float[] logits = new float[rows * vocab];
                    List<SamplingRequest> requests = new ArrayList<>();
                    for (int r = 0; r < rows; r++) {
                        System.arraycopy(separated(vocab, step), 0, logits, r * vocab, vocab);
                        int prompt = 3 + random.nextInt(100), generated = random.nextInt(90);
                        int[] history = new int[prompt + generated + 5];
                        for (int i = 0; i < prompt + generated; i++) history[i] = random.nextInt(Math.min(vocab, 300));
                        SamplingParams p = sets.get(r % sets.size());
                        requests.add(new SamplingRequest(p, random.nextLong(), history, prompt + generated, prompt, r % 2 == 0, r % 3 == 0 ? 5 : 0));
                    }
                    SamplingBatch batch = SamplingBatch.pack(requests);
                    try (DeviceSampler sampler = new DeviceSampler(a.kernels, a.memory, vocab)) {
                        sampler.queue(a.floats(logits), batch, d.stream());
                        cuStreamSynchronize(d.stream());
                        for (int r = 0; r < rows; r++) {
                            SamplingRequest q = requests.get(r);
                            float[] row = Arrays.copyOfRange(logits, r * vocab, (r + 1) * vocab);
                            int expected = new Sampler(q.params().withSeed(q.seed())).sample(row, q.history(), q.historyLength(), q.generatedFrom());
                            assertEquals(expected, sampler.token(r), "vocab " + vocab + " row " + r + " " + q.params());
                            if (q.logprobs()) {
                                Logprobs lp = new Logprobs(row, 0, vocab);
                                assertEquals(lp.of(expected), sampler.logprob(r), 1e-4, "logprob, row " + r);
                                if (q.topLogprobs() > 0) {
                                    int[] top = lp.top(q.topLogprobs());
                                    assertArrayEquals(top, sampler.topTokens(r, top.length), "top tokens, row " + r);
                                    float[] topLp = sampler.topLogprobs(r, top.length);
                                    for (int i = 0; i < top.length; i++) assertEquals(lp.of(top[i]), topLp[i], 1e-4, "top logprob " + i + ", row " + r);
                                }
                            }
                        }
                    }
                    log.info("sampling kernels: {} rows of vocabulary {} (spread {}) equal the CPU Sampler", rows, vocab, shape[2]);
                }
            }
            return null;
        });
    }

    /** The draw's frequencies over many uniforms at fixed logits follow the float64 distribution. */
    @Test
    void frequenciesFollowTheFloat64Distribution() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                int vocab = 300, rows = 4096;
                float[] one = new float[vocab];
                for (int i = 0; i < vocab; i++) one[i] = (float) (random.nextGaussian() * 2);
                for (SamplingParams p : List.of(SamplingParams.of(0.8f, 0, 1f, 1L), SamplingParams.of(1f, 20, 0.9f, 1L).withMinP(0.01f),
                        SamplingParams.of(1.5f, 0, 0.7f, 1L))) {
                    double[] expected = distribution(one, p);
                    float[] logits = new float[rows * vocab];
                    for (int r = 0; r < rows; r++) System.arraycopy(one, 0, logits, r * vocab, vocab);
                    List<SamplingRequest> requests = new ArrayList<>();
                    for (int r = 0; r < rows; r++) requests.add(new SamplingRequest(p, 1, new int[1], 1, 1, false, 0));
                    CUdeviceptr lp = a.floats(logits);
                    for (boolean stratified : new boolean[]{true, false}) {
                        SamplingBatch batch = SamplingBatch.pack(requests);
                        // stratified: u = (i + 1/2) / n, so each token's count is within 1 of n × p
                        for (int r = 0; r < rows; r++) batch.uniform[r] = stratified ? (r + 0.5) / rows : random.nextDouble();
                        int[] counts = new int[vocab];
                        try (DeviceSampler sampler = new DeviceSampler(a.kernels, a.memory, vocab)) {
                            sampler.queue(lp, batch, d.stream());
                            cuStreamSynchronize(d.stream());
                            for (int r = 0; r < rows; r++) counts[sampler.token(r)]++;
                        }
                        double worst = 0;
                        for (int i = 0; i < vocab; i++) {
                            double dev = Math.abs(counts[i] - rows * expected[i]);
                            double limit = stratified ? 1.0 + 1e-6 * rows : 5 * Math.sqrt(rows * expected[i] * (1 - expected[i])) + 2;
                            assertTrue(dev <= limit, p + (stratified ? " stratified" : " random") + ": token " + i + " drawn " + counts[i]
                                    + " times, expected " + rows * expected[i]);
                            worst = Math.max(worst, dev);
                        }
                        log.info("sampling frequencies ({}, {} draws, {}): largest count deviation {}", p, rows, stratified ? "stratified u" : "random u", worst);
                    }
                }
            }
            return null;
        });
    }

    /** Temperature, top-k, top-p and min-p in float64: each token's probability of being drawn. */
    private static double[] distribution(float[] logits, SamplingParams p) {
        int n = logits.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (x, y) -> logits[x] != logits[y] ? Float.compare(logits[y], logits[x]) : Integer.compare(x, y));
        int count = p.topK() > 0 ? Math.min(p.topK(), n) : n;
        double[] w = new double[count];
        double sum = 0;
        for (int j = 0; j < count; j++) sum += w[j] = Math.exp((logits[order[j]] - logits[order[0]]) / (double) p.temperature());
        if (p.topP() < 1) {
            double c = 0;
            for (int j = 0; j < count; j++) {
                c += w[j] / sum;
                if (c >= p.topP()) {
                    count = j + 1;
                    break;
                }
            }
        }
        if (p.minP() > 0) {
            int keep = 1;
            while (keep < count && w[keep] >= p.minP() * w[0]) keep++;
            count = keep;
        }
        double total = 0;
        for (int j = 0; j < count; j++) total += w[j];
        double[] out = new double[n];
        for (int j = 0; j < count; j++) out[order[j]] = w[j] / total;
        return out;
    }
}
