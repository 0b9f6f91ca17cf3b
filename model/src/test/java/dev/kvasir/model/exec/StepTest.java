package dev.kvasir.model.exec;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StepTest {

    @Test
    void greedyPrefillPutsEachPromptInTheNextFreshBlocks() {
        int[] a = {1, 2, 3}, b = new int[17], c = {9};
        Step step = Step.greedyPrefill(List.of(a, b, c), new KvGeometry(16, 64));
        assertEquals(21, step.tokenCount());
        assertTrue(step.copies().isEmpty());
        List<SequenceWork> w = step.sequences();
        assertEquals(3, w.size());
        assertArrayEquals(new int[]{0}, w.get(0).blockTable());
        assertArrayEquals(new int[]{1, 2}, w.get(1).blockTable());
        assertArrayEquals(new int[]{3}, w.get(2).blockTable());
        for (int s = 0; s < 3; s++) {
            SequenceWork sw = w.get(s);
            assertEquals(s, sw.sequenceId());
            assertEquals(0, sw.startPosition());
            SamplingRequest r = sw.sampling();
            assertEquals(0.0f, r.params().temperature());
            assertEquals(sw.tokens().length, r.historyLength());
            assertEquals(sw.tokens().length, r.generatedFrom());
        }
    }
}
