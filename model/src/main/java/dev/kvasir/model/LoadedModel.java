package dev.kvasir.model;

import dev.kvasir.model.tokenizer.HfTokenizers;
import dev.kvasir.model.tokenizer.Tokenizer;
import dev.kvasir.model.tokenizer.Tokenizers;
import dev.kvasir.model.weights.ModelLoader;
import dev.kvasir.model.weights.ModelWeights;

import java.nio.file.Files;
import java.nio.file.Path;

/** A model ready to run: weights and the tokenizer that belongs to them. */
public record LoadedModel(Path path, ModelWeights weights, Tokenizer tokenizer) implements AutoCloseable {

    /** Opens a GGUF file or a Hugging Face directory. */
    public static LoadedModel open(Path path) {
        Tokenizer tokenizer = openTokenizer(path);
        ModelWeights weights = ModelLoader.load(path);
        if (tokenizer.vocabSize() > weights.config().vocabSize()) {
            weights.close();
            throw new ModelFormatException(path + ": tokenizer has " + tokenizer.vocabSize() + " tokens but the model only "
                    + weights.config().vocabSize());
        }
        return new LoadedModel(path, weights, tokenizer);
    }

    /** The tokenizer of a GGUF file (vocab-only files suffice) or a Hugging Face directory. */
    public static Tokenizer openTokenizer(Path path) {
        if (Files.isDirectory(path)) return HfTokenizers.fromDirectory(path);
        if (!Files.exists(path)) throw new ModelFormatException(path + ": no such file or directory");
        return Tokenizers.fromGguf(path);
    }

    @Override
    public void close() {
        weights.close();
    }
}
