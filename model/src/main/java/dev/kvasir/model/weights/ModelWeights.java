package dev.kvasir.model.weights;

import dev.kvasir.model.arch.ModelConfig;

/**
 * A model's hyperparameters and weights, with whatever keeps the weights alive (the file mapping);
 * close it to release them.
 */
public record ModelWeights(ModelConfig config, LlamaWeights weights, AutoCloseable resources) implements AutoCloseable {
    @Override
    public void close() {
        try {
            if (resources != null) resources.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing model files: " + e.getMessage(), e);
        }
    }
}
