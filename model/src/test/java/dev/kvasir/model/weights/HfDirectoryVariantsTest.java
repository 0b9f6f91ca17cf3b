package dev.kvasir.model.weights;

import dev.kvasir.model.SharedData;
import dev.kvasir.model.Stories260KReference;
import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.arch.RopeLayout;
import dev.kvasir.model.arch.RopeScaling;
import dev.kvasir.model.cpu.ComputePool;
import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.safetensors.SafetensorsFile;
import dev.kvasir.model.safetensors.SafetensorsTensor;
import dev.kvasir.model.safetensors.SafetensorsWriter;
import dev.kvasir.model.tensor.Quantizer;
import dev.kvasir.model.tensor.WeightMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hugging Face directories in their other shapes: sharded, F16/BF16, and RoPE in rotate_half layout. */
class HfDirectoryVariantsTest {
    private static ComputePool pool;
    private static Stories260KReference ref;
    private static float[] expected;

    @TempDir
    Path tmp;

    @BeforeAll
    static void setUp() {
        pool = new ComputePool(2);
        ref = Stories260KReference.load();
        try (ModelWeights w = ModelLoader.load(SharedData.require("models/stories260K/hf"))) {
            LlamaCpuModel m = new LlamaCpuModel(w.config(), w.weights(), pool);
            expected = m.forward(ref.firstPromptIds(), m.newCache(64), false);
        }
    }

    @AfterAll
    static void tearDown() {
        pool.close();
    }

    private float[] logitsOf(Path dir) {
        try (ModelWeights w = ModelLoader.load(dir)) {
            LlamaCpuModel m = new LlamaCpuModel(w.config(), w.weights(), pool);
            return m.forward(ref.firstPromptIds(), m.newCache(64), false);
        }
    }

    /** A copy of the stories260K HF directory whose weights are written by {@code writer}. */
    private Path copyWith(java.util.function.BiConsumer<SafetensorsFile, Path> writer) throws IOException {
        Path src = SharedData.require("models/stories260K/hf");
        Path dir = Files.createDirectories(tmp.resolve("model"));
        for (String f : List.of("config.json", "tokenizer.model", "tokenizer_config.json")) Files.copy(src.resolve(f), dir.resolve(f));
        try (SafetensorsFile st = SafetensorsFile.open(src.resolve("model.safetensors"))) {
            writer.accept(st, dir);
        }
        return dir;
    }

    @Test
    void shardedCheckpointGivesTheSameLogits() throws IOException {
        Path dir = copyWith((st, out) -> {
            List<String> names = new ArrayList<>(st.names());
            SafetensorsWriter a = new SafetensorsWriter();
            SafetensorsWriter b = new SafetensorsWriter();
            StringBuilder index = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
            for (int i = 0; i < names.size(); i++) {
                SafetensorsTensor t = st.tensor(names.get(i)).orElseThrow();
                String shard = i % 2 == 0 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
                (i % 2 == 0 ? a : b).add(t.name(), t.type(), t.shape(), t.data());
                index.append(i == 0 ? "" : ",").append('"').append(t.name()).append("\":\"").append(shard).append('"');
            }
            a.write(out.resolve("model-00001-of-00002.safetensors"));
            b.write(out.resolve("model-00002-of-00002.safetensors"));
            try {
                Files.writeString(out.resolve("model.safetensors.index.json"), index.append("}}").toString());
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        assertArrayEquals(expected, logitsOf(dir), 0f);
    }

    @Test
    void halfPrecisionCheckpointsLoadAndStayClose() throws IOException {
        for (GgmlType type : List.of(GgmlType.F16, GgmlType.BF16)) {
            Path dir = copyWith((st, out) -> {
                SafetensorsWriter w = new SafetensorsWriter();
                for (String name : st.names()) {
                    SafetensorsTensor t = st.tensor(name).orElseThrow();
                    float[] values = t.data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
                    w.add(name, type, t.shape(), MemorySegment.ofArray(Quantizer.quantize(type, values)));
                }
                w.write(out.resolve("model.safetensors"));
            });
            float[] got = logitsOf(dir);
            double num = 0, den = 0;
            for (int i = 0; i < got.length; i++) {
                num += (got[i] - expected[i]) * (got[i] - expected[i]);
                den += expected[i] * expected[i];
            }
            assertTrue(Math.sqrt(num / den) < (type == GgmlType.F16 ? 2e-3 : 2e-2), type + ": relative error " + Math.sqrt(num / den));
            deleteRecursively(dir);
        }
    }

    @Test
    void rotateHalfLayoutOnOriginalWeightsEqualsInterleavedOnUnpermuted() {
        // HF stores q/k permuted for rotate_half; run those raw rows with the HALVES layout and compare
        // with the loader's result (rows un-permuted, INTERLEAVED layout).
        Path src = SharedData.require("models/stories260K/hf");
        try (ModelWeights w = ModelLoader.load(src); SafetensorsFile st = SafetensorsFile.open(src.resolve("model.safetensors"))) {
            ModelConfig c = w.config();
            ModelConfig halves = new ModelConfig(c.architecture(), c.name(), c.dim(), c.hiddenDim(), c.layers(), c.heads(), c.kvHeads(),
                    c.headDim(), c.vocabSize(), c.contextLength(), c.rmsEps(), c.ropeTheta(), c.ropeDim(), RopeLayout.HALVES, null);
            List<LayerWeights> layers = new ArrayList<>();
            for (int l = 0; l < c.layers(); l++) {
                LayerWeights lw = w.weights().layers().get(l);
                layers.add(new LayerWeights(lw.attnNorm(), raw(st, "model.layers." + l + ".self_attn.q_proj.weight", lw.wq()),
                        raw(st, "model.layers." + l + ".self_attn.k_proj.weight", lw.wk()), lw.wv(), null, null, null,
                        lw.wo(), lw.ffnNorm(), lw.gate(), lw.up(), lw.down()));
            }
            LlamaWeights rawWeights = new LlamaWeights(w.weights().tokenEmbedding(), layers, w.weights().outputNorm(), w.weights().output());
            LlamaCpuModel m = new LlamaCpuModel(halves, rawWeights, pool);
            assertArrayEquals(expected, m.forward(ref.firstPromptIds(), m.newCache(64), false), 1e-5f);
        }
    }

    private static WeightMatrix raw(SafetensorsFile st, String name, WeightMatrix like) {
        return WeightMatrix.of(GgmlType.F32, st.tensor(name).orElseThrow().data(), like.rows(), like.cols());
    }

    @Test
    void llama3FrequencyFactorsFollowTheConvertersFormula() {
        // llama 3.2's rope_scaling (factor 32, low 1, high 4, original 8192) at theta 500000, head 64,
        // as llama.cpp's convert_hf_to_gguf.py computes rope_freqs: 1 for short wavelengths, the
        // factor for long ones, 1 / ((1 - s) / factor + s) in between.
        float[] f = new RopeScaling(32, 1, 4, 8192).frequencyFactors(64, 500000);
        assertEquals(32, f.length);
        for (int i = 0; i < 15; i++) assertEquals(1f, f[i], 0f);
        assertEquals(1.651329f, f[15], 1e-5f);
        assertEquals(3.292262f, f[16], 1e-5f);
        assertEquals(9.666729f, f[17], 1e-5f);
        for (int i = 18; i < 32; i++) assertEquals(32f, f[i], 0f);
    }

    private static void deleteRecursively(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}
