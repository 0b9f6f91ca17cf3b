package dev.kvasir.model.bench;

import dev.kvasir.model.cpu.BatchInput;
import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.cpu.PagedKvPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Prefill and decode throughput of the CPU forward pass, measured as llama-bench does: prefill =
 * one sequence's prompt of {@code promptTokens} in one pass from an empty cache; decode =
 * {@code genTokens} steps from an empty cache, each step one token for every one of {@code batch}
 * sequences (one forward pass over the batch, so each weight is read once per step). Token ids
 * are seeded random (the weights of benchmark models are random too); nothing is sampled.
 * Warm-up runs (at least two, and two seconds), then {@code repetitions} timed runs; the median
 * is reported.
 */
public final class ForwardBenchmark {
    private static final Logger log = LoggerFactory.getLogger(ForwardBenchmark.class);
    private static final int BLOCK = 16;
    private static final long WARM_UP_NANOS = 2_000_000_000L;

    public record Result(double prefillTokensPerSecond, double decodeTokensPerSecond,
                         double[] prefillRuns, double[] decodeRuns) {
    }

    private final LlamaCpuModel model;
    private final int promptTokens;
    private final int genTokens;
    private final int batch;
    private final int repetitions;
    private final SplittableRandom random = new SplittableRandom(42);

    public ForwardBenchmark(LlamaCpuModel model, int promptTokens, int genTokens, int batch, int repetitions) {
        if (promptTokens < 0 || genTokens < 0) throw new IllegalArgumentException("token counts must be >= 0");
        if (promptTokens == 0 && genTokens == 0) throw new IllegalArgumentException("nothing to measure: --prompt-tokens and --gen-tokens are both 0");
        if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        if (repetitions < 1) throw new IllegalArgumentException("--repetitions must be >= 1, got " + repetitions);
        int context = model.config().contextLength();
        if (promptTokens > context || genTokens > context) {
            throw new IllegalArgumentException("the model's context window is " + context + " tokens");
        }
        this.model = model;
        this.promptTokens = promptTokens;
        this.genTokens = genTokens;
        this.batch = batch;
        this.repetitions = repetitions;
    }

    public Result run() {
        // warm-up until the JIT has compiled the kernels: at least two passes and two seconds
        long warmUntil = System.nanoTime() + WARM_UP_NANOS;
        for (int w = 0; w < 2 || System.nanoTime() < warmUntil; w++) {
            if (promptTokens > 0) log.info("warm-up: prefill {} tokens/s", String.format("%.1f", prefillOnce()));
            if (genTokens > 0) log.info("warm-up: decode {} tokens/s", String.format("%.1f", decodeOnce()));
        }
        double[] prefill = new double[repetitions];
        double[] decode = new double[repetitions];
        for (int r = 0; r < repetitions; r++) {
            String label = "run " + (r + 1) + "/" + repetitions;
            if (promptTokens > 0) {
                double tps = prefillOnce();
                prefill[r] = tps;
                log.info("{}: prefill {} tokens: {} tokens/s", label, promptTokens, String.format("%.1f", tps));
            }
            if (genTokens > 0) {
                double tps = decodeOnce();
                decode[r] = tps;
                log.info("{}: decode {} steps x batch {}: {} tokens/s", label, genTokens, batch, String.format("%.1f", tps));
            }
        }
        return new Result(promptTokens > 0 ? median(prefill) : Double.NaN, genTokens > 0 ? median(decode) : Double.NaN, prefill, decode);
    }

    private double prefillOnce() {
        PagedKvPool kv = pool(1, promptTokens);
        int[] tokens = randomTokens(promptTokens);
        int[] positions = new int[promptTokens];
        for (int i = 0; i < promptTokens; i++) positions[i] = i;
        BatchInput in = new BatchInput(tokens, positions, new int[promptTokens], new int[][]{table(0, promptTokens)}, new int[]{promptTokens - 1});
        long t0 = System.nanoTime();
        model.forward(in, kv);
        return promptTokens / ((System.nanoTime() - t0) / 1e9);
    }

    private double decodeOnce() {
        PagedKvPool kv = pool(batch, genTokens);
        int[][] tables = new int[batch][];
        int[] sequenceOf = new int[batch];
        int[] logitRows = new int[batch];
        for (int s = 0; s < batch; s++) {
            tables[s] = table(s, genTokens);
            sequenceOf[s] = s;
            logitRows[s] = s;
        }
        long t0 = System.nanoTime();
        for (int step = 0; step < genTokens; step++) {
            int[] positions = new int[batch];
            Arrays.fill(positions, step);
            model.forward(new BatchInput(randomTokens(batch), positions, sequenceOf, tables, logitRows), kv);
        }
        return (double) batch * genTokens / ((System.nanoTime() - t0) / 1e9);
    }

    private PagedKvPool pool(int sequences, int length) {
        return new PagedKvPool(model.config(), BLOCK, sequences * blocksFor(length), model.defaultKvDtype());
    }

    private static int blocksFor(int length) {
        return Math.max(1, (length + BLOCK - 1) / BLOCK);
    }

    /** Sequence {@code s} owns blocks {@code [s*k, (s+1)*k)}. */
    private static int[] table(int s, int length) {
        int k = blocksFor(length);
        int[] t = new int[k];
        for (int i = 0; i < k; i++) t[i] = s * k + i;
        return t;
    }

    private int[] randomTokens(int n) {
        int vocab = model.config().vocabSize();
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = random.nextInt(vocab);
        return t;
    }

    static double median(double[] runs) {
        double[] s = runs.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }
}
