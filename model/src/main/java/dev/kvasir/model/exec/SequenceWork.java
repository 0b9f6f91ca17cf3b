package dev.kvasir.model.exec;

/**
 * One sequence's share of a step: run {@code tokens} at positions {@code startPosition ..}, with
 * KV blocks {@code blockTable} covering every position up to the last new one. {@code sampling}
 * is null for a prefill chunk that does not reach the end of the prompt (nothing to sample yet).
 *
 * <p>A {@linkplain #continuing continuing} sequence's one token is {@link #SAMPLED_BEFORE}: the
 * token it sampled in the step submitted just before, which the executor fills in (on the device,
 * where it can), so that a caller can submit step n + 1 before step n's tokens are back.
 */
public record SequenceWork(long sequenceId, int[] tokens, int startPosition, int[] blockTable, SamplingRequest sampling) {
    /** The token of a {@linkplain #continuing continuing} sequence. */
    public static final int SAMPLED_BEFORE = -1;

    public SequenceWork {
        if (tokens.length == 0) throw new IllegalArgumentException("sequence " + sequenceId + ": no tokens in step");
    }

    /**
     * One decode token at {@code position} that is the token this sequence samples in the step
     * submitted before ({@link StepExecutor#submit}). Its sampling must not read the history
     * (penalties would count a token not yet known).
     */
    public static SequenceWork continuing(long sequenceId, int position, int[] blockTable, SamplingRequest sampling) {
        if (sampling == null) throw new IllegalArgumentException("sequence " + sequenceId + ": a continuing sequence samples");
        if (sampling.params().hasPenalties()) {
            throw new IllegalArgumentException("sequence " + sequenceId + ": a continuing sequence cannot use penalties (they read a token not yet known)");
        }
        return new SequenceWork(sequenceId, new int[]{SAMPLED_BEFORE}, position, blockTable, sampling);
    }

    /** Whether this sequence's token is the one it sampled in the step before. */
    public boolean continues() {
        return tokens.length == 1 && tokens[0] == SAMPLED_BEFORE;
    }
}
