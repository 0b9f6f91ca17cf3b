package dev.kvasir.model.tokenizer;

import dev.kvasir.model.ModelFormatException;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * The token table shared by every tokenizer kind: piece text, score and type per id, the reverse
 * map, and the per-token flags that only matter when special tokens are split out of text
 * (strip whitespace left/right of a match).
 */
public final class Vocabulary {
    private final String[] texts;
    private final float[] scores;
    private final TokenType[] types;
    private final Map<String, Integer> ids;
    private final BitSet lstrip = new BitSet();
    private final BitSet rstrip = new BitSet();

    /**
     * @param texts  pieces by id; empty pieces get a placeholder (as llama.cpp does) so lookups stay unique
     * @param scores per-token scores (SentencePiece log-probabilities), or null for all zero
     * @param types  per-token types, or null for all NORMAL
     */
    public Vocabulary(String[] texts, float[] scores, TokenType[] types) {
        int n = texts.length;
        if (scores != null && scores.length < n) throw new ModelFormatException("tokenizer has " + n + " tokens but only " + scores.length + " scores");
        if (types != null && types.length < n) throw new ModelFormatException("tokenizer has " + n + " tokens but only " + types.length + " token types");
        this.texts = texts.clone();
        this.scores = scores != null ? scores : new float[n];
        this.types = new TokenType[n];
        this.ids = HashMap.newHashMap(n);
        for (int i = 0; i < n; i++) {
            String t = this.texts[i];
            if (t == null || t.isEmpty()) {
                t = "[EMPTY_" + i + "]";
                this.texts[i] = t;
            }
            Integer prev = ids.putIfAbsent(t, i);
            if (prev != null) throw new ModelFormatException("duplicate token in vocabulary: '" + t + "' has ids " + prev + " and " + i);
            this.types[i] = types != null && types[i] != null ? types[i] : TokenType.NORMAL;
        }
    }

    public int size() {
        return texts.length;
    }

    public String text(int id) {
        return texts[id];
    }

    public float score(int id) {
        return scores[id];
    }

    public TokenType type(int id) {
        return types[id];
    }

    /** The id of a piece, or -1. */
    public int id(String text) {
        Integer id = ids.get(text);
        return id == null ? -1 : id;
    }

    public boolean contains(int id) {
        return id >= 0 && id < texts.length;
    }

    void setType(int id, TokenType type) {
        types[id] = type;
    }

    void setStrip(int id, boolean left, boolean right) {
        lstrip.set(id, left);
        rstrip.set(id, right);
    }

    boolean lstrip(int id) {
        return lstrip.get(id);
    }

    boolean rstrip(int id) {
        return rstrip.get(id);
    }
}
