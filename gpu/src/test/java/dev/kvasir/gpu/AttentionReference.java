package dev.kvasir.gpu;

/** Float64 references for the attention kernel checks. */
final class AttentionReference {
    private AttentionReference() {
    }

    /** Causal attention of each query (row t at q[t * qStride + h * headDim]) over its sequence's positions [0, pos], in float64. */
    static double[] causal(float[] q, int qStride, double[] keys, double[] values, int[] positions, int[] seqOf, int[] tables, int stride,
                          int heads, int kvHeads, int headDim, int bs, float scale) {
        int n = positions.length, kvDim = kvHeads * headDim;
        double[] ref = new double[n * heads * headDim];
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < heads; h++) {
                int kvh = h / (heads / kvHeads);
                int len = positions[t] + 1;
                double[] sc = new double[len];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p < len; p++) {
                    int off = (tables[seqOf[t] * stride + p / bs] * bs + p % bs) * kvDim + kvh * headDim;
                    double dot = 0;
                    for (int i = 0; i < headDim; i++) dot += (double) q[t * qStride + h * headDim + i] * keys[off + i];
                    sc[p] = dot * scale;
                    max = Math.max(max, sc[p]);
                }
                double sum = 0;
                for (int p = 0; p < len; p++) sum += sc[p] = Math.exp(sc[p] - max);
                for (int p = 0; p < len; p++) {
                    int off = (tables[seqOf[t] * stride + p / bs] * bs + p % bs) * kvDim + kvh * headDim;
                    for (int i = 0; i < headDim; i++) ref[(t * heads + h) * headDim + i] += sc[p] / sum * values[off + i];
                }
            }
        }
        return ref;
    }

    static double[] toDouble(float[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i];
        return out;
    }
}
