package dev.kvasir.model.tokenizer;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Turns a stream of token ids into text for one sequence. A character may span several tokens
 * (an emoji as four byte tokens), so bytes of an incomplete UTF-8 sequence at the end are held back
 * until the rest arrives; what is returned is always whole characters. The concatenation of all
 * returned strings and {@link #flush()} equals {@link Tokenizer#decode(int[])} of the same ids.
 * Not thread-safe: one per sequence.
 */
public final class StreamingDetokenizer {
    private final Tokenizer tokenizer;
    private byte[] pending = new byte[16];
    private int size;

    public StreamingDetokenizer(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Adds one token; returns the text completed by it (possibly empty). */
    public String push(int id) {
        byte[] b = tokenizer.tokenBytes(id);
        if (size + b.length > pending.length) pending = Arrays.copyOf(pending, Math.max(pending.length * 2, size + b.length));
        System.arraycopy(b, 0, pending, size, b.length);
        size += b.length;
        int complete = completeLength();
        return take(complete);
    }

    /** Returns whatever is held back (an unfinished sequence decodes to U+FFFD) and resets. */
    public String flush() {
        return take(size);
    }

    /** Bytes held back because their character is not complete yet. */
    public int pendingBytes() {
        return size;
    }

    /** The length of the longest prefix that does not end inside a still-completable UTF-8 sequence. */
    private int completeLength() {
        // a sequence is at most 4 bytes: look back at most 3 for its lead byte
        for (int back = 1; back <= Math.min(3, size); back++) {
            int b = pending[size - back] & 0xFF;
            if ((b & 0xC0) == 0x80) continue; // continuation byte: keep looking for the lead
            int need = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1;
            if (need > back && b < 0xF5) return size - back; // lead whose continuation bytes are still to come
            return size;
        }
        return size;
    }

    private String take(int n) {
        if (n == 0) return "";
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE);
        String s;
        try {
            CharBuffer chars = dec.decode(ByteBuffer.wrap(pending, 0, n));
            s = chars.toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalStateException(e); // cannot happen with REPLACE
        }
        System.arraycopy(pending, n, pending, 0, size - n);
        size -= n;
        return s;
    }
}
