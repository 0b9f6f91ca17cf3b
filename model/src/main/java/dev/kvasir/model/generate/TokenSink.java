package dev.kvasir.model.generate;

/**
 * Receives each generated token as it is sampled, with the text it makes visible (empty while
 * bytes of a UTF-8 character or a possible stop string are held back).
 */
public interface TokenSink {
    void accept(int index, int token, String text);

    /** Text still held back when generation ended (an unfinished stop-string prefix); usually empty. */
    default void flush(String text) {
    }

    TokenSink NONE = (index, token, text) -> {
    };
}
