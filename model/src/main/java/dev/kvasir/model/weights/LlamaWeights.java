package dev.kvasir.model.weights;

import dev.kvasir.model.tensor.WeightMatrix;

import java.util.List;

/**
 * All weights of a Llama-family decoder, in their stored formats. {@code output} is the token
 * embedding itself when the model ties them.
 */
public record LlamaWeights(WeightMatrix tokenEmbedding, List<LayerWeights> layers, float[] outputNorm, WeightMatrix output) {

    public boolean tiedOutput() {
        return output == tokenEmbedding;
    }

    /** Bytes of every matrix, counting a tied matrix once: what one decode step streams from memory. */
    public long byteSize() {
        long n = tokenEmbedding.byteSize();
        if (!tiedOutput()) n += output.byteSize();
        for (LayerWeights l : layers) {
            n += l.wq().byteSize() + l.wk().byteSize() + l.wv().byteSize() + l.wo().byteSize()
                    + l.gate().byteSize() + l.up().byteSize() + l.down().byteSize();
        }
        return n;
    }
}
