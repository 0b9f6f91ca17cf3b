package dev.kvasir.model.synth;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A SentencePiece-style vocabulary of any size for synthetic models: {@code <unk> <s> </s>}, the
 * 256 byte-fallback tokens, then pieces of growing length over lowercase letters, with and without
 * the {@code ▁} word prefix, scored so shorter pieces merge first. Any text encodes (byte fallback),
 * and llama.cpp reads it as an ordinary {@code llama} vocabulary.
 */
public record SyntheticVocabulary(String[] tokens, float[] scores, int[] types) {
    public static final int UNK = 0;
    public static final int BOS = 1;
    public static final int EOS = 2;
    private static final int TYPE_NORMAL = 1;
    private static final int TYPE_UNKNOWN = 2;
    private static final int TYPE_CONTROL = 3;
    private static final int TYPE_BYTE = 6;
    private static final String SPACE = "\u2581";

    public static SyntheticVocabulary of(int size) {
        List<String> tokens = new ArrayList<>(size);
        tokens.add("<unk>");
        tokens.add("<s>");
        tokens.add("</s>");
        for (int b = 0; b < 256; b++) tokens.add(String.format("<0x%02X>", b));
        Set<String> pieces = new LinkedHashSet<>();
        pieces.add(SPACE);
        for (char c = ' ' + 1; c < 127; c++) pieces.add(String.valueOf(c));
        String letters = "etaoinshrdlcumwfgypbvkjxqz";
        List<String> frontier = new ArrayList<>();
        for (char c : letters.toCharArray()) frontier.add(String.valueOf(c));
        while (tokens.size() + pieces.size() < size) {
            List<String> next = new ArrayList<>();
            for (String p : frontier) {
                pieces.add(SPACE + p);
                for (char c : letters.toCharArray()) next.add(p + c);
                if (tokens.size() + pieces.size() >= size) break;
            }
            for (String p : next) {
                if (tokens.size() + pieces.size() >= size) break;
                pieces.add(p);
            }
            frontier = next;
        }
        for (String p : pieces) {
            if (tokens.size() >= size) break;
            tokens.add(p);
        }
        String[] t = tokens.toArray(String[]::new);
        float[] scores = new float[t.length];
        int[] types = new int[t.length];
        for (int i = 0; i < t.length; i++) {
            types[i] = i == UNK ? TYPE_UNKNOWN : i <= EOS ? TYPE_CONTROL : i < 259 ? TYPE_BYTE : TYPE_NORMAL;
            scores[i] = i < 259 ? 0f : -(i - 259);
        }
        return new SyntheticVocabulary(t, scores, types);
    }
}
