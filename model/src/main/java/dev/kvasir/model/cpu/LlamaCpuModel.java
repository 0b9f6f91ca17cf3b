package dev.kvasir.model.cpu;

import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.arch.RopeLayout;
import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.tensor.ActivationFormat;
import dev.kvasir.model.tensor.Q8Activations;
import dev.kvasir.model.tensor.Quantizer;
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

    /**
     * Bytes of weight matrices one decode step streams: every layer matrix and the output matrix
     * (the embedding is only looked up, one row per token, unless it is also the tied output).
     */
    public long weightBytes() {
        long bytes = w.output().byteSize();
        for (LayerWeights lw : w.layers()) {
            for (WeightMatrix m : new WeightMatrix[]{lw.wq(), lw.wk(), lw.wv(), lw.wo(), lw.gate(), lw.up(), lw.down()}) bytes += m.byteSize();
        }
        return bytes;
    }

    public KvCache newCache(int capacity) {
        return newCache(capacity, defaultKvDtype());
    }

    public KvCache newCache(int capacity, KvDtype dtype) {
        return new KvCache(c, Math.min(capacity, c.contextLength()), dtype);
    }

    /**
     * F32 keys and values for F32 weights (exact against float references), F16 otherwise — what
     * llama.cpp uses, and half the memory.
     */
    public KvDtype defaultKvDtype() {
        return w.tokenEmbedding().type() == GgmlType.F32 && w.layers().get(0).wq().type() == GgmlType.F32 ? KvDtype.F32 : KvDtype.F16;
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
        Activations normed = new Activations(xb, n, dim);
        Activations attended = new Activations(att, n, qDim);
        Activations gated = new Activations(gate, n, hidden);

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
            normed.changed();
            matmul(lw.wq(), normed, q);
            matmul(lw.wk(), normed, k);
            matmul(lw.wv(), normed, v);
            addBias(q, lw.bq(), n);
            addBias(k, lw.bk(), n);
            addBias(v, lw.bv(), n);
            for (int t = 0; t < n; t++) {
                rope(q, t * qDim, c.heads(), in.positions()[t]);
                rope(k, t * kvDim, c.kvHeads(), in.positions()[t]);
                kv.store(l, k, v, t * kvDim, kvOffsets[t]);
            }
            attention(in, kv, l, q, att);
            attended.changed();
            matmul(lw.wo(), attended, xb);
            add(x, xb);

            rmsNorm(x, lw.ffnNorm(), xb, n, dim);
            normed.changed();
            matmul(lw.gate(), normed, gate);
            matmul(lw.up(), normed, up);
            for (int i = 0; i < gate.length; i++) gate[i] = GgmlMath.silu(gate[i]) * up[i];
            gated.changed();
            matmul(lw.down(), gated, xb);
            add(x, xb);
        }

        int rows = in.logitRows().length;
        float[] last = new float[rows * dim];
        for (int r = 0; r < rows; r++) System.arraycopy(x, in.logitRows()[r] * dim, last, r * dim, dim);
        float[] normedLast = new float[rows * dim];
        rmsNorm(last, w.outputNorm(), normedLast, rows, dim);
        float[] logits = new float[rows * c.vocabSize()];
        matmul(w.output(), new Activations(normedLast, rows, dim), logits);
        return logits;
    }

    /** out = m · in for every activation row, with the activations in the form m's kernel takes. */
    private void matmul(WeightMatrix m, Activations in, float[] out) {
        int rows = m.rows();
        int batch = in.batch;
        switch (m.activationFormat()) {
            case Q8_0 -> {
                Q8Activations q8 = in.q8();
                pool.parallelFor(rows, (start, end) -> m.matmul(q8, out, rows, start, end));
            }
            case F16 -> {
                float[] x = in.f16();
                pool.parallelFor(rows, (start, end) -> m.matmul(x, batch, out, rows, start, end));
            }
            case BF16 -> {
                float[] x = in.bf16();
                pool.parallelFor(rows, (start, end) -> m.matmul(x, batch, out, rows, start, end));
            }
            case F32 -> pool.parallelFor(rows, (start, end) -> m.matmul(in.x, batch, out, rows, start, end));
        }
    }

    /**
     * An activation buffer in each form a weight type may want (see {@link ActivationFormat}),
     * each prepared at most once between changes: q, k and v share one quantization.
     */
    private static final class Activations {
        final float[] x;
        final int batch;
        final int cols;
        private float[] f16;
        private float[] bf16;
        private Q8Activations q8;
        private boolean f16Ready;
        private boolean bf16Ready;
        private boolean q8Ready;

        Activations(float[] x, int batch, int cols) {
            this.x = x;
            this.batch = batch;
            this.cols = cols;
        }

        void changed() {
            f16Ready = bf16Ready = q8Ready = false;
        }

        float[] f16() {
            if (!f16Ready) {
                if (f16 == null) f16 = new float[x.length];
                for (int i = 0; i < x.length; i++) f16[i] = Float.float16ToFloat(Float.floatToFloat16(x[i]));
                f16Ready = true;
            }
            return f16;
        }

        float[] bf16() {
            if (!bf16Ready) {
                if (bf16 == null) bf16 = new float[x.length];
                for (int i = 0; i < x.length; i++) bf16[i] = Float.intBitsToFloat(Quantizer.toBf16(x[i]) << 16);
                bf16Ready = true;
            }
            return bf16;
        }

        Q8Activations q8() {
            if (!q8Ready) {
                if (q8 == null) q8 = new Q8Activations();
                q8.quantize(x, batch, cols);
                q8Ready = true;
            }
            return q8;
        }
    }

    private void rmsNorm(float[] in, float[] weight, float[] out, int n, int dim) {
        for (int t = 0; t < n; t++) {
            int o = t * dim;
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += in[o + i] * in[o + i];
            float mean = (float) (ss / dim);
            float scale = 1f / (float) Math.sqrt(mean + c.rmsEps());
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

    /**
     * Causal grouped-query attention of every batch token over its own sequence's cached positions.
     * With an F16 cache it follows llama.cpp's arithmetic: the query is rounded to f16 for q·k and
     * the attention weights are rounded to f16 before weighting the values.
     */
    private void attention(BatchInput in, PagedKvPool kv, int layer, float[] q, float[] out) {
        int n = in.size();
        int heads = c.heads();
        int hd = c.headDim();
        int qDim = c.qDim();
        int group = c.groupSize();
        int blockSize = kv.blockSize();
        int kvDim = c.kvDim();
        boolean half = kv.dtype() == KvDtype.F16;
        float[] keys = half ? null : kv.keys[layer];
        float[] values = half ? null : kv.values[layer];
        short[] keys16 = half ? kv.keys16[layer] : null;
        short[] values16 = half ? kv.values16[layer] : null;
        float scale = (float) (1.0 / Math.sqrt(hd));
        int maxLen = 0;
        for (int p : in.positions()) maxLen = Math.max(maxLen, p + 1);
        int scoresLength = maxLen;
        pool.parallelFor(n * heads, (start, end) -> {
            float[] scores = new float[scoresLength];
            float[] qh = new float[hd];
            float[] acc = new float[hd];
            for (int job = start; job < end; job++) {
                int t = job / heads;
                int h = job % heads;
                int[] table = in.blockTables()[in.sequenceOf()[t]];
                int qOff = t * qDim + h * hd;
                for (int i = 0; i < hd; i++) qh[i] = half ? Float.float16ToFloat(Float.floatToFloat16(q[qOff + i])) : q[qOff + i];
                int headOff = (h / group) * hd;
                int len = in.positions()[t] + 1;
                float max = Float.NEGATIVE_INFINITY;
                int s0 = 0;
                if (half) {
                    // four positions at a time: each one's sum is still added up in order, but the
                    // four chains of dependent double additions overlap instead of waiting on each other
                    for (; s0 + 4 <= len; s0 += 4) {
                        int k0 = (table[s0 / blockSize] * blockSize + s0 % blockSize) * kvDim + headOff;
                        int k1 = (table[(s0 + 1) / blockSize] * blockSize + (s0 + 1) % blockSize) * kvDim + headOff;
                        int k2 = (table[(s0 + 2) / blockSize] * blockSize + (s0 + 2) % blockSize) * kvDim + headOff;
                        int k3 = (table[(s0 + 3) / blockSize] * blockSize + (s0 + 3) % blockSize) * kvDim + headOff;
                        double sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
                        for (int i = 0; i < hd; i++) {
                            float qi = qh[i];
                            sum0 += qi * Float.float16ToFloat(keys16[k0 + i]);
                            sum1 += qi * Float.float16ToFloat(keys16[k1 + i]);
                            sum2 += qi * Float.float16ToFloat(keys16[k2 + i]);
                            sum3 += qi * Float.float16ToFloat(keys16[k3 + i]);
                        }
                        float d0 = (float) sum0 * scale, d1 = (float) sum1 * scale, d2 = (float) sum2 * scale, d3 = (float) sum3 * scale;
                        scores[s0] = d0;
                        scores[s0 + 1] = d1;
                        scores[s0 + 2] = d2;
                        scores[s0 + 3] = d3;
                        if (d0 > max) max = d0;
                        if (d1 > max) max = d1;
                        if (d2 > max) max = d2;
                        if (d3 > max) max = d3;
                    }
                }
                for (int s = s0; s < len; s++) {
                    int kOff = (table[s / blockSize] * blockSize + s % blockSize) * kvDim + headOff;
                    float dot;
                    if (half) {
                        // f16 × f16 products are exact in float; llama.cpp sums them in double
                        double sum = 0;
                        for (int i = 0; i < hd; i++) sum += qh[i] * Float.float16ToFloat(keys16[kOff + i]);
                        dot = (float) sum;
                    } else {
                        dot = 0;
                        for (int i = 0; i < hd; i++) dot += qh[i] * keys[kOff + i];
                    }
                    dot *= scale;
                    scores[s] = dot;
                    if (dot > max) max = dot;
                }
                // ggml's softmax: exponentials in groups of 8, each group summed in float, groups in double
                double sum = 0;
                for (int g = 0; g < len; g += 8) {
                    float v0 = 0, v1 = 0, v2 = 0, v3 = 0, v4 = 0, v5 = 0, v6 = 0, v7 = 0;
                    for (int s = g; s < Math.min(len, g + 8); s++) {
                        float e = GgmlMath.expf(scores[s] - max);
                        scores[s] = e;
                        switch (s - g) {
                            case 0 -> v0 = e;
                            case 1 -> v1 = e;
                            case 2 -> v2 = e;
                            case 3 -> v3 = e;
                            case 4 -> v4 = e;
                            case 5 -> v5 = e;
                            case 6 -> v6 = e;
                            default -> v7 = e;
                        }
                    }
                    sum += ((v4 + v0) + (v6 + v2)) + ((v5 + v1) + (v7 + v3));
                }
                float inv = (float) (1.0 / sum);
                java.util.Arrays.fill(acc, 0f);
                for (int s = 0; s < len; s++) {
                    float a = scores[s] * inv;
                    int vOff = (table[s / blockSize] * blockSize + s % blockSize) * kvDim + headOff;
                    if (half) {
                        a = Float.float16ToFloat(Float.floatToFloat16(a));
                        for (int i = 0; i < hd; i++) acc[i] += a * Float.float16ToFloat(values16[vOff + i]);
                    } else {
                        for (int i = 0; i < hd; i++) acc[i] += a * values[vOff + i];
                    }
                }
                System.arraycopy(acc, 0, out, t * qDim + h * hd, hd);
            }
        });
    }
}
