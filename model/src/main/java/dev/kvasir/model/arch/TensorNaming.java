package dev.kvasir.model.arch;

import java.util.EnumMap;
import java.util.Map;

/** How a file format names each {@link TensorRole}; {@code %d} stands for the layer index. */
public record TensorNaming(Map<TensorRole, String> patterns) {

    public String name(TensorRole role, int layer) {
        String p = patterns.get(role);
        if (p == null) throw new IllegalArgumentException("no tensor name for " + role);
        return role.perLayer ? p.formatted(layer) : p;
    }

    public String name(TensorRole role) {
        return name(role, 0);
    }

    /** llama.cpp's names, shared by every Llama-family architecture in GGUF. */
    public static final TensorNaming GGUF = new TensorNaming(map(
            "token_embd.weight", "output_norm.weight", "output.weight",
            "blk.%d.attn_norm.weight", "blk.%d.attn_q.weight", "blk.%d.attn_k.weight", "blk.%d.attn_v.weight",
            "blk.%d.attn_q.bias", "blk.%d.attn_k.bias", "blk.%d.attn_v.bias", "blk.%d.attn_output.weight",
            "blk.%d.ffn_norm.weight", "blk.%d.ffn_gate.weight", "blk.%d.ffn_up.weight", "blk.%d.ffn_down.weight"));

    /** Hugging Face transformers' names for LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM. */
    public static final TensorNaming HUGGING_FACE = new TensorNaming(map(
            "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
            "model.layers.%d.input_layernorm.weight", "model.layers.%d.self_attn.q_proj.weight",
            "model.layers.%d.self_attn.k_proj.weight", "model.layers.%d.self_attn.v_proj.weight",
            "model.layers.%d.self_attn.q_proj.bias", "model.layers.%d.self_attn.k_proj.bias",
            "model.layers.%d.self_attn.v_proj.bias", "model.layers.%d.self_attn.o_proj.weight",
            "model.layers.%d.post_attention_layernorm.weight", "model.layers.%d.mlp.gate_proj.weight",
            "model.layers.%d.mlp.up_proj.weight", "model.layers.%d.mlp.down_proj.weight"));

    private static Map<TensorRole, String> map(String... names) {
        TensorRole[] roles = TensorRole.values();
        if (names.length != roles.length) throw new IllegalArgumentException("one name per role");
        Map<TensorRole, String> m = new EnumMap<>(TensorRole.class);
        for (int i = 0; i < roles.length; i++) m.put(roles[i], names[i]);
        return Map.copyOf(m);
    }
}
