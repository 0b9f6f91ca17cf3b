package dev.kvasir.model.arch;

/** What a weight tensor does in the decoder; file formats map roles to their own names. */
public enum TensorRole {
    TOKEN_EMBEDDING(false),
    OUTPUT_NORM(false),
    OUTPUT(false),
    ATTN_NORM(true),
    ATTN_Q(true),
    ATTN_K(true),
    ATTN_V(true),
    ATTN_Q_BIAS(true),
    ATTN_K_BIAS(true),
    ATTN_V_BIAS(true),
    ATTN_OUTPUT(true),
    FFN_NORM(true),
    FFN_GATE(true),
    FFN_UP(true),
    FFN_DOWN(true);

    public final boolean perLayer;

    TensorRole(boolean perLayer) {
        this.perLayer = perLayer;
    }
}
