package dev.kvasir.model.exec;

import dev.kvasir.model.sampling.SamplingParams;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
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

    @Test
    void continuingSequencesTakeTheTokenTheySampledInTheStepBefore() {
        SamplingRequest greedy = new SamplingRequest(SamplingParams.greedy(), 0, new int[8], 4, 3, false, 0);
        SequenceWork fresh = new SequenceWork(5, new int[]{7, 8}, 0, new int[]{2}, greedy);
        Step step = new Step(List.of(SequenceWork.continuing(3, 4, new int[]{0}, greedy), fresh, SequenceWork.continuing(9, 6, new int[]{1}, greedy)), List.of());
        assertTrue(step.continues());
        List<SampledToken> before = List.of(new SampledToken(9, 42, Float.NaN, null, null), new SampledToken(3, 17, Float.NaN, null, null));
        Step filled = step.withSampledTokens(before);
        assertFalse(filled.continues());
        assertArrayEquals(new int[]{17}, filled.sequences().get(0).tokens());
        assertEquals(4, filled.sequences().get(0).startPosition());
        assertSame(fresh, filled.sequences().get(1));
        assertArrayEquals(new int[]{42}, filled.sequences().get(2).tokens());
        // a continuing sequence that sampled nothing before, and one whose penalties would read the unknown token
        assertThrows(IllegalArgumentException.class, () -> step.withSampledTokens(List.of(before.get(0))));
        SamplingRequest penalized = new SamplingRequest(SamplingParams.greedy().withPenalties(1.2f, 0, 0), 0, new int[8], 4, 3, false, 0);
        assertThrows(IllegalArgumentException.class, () -> SequenceWork.continuing(3, 4, new int[]{0}, penalized));
    }

    @Test
    void theDefaultSubmitFillsInTheTokensOfTheStepBefore() {
        SamplingRequest greedy = new SamplingRequest(SamplingParams.greedy(), 0, new int[8], 4, 3, false, 0);
        List<Step> ran = new java.util.ArrayList<>();
        StepExecutor echo = new StepExecutor() {
            @Override public dev.kvasir.model.arch.ModelConfig config() { throw new UnsupportedOperationException(); }
            @Override public KvGeometry kvGeometry() { return new KvGeometry(16, 4); }
            @Override public List<SampledToken> execute(Step s) {
                ran.add(s);
                return List.of(new SampledToken(s.sequences().get(0).sequenceId(), s.sequences().get(0).tokens()[0] + 1, Float.NaN, null, null));
            }
            @Override public HostKvBlock swapOut(int block) { throw new UnsupportedOperationException(); }
            @Override public void swapIn(HostKvBlock data, int block) { throw new UnsupportedOperationException(); }
            @Override public String device() { return "echo"; }
            @Override public void close() { }
        };
        PendingStep first = echo.submit(new Step(List.of(new SequenceWork(1, new int[]{10}, 0, new int[]{0}, greedy)), List.of()), null);
        PendingStep second = echo.submit(new Step(List.of(SequenceWork.continuing(1, 1, new int[]{0}, greedy)), List.of()), first);
        assertEquals(11, first.await().get(0).token());
        assertArrayEquals(new int[]{11}, ran.get(1).sequences().get(0).tokens());
        assertEquals(12, second.await().get(0).token());
        assertThrows(IllegalArgumentException.class, () -> echo.submit(new Step(List.of(SequenceWork.continuing(1, 2, new int[]{0}, greedy)), List.of()), null));
    }
}
