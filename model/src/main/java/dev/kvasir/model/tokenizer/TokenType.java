package dev.kvasir.model.tokenizer;

/** Token types as GGUF ({@code tokenizer.ggml.token_type}) and SentencePiece number them. */
public enum TokenType {
    UNDEFINED, NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE;

    public static TokenType fromCode(int code) {
        return code >= 1 && code <= 6 ? values()[code] : UNDEFINED;
    }

    /** Tokens that {@link SpecialTokenSplitter} looks for in the text. */
    boolean isSpecial() {
        return this == CONTROL || this == USER_DEFINED || this == UNKNOWN;
    }
}
