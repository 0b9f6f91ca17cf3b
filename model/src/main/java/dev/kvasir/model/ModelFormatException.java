package dev.kvasir.model;

/** A model, tokenizer or weight file that cannot be used; the message says which file and why. */
public class ModelFormatException extends RuntimeException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
