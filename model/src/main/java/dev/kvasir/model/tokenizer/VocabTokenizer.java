package dev.kvasir.model.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * What SentencePiece and byte-level BPE tokenizers share: the vocabulary, special ids, splitting
 * special tokens out of the text, BOS/EOS, and decoding through cached per-token bytes.
 */
abstract sealed class VocabTokenizer implements Tokenizer permits SpmTokenizer, BpeTokenizer {
    protected final Vocabulary vocab;
    protected final SpecialTokens special;
    private final SpecialTokenSplitter splitter;
    private final byte[][] pieceBytes;

    VocabTokenizer(Vocabulary vocab, SpecialTokens special) {
        this.vocab = vocab;
        this.special = special;
        this.splitter = new SpecialTokenSplitter(vocab);
        this.pieceBytes = new byte[vocab.size()][];
    }

    /** Tokenizes the text fragments between special tokens, appending ids to out. */
    protected abstract void encodeFragments(String text, List<SpecialTokenSplitter.Fragment> fragments, IntArrayBuilder out);

    /** The bytes of a NORMAL token's piece. */
    protected abstract byte[] normalPieceBytes(int id);

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        IntArrayBuilder out = new IntArrayBuilder(text.length() / 3 + 4);
        if (addBos && special.addBos() && special.bos() >= 0) out.add(special.bos());
        encodeFragments(text, splitter.split(text, parseSpecial), out);
        if (addBos && special.addEos() && special.eos() >= 0) out.add(special.eos());
        return out.toArray();
    }

    @Override
    public byte[] tokenBytes(int id) {
        byte[] b = pieceBytes[id];
        if (b == null) {
            b = switch (vocab.type(id)) {
                case NORMAL -> normalPieceBytes(id);
                case USER_DEFINED -> vocab.text(id).getBytes(StandardCharsets.UTF_8);
                case BYTE -> byteTokenValue(vocab.text(id));
                default -> new byte[0]; // control, unknown, unused: nothing in generated text
            };
            pieceBytes[id] = b; // benign race: every thread computes the same bytes
        }
        return b;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) out.writeBytes(tokenBytes(id));
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public String tokenText(int id) {
        return vocab.text(id);
    }

    @Override
    public int vocabSize() {
        return vocab.size();
    }

    @Override
    public int bosId() {
        return special.bos();
    }

    @Override
    public int eosId() {
        return special.eos();
    }

    @Override
    public boolean addBosByDefault() {
        return special.addBos();
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return special.isEndOfGeneration(id);
    }

    public Vocabulary vocabulary() {
        return vocab;
    }

    /** The byte of a {@code <0xNN>} piece; other BYTE pieces (a byte-level char) decode as text. */
    private static byte[] byteTokenValue(String piece) {
        if (piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
            return new byte[]{(byte) Integer.parseInt(piece.substring(3, 5), 16)};
        }
        return ByteLevel.decode(piece);
    }
}
