package dev.kvasir.model.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.model.gguf.GgmlType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a safetensors file: tensors (F32, F16, BF16, stored bytes as given) in the order added,
 * behind an 8-byte header length and a JSON header padded to a multiple of 8. Used to hand the
 * same weights to Hugging Face transformers that Kvasir runs, and by tests.
 */
public final class SafetensorsWriter {
    private record Entry(String name, GgmlType type, long[] shape, MemorySegment bytes) {
    }

    private final List<Entry> entries = new ArrayList<>();

    public SafetensorsWriter add(String name, GgmlType type, long[] shape, MemorySegment bytes) {
        String dtype = dtype(type);
        long elements = 1;
        for (long d : shape) elements *= d;
        if (bytes.byteSize() != type.bytesFor(elements)) {
            throw new IllegalArgumentException(name + ": " + dtype + " " + java.util.Arrays.toString(shape) + " needs "
                    + type.bytesFor(elements) + " bytes, got " + bytes.byteSize());
        }
        entries.add(new Entry(name, type, shape.clone(), bytes));
        return this;
    }

    public void write(Path file) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Entry e : entries) {
            ObjectNode t = header.putObject(e.name);
            t.put("dtype", dtype(e.type));
            var shape = t.putArray("shape");
            for (long d : e.shape) shape.add(d);
            var offsets = t.putArray("data_offsets");
            offsets.add(offset);
            offset += e.bytes.byteSize();
            offsets.add(offset);
        }
        byte[] text = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (text.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(text);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            while (head.hasRemaining()) ch.write(head);
            for (Entry e : entries) {
                ByteBuffer b = e.bytes.asByteBuffer();
                while (b.hasRemaining()) ch.write(b);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + file + ": " + e.getMessage(), e);
        }
    }

    private static String dtype(GgmlType type) {
        return switch (type) {
            case F32 -> "F32";
            case F16 -> "F16";
            case BF16 -> "BF16";
            default -> throw new IllegalArgumentException("safetensors holds F32, F16 or BF16, not " + type);
        };
    }
}
