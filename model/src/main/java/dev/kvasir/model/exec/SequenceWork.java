package dev.kvasir.model.exec;

/**
 * One sequence's share of a step: run {@code tokens} at positions {@code startPosition ..}, with
 * KV blocks {@code blockTable} covering every position up to the last new one. {@code sampling}
 * is null for a prefill chunk that does not reach the end of the prompt (nothing to sample yet).
 */
public record SequenceWork(long sequenceId, int[] tokens, int startPosition, int[] blockTable, SamplingRequest sampling) {
    public SequenceWork {
        if (tokens.length == 0) throw new IllegalArgumentException("sequence " + sequenceId + ": no tokens in step");
    }
}
