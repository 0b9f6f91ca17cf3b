package dev.kvasir.model.tokenizer;

import dev.kvasir.model.ModelFormatException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * BPE merge ranks keyed by symbol ids. Symbols are vocabulary ids where the string is a token and
 * extra ids above the vocabulary for merge parts that are not (rare, but llama.cpp works on strings
 * so such merges still apply). Each rank also knows the symbol its merge produces, so merging
 * needs no string building.
 */
final class MergeTable {
    private final Vocabulary vocab;
    private final LongIntMap ranks;
    private final int[] results;
    private final Map<String, Integer> extraIds = new HashMap<>();
    private final List<String> extraTexts = new ArrayList<>();
    private final int[] byteSymbols = new int[256];

    /**
     * @param merges merge rules in rank order, each as its two parts
     */
    MergeTable(Vocabulary vocab, List<String[]> merges) {
        this.vocab = vocab;
        this.ranks = new LongIntMap(Math.max(1, merges.size()));
        this.results = new int[merges.size()];
        for (int rank = 0; rank < merges.size(); rank++) {
            String[] m = merges.get(rank);
            int a = symbol(m[0]);
            int b = symbol(m[1]);
            results[rank] = symbol(m[0] + m[1]);
            ranks.putIfAbsent(key(a, b), rank);
        }
        for (int b = 0; b < 256; b++) byteSymbols[b] = symbolOrMissing(String.valueOf(ByteLevel.charOf(b)));
    }

    /** Parses GGUF-style merges: "left right", split at the first space after the first character. */
    static List<String[]> parseJoined(String[] merges) {
        List<String[]> out = new ArrayList<>(merges.length);
        for (String m : merges) {
            int sp = m.indexOf(' ', 1);
            if (sp < 0) throw new ModelFormatException("malformed BPE merge rule (no space): '" + m + "'");
            out.add(new String[]{m.substring(0, sp), m.substring(sp + 1)});
        }
        return out;
    }

    private static long key(int a, int b) {
        return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }

    private int symbol(String text) {
        int id = vocab.id(text);
        if (id >= 0) return id;
        return extraIds.computeIfAbsent(text, t -> {
            extraTexts.add(t);
            return vocab.size() + extraTexts.size() - 1;
        });
    }

    private int symbolOrMissing(String text) {
        int id = vocab.id(text);
        if (id >= 0) return id;
        Integer extra = extraIds.get(text);
        return extra != null ? extra : -1;
    }

    /** The symbol of one byte-level character, or -1 when neither vocabulary nor merges know it. */
    int byteSymbol(int b) {
        return byteSymbols[b & 0xFF];
    }

    /** Rank of merging a then b, or -1. */
    int rank(int a, int b) {
        if (a < 0 || b < 0) return -1;
        return ranks.get(key(a, b), -1);
    }

    int result(int rank) {
        return results[rank];
    }

    boolean isToken(int symbol) {
        return symbol >= 0 && symbol < vocab.size();
    }

    String text(int symbol) {
        return symbol < vocab.size() ? vocab.text(symbol) : extraTexts.get(symbol - vocab.size());
    }

    int size() {
        return results.length;
    }
}
