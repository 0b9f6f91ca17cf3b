package dev.kvasir.model;

import dev.kvasir.model.tokenizer.HfTokenizers;
import dev.kvasir.model.tokenizer.Tokenizer;
import dev.kvasir.model.tokenizer.Tokenizers;
import dev.kvasir.model.gguf.GgufFile;
import dev.kvasir.model.weights.GgufModelLoader;
import dev.kvasir.model.weights.ModelLoader;
import dev.kvasir.model.weights.ModelWeights;

import java.nio.file.Files;
import java.nio.file.Path;

/** A model ready to run: weights and the tokenizer that belongs to them. */
public record LoadedModel(Path path, ModelWeights weights, Tokenizer tokenizer) implements AutoCloseable {

    /** Opens a GGUF file (parsed and mapped once for tokenizer and weights) or a Hugging Face directory. */
    public static LoadedModel open(Path path) {
        Tokenizer tokenizer;
        ModelWeights weights;
        if (Files.isDirectory(path)) {
            tokenizer = HfTokenizers.fromDirectory(path);
            weights = ModelLoader.load(path);
        } else {
            if (!Files.exists(path)) throw new ModelFormatException(path + ": no such file or directory");
            GgufFile file = GgufFile.open(path);
            try {
                tokenizer = Tokenizers.fromGguf(file);
                weights = GgufModelLoader.load(file); // the weights own the file from here on
            } catch (ModelFormatException e) {
                file.close();
                throw e.getMessage().startsWith(path.toString()) ? e : new ModelFormatException(path + ": " + e.getMessage(), e);
            } catch (RuntimeException e) {
                file.close();
                throw e;
            }
        }
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
