package dev.kvasir.model.sampling;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Picks one token from logits: penalties, then greedy argmax or temperature → top-k → top-p →
 * min-p → a draw. The draw for the n-th generated token depends only on (seed, n), not on what
 * was drawn before, so a sequence that is preempted and recomputed, or moved to another node,
 * continues with exactly the tokens it would have produced undisturbed.
 */
public final class Sampler {
    private final SamplingParams params;
    private final long seed;
    private float[] work = new float[0];
    private long[] keys = new long[0];
    private float[] probs = new float[0];

    public Sampler(SamplingParams params) {
        this.params = params;
        this.seed = params.seed() != null ? params.seed() : ThreadLocalRandom.current().nextLong();
    }

    public SamplingParams params() {
        return params;
    }

    /**
     * Chooses the next token. {@code history} holds prompt and generated ids, the generated ones
     * starting at {@code generatedFrom}; it is read only when penalties are on.
     */
    public int sample(float[] logits, int[] history, int historyLength, int generatedFrom) {
        float[] l = logits;
        if (params.hasPenalties()) {
            l = copy(logits);
            applyPenalties(l, history, historyLength, generatedFrom);
        }
        if (params.isGreedy()) return argmax(l);
        if (l == logits) l = copy(logits);
        return draw(l, uniform(seed, historyLength, generatedFrom));
    }

    /**
     * The uniform number in [0, 1) behind the draw of the token that follows {@code historyLength}
     * ids, {@code generatedFrom} of them prompt: a function of (seed, generated index) only. The GPU
     * sampler draws with the same number.
     */
    public static double uniform(long seed, int historyLength, int generatedFrom) {
        return new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (historyLength - generatedFrom + 1))).nextDouble();
    }

    /** The highest logit; the lowest id among exact ties. */
    public static int argmax(float[] logits) {
        int best = 0;
        float bestValue = logits[0];
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > bestValue) {
                bestValue = logits[i];
                best = i;
            }
        }
        return best;
    }

    private float[] copy(float[] logits) {
        if (work.length != logits.length) work = new float[logits.length];
        System.arraycopy(logits, 0, work, 0, logits.length);
        return work;
    }

    private void applyPenalties(float[] l, int[] history, int length, int generatedFrom) {
        if (params.repetitionPenalty() != 1f) {
            float p = params.repetitionPenalty();
            boolean[] seen = new boolean[l.length];
            for (int i = Math.max(0, length - params.penaltyLastN()); i < length; i++) {
                int id = history[i];
                if (id < 0 || id >= l.length || seen[id]) continue;
                seen[id] = true;
                l[id] = l[id] > 0 ? l[id] / p : l[id] * p;
            }
        }
        if (params.presencePenalty() != 0f || params.frequencyPenalty() != 0f) {
            Map<Integer, Integer> counts = new HashMap<>();
            for (int i = generatedFrom; i < length; i++) counts.merge(history[i], 1, Integer::sum);
            for (Map.Entry<Integer, Integer> e : counts.entrySet()) {
                int id = e.getKey();
                if (id < 0 || id >= l.length) continue;
                l[id] -= params.presencePenalty() + params.frequencyPenalty() * e.getValue();
            }
        }
    }

    /** The seed in use (chosen at random when the parameters named none). */
    public long seed() {
        return seed;
    }

    private int draw(float[] l, double uniform) {
        int n = l.length;
        float invT = 1f / params.temperature();
        // Sort candidates by logit, descending, as packed (orderable logit bits, id) keys: no boxing.
        if (keys.length != n) {
            keys = new long[n];
            probs = new float[n];
        }
        for (int i = 0; i < n; i++) keys[i] = ((long) orderable(l[i]) << 32) | (0xFFFFFFFFL & ~i);
        Arrays.sort(keys, 0, n);
        int count = params.topK() > 0 ? Math.min(params.topK(), n) : n;
        // keys are ascending: candidate j is keys[n - 1 - j]
        float max = l[id(keys[n - 1])] * invT;
        double sum = 0;
        for (int j = 0; j < count; j++) {
            float p = (float) Math.exp(l[id(keys[n - 1 - j])] * invT - max);
            probs[j] = p;
            sum += p;
        }
        if (params.topP() < 1f) {
            double cumulative = 0;
            int keep = count;
            for (int j = 0; j < count; j++) {
                cumulative += probs[j] / sum;
                if (cumulative >= params.topP()) {
                    keep = j + 1;
                    break;
                }
            }
            count = keep;
        }
        if (params.minP() > 0f) {
            float threshold = params.minP() * probs[0];
            int keep = 1;
            while (keep < count && probs[keep] >= threshold) keep++;
            count = keep;
        }
        double total = 0;
        for (int j = 0; j < count; j++) total += probs[j];
        double u = uniform * total;
        for (int j = 0; j < count; j++) {
            u -= probs[j];
            if (u < 0) return id(keys[n - 1 - j]);
        }
        return id(keys[n - 1 - (count - 1)]);
    }

    private static int id(long key) {
        return ~(int) key;
    }

    /** Float bits mapped so that signed int order equals float order. */
    private static int orderable(float f) {
        int bits = Float.floatToIntBits(f);
        return bits >= 0 ? bits : bits ^ 0x7FFFFFFF;
    }
}
