package dev.kvasir.model.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Parses GGUF v2/v3 headers from a memory mapping of the whole file (foreign-memory API, so
 * offsets are 64-bit and nothing is copied onto the heap). Every read is bounds-checked so a
 * truncated or corrupt file fails with a message instead of an exception from deep inside.
 */
final class GgufReader {
    static final int MAGIC = 0x46554747; // "GGUF" little-endian
    static final int DEFAULT_ALIGNMENT = 32;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Guards against absurd counts in corrupt headers before anything is allocated. */
    private static final long MAX_ARRAY_ELEMENTS = 1L << 31;
    private static final int MAX_DIMS = 4;

    private final Path path;
    private final MemorySegment seg;
    private long pos;

    private GgufReader(Path path, MemorySegment seg) {
        this.path = path;
        this.seg = seg;
    }

    static GgufFile read(Path path) {
        if (!Files.exists(path)) throw new GgufFormatException(path, "no such file");
        if (Files.isDirectory(path)) throw new GgufFormatException(path, "is a directory, not a GGUF file");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment seg = size == 0 ? MemorySegment.NULL.reinterpret(0) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            GgufFile file = new GgufReader(path, seg).parse(arena);
            return file;
        } catch (NoSuchFileException e) {
            arena.close();
            throw new GgufFormatException(path, "no such file");
        } catch (IOException e) {
            arena.close();
            throw new GgufFormatException(path, "cannot read: " + e.getMessage());
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private GgufFile parse(Arena arena) {
        if (seg.byteSize() < 4) throw new GgufFormatException(path, "file too short to be GGUF (" + seg.byteSize() + " bytes)");
        int magic = seg.get(INT, 0);
        if (magic != MAGIC) {
            throw new GgufFormatException(path, String.format("not a GGUF file (magic 0x%08x, expected 0x%08x \"GGUF\")", magic, MAGIC));
        }
        pos = 4;
        int version = u32("version");
        if (version == 1) throw new GgufFormatException(path, "GGUF version 1 is not supported (only v2 and v3)");
        if (version < 1 || version > 3) throw new GgufFormatException(path, "unsupported GGUF version " + version);
        long tensorCount = u64("tensor count");
        long kvCount = u64("metadata count");
        if (tensorCount < 0 || tensorCount > 1_000_000) throw new GgufFormatException(path, "corrupt header: tensor count " + tensorCount);
        if (kvCount < 0 || kvCount > 1_000_000) throw new GgufFormatException(path, "corrupt header: metadata count " + kvCount);

        GgufMetadata metadata = new GgufMetadata();
        for (long i = 0; i < kvCount; i++) {
            String key = string("metadata key #" + i);
            int typeId = u32("type of '" + key + "'");
            GgufValueType type = GgufValueType.byId(typeId);
            if (type == null) throw new GgufFormatException(path, "metadata '" + key + "' has unknown value type " + typeId);
            Object value = value(type, key, 0);
            metadata.put(key, type, value);
        }

        int alignment = metadata.getInt("general.alignment").orElse(DEFAULT_ALIGNMENT);
        if (alignment <= 0 || Integer.bitCount(alignment) != 1) {
            throw new GgufFormatException(path, "general.alignment " + alignment + " is not a power of two");
        }

        List<GgufTensorInfo> infos = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = string("tensor name #" + i);
            if (!names.add(name)) throw new GgufFormatException(path, name, "appears twice in the tensor directory");
            int nDims = u32("dimension count of '" + name + "'");
            if (nDims < 1 || nDims > MAX_DIMS) throw new GgufFormatException(path, name, "has " + nDims + " dimensions (1.." + MAX_DIMS + " allowed)");
            long[] shape = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                shape[d] = u64("shape of '" + name + "'");
                if (shape[d] <= 0) throw new GgufFormatException(path, name, "has dimension " + d + " of size " + shape[d]);
            }
            int typeId = u32("type of tensor '" + name + "'");
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) {
                throw new GgufFormatException(path, name, "unsupported tensor type " + GgmlType.nameOf(typeId) + " (id " + typeId + ")");
            }
            long offset = u64("offset of '" + name + "'");
            GgufTensorInfo info = new GgufTensorInfo(name, shape, type, offset);
            if (shape[0] % type.blockSize != 0) {
                throw new GgufFormatException(path, name, "first dimension " + shape[0] + " is not a multiple of the "
                        + type + " block size " + type.blockSize);
            }
            if (offset % alignment != 0) throw new GgufFormatException(path, name, "offset " + offset + " is not aligned to " + alignment);
            infos.add(info);
        }
        long dataOffset = align(pos, alignment);
        for (GgufTensorInfo t : infos) {
            long end = dataOffset + t.offset() + t.byteSize();
            if (end > seg.byteSize() || end < 0) {
                throw new GgufFormatException(path, t.name(), "data runs past the end of the file (needs bytes up to "
                        + end + ", file has " + seg.byteSize() + "): the file is truncated");
            }
        }
        return new GgufFile(path, version, metadata, infos, dataOffset, alignment, seg, arena);
    }

    static long align(long offset, int alignment) {
        return (offset + alignment - 1) / alignment * alignment;
    }

    private Object value(GgufValueType type, String key, int depth) {
        return switch (type) {
            case UINT8 -> (long) (u8(key) & 0xFF);
            case INT8 -> (long) u8(key);
            case UINT16 -> (long) (i16(key) & 0xFFFF);
            case INT16 -> (long) i16(key);
            case UINT32 -> u32(key) & 0xFFFFFFFFL;
            case INT32 -> (long) u32(key);
            case UINT64, INT64 -> u64(key);
            case FLOAT32 -> f32(key);
            case FLOAT64 -> f64(key);
            case BOOL -> {
                byte b = u8(key);
                if (b != 0 && b != 1) throw new GgufFormatException(path, "metadata '" + key + "' has invalid bool byte " + b);
                yield b == 1;
            }
            case STRING -> string(key);
            case ARRAY -> array(key, depth);
        };
    }

    private GgufArray array(String key, int depth) {
        if (depth > 8) throw new GgufFormatException(path, "metadata '" + key + "' nests arrays deeper than 8");
        int typeId = u32(key);
        GgufValueType et = GgufValueType.byId(typeId);
        if (et == null) throw new GgufFormatException(path, "metadata '" + key + "' is an array of unknown type " + typeId);
        long n = u64(key);
        if (n < 0 || n > MAX_ARRAY_ELEMENTS) throw new GgufFormatException(path, "metadata '" + key + "' has corrupt array length " + n);
        int len = (int) n;
        return switch (et) {
            case UINT8, INT8, BOOL -> {
                need(len, key);
                byte[] a = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
                pos += len;
                yield new GgufArray(et, a);
            }
            case UINT16, INT16 -> {
                need(2L * len, key);
                short[] a = new short[len];
                for (int i = 0; i < len; i++) a[i] = seg.get(SHORT, pos + 2L * i);
                pos += 2L * len;
                yield new GgufArray(et, a);
            }
            case UINT32, INT32 -> {
                need(4L * len, key);
                int[] a = new int[len];
                for (int i = 0; i < len; i++) a[i] = seg.get(INT, pos + 4L * i);
                pos += 4L * len;
                yield new GgufArray(et, a);
            }
            case UINT64, INT64 -> {
                need(8L * len, key);
                long[] a = new long[len];
                for (int i = 0; i < len; i++) a[i] = seg.get(LONG, pos + 8L * i);
                pos += 8L * len;
                yield new GgufArray(et, a);
            }
            case FLOAT32 -> {
                need(4L * len, key);
                float[] a = new float[len];
                for (int i = 0; i < len; i++) a[i] = seg.get(FLOAT, pos + 4L * i);
                pos += 4L * len;
                yield new GgufArray(et, a);
            }
            case FLOAT64 -> {
                need(8L * len, key);
                double[] a = new double[len];
                for (int i = 0; i < len; i++) a[i] = seg.get(DOUBLE, pos + 8L * i);
                pos += 8L * len;
                yield new GgufArray(et, a);
            }
            case STRING -> {
                String[] a = new String[len];
                for (int i = 0; i < len; i++) a[i] = string(key);
                yield new GgufArray(et, a);
            }
            case ARRAY -> {
                GgufArray[] a = new GgufArray[len];
                for (int i = 0; i < len; i++) a[i] = array(key, depth + 1);
                yield new GgufArray(et, a);
            }
        };
    }

    private void need(long bytes, String what) {
        if (pos + bytes > seg.byteSize() || bytes < 0) {
            throw new GgufFormatException(path, "truncated: header ends inside " + what + " (offset " + pos
                    + ", needs " + bytes + " more bytes, file has " + seg.byteSize() + ")");
        }
    }

    private byte u8(String what) {
        need(1, what);
        return seg.get(ValueLayout.JAVA_BYTE, pos++);
    }

    private short i16(String what) {
        need(2, what);
        short v = seg.get(SHORT, pos);
        pos += 2;
        return v;
    }

    private int u32(String what) {
        need(4, what);
        int v = seg.get(INT, pos);
        pos += 4;
        return v;
    }

    private long u64(String what) {
        need(8, what);
        long v = seg.get(LONG, pos);
        pos += 8;
        return v;
    }

    private float f32(String what) {
        need(4, what);
        float v = seg.get(FLOAT, pos);
        pos += 4;
        return v;
    }

    private double f64(String what) {
        need(8, what);
        double v = seg.get(DOUBLE, pos);
        pos += 8;
        return v;
    }

    private String string(String what) {
        long len = u64(what);
        if (len < 0 || len > Integer.MAX_VALUE) throw new GgufFormatException(path, "corrupt string length " + len + " in " + what);
        need(len, what);
        byte[] bytes = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
        pos += len;
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
