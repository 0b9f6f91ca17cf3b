package dev.kvasir.model.generate;

import java.util.Locale;

/** Why generation ended, as OpenAI's API spells it. */
public enum FinishReason {
    /** An end-of-generation token or a stop string. */
    STOP,
    /** max_tokens reached, or the context window is full. */
    LENGTH,
    /** The client cancelled. */
    CANCELLED;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
