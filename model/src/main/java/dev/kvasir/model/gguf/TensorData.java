package dev.kvasir.model.gguf;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * The bytes of one tensor, produced only when {@link GgufWriter} reaches that tensor, so a writer
 * streaming a multi-gigabyte model holds one tensor's worth of data at most (or less, when the
 * source writes in pieces). Quantizing sources are in {@code dev.kvasir.model.tensor.Quantizer}.
 */
@FunctionalInterface
public interface TensorData {

    /** Writes the tensor's bytes, in order and in any number of pieces, to {@code sink}. */
    void writeTo(Sink sink) throws IOException;

    /** Where tensor bytes go. A piece may be reused by the caller once {@code write} returns. */
    @FunctionalInterface
    interface Sink {
        void write(MemorySegment bytes) throws IOException;
    }

    /** Bytes already in their stored format, e.g. a slice of another mapped GGUF file. */
    static TensorData of(MemorySegment bytes) {
        return sink -> sink.write(bytes);
    }
}
