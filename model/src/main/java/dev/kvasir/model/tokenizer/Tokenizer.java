package dev.kvasir.model.tokenizer;

/**
 * Text to token ids and back, for one model's vocabulary. Implementations are immutable and
 * thread-safe; {@link #streamingDetokenizer()} hands out a fresh stateful decoder per sequence.
 */
public interface Tokenizer {

    /**
     * Encodes text.
     *
     * @param addBos       add the model's special tokens: BOS when the vocabulary says so
     *                     ({@link #addBosByDefault()}), EOS when it asks for that too. For
     *                     SentencePiece vocabularies the dummy-prefix space is applied either way,
     *                     as llama.cpp does.
     * @param parseSpecial match control tokens written in the text (e.g. {@code <|eot_id|>}) as
     *                     single tokens; without it they are plain text. User-defined tokens are
     *                     matched in both cases (llama.cpp and Hugging Face do the same).
     */
    int[] encode(String text, boolean addBos, boolean parseSpecial);

    /** The raw bytes this token contributes to generated text; empty for control tokens. */
    byte[] tokenBytes(int id);

    /** UTF-8 decoding of the concatenated {@link #tokenBytes(int)}; no space is stripped. */
    String decode(int[] ids);

    /** The token's piece as stored in the vocabulary (e.g. {@code ▁Hello}, {@code Ġworld}). */
    String tokenText(int id);

    int vocabSize();

    /** BOS id, or -1 when the vocabulary has none. */
    int bosId();

    /** EOS id, or -1 when the vocabulary has none. */
    int eosId();

    boolean addBosByDefault();

    /** True for tokens that end generation: EOS, EOT, EOM and end-of-turn tokens like {@code <|im_end|>}. */
    boolean isEndOfGeneration(int id);

    /** A new incremental decoder for one sequence. */
    default StreamingDetokenizer streamingDetokenizer() {
        return new StreamingDetokenizer(this);
    }
}
