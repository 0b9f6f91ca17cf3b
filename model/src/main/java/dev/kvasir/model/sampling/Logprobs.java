package dev.kvasir.model.sampling;

/** Log-probabilities under the raw (unpenalized, temperature 1) distribution of a logit vector. */
public final class Logprobs {
    private final float[] logits;
    private final double logSumExp;

    public Logprobs(float[] logits, int offset, int length) {
        this.logits = new float[length];
        System.arraycopy(logits, offset, this.logits, 0, length);
        float max = Float.NEGATIVE_INFINITY;
        for (float l : this.logits) max = Math.max(max, l);
        double sum = 0;
        for (float l : this.logits) sum += Math.exp(l - max);
        this.logSumExp = max + Math.log(sum);
    }

    public float of(int token) {
        return (float) (logits[token] - logSumExp);
    }

    /** The {@code k} most likely tokens, best first (lowest id first among ties). */
    public int[] top(int k) {
        k = Math.min(k, logits.length);
        int[] best = new int[k];
        int size = 0;
        for (int id = 0; id < logits.length; id++) {
            float v = logits[id];
            if (size == k && v <= logits[best[k - 1]]) continue;
            int at = size < k ? size++ : k - 1;
            while (at > 0 && logits[best[at - 1]] < v) {
                best[at] = best[at - 1];
                at--;
            }
            best[at] = id;
        }
        return best;
    }
}
