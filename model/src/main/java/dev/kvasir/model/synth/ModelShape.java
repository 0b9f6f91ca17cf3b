package dev.kvasir.model.synth;

import dev.kvasir.model.arch.RopeScaling;

import java.util.List;
import java.util.Locale;

/**
 * The hyperparameters of a real Llama-family model, for writing synthetic weights of that shape
 * (like vLLM's dummy load format): benchmarks get the real memory traffic without downloads.
 *
 * @param ropeScaling Llama 3.1/3.2 frequency scaling, or null
 * @param tiedEmbeddings whether the output matrix is the token embedding
 */
public record ModelShape(String name, int dim, int hiddenDim, int layers, int heads, int kvHeads, int vocabSize,
                         int contextLength, float ropeTheta, float rmsEps, RopeScaling ropeScaling, boolean tiedEmbeddings) {

    public ModelShape {
        if (dim <= 0 || hiddenDim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocabSize <= 0 || contextLength <= 0) {
            throw new IllegalArgumentException("shape '" + name + "': every dimension must be positive");
        }
        if (dim % heads != 0) throw new IllegalArgumentException("shape '" + name + "': dim " + dim + " is not a multiple of heads " + heads);
        if (heads % kvHeads != 0) throw new IllegalArgumentException("shape '" + name + "': heads " + heads + " not a multiple of kv heads " + kvHeads);
        if (vocabSize < 259 + 1) throw new IllegalArgumentException("shape '" + name + "': vocabulary must hold at least 260 tokens (3 special + 256 bytes + 1)");
    }

    public int headDim() {
        return dim / heads;
    }

    /** Parameters, counting a tied embedding once. */
    public long parameterCount() {
        long kvDim = (long) kvHeads * headDim();
        long perLayer = 2L * dim * dim + 2L * dim * kvDim + 3L * dim * hiddenDim + 2L * dim;
        return (long) vocabSize * dim * (tiedEmbeddings ? 1 : 2) + layers * perLayer + dim;
    }

    /** Real shapes: llama2.c's TinyStories models and Meta's Llama 3 family. */
    public static final List<ModelShape> KNOWN = List.of(
            new ModelShape("stories260K", 64, 172, 5, 8, 4, 512, 512, 10000f, 1e-5f, null, true),
            new ModelShape("tinystories-15m", 288, 768, 6, 6, 6, 32000, 256, 10000f, 1e-5f, null, true),
            new ModelShape("tinystories-110m", 768, 2048, 12, 12, 12, 32000, 1024, 10000f, 1e-5f, null, true),
            new ModelShape("llama3.2-1b", 2048, 8192, 16, 32, 8, 128256, 131072, 500000f, 1e-5f,
                    new RopeScaling(32, 1, 4, 8192), true),
            new ModelShape("llama3-8b", 4096, 14336, 32, 32, 8, 128256, 8192, 500000f, 1e-5f, null, false));

    public static ModelShape named(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        for (ModelShape s : KNOWN) if (s.name.toLowerCase(Locale.ROOT).equals(n)) return s;
        throw new IllegalArgumentException("unknown shape '" + name + "' (known: "
                + String.join(", ", KNOWN.stream().map(ModelShape::name).toList()) + ")");
    }
}
