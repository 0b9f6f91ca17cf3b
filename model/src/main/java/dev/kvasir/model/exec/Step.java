package dev.kvasir.model.exec;

import dev.kvasir.model.sampling.SamplingParams;

import java.util.ArrayList;
import java.util.List;

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

    public int tokenCount() {
        int n = 0;
        for (SequenceWork w : sequences) n += w.tokens().length;
        return n;
    }
}
