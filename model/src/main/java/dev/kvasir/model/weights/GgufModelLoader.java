package dev.kvasir.model.weights;

import dev.kvasir.model.arch.Architecture;
import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.arch.TensorNaming;
import dev.kvasir.model.arch.TensorRole;
import dev.kvasir.model.gguf.GgufFile;
import dev.kvasir.model.gguf.GgufFormatException;
import dev.kvasir.model.gguf.GgufMetadata;
import dev.kvasir.model.gguf.GgufTensorInfo;
import dev.kvasir.model.tensor.WeightMatrix;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Reads a Llama-family model out of a GGUF file: hyperparameters from metadata, weights mapped in place. */
public final class GgufModelLoader {
    private static final Logger log = LoggerFactory.getLogger(GgufModelLoader.class);
    private static final TensorNaming NAMES = TensorNaming.GGUF;

    private GgufModelLoader() {
    }

    /** Loads from an open file; the returned weights keep the file open and close it with themselves. */
    public static ModelWeights load(GgufFile file) {
        ModelConfig config = config(file);
        log.info("model {}: {}", file.path().getFileName(), config);
        LoadProgress progress = new LoadProgress(file.path().getFileName().toString(), config.layers() + 2);
        WeightMatrix embedding = matrix(file, NAMES.name(TensorRole.TOKEN_EMBEDDING), config.vocabSize(), config.dim());
        progress.step();
        List<LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < config.layers(); l++) {
            layers.add(new LayerWeights(
                    vector(file, NAMES.name(TensorRole.ATTN_NORM, l), config.dim()),
                    matrix(file, NAMES.name(TensorRole.ATTN_Q, l), config.qDim(), config.dim()),
                    matrix(file, NAMES.name(TensorRole.ATTN_K, l), config.kvDim(), config.dim()),
                    matrix(file, NAMES.name(TensorRole.ATTN_V, l), config.kvDim(), config.dim()),
                    optionalVector(file, NAMES.name(TensorRole.ATTN_Q_BIAS, l), config.qDim()),
                    optionalVector(file, NAMES.name(TensorRole.ATTN_K_BIAS, l), config.kvDim()),
                    optionalVector(file, NAMES.name(TensorRole.ATTN_V_BIAS, l), config.kvDim()),
                    matrix(file, NAMES.name(TensorRole.ATTN_OUTPUT, l), config.dim(), config.qDim()),
                    vector(file, NAMES.name(TensorRole.FFN_NORM, l), config.dim()),
                    matrix(file, NAMES.name(TensorRole.FFN_GATE, l), config.hiddenDim(), config.dim()),
                    matrix(file, NAMES.name(TensorRole.FFN_UP, l), config.hiddenDim(), config.dim()),
                    matrix(file, NAMES.name(TensorRole.FFN_DOWN, l), config.dim(), config.hiddenDim())));
            progress.step();
        }
        float[] outputNorm = vector(file, NAMES.name(TensorRole.OUTPUT_NORM), config.dim());
        String outputName = NAMES.name(TensorRole.OUTPUT);
        WeightMatrix output = file.tensor(outputName).isPresent()
                ? matrix(file, outputName, config.vocabSize(), config.dim())
                : embedding;
        progress.step();
        return new ModelWeights(config, new LlamaWeights(embedding, List.copyOf(layers), outputNorm, output), file);
    }

    static ModelConfig config(GgufFile file) {
        GgufMetadata md = file.metadata();
        String archName = md.getString("general.architecture")
                .orElseThrow(() -> new GgufFormatException(file.path(), "no general.architecture key: not a model file"));
        Architecture arch = Architecture.forGguf(archName);
        String p = archName + ".";
        int dim = required(file, p + "embedding_length");
        int heads = required(file, p + "attention.head_count");
        int kvHeads = md.getInt(p + "attention.head_count_kv").orElse(heads);
        int headDim = md.getInt(p + "attention.key_length").orElse(dim / heads);
        GgufTensorInfo embedding = file.requireTensor(NAMES.name(TensorRole.TOKEN_EMBEDDING));
        int vocab = md.getInt(p + "vocab_size").orElse((int) embedding.rows());
        float theta = md.getDouble(p + "rope.freq_base").map(Double::floatValue).orElse(10000f);
        int ropeDim = md.getInt(p + "rope.dimension_count").orElse(headDim);
        float[] freqFactors = file.tensor("rope_freqs.weight")
                .map(t -> Vectors.toFloats(t.type(), file.data(t), (int) t.elementCount()))
                .orElse(null);
        if (freqFactors != null && freqFactors.length != ropeDim / 2) {
            throw new GgufFormatException(file.path(), "rope_freqs.weight", "has " + freqFactors.length + " factors, expected " + ropeDim / 2);
        }
        try {
            return new ModelConfig(archName, md.getString("general.name").orElse(file.path().getFileName().toString()),
                    dim, required(file, p + "feed_forward_length"), required(file, p + "block_count"),
                    heads, kvHeads, headDim, vocab, required(file, p + "context_length"),
                    md.getDouble(p + "attention.layer_norm_rms_epsilon").map(Double::floatValue).orElse(1e-5f),
                    theta, ropeDim, arch.ggufRopeLayout(), freqFactors);
        } catch (IllegalArgumentException e) {
            throw new GgufFormatException(file.path(), "inconsistent hyperparameters: " + e.getMessage());
        }
    }

    private static int required(GgufFile file, String key) {
        return file.metadata().getInt(key).orElseThrow(() -> new GgufFormatException(file.path(), "missing metadata key " + key));
    }

    private static WeightMatrix matrix(GgufFile file, String name, int rows, int cols) {
        GgufTensorInfo t = file.requireTensor(name);
        if (t.cols() != cols || t.rows() != rows) {
            throw new GgufFormatException(file.path(), name, "has shape " + t.cols() + "x" + t.rows() + " (ne), expected " + cols + "x" + rows);
        }
        try {
            return WeightMatrix.of(t.type(), file.data(t), rows, cols);
        } catch (RuntimeException e) {
            throw new GgufFormatException(file.path(), name, e.getMessage());
        }
    }

    private static float[] vector(GgufFile file, String name, int n) {
        GgufTensorInfo t = file.requireTensor(name);
        if (t.elementCount() != n) throw new GgufFormatException(file.path(), name, "has " + t.elementCount() + " elements, expected " + n);
        return Vectors.toFloats(t.type(), file.data(t), n);
    }

    private static float[] optionalVector(GgufFile file, String name, int n) {
        Optional<GgufTensorInfo> t = file.tensor(name);
        return t.isPresent() ? vector(file, name, n) : null;
    }
}
