package dev.kvasir.gpu;

import dev.kvasir.model.exec.SamplingRequest;
import dev.kvasir.model.sampling.Sampler;
import dev.kvasir.model.sampling.SamplingParams;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host half of device sampling, no GPU needed: what the kernels are told per row. */
class SamplingBatchTest {

    @Test
    void plainGreedyStepsKeepTheArgmaxPath() {
        SamplingRequest g = new SamplingRequest(SamplingParams.greedy(), 1, new int[4], 4, 2, false, 0);
        assertTrue(SamplingBatch.pack(List.of(g, g)).allGreedyPlain);
        SamplingRequest lp = new SamplingRequest(SamplingParams.greedy(), 1, new int[4], 4, 2, true, 3);
        SamplingBatch b = SamplingBatch.pack(List.of(g, lp));
        assertFalse(b.allGreedyPlain);
        assertTrue(b.anyLogprobs);
        assertEquals(3, b.maxTop);
    }

    @Test
    void rowsCarryTheCpuSamplersParametersAndUniform() {
        SamplingParams p = SamplingParams.of(0.7f, 40, 0.9f, null).withMinP(0.05f);
        int[] history = {5, 6, 7, 8, 9, 0, 0};
        SamplingBatch b = SamplingBatch.pack(List.of(new SamplingRequest(p, 1234L, history, 5, 3, false, 0)));
        assertEquals(0, b.meta[0]);
        assertEquals(1f / 0.7f, Float.intBitsToFloat(b.meta[1]));
        assertEquals(40, b.meta[2]);
        assertEquals(0.9f, Float.intBitsToFloat(b.meta[3]));
        assertEquals(0.05f, Float.intBitsToFloat(b.meta[4]));
        assertEquals(Sampler.uniform(1234L, 5, 3), b.uniform[0]);
        assertFalse(b.anyPenalties);
    }

    /** Only the ids the penalties read travel: the repetition window and the generated tokens. */
    @Test
    void penaltyRowsCarryTheirHistorySlice() {
        int[] history = new int[200];
        for (int i = 0; i < history.length; i++) history[i] = 1000 + i;
        // 150 ids of prompt and output, generated from 120; repetition over the last 64 (86..149)
        SamplingParams rep = SamplingParams.of(1f, 0, 1f, null).withPenalties(1.2f, 0f, 0f);
        SamplingParams both = SamplingParams.of(1f, 0, 1f, null).withPenalties(1.2f, 0.5f, 0f);
        SamplingParams presence = SamplingParams.of(1f, 0, 1f, null).withPenalties(1f, 0.5f, 0.1f);
        SamplingBatch b = SamplingBatch.pack(List.of(
                new SamplingRequest(rep, 1, history, 150, 120, false, 0),
                new SamplingRequest(SamplingParams.greedy(), 1, history, 150, 120, false, 0),
                new SamplingRequest(both, 1, history, 150, 140, false, 0),
                new SamplingRequest(presence, 1, history, 150, 120, false, 0)));
        assertTrue(b.anyPenalties);
        int m = SamplingBatch.META;
        // row 0: slice 86..149, window from 0, generated part empty (presence off)
        assertEquals(SamplingBatch.PENALTIES, b.meta[0]);
        assertArrayEquals(new int[]{0, 0, 64, 64}, Arrays.copyOfRange(b.meta, 8, 12));
        // row 2: slice 86..149 again, presence reads from 140 - 86 = 54
        assertArrayEquals(new int[]{64, 0, 54, 64}, Arrays.copyOfRange(b.meta, 2 * m + 8, 2 * m + 12));
        // row 3: no repetition window, generated 120..149
        assertArrayEquals(new int[]{128, 30, 0, 30}, Arrays.copyOfRange(b.meta, 3 * m + 8, 3 * m + 12));
        assertEquals(1086, b.history[0]);
        assertEquals(1149, b.history[63]);
        assertEquals(1086, b.history[64]);
        assertEquals(1120, b.history[128]);
        assertEquals(158, b.history.length);
    }
}
