package dev.kvasir.model.cpu;

import dev.kvasir.model.SharedData;
import dev.kvasir.model.Stories260KReference;
import dev.kvasir.model.gguf.GgufFile;
import dev.kvasir.model.weights.GgufModelLoader;
import dev.kvasir.model.weights.ModelWeights;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The forward pass against independent float64 / run.c references for stories260K (f32 weights). */
class LlamaCpuModelTest {
    private static ModelWeights weights;
    private static ComputePool pool;
    private static LlamaCpuModel model;
    private static Stories260KReference ref;

    @BeforeAll
    static void load() {
        ref = Stories260KReference.load();
        weights = GgufModelLoader.load(GgufFile.open(SharedData.require("models/stories260K/stories260K-f32.gguf")));
        pool = new ComputePool(2);
        model = new LlamaCpuModel(weights.config(), weights.weights(), pool);
    }

    @AfterAll
    static void close() {
        if (pool != null) pool.close();
        if (weights != null) weights.close();
    }

    @Test
    void logitsAfterFirstPromptMatchFloat64Reference() {
        float[] logits = model.forward(ref.firstPromptIds(), model.newCache(64), false);
        assertEquals(ref.firstPromptLogits().length, logits.length);
        double maxErr = 0;
        for (int i = 0; i < logits.length; i++) maxErr = Math.max(maxErr, Math.abs(logits[i] - ref.firstPromptLogits()[i]));
        assertTrue(maxErr < 1e-4, "max logit error " + maxErr);
    }

    @Test
    void prefillInOneBatchEqualsTokenByToken() {
        float[] batched = model.forward(ref.firstPromptIds(), model.newCache(64), false);
        KvCache cache = model.newCache(64);
        float[] stepwise = null;
        for (int id : ref.firstPromptIds()) stepwise = model.forward(new int[]{id}, cache, false);
        assertArrayEquals(batched, stepwise, 1e-5f);
    }

    @Test
    void greedyIdsMatchReferenceForEveryPrompt() {
        for (Stories260KReference.Prompt p : ref.prompts()) {
            KvCache cache = model.newCache(512);
            float[] logits = model.forward(p.promptIds(), cache, false);
            int[] out = new int[p.greedyIds().length];
            for (int i = 0; i < out.length; i++) {
                out[i] = argmax(logits);
                logits = model.forward(new int[]{out[i]}, cache, false);
            }
            assertArrayEquals(p.greedyIds(), out, "prompt '" + p.text() + "': " + Arrays.toString(out));
        }
    }

    @Test
    void huggingFaceDirectoryGivesTheSameLogitsAsGguf() {
        try (ModelWeights hf = dev.kvasir.model.weights.ModelLoader.load(SharedData.require("models/stories260K/hf"))) {
            LlamaCpuModel hfModel = new LlamaCpuModel(hf.config(), hf.weights(), pool);
            float[] fromHf = hfModel.forward(ref.firstPromptIds(), hfModel.newCache(64), true);
            float[] fromGguf = model.forward(ref.firstPromptIds(), model.newCache(64), true);
            assertArrayEquals(fromGguf, fromHf, 1e-5f);
        }
    }

    @Test
    void mixedBatchOverScatteredBlocksEqualsSeparateRuns() {
        Stories260KReference.Prompt a = ref.prompts().get(0);
        Stories260KReference.Prompt b = ref.prompts().get(6);
        // a decodes one token after its prompt while b prefills its whole prompt, in one batch
        KvCache aloneA = model.newCache(64);
        model.forward(a.promptIds(), aloneA, false);
        float[] expectA = model.forward(new int[]{a.greedyIds()[0]}, aloneA, false);
        float[] expectB = model.forward(b.promptIds(), model.newCache(64), false);

        PagedKvPool kv = new PagedKvPool(weights.config(), 4, 16);
        int[] tableA = {9, 2};
        int[] tableB = {5, 0, 14, 7, 3};
        model.forward(new BatchInput(a.promptIds(), range(0, a.promptIds().length), new int[a.promptIds().length],
                new int[][]{tableA}, new int[]{a.promptIds().length - 1}), kv);
        int nb = b.promptIds().length;
        int[] tokens = new int[1 + nb];
        int[] positions = new int[1 + nb];
        int[] seq = new int[1 + nb];
        tokens[0] = a.greedyIds()[0];
        positions[0] = a.promptIds().length;
        for (int i = 0; i < nb; i++) {
            tokens[1 + i] = b.promptIds()[i];
            positions[1 + i] = i;
            seq[1 + i] = 1;
        }
        float[] both = model.forward(new BatchInput(tokens, positions, seq, new int[][]{tableA, tableB}, new int[]{0, nb}), kv);
        int vocab = weights.config().vocabSize();
        assertArrayEquals(expectA, Arrays.copyOfRange(both, 0, vocab), 1e-5f);
        assertArrayEquals(expectB, Arrays.copyOfRange(both, vocab, 2 * vocab), 1e-5f);
    }

    private static int[] range(int from, int to) {
        int[] r = new int[to - from];
        for (int i = 0; i < r.length; i++) r[i] = from + i;
        return r;
    }

    static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
