package dev.kvasir.model.arch;

/**
 * Which dimensions of a head RoPE rotates together. GGUF files of arch {@code llama} store q/k in
 * Meta's interleaved layout (pairs 2i, 2i+1; ggml's "normal" mode); Hugging Face checkpoints and
 * GGUF {@code qwen2} use rotate_half (pairs i, i + d/2; ggml's "neox" mode).
 */
public enum RopeLayout {
    INTERLEAVED,
    HALVES
}
