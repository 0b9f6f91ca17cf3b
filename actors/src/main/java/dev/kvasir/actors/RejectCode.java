package dev.kvasir.actors;

/** Why a request was refused; {@link #wireName()} is the error code clients see. */
public enum RejectCode {
    /** The waiting queue is full: retry later (HTTP 429/503). */
    OVERLOADED("overloaded"),
    /** The request can never be served as asked (prompt over the context window, bad parameters). */
    INVALID_REQUEST("invalid_request"),
    /** The engine failed while serving it. */
    INTERNAL("internal");

    private final String wireName;

    RejectCode(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }
}
