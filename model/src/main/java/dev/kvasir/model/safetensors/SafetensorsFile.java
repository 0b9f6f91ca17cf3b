package dev.kvasir.model.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.model.gguf.GgmlType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header
 * ({@code name → {dtype, shape, data_offsets}}), then raw tensor bytes. F32, F16 and BF16 are
 * read; other dtypes are refused by name when a tensor of that dtype is asked for.
 */
public final class SafetensorsFile implements AutoCloseable {
    private static final long MAX_HEADER = 100L * 1024 * 1024;

    private record Entry(String dtype, long[] shape, long begin, long end) {
    }

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final long dataStart;
    private final Map<String, Entry> entries;

    private SafetensorsFile(Path path, Arena arena, MemorySegment mapping, long dataStart, Map<String, Entry> entries) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.dataStart = dataStart;
        this.entries = entries;
    }

    public static SafetensorsFile open(Path path) {
        if (!Files.isRegularFile(path)) throw new SafetensorsFormatException(path, "no such file");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new SafetensorsFormatException(path, "file too short (" + size + " bytes) to be safetensors");
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLen = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size) {
                throw new SafetensorsFormatException(path, "corrupt or truncated header (length " + headerLen + ", file " + size + " bytes)");
            }
            byte[] json = seg.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
            JsonNode root;
            try {
                root = new ObjectMapper().readTree(json);
            } catch (IOException e) {
                throw new SafetensorsFormatException(path, "header is not valid JSON: " + e.getMessage());
            }
            long dataStart = 8 + headerLen;
            Map<String, Entry> entries = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (f.getKey().equals("__metadata__")) continue;
                entries.put(f.getKey(), entry(path, f.getKey(), f.getValue(), size - dataStart));
            }
            return new SafetensorsFile(path, arena, seg, dataStart, entries);
        } catch (IOException e) {
            arena.close();
            throw new SafetensorsFormatException(path, "cannot read: " + e.getMessage());
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Entry entry(Path path, String name, JsonNode node, long dataBytes) {
        JsonNode offsets = node.get("data_offsets");
        JsonNode shapeNode = node.get("shape");
        if (node.get("dtype") == null || offsets == null || offsets.size() != 2 || shapeNode == null) {
            throw new SafetensorsFormatException(path, name, "header entry lacks dtype, shape or data_offsets");
        }
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = shapeNode.get(i).asLong();
            elements *= shape[i];
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin || end > dataBytes) {
            throw new SafetensorsFormatException(path, name, "data [" + begin + ", " + end + ") lies outside the file's "
                    + dataBytes + " data bytes: the file is truncated or corrupt");
        }
        String dtype = node.get("dtype").asText();
        int width = switch (dtype) {
            case "F64", "I64", "U64" -> 8;
            case "F32", "I32", "U32" -> 4;
            case "F16", "BF16", "I16", "U16" -> 2;
            default -> 1;
        };
        if (end - begin != elements * width) {
            throw new SafetensorsFormatException(path, name, "holds " + (end - begin) + " bytes, but " + dtype + " " + java.util.Arrays.toString(shape)
                    + " needs " + elements * width);
        }
        return new Entry(dtype, shape, begin, end);
    }

    public Path path() {
        return path;
    }

    public Set<String> names() {
        return entries.keySet();
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    public Optional<SafetensorsTensor> tensor(String name) {
        Entry e = entries.get(name);
        if (e == null) return Optional.empty();
        GgmlType type = switch (e.dtype) {
            case "F32" -> GgmlType.F32;
            case "F16" -> GgmlType.F16;
            case "BF16" -> GgmlType.BF16;
            default -> throw new SafetensorsFormatException(path, name, "unsupported dtype " + e.dtype + " (F32, F16 and BF16 are supported)");
        };
        return Optional.of(new SafetensorsTensor(name, type, e.shape, mapping.asSlice(dataStart + e.begin, e.end - e.begin)));
    }

    @Override
    public void close() {
        arena.close();
    }
}
