package dev.kvasir.model.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The weights of a Hugging Face directory: {@code model.safetensors}, or the shards listed by
 * {@code model.safetensors.index.json}. Looks tensors up by name across shards.
 */
public final class HfCheckpoint implements AutoCloseable {
    private final Path dir;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byTensor;

    private HfCheckpoint(Path dir, List<SafetensorsFile> files, Map<String, SafetensorsFile> byTensor) {
        this.dir = dir;
        this.files = files;
        this.byTensor = byTensor;
    }

    public static HfCheckpoint open(Path dir) {
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        List<SafetensorsFile> files = new ArrayList<>();
        Map<String, SafetensorsFile> byTensor = new HashMap<>();
        try {
            if (Files.isRegularFile(index)) {
                JsonNode weightMap = readJson(index).get("weight_map");
                if (weightMap == null) throw new SafetensorsFormatException(index, "has no weight_map");
                Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    String shard = e.getValue().asText();
                    SafetensorsFile f = shards.get(shard);
                    if (f == null) {
                        Path shardPath = dir.resolve(shard).normalize();
                        if (!shardPath.startsWith(dir.normalize())) throw new SafetensorsFormatException(index, "shard path escapes the directory: " + shard);
                        f = SafetensorsFile.open(shardPath);
                        shards.put(shard, f);
                        files.add(f);
                    }
                    if (!f.contains(e.getKey())) throw new SafetensorsFormatException(f.path(), e.getKey(), "listed in the index but missing from the shard");
                    byTensor.put(e.getKey(), f);
                }
            } else if (Files.isRegularFile(single)) {
                SafetensorsFile f = SafetensorsFile.open(single);
                files.add(f);
                for (String name : f.names()) byTensor.put(name, f);
            } else {
                throw new SafetensorsFormatException(dir, "has neither model.safetensors nor model.safetensors.index.json");
            }
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
        return new HfCheckpoint(dir, files, byTensor);
    }

    static JsonNode readJson(Path file) {
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new SafetensorsFormatException(file, "is not valid JSON: " + e.getMessage());
        }
    }

    public Path dir() {
        return dir;
    }

    public Optional<SafetensorsTensor> tensor(String name) {
        SafetensorsFile f = byTensor.get(name);
        return f == null ? Optional.empty() : f.tensor(name);
    }

    public SafetensorsTensor require(String name) {
        return tensor(name).orElseThrow(() -> new SafetensorsFormatException(dir, name, "missing from the checkpoint"));
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
