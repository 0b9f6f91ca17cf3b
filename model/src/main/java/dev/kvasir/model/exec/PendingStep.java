package dev.kvasir.model.exec;

import java.util.List;

/** A step submitted to an executor ({@link StepExecutor#submit}) whose tokens may not be back yet. */
public interface PendingStep {

    /** Waits for the step; one token for every sequence that asked to sample, in step order. */
    List<SampledToken> await();

    /** A step already done. */
    static PendingStep done(List<SampledToken> tokens) {
        List<SampledToken> copy = List.copyOf(tokens);
        return () -> copy;
    }
}
