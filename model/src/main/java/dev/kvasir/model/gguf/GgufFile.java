package dev.kvasir.model.gguf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An open GGUF file: its metadata, tensor directory and the memory-mapped file. Tensor bytes are
 * slices of the mapping, so files larger than the heap (or 2 GB) cost no heap. Close it to unmap.
 */
public final class GgufFile implements AutoCloseable {
    private final Path path;
    private final int version;
    private final GgufMetadata metadata;
    private final Map<String, GgufTensorInfo> tensors;
    private final long dataOffset;
    private final int alignment;
    private final MemorySegment mapping;
    private final Arena arena;

    GgufFile(Path path, int version, GgufMetadata metadata, List<GgufTensorInfo> tensors, long dataOffset,
             int alignment, MemorySegment mapping, Arena arena) {
        this.path = path;
        this.version = version;
        this.metadata = metadata;
        this.tensors = new LinkedHashMap<>();
        for (GgufTensorInfo t : tensors) this.tensors.put(t.name(), t);
        this.dataOffset = dataOffset;
        this.alignment = alignment;
        this.mapping = mapping;
        this.arena = arena;
    }

    public static GgufFile open(Path path) {
        return GgufReader.read(path);
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public GgufMetadata metadata() {
        return metadata;
    }

    public int alignment() {
        return alignment;
    }

    /** Tensors in file order. */
    public List<GgufTensorInfo> tensors() {
        return List.copyOf(tensors.values());
    }

    public Optional<GgufTensorInfo> tensor(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    public GgufTensorInfo requireTensor(String name) {
        GgufTensorInfo t = tensors.get(name);
        if (t == null) throw new GgufFormatException(path, name, "missing from the file");
        return t;
    }

    /** The tensor's bytes, a slice of the mapping (no copy). */
    public MemorySegment data(GgufTensorInfo tensor) {
        return mapping.asSlice(dataOffset + tensor.offset(), tensor.byteSize());
    }

    public long dataOffset() {
        return dataOffset;
    }

    @Override
    public void close() {
        if (arena != null) arena.close();
    }
}
