package dev.kvasir.model.tokenizer;

import dev.kvasir.model.ModelFormatException;

import java.nio.charset.StandardCharsets;

/**
 * The protobuf wire format, just enough to walk a message: tags, varints, fixed 32/64-bit values
 * and length-delimited fields (strings, bytes, nested messages). Unknown fields are skipped.
 */
final class ProtobufReader {
    static final int VARINT = 0, FIXED64 = 1, LENGTH_DELIMITED = 2, FIXED32 = 5;

    private final byte[] buf;
    private int pos;
    private final int end;

    ProtobufReader(byte[] buf) {
        this(buf, 0, buf.length);
    }

    private ProtobufReader(byte[] buf, int from, int to) {
        this.buf = buf;
        this.pos = from;
        this.end = to;
    }

    boolean hasMore() {
        return pos < end;
    }

    /** The next tag (field number << 3 | wire type). */
    int readTag() {
        return (int) readVarint();
    }

    long readVarint() {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= end) throw truncated();
            byte b = buf[pos++];
            result |= (long) (b & 0x7F) << shift;
            if (b >= 0) return result;
        }
        throw new ModelFormatException("malformed protobuf varint at byte " + pos);
    }

    float readFloat() {
        return Float.intBitsToFloat(readFixed32());
    }

    int readFixed32() {
        need(4);
        int v = (buf[pos] & 0xFF) | (buf[pos + 1] & 0xFF) << 8 | (buf[pos + 2] & 0xFF) << 16 | (buf[pos + 3] & 0xFF) << 24;
        pos += 4;
        return v;
    }

    String readString() {
        int len = readLength();
        String s = new String(buf, pos, len, StandardCharsets.UTF_8);
        pos += len;
        return s;
    }

    /** A reader over the next length-delimited field (a nested message). */
    ProtobufReader readMessage() {
        int len = readLength();
        ProtobufReader sub = new ProtobufReader(buf, pos, pos + len);
        pos += len;
        return sub;
    }

    void skip(int wireType) {
        switch (wireType) {
            case VARINT -> readVarint();
            case FIXED64 -> { need(8); pos += 8; }
            case LENGTH_DELIMITED -> { int len = readLength(); pos += len; }
            case FIXED32 -> { need(4); pos += 4; }
            default -> throw new ModelFormatException("unsupported protobuf wire type " + wireType + " at byte " + pos);
        }
    }

    private int readLength() {
        long len = readVarint();
        if (len < 0 || len > end - pos) throw truncated();
        return (int) len;
    }

    private void need(int n) {
        if (end - pos < n) throw truncated();
    }

    private ModelFormatException truncated() {
        return new ModelFormatException("truncated protobuf message at byte " + pos);
    }
}
