package dev.kvasir.model.sampling;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    private static final float[] LOGITS = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 0.5f};

    private static int[] draw(SamplingParams p, float[] logits, int n) {
        Sampler s = new Sampler(p);
        int[] out = new int[n];
        int[] history = new int[n];
        for (int i = 0; i < n; i++) out[i] = s.sample(logits, history, i, 0);
        return out;
    }

    @Test
    void greedyTakesLowestIdAmongTies() {
        assertEquals(1, new Sampler(SamplingParams.greedy()).sample(LOGITS, new int[0], 0, 0));
        assertEquals(1, new Sampler(SamplingParams.of(0.8f, 1, 1f, 7L)).sample(LOGITS, new int[0], 0, 0));
    }

    @Test
    void sameSeedSameTokensOtherSeedOtherTokens() {
        SamplingParams p = SamplingParams.of(1.5f, 0, 1f, 42L);
        int[] a = draw(p, LOGITS, 200);
        int[] b = draw(p, LOGITS, 200);
        int[] c = draw(p.withSeed(43L), LOGITS, 200);
        assertEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(b));
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(c));
    }

    @Test
    void theNthDrawDependsOnlyOnSeedAndN() {
        Sampler s = new Sampler(SamplingParams.of(1.5f, 0, 1f, 11L));
        int[] history = new int[10];
        int fifth = s.sample(LOGITS, history, 5, 0);
        for (int i = 0; i < 5; i++) s.sample(LOGITS, history, i, 0);
        assertEquals(fifth, new Sampler(SamplingParams.of(1.5f, 0, 1f, 11L)).sample(LOGITS, history, 5, 0));
        assertEquals(fifth, s.sample(LOGITS, history, 5, 0));
    }

    @Test
    void frequenciesFollowSoftmaxAtTemperature() {
        float t = 0.7f;
        int n = 60_000;
        int[] counts = new int[LOGITS.length];
        for (int id : draw(SamplingParams.of(t, 0, 1f, 1L), LOGITS, n)) counts[id]++;
        double z = 0;
        for (float l : LOGITS) z += Math.exp(l / t);
        for (int i = 0; i < LOGITS.length; i++) {
            double expected = Math.exp(LOGITS[i] / t) / z;
            double observed = counts[i] / (double) n;
            double sigma = Math.sqrt(expected * (1 - expected) / n);
            assertTrue(Math.abs(observed - expected) < 5 * sigma + 1e-4, "token " + i + ": " + observed + " vs " + expected);
        }
    }

    @Test
    void topKKeepsOnlyTheKBest() {
        for (int id : draw(SamplingParams.of(5f, 3, 1f, 3L), LOGITS, 2000)) {
            assertTrue(id == 1 || id == 3 || id == 2, "id " + id + " outside top-3");
        }
    }

    @Test
    void topPKeepsTheSmallestNucleus() {
        // probabilities at t=1: ids 1 and 3 hold ~0.63 together; top_p 0.6 keeps exactly those two
        for (int id : draw(SamplingParams.of(1f, 0, 0.6f, 5L), LOGITS, 2000)) {
            assertTrue(id == 1 || id == 3, "id " + id + " outside the nucleus");
        }
    }

    @Test
    void minPDropsTokensBelowTheFractionOfTheBest() {
        // p(2)/p(1) = e^-1 ≈ 0.37 at t=1; min_p 0.5 keeps only ids 1 and 3
        for (int id : draw(SamplingParams.of(1f, 0, 1f, 9L).withMinP(0.5f), LOGITS, 2000)) {
            assertTrue(id == 1 || id == 3, "id " + id + " below min_p");
        }
    }

    @Test
    void penaltiesSteerAwayFromRepeats() {
        int[] history = {1, 1, 1};
        SamplingParams rep = SamplingParams.greedy().withPenalties(2f, 0f, 0f);
        assertEquals(3, new Sampler(rep).sample(LOGITS, history, 3, 0));
        SamplingParams freq = SamplingParams.greedy().withPenalties(1f, 0f, 0.5f);
        assertEquals(3, new Sampler(freq).sample(LOGITS, history, 3, 0));
        // presence penalty counts generated tokens only: token 1 in the prompt part is untouched
        SamplingParams presence = SamplingParams.greedy().withPenalties(1f, 2f, 0f);
        assertEquals(1, new Sampler(presence).sample(LOGITS, history, 3, 3));
    }

    @Test
    void invalidParametersAreRefusedWithTheirName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.of(-1f, 0, 1f, null))
                .getMessage().contains("temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.of(1f, 0, 0f, null))
                .getMessage().contains("top_p"));
    }
}
