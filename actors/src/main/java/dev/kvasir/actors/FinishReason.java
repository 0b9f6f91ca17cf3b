package dev.kvasir.actors;

/** Why a sample ended; {@link #wireName()} is what the OpenAI-style API reports. */
public enum FinishReason {
    /** End-of-generation token or a stop string. */
    STOP("stop"),
    /** max_tokens or the end of the context window. */
    LENGTH("length"),
    /** The client cancelled. */
    CANCELLED("cancelled"),
    /** The request's deadline passed; reported to clients as cancelled. */
    DEADLINE("cancelled");

    private final String wireName;

    FinishReason(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }
}
