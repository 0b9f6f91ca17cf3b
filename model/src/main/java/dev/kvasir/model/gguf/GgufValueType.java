package dev.kvasir.model.gguf;

/** Metadata value types of GGUF, ids as in {@code enum gguf_type}. */
public enum GgufValueType {
    UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64;

    public static GgufValueType byId(int id) {
        GgufValueType[] all = values();
        return id >= 0 && id < all.length ? all[id] : null;
    }

    public int id() {
        return ordinal();
    }
}
