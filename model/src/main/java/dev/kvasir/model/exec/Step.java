package dev.kvasir.model.exec;

import java.util.List;

/** One iteration of the engine: block copies to make, then one forward pass over all sequences. */
public record Step(List<SequenceWork> sequences, List<BlockCopy> copies) {
    public Step {
        sequences = List.copyOf(sequences);
        copies = copies == null ? List.of() : List.copyOf(copies);
    }

    public int tokenCount() {
        int n = 0;
        for (SequenceWork w : sequences) n += w.tokens().length;
        return n;
    }
}
