package dev.kvasir.model.gguf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Array;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a GGUF file (v3 by default, v2 on request): header, metadata of every value type,
 * tensor directory with offsets aligned to {@code general.alignment} (32 when absent), then each
 * tensor's bytes padded to the alignment, as llama.cpp's gguf writer lays them out.
 *
 * <pre>{@code
 * GgufWriter.create(path, metadata)
 *         .addTensor("token_embd.weight", new long[] {dim, vocab}, GgmlType.Q8_0, Quantizer.tensorData(...))
 *         .write();
 * }</pre>
 *
 * Tensor data is pulled from each {@link TensorData} only while that tensor is written, straight
 * into a file channel through a small buffer, so the heap never holds more than one tensor's
 * pieces. The file appears under its name only once complete (written beside it, then moved).
 */
public final class GgufWriter {
    /** ggml's GGML_MAX_NAME: llama.cpp refuses longer tensor names. */
    static final int MAX_NAME_BYTES = 63;
    private static final int BUFFER = 1 << 20;
    /** Largest piece handed to the channel at once (a ByteBuffer view is limited to 2 GB). */
    private static final long MAX_PIECE = 1L << 30;

    private record Entry(String name, long[] shape, GgmlType type, long offset, long bytes, TensorData data) {
    }

    private final Path path;
    private final GgufMetadata metadata;
    private final int alignment;
    private final List<Entry> tensors = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private long dataSize;
    private int version = 3;

    private GgufWriter(Path path, GgufMetadata metadata) {
        this.path = path;
        this.metadata = metadata;
        this.alignment = metadata.getInt("general.alignment").orElse(GgufReader.DEFAULT_ALIGNMENT);
        if (alignment <= 0 || Integer.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("general.alignment " + alignment + " is not a power of two");
        }
    }

    /** A writer for {@code path} with {@code metadata} (written in its iteration order). */
    public static GgufWriter create(Path path, GgufMetadata metadata) {
        return new GgufWriter(path, metadata);
    }

    /** GGUF version to write: 3 (default) or 2. Both lay out little-endian files the same way. */
    public GgufWriter version(int version) {
        if (version != 2 && version != 3) throw new IllegalArgumentException("can write GGUF v2 or v3, not v" + version);
        this.version = version;
        return this;
    }

    /** A tensor whose stored bytes are {@code bytes}. */
    public GgufWriter addTensor(String name, long[] shape, GgmlType type, MemorySegment bytes) {
        long expected = checkedByteSize(name, shape, type);
        if (bytes.byteSize() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': " + type + " " + Arrays.toString(shape) + " needs "
                    + expected + " bytes, got " + bytes.byteSize());
        }
        return addTensor(name, shape, type, TensorData.of(bytes));
    }

    /**
     * A tensor of ggml shape {@code shape} (ne: shape[0] varies fastest) whose bytes {@code data}
     * produces when the writer reaches it.
     */
    public GgufWriter addTensor(String name, long[] shape, GgmlType type, TensorData data) {
        long bytes = checkedByteSize(name, shape, type);
        if (!names.add(name)) throw new IllegalArgumentException("tensor '" + name + "' added twice");
        long offset = GgufReader.align(dataSize, alignment);
        tensors.add(new Entry(name, shape.clone(), type, offset, bytes, data));
        dataSize = offset + bytes;
        return this;
    }

    private static long checkedByteSize(String name, long[] shape, GgmlType type) {
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("tensor name '" + name + "' is longer than " + MAX_NAME_BYTES + " bytes");
        }
        if (shape.length < 1 || shape.length > 4) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + shape.length + " dimensions (1..4 allowed)");
        }
        long n = 1;
        for (long d : shape) {
            if (d <= 0) throw new IllegalArgumentException("tensor '" + name + "' has a dimension of " + d);
            n = Math.multiplyExact(n, d);
        }
        if (shape[0] % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': first dimension " + shape[0]
                    + " is not a multiple of the " + type + " block size " + type.blockSize);
        }
        return type.bytesFor(n);
    }

    /** Writes the file; on failure nothing is left under {@code path}. */
    public void write() {
        Path tmp = path.resolveSibling(path.getFileName() + ".partial");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE)) {
                Out out = new Out(ch);
                writeHeader(out);
                out.pad(alignment);
                long dataStart = out.position();
                for (Entry t : tensors) {
                    out.zeros(dataStart + t.offset - out.position());
                    long before = out.position();
                    t.data.writeTo(out::bytes);
                    long written = out.position() - before;
                    if (written != t.bytes) {
                        throw new IllegalStateException("tensor '" + t.name + "': its data source wrote " + written
                                + " bytes, " + t.type + " " + Arrays.toString(t.shape) + " needs " + t.bytes);
                    }
                }
                out.pad(alignment);
                out.flush();
            }
            try {
                Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw new UncheckedIOException("cannot write " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            deleteQuietly(tmp);
            throw e;
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // the original failure is the one worth reporting
        }
    }

    private void writeHeader(Out out) throws IOException {
        out.u32(GgufReader.MAGIC);
        out.u32(version);
        out.u64(tensors.size());
        Map<String, GgufMetadata.Value> kvs = metadata.asMap();
        out.u64(kvs.size());
        for (Map.Entry<String, GgufMetadata.Value> kv : kvs.entrySet()) {
            out.string(kv.getKey());
            GgufMetadata.Value v = kv.getValue();
            out.u32(v.type().id());
            value(out, kv.getKey(), v.type(), v.value());
        }
        for (Entry t : tensors) {
            out.string(t.name);
            out.u32(t.shape.length);
            for (long d : t.shape) out.u64(d);
            out.u32(t.type.id);
            out.u64(t.offset);
        }
    }

    private static void value(Out out, String key, GgufValueType type, Object v) throws IOException {
        switch (type) {
            case UINT8, INT8 -> out.u8((int) integer(key, type, v));
            case UINT16, INT16 -> out.u16((int) integer(key, type, v));
            case UINT32, INT32 -> out.u32((int) integer(key, type, v));
            case UINT64, INT64 -> out.u64(integer(key, type, v));
            case FLOAT32 -> out.f32(((Number) expect(key, type, v, Number.class)).floatValue());
            case FLOAT64 -> out.f64(((Number) expect(key, type, v, Number.class)).doubleValue());
            case BOOL -> out.u8(v instanceof Boolean b ? (b ? 1 : 0) : (integer(key, type, v) != 0 ? 1 : 0));
            case STRING -> out.string((String) expect(key, type, v, String.class));
            case ARRAY -> array(out, key, (GgufArray) expect(key, type, v, GgufArray.class));
        }
    }

    private static long integer(String key, GgufValueType type, Object v) {
        if (v instanceof Number n) return n.longValue();
        throw new IllegalArgumentException("metadata '" + key + "' of type " + type + " holds " + describe(v));
    }

    private static Object expect(String key, GgufValueType type, Object v, Class<?> cls) {
        if (cls.isInstance(v)) return v;
        throw new IllegalArgumentException("metadata '" + key + "' of type " + type + " holds " + describe(v));
    }

    private static String describe(Object v) {
        return v == null ? "null" : v.getClass().getSimpleName() + " " + v;
    }

    private static void array(Out out, String key, GgufArray a) throws IOException {
        out.u32(a.elementType().id());
        int n = a.length();
        out.u64(n);
        Object vs = a.values();
        switch (a.elementType()) {
            case UINT8, INT8, BOOL -> {
                for (byte b : (byte[]) vs) out.u8(b);
            }
            case UINT16, INT16 -> {
                for (short s : (short[]) vs) out.u16(s);
            }
            case UINT32, INT32 -> {
                for (int i : (int[]) vs) out.u32(i);
            }
            case UINT64, INT64 -> {
                for (long l : (long[]) vs) out.u64(l);
            }
            case FLOAT32 -> {
                for (float f : (float[]) vs) out.f32(f);
            }
            case FLOAT64 -> {
                for (double d : (double[]) vs) out.f64(d);
            }
            case STRING -> {
                for (String s : (String[]) vs) out.string(s);
            }
            case ARRAY -> {
                for (int i = 0; i < n; i++) array(out, key, (GgufArray) Array.get(vs, i));
            }
        }
    }

    /** Little-endian primitives through one buffer into the channel, counting the position. */
    private static final class Out {
        private final FileChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER).order(ByteOrder.LITTLE_ENDIAN);
        /** The whole buffer as a segment (made while position is 0, so segment offset = buffer index). */
        private final MemorySegment bufSegment = MemorySegment.ofBuffer(buf);
        private long flushed;

        Out(FileChannel ch) {
            this.ch = ch;
        }

        long position() {
            return flushed + buf.position();
        }

        private void room(int n) throws IOException {
            if (buf.remaining() < n) flush();
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) flushed += ch.write(buf);
            buf.clear();
        }

        void u8(int v) throws IOException {
            room(1);
            buf.put((byte) v);
        }

        void u16(int v) throws IOException {
            room(2);
            buf.putShort((short) v);
        }

        void u32(int v) throws IOException {
            room(4);
            buf.putInt(v);
        }

        void u64(long v) throws IOException {
            room(8);
            buf.putLong(v);
        }

        void f32(float v) throws IOException {
            room(4);
            buf.putFloat(v);
        }

        void f64(double v) throws IOException {
            room(8);
            buf.putDouble(v);
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(MemorySegment.ofArray(b));
        }

        /** Small pieces are copied into the buffer; large ones go to the channel directly. */
        void bytes(MemorySegment seg) throws IOException {
            long size = seg.byteSize();
            if (size <= buf.remaining()) {
                MemorySegment.copy(seg, 0, bufSegment, buf.position(), size);
                buf.position(buf.position() + (int) size);
                return;
            }
            flush();
            for (long off = 0; off < size; off += MAX_PIECE) {
                ByteBuffer piece = seg.asSlice(off, Math.min(MAX_PIECE, size - off)).asByteBuffer();
                while (piece.hasRemaining()) flushed += ch.write(piece);
            }
        }

        void zeros(long n) throws IOException {
            for (long i = 0; i < n; i++) u8(0);
        }

        void pad(int alignment) throws IOException {
            zeros(GgufReader.align(position(), alignment) - position());
        }
    }
}
