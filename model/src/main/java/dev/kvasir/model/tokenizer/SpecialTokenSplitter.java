package dev.kvasir.model.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Cuts special-token strings out of the text before any pre-tokenization, as llama.cpp's
 * {@code tokenizer_st_partition} does: candidates are tried longest text first, each one splitting
 * every remaining text fragment at all its occurrences. Control and unknown tokens are candidates
 * only with parse_special; user-defined tokens always are.
 */
final class SpecialTokenSplitter {

    /** A piece of the input: either text to tokenize (a range of the input) or a matched token. */
    sealed interface Fragment permits Text, Token {
    }

    record Text(int start, int end) implements Fragment {
    }

    record Token(int id) implements Fragment {
    }

    private final Vocabulary vocab;
    private final int[] candidates;
    private final boolean anyUserDefined;

    SpecialTokenSplitter(Vocabulary vocab) {
        this.vocab = vocab;
        List<Integer> ids = new ArrayList<>();
        boolean user = false;
        for (int id = 0; id < vocab.size(); id++) {
            if (vocab.type(id).isSpecial()) {
                ids.add(id);
                user |= vocab.type(id) == TokenType.USER_DEFINED;
            }
        }
        ids.sort(Comparator.comparingInt((Integer id) -> -vocab.text(id).length()).thenComparingInt(id -> id));
        this.candidates = ids.stream().mapToInt(Integer::intValue).toArray();
        this.anyUserDefined = user;
    }

    List<Fragment> split(String text, boolean parseSpecial) {
        List<Fragment> fragments = new ArrayList<>();
        if (text.isEmpty()) return fragments;
        fragments.add(new Text(0, text.length()));
        if (!parseSpecial && !anyUserDefined) return fragments;
        for (int id : candidates) {
            TokenType type = vocab.type(id);
            if (!parseSpecial && type != TokenType.USER_DEFINED) continue;
            String piece = vocab.text(id);
            if (piece.length() > text.length()) continue;
            List<Fragment> next = null;
            for (int f = 0; f < fragments.size(); f++) {
                Fragment fragment = fragments.get(f);
                if (!(fragment instanceof Text(int start, int end))) {
                    if (next != null) next.add(fragment);
                    continue;
                }
                int match = indexOf(text, piece, start, end);
                if (match < 0) {
                    if (next != null) next.add(fragment);
                    continue;
                }
                if (next == null) next = new ArrayList<>(fragments.subList(0, f));
                int from = start;
                while (match >= 0) {
                    int leftEnd = match;
                    if (vocab.lstrip(id)) {
                        while (leftEnd > from && isSpace(text.charAt(leftEnd - 1))) leftEnd--;
                    }
                    if (leftEnd > from) next.add(new Text(from, leftEnd));
                    next.add(new Token(id));
                    from = match + piece.length();
                    if (vocab.rstrip(id)) {
                        while (from < end && isSpace(text.charAt(from))) from++;
                    }
                    match = indexOf(text, piece, from, end);
                }
                if (from < end) next.add(new Text(from, end));
            }
            if (next != null) fragments = next;
        }
        return fragments;
    }

    private static int indexOf(String text, String piece, int from, int end) {
        int i = text.indexOf(piece, from);
        return i >= 0 && i + piece.length() <= end ? i : -1;
    }

    /** C's isspace, which llama.cpp uses for lstrip/rstrip. */
    private static boolean isSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }

    @Override
    public String toString() {
        return "SpecialTokenSplitter" + Arrays.toString(Arrays.copyOf(candidates, Math.min(8, candidates.length)));
    }
}
