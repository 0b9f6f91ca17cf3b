package dev.kvasir.model.gguf;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * GGUF key/value metadata in file order. Each value keeps its GGUF type (so a writer can emit it
 * back unchanged); the typed getters coerce between integer widths the way llama.cpp does.
 */
public final class GgufMetadata {

    /** One value with its GGUF type: scalars boxed (Long for every integer type, Float, Double, Boolean, String), arrays as {@link GgufArray}. */
    public record Value(GgufValueType type, Object value) {
    }

    private final Map<String, Value> values;

    public GgufMetadata() {
        this.values = new LinkedHashMap<>();
    }

    public GgufMetadata(Map<String, Value> values) {
        this.values = new LinkedHashMap<>(values);
    }

    public Map<String, Value> asMap() {
        return Collections.unmodifiableMap(values);
    }

    public Set<String> keys() {
        return values.keySet();
    }

    public boolean contains(String key) {
        return values.containsKey(key);
    }

    public Optional<Value> get(String key) {
        return Optional.ofNullable(values.get(key));
    }

    public GgufMetadata put(String key, GgufValueType type, Object value) {
        values.put(key, new Value(type, value));
        return this;
    }

    public GgufMetadata putString(String key, String v) {
        return put(key, GgufValueType.STRING, v);
    }

    public GgufMetadata putUInt32(String key, long v) {
        return put(key, GgufValueType.UINT32, v);
    }

    public GgufMetadata putFloat32(String key, float v) {
        return put(key, GgufValueType.FLOAT32, v);
    }

    public GgufMetadata putBool(String key, boolean v) {
        return put(key, GgufValueType.BOOL, v);
    }

    public GgufMetadata putArray(String key, GgufArray array) {
        return put(key, GgufValueType.ARRAY, array);
    }

    public Optional<String> getString(String key) {
        return get(key).map(v -> v.value() instanceof String s ? s : null);
    }

    public Optional<Long> getLong(String key) {
        return get(key).map(v -> switch (v.value()) {
            case Long l -> l;
            case Float f -> (long) (float) f;
            case Double d -> (long) (double) d;
            case Boolean b -> b ? 1L : 0L;
            default -> null;
        });
    }

    public Optional<Integer> getInt(String key) {
        return getLong(key).map(Math::toIntExact);
    }

    public int getInt(String key, int fallback) {
        return getInt(key).orElse(fallback);
    }

    public Optional<Double> getDouble(String key) {
        return get(key).map(v -> v.value() instanceof Number n ? n.doubleValue() : null);
    }

    public Optional<Boolean> getBool(String key) {
        return get(key).map(v -> switch (v.value()) {
            case Boolean b -> b;
            case Long l -> l != 0;
            default -> null;
        });
    }

    public Optional<GgufArray> getArray(String key) {
        return get(key).map(v -> v.value() instanceof GgufArray a ? a : null);
    }

    /** The architecture prefix for hyperparameter keys, e.g. {@code llama}. */
    public String architecture() {
        return getString("general.architecture").orElse("llama");
    }

    @Override
    public String toString() {
        return values.keySet().toString();
    }
}
