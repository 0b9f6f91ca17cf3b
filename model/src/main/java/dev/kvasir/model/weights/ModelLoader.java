package dev.kvasir.model.weights;

import dev.kvasir.model.ModelFormatException;
import dev.kvasir.model.gguf.GgufFile;

import java.nio.file.Files;
import java.nio.file.Path;

/** Opens a model from a GGUF file or a Hugging Face directory, whichever the path is. */
public final class ModelLoader {
    private ModelLoader() {
    }

    public static ModelWeights load(Path path) {
        if (Files.isDirectory(path)) return HfModelLoader.load(path);
        if (!Files.exists(path)) throw new ModelFormatException(path + ": no such file or directory");
        GgufFile file = GgufFile.open(path);
        try {
            return GgufModelLoader.load(file);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }
}
