package dev.kvasir.model.weights;

import dev.kvasir.model.tensor.WeightMatrix;

/** One decoder block's weights. Biases are null for models without them (Llama); Qwen2 has q/k/v biases. */
public record LayerWeights(
        float[] attnNorm,
        WeightMatrix wq, WeightMatrix wk, WeightMatrix wv,
        float[] bq, float[] bk, float[] bv,
        WeightMatrix wo,
        float[] ffnNorm,
        WeightMatrix gate, WeightMatrix up, WeightMatrix down) {
}
