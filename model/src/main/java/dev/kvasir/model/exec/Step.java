package dev.kvasir.model.exec;

import dev.kvasir.model.sampling.SamplingParams;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** One iteration of the engine: block copies to make, then one forward pass over all sequences. */
public record Step(List<SequenceWork> sequences, List<BlockCopy> copies) {
    public Step {
        sequences = List.copyOf(sequences);
        copies = copies == null ? List.of() : List.copyOf(copies);
    }

    /**
     * A prefill of {@code prompts} as fresh sequences 0, 1, … with greedy sampling, each in the next
     * unused blocks of the pool from block 0 on (for checks and benchmarks that read the logits of
     * the prompts' last positions).
     */
    public static Step greedyPrefill(List<int[]> prompts, KvGeometry geometry) {
        List<SequenceWork> work = new ArrayList<>(prompts.size());
        int next = 0;
        for (int s = 0; s < prompts.size(); s++) {
            int[] p = prompts.get(s);
            int[] table = new int[geometry.blocksFor(p.length)];
            for (int b = 0; b < table.length; b++) table[b] = next++;
            work.add(new SequenceWork(s, p, 0, table, new SamplingRequest(SamplingParams.greedy(), 0, p, p.length, p.length, false, 0)));
        }
        return new Step(work, List.of());
    }

    /** Whether some sequence's token is the one it sampled in the step before ({@link SequenceWork#continuing}). */
    public boolean continues() {
        for (SequenceWork w : sequences) if (w.continues()) return true;
        return false;
    }

    /**
     * This step with each continuing sequence's token filled in from {@code before}, the tokens of
     * the step it continues; every continuing sequence must have sampled there.
     */
    public Step withSampledTokens(List<SampledToken> before) {
        if (!continues()) return this;
        Map<Long, Integer> sampled = new HashMap<>();
        for (SampledToken t : before) sampled.put(t.sequenceId(), t.token());
        List<SequenceWork> out = new ArrayList<>(sequences.size());
        for (SequenceWork w : sequences) {
            if (!w.continues()) {
                out.add(w);
                continue;
            }
            Integer token = sampled.get(w.sequenceId());
            if (token == null) throw new IllegalArgumentException("sequence " + w.sequenceId() + " continues but sampled nothing in the step before");
            out.add(new SequenceWork(w.sequenceId(), new int[]{token}, w.startPosition(), w.blockTable(), w.sampling()));
        }
        return new Step(out, copies);
    }

    public int tokenCount() {
        int n = 0;
        for (SequenceWork w : sequences) n += w.tokens().length;
        return n;
    }
}
