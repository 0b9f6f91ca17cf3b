package dev.kvasir.model.generate;

/** The prompt does not fit the model's context window. */
public final class PromptTooLongException extends IllegalArgumentException {
    public PromptTooLongException(int promptTokens, int contextLength) {
        super("prompt of " + promptTokens + " tokens does not fit the context window of " + contextLength + " tokens");
    }
}
