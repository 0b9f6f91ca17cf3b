package dev.kvasir.model.cpu;

/**
 * The tokens of one forward pass, from any number of sequences, flattened: token i belongs to
 * sequence {@code sequenceOf[i]}, sits at {@code positions[i]}, and reads keys/values through
 * {@code blockTables[sequenceOf[i]]}. {@code logitRows} lists the token indices whose logits are
 * wanted (the last token of each sequence that samples), in the order they are returned.
 */
public record BatchInput(int[] tokens, int[] positions, int[] sequenceOf, int[][] blockTables, int[] logitRows) {
    public BatchInput {
        if (tokens.length != positions.length || tokens.length != sequenceOf.length) {
            throw new IllegalArgumentException("tokens, positions and sequence indices differ in length");
        }
    }

    public int size() {
        return tokens.length;
    }
}
