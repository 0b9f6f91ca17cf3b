package dev.kvasir.model.cpu;

import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.arch.RopeLayout;
import dev.kvasir.model.tensor.WeightMatrix;
import dev.kvasir.model.weights.LayerWeights;
import dev.kvasir.model.weights.LlamaWeights;

/**
 * The Llama-family forward pass on the CPU: RMSNorm, RoPE (both layouts, optional Llama 3 scaling),
 * grouped-query attention over a {@link KvCache}, SwiGLU, tied or separate output. A call processes
 * a run of consecutive tokens of one sequence as a batch (prefill), so each weight matrix is read
 * once per call; decode is the same call with one token.
 */
public final class LlamaCpuModel {
    private final ModelConfig c;
    private final LlamaWeights w;
    private final ComputePool pool;
    /** Per rotated pair i: theta^(-2i/ropeDim), divided by the Llama 3 factor when scaled. */
    private final float[] inverseFrequencies;

    public LlamaCpuModel(ModelConfig config, LlamaWeights weights, ComputePool pool) {
        this.c = config;
        this.w = weights;
        this.pool = pool;
        this.inverseFrequencies = new float[config.ropeDim() / 2];
        for (int i = 0; i < inverseFrequencies.length; i++) {
            double f = Math.pow(config.ropeTheta(), -2.0 * i / config.ropeDim());
            if (config.ropeFrequencyFactors() != null) f /= config.ropeFrequencyFactors()[i];
            inverseFrequencies[i] = (float) f;
        }
    }

    public ModelConfig config() {
        return c;
    }

    public LlamaWeights weights() {
        return w;
    }

    public KvCache newCache(int capacity) {
        return new KvCache(c, Math.min(capacity, c.contextLength()));
    }

    /**
     * Runs {@code tokens} at the positions following what {@code cache} holds, appends their keys
     * and values, and returns logits: of the last token ({@code vocab} floats), or of every token
     * ({@code tokens.length × vocab}) when {@code allLogits}.
     */
    public float[] forward(int[] tokens, KvCache cache, boolean allLogits) {
        int n = tokens.length;
        int pos0 = cache.length();
        if (n == 0) throw new IllegalArgumentException("no tokens to run");
        if (pos0 + n > cache.capacity()) {
            throw new IllegalArgumentException("sequence of " + (pos0 + n) + " tokens exceeds the KV cache of " + cache.capacity());
        }
        int[] positions = new int[n];
        int[] logitRows = allLogits ? new int[n] : new int[]{n - 1};
        for (int t = 0; t < n; t++) {
            positions[t] = pos0 + t;
            if (allLogits) logitRows[t] = t;
        }
        float[] logits = forward(new BatchInput(tokens, positions, new int[n], new int[][]{cache.blockTable}, logitRows), cache.pool);
        cache.advance(n);
        return logits;
    }

    /**
     * One forward pass over a batch of tokens from many sequences (continuous batching): every
     * weight matrix is read once for the whole batch. Writes each token's keys and values into
     * {@code kv} through its sequence's block table, then attends causally over that sequence.
     * Returns {@code logitRows.length × vocab} logits.
     */
    public float[] forward(BatchInput in, PagedKvPool kv) {
        int n = in.size();
        if (n == 0) throw new IllegalArgumentException("no tokens to run");
        int dim = c.dim();
        int qDim = c.qDim();
        int kvDim = c.kvDim();
        int hidden = c.hiddenDim();
        float[] x = new float[n * dim];
        float[] xb = new float[n * dim];
        float[] q = new float[n * qDim];
        float[] k = new float[n * kvDim];
        float[] v = new float[n * kvDim];
        float[] att = new float[n * qDim];
        float[] gate = new float[n * hidden];
        float[] up = new float[n * hidden];
        int[] kvOffsets = new int[n];

        for (int t = 0; t < n; t++) {
            int id = in.tokens()[t];
            if (id < 0 || id >= c.vocabSize()) throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + c.vocabSize());
            int pos = in.positions()[t];
            if (pos < 0 || pos >= c.contextLength()) throw new IllegalArgumentException("position " + pos + " outside the context window of " + c.contextLength());
            w.tokenEmbedding().dequantizeRow(id, x, t * dim);
            kvOffsets[t] = kv.offset(in.blockTables()[in.sequenceOf()[t]], pos);
        }

        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers().get(l);
            rmsNorm(x, lw.attnNorm(), xb, n, dim);
            matmul(lw.wq(), xb, n, q);
            matmul(lw.wk(), xb, n, k);
            matmul(lw.wv(), xb, n, v);
            addBias(q, lw.bq(), n);
            addBias(k, lw.bk(), n);
            addBias(v, lw.bv(), n);
            float[] keys = kv.keys[l];
            float[] values = kv.values[l];
            for (int t = 0; t < n; t++) {
                rope(q, t * qDim, c.heads(), in.positions()[t]);
                rope(k, t * kvDim, c.kvHeads(), in.positions()[t]);
                System.arraycopy(k, t * kvDim, keys, kvOffsets[t], kvDim);
                System.arraycopy(v, t * kvDim, values, kvOffsets[t], kvDim);
            }
            attention(in, kv, q, keys, values, att);
            matmul(lw.wo(), att, n, xb);
            add(x, xb);

            rmsNorm(x, lw.ffnNorm(), xb, n, dim);
            matmul(lw.gate(), xb, n, gate);
            matmul(lw.up(), xb, n, up);
            for (int i = 0; i < gate.length; i++) {
                float g = gate[i];
                gate[i] = g / (1f + (float) Math.exp(-g)) * up[i];
            }
            matmul(lw.down(), gate, n, xb);
            add(x, xb);
        }

        int rows = in.logitRows().length;
        float[] last = new float[rows * dim];
        for (int r = 0; r < rows; r++) System.arraycopy(x, in.logitRows()[r] * dim, last, r * dim, dim);
        float[] normed = new float[rows * dim];
        rmsNorm(last, w.outputNorm(), normed, rows, dim);
        float[] logits = new float[rows * c.vocabSize()];
        matmul(w.output(), normed, rows, logits);
        return logits;
    }

    private void matmul(WeightMatrix m, float[] in, int batch, float[] out) {
        int rows = m.rows();
        pool.parallelFor(rows, (start, end) -> m.matmul(in, batch, out, rows, start, end));
    }

    private void rmsNorm(float[] in, float[] weight, float[] out, int n, int dim) {
        for (int t = 0; t < n; t++) {
            int o = t * dim;
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += in[o + i] * in[o + i];
            float scale = (float) (1.0 / Math.sqrt(ss / dim + c.rmsEps()));
            for (int i = 0; i < dim; i++) out[o + i] = in[o + i] * scale * weight[i];
        }
    }

    private static void addBias(float[] x, float[] bias, int n) {
        if (bias == null) return;
        int d = bias.length;
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < d; i++) x[t * d + i] += bias[i];
        }
    }

    private static void add(float[] x, float[] y) {
        for (int i = 0; i < x.length; i++) x[i] += y[i];
    }

    /** Rotates the first ropeDim dims of each head of the vector at {@code offset} for {@code pos}. */
    private void rope(float[] vec, int offset, int heads, int pos) {
        int hd = c.headDim();
        int half = c.ropeDim() / 2;
        boolean interleaved = c.ropeLayout() == RopeLayout.INTERLEAVED;
        for (int i = 0; i < half; i++) {
            double angle = pos * (double) inverseFrequencies[i];
            float cos = (float) Math.cos(angle);
            float sin = (float) Math.sin(angle);
            for (int h = 0; h < heads; h++) {
                int base = offset + h * hd;
                int a = interleaved ? base + 2 * i : base + i;
                int b = interleaved ? a + 1 : a + half;
                float x0 = vec[a];
                float x1 = vec[b];
                vec[a] = x0 * cos - x1 * sin;
                vec[b] = x0 * sin + x1 * cos;
            }
        }
    }

    /** Causal grouped-query attention of every batch token over its own sequence's cached positions. */
    private void attention(BatchInput in, PagedKvPool kv, float[] q, float[] keys, float[] values, float[] out) {
        int n = in.size();
        int heads = c.heads();
        int hd = c.headDim();
        int qDim = c.qDim();
        int group = c.groupSize();
        int blockSize = kv.blockSize();
        int kvDim = c.kvDim();
        float scale = (float) (1.0 / Math.sqrt(hd));
        int maxLen = 0;
        for (int p : in.positions()) maxLen = Math.max(maxLen, p + 1);
        int scoresLength = maxLen;
        pool.parallelFor(n * heads, (start, end) -> {
            float[] scores = new float[scoresLength];
            for (int job = start; job < end; job++) {
                int t = job / heads;
                int h = job % heads;
                int[] table = in.blockTables()[in.sequenceOf()[t]];
                int qOff = t * qDim + h * hd;
                int headOff = (h / group) * hd;
                int len = in.positions()[t] + 1;
                float max = Float.NEGATIVE_INFINITY;
                for (int s = 0; s < len; s++) {
                    int kOff = (table[s / blockSize] * blockSize + s % blockSize) * kvDim + headOff;
                    float dot = 0;
                    for (int i = 0; i < hd; i++) dot += q[qOff + i] * keys[kOff + i];
                    dot *= scale;
                    scores[s] = dot;
                    if (dot > max) max = dot;
                }
                float sum = 0;
                for (int s = 0; s < len; s++) {
                    float e = (float) Math.exp(scores[s] - max);
                    scores[s] = e;
                    sum += e;
                }
                float inv = 1f / sum;
                int oOff = t * qDim + h * hd;
                for (int i = 0; i < hd; i++) out[oOff + i] = 0;
                for (int s = 0; s < len; s++) {
                    float a = scores[s] * inv;
                    int vOff = (table[s / blockSize] * blockSize + s % blockSize) * kvDim + headOff;
                    for (int i = 0; i < hd; i++) out[oOff + i] += a * values[vOff + i];
                }
            }
        });
    }
}
