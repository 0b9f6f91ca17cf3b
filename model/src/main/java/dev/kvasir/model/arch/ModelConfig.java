package dev.kvasir.model.arch;

/**
 * Hyperparameters of a Llama-family decoder (Llama 2/3, Mistral, Qwen2-style): RMSNorm, RoPE, GQA,
 * SwiGLU. One forward pass serves every model described by these numbers.
 *
 * @param ropeFrequencyFactors per-frequency divisors (Llama 3 scaling), or null for none
 */
public record ModelConfig(
        String architecture,
        String name,
        int dim,
        int hiddenDim,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int vocabSize,
        int contextLength,
        float rmsEps,
        float ropeTheta,
        int ropeDim,
        RopeLayout ropeLayout,
        float[] ropeFrequencyFactors) {

    public ModelConfig {
        if (heads % kvHeads != 0) throw new IllegalArgumentException("heads " + heads + " not a multiple of kv heads " + kvHeads);
        if (ropeDim > headDim || ropeDim % 2 != 0) throw new IllegalArgumentException("rope dimension " + ropeDim + " invalid for head size " + headDim);
    }

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Query heads that share one key/value head. */
    public int groupSize() {
        return heads / kvHeads;
    }

    @Override
    public String toString() {
        return "%s '%s': dim %d, ffn %d, layers %d, heads %d/%d kv, head %d, vocab %d, ctx %d, rope theta %s (%s, %d dims%s)"
                .formatted(architecture, name, dim, hiddenDim, layers, heads, kvHeads, headDim, vocabSize, contextLength,
                        ropeTheta, ropeLayout, ropeDim, ropeFrequencyFactors != null ? ", scaled" : "");
    }
}
