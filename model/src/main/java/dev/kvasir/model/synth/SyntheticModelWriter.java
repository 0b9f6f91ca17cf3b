package dev.kvasir.model.synth;

import dev.kvasir.model.arch.TensorNaming;
import dev.kvasir.model.arch.TensorRole;
import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.gguf.GgufArray;
import dev.kvasir.model.gguf.GgufMetadata;
import dev.kvasir.model.gguf.GgufValueType;
import dev.kvasir.model.gguf.GgufWriter;
import dev.kvasir.model.gguf.TensorData;
import dev.kvasir.model.tensor.Quantizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Writes a GGUF file of a real model shape with seeded random weights: an ordinary llama.cpp-style
 * {@code llama} file (metadata, SentencePiece vocabulary, tensors in llama.cpp's order and names),
 * so other engines load it too. Rows are generated and quantized while the writer streams, so an
 * 8B model needs no more heap than one row.
 */
public final class SyntheticModelWriter {
    private static final Logger log = LoggerFactory.getLogger(SyntheticModelWriter.class);
    private static final TensorNaming NAMES = TensorNaming.GGUF;

    private SyntheticModelWriter() {
    }

    /** Types a synthetic model can be written in. */
    public static GgmlType parseType(String name) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "f32" -> GgmlType.F32;
            case "f16" -> GgmlType.F16;
            case "bf16" -> GgmlType.BF16;
            case "q8_0" -> GgmlType.Q8_0;
            case "q4_0" -> GgmlType.Q4_0;
            case "q4_1" -> GgmlType.Q4_1;
            case "q5_0" -> GgmlType.Q5_0;
            case "q5_1" -> GgmlType.Q5_1;
            default -> throw new IllegalArgumentException("unsupported --type '" + name + "' (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1)");
        };
    }

    public static void write(ModelShape shape, GgmlType type, long seed, Path out) {
        GgufMetadata md = metadata(shape, type, seed);
        GgufWriter w = GgufWriter.create(out, md);
        int dim = shape.dim();
        int kvDim = shape.kvHeads() * shape.headDim();
        int hidden = shape.hiddenDim();
        matrix(w, NAMES.name(TensorRole.TOKEN_EMBEDDING), dim, shape.vocabSize(), type, seed, 1.0);
        if (shape.ropeScaling() != null) {
            float[] factors = shape.ropeScaling().frequencyFactors(shape.headDim(), shape.ropeTheta());
            w.addTensor("rope_freqs.weight", new long[]{factors.length}, GgmlType.F32, Quantizer.tensorData(GgmlType.F32, factors));
        }
        for (int l = 0; l < shape.layers(); l++) {
            ones(w, NAMES.name(TensorRole.ATTN_NORM, l), dim);
            matrix(w, NAMES.name(TensorRole.ATTN_Q, l), dim, dim, type, seed, 1.0);
            matrix(w, NAMES.name(TensorRole.ATTN_K, l), dim, kvDim, type, seed, 1.0);
            matrix(w, NAMES.name(TensorRole.ATTN_V, l), dim, kvDim, type, seed, 1.0);
            matrix(w, NAMES.name(TensorRole.ATTN_OUTPUT, l), dim, dim, type, seed, 1.0);
            ones(w, NAMES.name(TensorRole.FFN_NORM, l), dim);
            matrix(w, NAMES.name(TensorRole.FFN_GATE, l), dim, hidden, type, seed, 1.0);
            matrix(w, NAMES.name(TensorRole.FFN_DOWN, l), hidden, dim, type, seed, 1.0);
            matrix(w, NAMES.name(TensorRole.FFN_UP, l), dim, hidden, type, seed, 1.0);
        }
        ones(w, NAMES.name(TensorRole.OUTPUT_NORM), dim);
        if (!shape.tiedEmbeddings()) matrix(w, NAMES.name(TensorRole.OUTPUT), dim, shape.vocabSize(), type, seed, 1.0);
        log.info("writing synthetic {} ({} parameters, {}) to {}", shape.name(), shape.parameterCount(), type, out);
        w.write();
    }

    static GgufMetadata metadata(ModelShape s, GgmlType type, long seed) {
        String a = "llama.";
        GgufMetadata md = new GgufMetadata()
                .putString("general.architecture", "llama")
                .putString("general.name", s.name() + " (synthetic, seed " + seed + ")")
                .putUInt32("general.file_type", fileType(type));
        if (type.isQuantized()) md.putUInt32("general.quantization_version", 2);
        md.putBool("kvasir.synthetic", true)
                .put("kvasir.synthetic.seed", GgufValueType.INT64, seed)
                .putUInt32(a + "vocab_size", s.vocabSize())
                .putUInt32(a + "context_length", s.contextLength())
                .putUInt32(a + "embedding_length", s.dim())
                .putUInt32(a + "block_count", s.layers())
                .putUInt32(a + "feed_forward_length", s.hiddenDim())
                .putUInt32(a + "attention.head_count", s.heads())
                .putUInt32(a + "attention.head_count_kv", s.kvHeads())
                .putUInt32(a + "rope.dimension_count", s.headDim())
                .putFloat32(a + "rope.freq_base", s.ropeTheta())
                .putFloat32(a + "attention.layer_norm_rms_epsilon", s.rmsEps());
        SyntheticVocabulary v = SyntheticVocabulary.of(s.vocabSize());
        md.putString("tokenizer.ggml.model", "llama")
                .putArray("tokenizer.ggml.tokens", new GgufArray(GgufValueType.STRING, v.tokens()))
                .putArray("tokenizer.ggml.scores", new GgufArray(GgufValueType.FLOAT32, v.scores()))
                .putArray("tokenizer.ggml.token_type", new GgufArray(GgufValueType.INT32, v.types()))
                .putUInt32("tokenizer.ggml.bos_token_id", SyntheticVocabulary.BOS)
                .putUInt32("tokenizer.ggml.eos_token_id", SyntheticVocabulary.EOS)
                .putUInt32("tokenizer.ggml.unknown_token_id", SyntheticVocabulary.UNK)
                .putBool("tokenizer.ggml.add_bos_token", true)
                .putBool("tokenizer.ggml.add_eos_token", false);
        return md;
    }

    /** llama.cpp's {@code llama_ftype} for a file whose matrices are all {@code type}. */
    private static long fileType(GgmlType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q4_1 -> 3;
            case Q8_0 -> 7;
            case Q5_0 -> 8;
            case Q5_1 -> 9;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException("no file type for " + type);
        };
    }

    /**
     * A {@code rows × cols} matrix of uniform values with standard deviation {@code gain/sqrt(cols)}
     * (so activations keep their scale through the layers). Each row has its own generator, seeded
     * from (seed, tensor name, row), so the values do not depend on the order of writing.
     */
    private static void matrix(GgufWriter w, String name, int cols, int rows, GgmlType type, long seed, double gain) {
        // a row whose length is not a whole number of blocks is stored as F16, as llama-quantize falls back
        GgmlType stored = cols % type.blockSize == 0 ? type : GgmlType.F16;
        long tensorSeed = seed ^ nameHash(name);
        double bound = gain * Math.sqrt(3.0 / cols);
        TensorData data = Quantizer.tensorData(stored, cols, rows, (row, dst) -> {
            SplittableRandom r = new SplittableRandom(tensorSeed + 0x9E3779B97F4A7C15L * row);
            for (int i = 0; i < dst.length; i++) dst[i] = (float) ((r.nextDouble() * 2 - 1) * bound);
        });
        w.addTensor(name, new long[]{cols, rows}, stored, data);
    }

    private static void ones(GgufWriter w, String name, int n) {
        float[] v = new float[n];
        Arrays.fill(v, 1f);
        w.addTensor(name, new long[]{n}, GgmlType.F32, Quantizer.tensorData(GgmlType.F32, v));
    }

    private static long nameHash(String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h ^= b;
            h *= 0x100000001b3L;
        }
        return h;
    }
}
