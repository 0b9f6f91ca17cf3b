package dev.kvasir.model.gguf;

import dev.kvasir.model.ModelFormatException;

import java.nio.file.Path;

/** A GGUF file that cannot be read: the message names the file and, where it applies, the tensor. */
public final class GgufFormatException extends ModelFormatException {
    public GgufFormatException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public GgufFormatException(Path file, String tensor, String problem) {
        super(file + ": tensor '" + tensor + "': " + problem);
    }
}
