package dev.kvasir.model.weights;

import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.arch.TensorNaming;
import dev.kvasir.model.arch.TensorRole;
import dev.kvasir.model.safetensors.HfCheckpoint;
import dev.kvasir.model.safetensors.HfConfig;
import dev.kvasir.model.safetensors.SafetensorsFormatException;
import dev.kvasir.model.safetensors.SafetensorsTensor;
import dev.kvasir.model.tensor.WeightMatrix;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Loads a Hugging Face Llama-family directory (config.json + safetensors). Weights stay mapped in
 * place, except q/k projections (and their biases), whose rows are copied off-heap in Meta's
 * interleaved order: HF stores them permuted for rotate_half RoPE, and un-permuting them lets the
 * one forward pass, written for GGUF's layout, serve both.
 */
public final class HfModelLoader {
    private static final Logger log = LoggerFactory.getLogger(HfModelLoader.class);
    private static final TensorNaming NAMES = TensorNaming.HUGGING_FACE;

    private HfModelLoader() {
    }

    public static ModelWeights load(Path dir) {
        HfConfig hf = HfConfig.read(dir);
        ModelConfig c = hf.config();
        log.info("model {}: {}", dir, c);
        HfCheckpoint ckpt = HfCheckpoint.open(dir);
        Arena arena = Arena.ofShared();
        try {
            LoadProgress progress = new LoadProgress(dir.getFileName().toString(), c.layers() + 2);
            WeightMatrix embedding = matrix(ckpt, NAMES.name(TensorRole.TOKEN_EMBEDDING), c.vocabSize(), c.dim());
            progress.step();
            List<LayerWeights> layers = new ArrayList<>();
            for (int l = 0; l < c.layers(); l++) {
                layers.add(new LayerWeights(
                        vector(ckpt, NAMES.name(TensorRole.ATTN_NORM, l), c.dim()),
                        interleaved(arena, matrix(ckpt, NAMES.name(TensorRole.ATTN_Q, l), c.qDim(), c.dim()), c.heads(), c.headDim()),
                        interleaved(arena, matrix(ckpt, NAMES.name(TensorRole.ATTN_K, l), c.kvDim(), c.dim()), c.kvHeads(), c.headDim()),
                        matrix(ckpt, NAMES.name(TensorRole.ATTN_V, l), c.kvDim(), c.dim()),
                        interleaved(optionalVector(ckpt, NAMES.name(TensorRole.ATTN_Q_BIAS, l), c.qDim()), c.heads(), c.headDim()),
                        interleaved(optionalVector(ckpt, NAMES.name(TensorRole.ATTN_K_BIAS, l), c.kvDim()), c.kvHeads(), c.headDim()),
                        optionalVector(ckpt, NAMES.name(TensorRole.ATTN_V_BIAS, l), c.kvDim()),
                        matrix(ckpt, NAMES.name(TensorRole.ATTN_OUTPUT, l), c.dim(), c.qDim()),
                        vector(ckpt, NAMES.name(TensorRole.FFN_NORM, l), c.dim()),
                        matrix(ckpt, NAMES.name(TensorRole.FFN_GATE, l), c.hiddenDim(), c.dim()),
                        matrix(ckpt, NAMES.name(TensorRole.FFN_UP, l), c.hiddenDim(), c.dim()),
                        matrix(ckpt, NAMES.name(TensorRole.FFN_DOWN, l), c.dim(), c.hiddenDim())));
                progress.step();
            }
            float[] outputNorm = vector(ckpt, NAMES.name(TensorRole.OUTPUT_NORM), c.dim());
            String outputName = NAMES.name(TensorRole.OUTPUT);
            WeightMatrix output;
            if (ckpt.tensor(outputName).isPresent()) {
                output = matrix(ckpt, outputName, c.vocabSize(), c.dim());
            } else {
                if (!hf.tieWordEmbeddings()) log.warn("{}: no {} and tie_word_embeddings is false; using the token embedding as output", dir, outputName);
                output = embedding;
            }
            progress.step();
            return new ModelWeights(c, new LlamaWeights(embedding, List.copyOf(layers), outputNorm, output), () -> {
                ckpt.close();
                arena.close();
            });
        } catch (RuntimeException e) {
            ckpt.close();
            arena.close();
            throw e;
        }
    }

    private static WeightMatrix matrix(HfCheckpoint ckpt, String name, int rows, int cols) {
        SafetensorsTensor t = ckpt.require(name);
        if (t.shape().length != 2 || t.shape()[0] != rows || t.shape()[1] != cols) {
            throw new SafetensorsFormatException(ckpt.dir(), name, "has shape " + java.util.Arrays.toString(t.shape())
                    + ", expected [" + rows + ", " + cols + "]");
        }
        return WeightMatrix.of(t.type(), t.data(), rows, cols);
    }

    private static float[] vector(HfCheckpoint ckpt, String name, int n) {
        SafetensorsTensor t = ckpt.require(name);
        if (t.elementCount() != n) throw new SafetensorsFormatException(ckpt.dir(), name, "has " + t.elementCount() + " elements, expected " + n);
        return Vectors.toFloats(t.type(), t.data(), n);
    }

    private static float[] optionalVector(HfCheckpoint ckpt, String name, int n) {
        Optional<SafetensorsTensor> t = ckpt.tensor(name);
        return t.isPresent() ? vector(ckpt, name, n) : null;
    }

    /** Row of the interleaved layout that HF row {@code hfRow} moves to, within one head. */
    static int interleavedRow(int hfRow, int headDim) {
        int half = headDim / 2;
        int head = hfRow / headDim;
        int r = hfRow % headDim;
        int pair = r % half;
        int second = r / half;
        return head * headDim + 2 * pair + second;
    }

    private static WeightMatrix interleaved(Arena arena, WeightMatrix m, int heads, int headDim) {
        long rowBytes = m.byteSize() / m.rows();
        MemorySegment out = arena.allocate(m.byteSize(), 64);
        for (int r = 0; r < heads * headDim; r++) {
            MemorySegment.copy(m.data(), r * rowBytes, out, interleavedRow(r, headDim) * rowBytes, rowBytes);
        }
        return WeightMatrix.of(m.type(), out, m.rows(), m.cols());
    }

    private static float[] interleaved(float[] bias, int heads, int headDim) {
        if (bias == null) return null;
        float[] out = new float[bias.length];
        for (int r = 0; r < heads * headDim; r++) out[interleavedRow(r, headDim)] = bias[r];
        return out;
    }
}
