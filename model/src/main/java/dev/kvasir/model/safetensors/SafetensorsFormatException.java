package dev.kvasir.model.safetensors;

import dev.kvasir.model.ModelFormatException;

import java.nio.file.Path;

/** A safetensors file or Hugging Face directory that cannot be read; names the file and tensor. */
public final class SafetensorsFormatException extends ModelFormatException {
    public SafetensorsFormatException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public SafetensorsFormatException(Path file, String tensor, String problem) {
        super(file + ": tensor '" + tensor + "': " + problem);
    }
}
