package dev.kvasir.model.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.PriorityQueue;

/**
 * SentencePiece BPE (GGUF {@code tokenizer.ggml.model = llama}), with llama.cpp's semantics: spaces
 * become {@code ▁}, a dummy-prefix space goes in front of the first text fragment and of every
 * fragment that follows a special token, code points merge pairwise by highest piece score
 * (leftmost on ties), and what never became a piece falls back to {@code <0xNN>} byte tokens.
 * Whitespace is never collapsed, even where the model's normalizer says remove_extra_whitespaces
 * (llama.cpp and llama2.c ignore it too).
 */
public final class SpmTokenizer extends VocabTokenizer {
    private static final char SPACE_MARK = '\u2581';
    private final boolean addSpacePrefix;
    private final int[] byteTokens = new int[256];

    SpmTokenizer(Vocabulary vocab, SpecialTokens special, boolean addSpacePrefix) {
        super(vocab, special);
        this.addSpacePrefix = addSpacePrefix;
        for (int b = 0; b < 256; b++) {
            int id = vocab.id(String.format("<0x%02X>", b));
            if (id < 0 && b < 0x80) id = vocab.id(String.valueOf((char) b));
            byteTokens[b] = id >= 0 ? id : special.unk();
        }
    }

    public boolean addSpacePrefix() {
        return addSpacePrefix;
    }

    @Override
    protected void encodeFragments(String text, List<SpecialTokenSplitter.Fragment> fragments, IntArrayBuilder out) {
        boolean prevSpecial = true;
        for (SpecialTokenSplitter.Fragment f : fragments) {
            switch (f) {
                case SpecialTokenSplitter.Token(int id) -> {
                    out.add(id);
                    prevSpecial = true;
                }
                case SpecialTokenSplitter.Text(int start, int end) -> {
                    String piece = text.substring(start, end);
                    if (addSpacePrefix && prevSpecial) piece = " " + piece;
                    encodeText(piece.replace(' ', SPACE_MARK), out);
                    prevSpecial = false;
                }
            }
        }
    }

    /** One merge candidate: adjacent symbols left/right whose joined text is a piece with this score. */
    private record Bigram(int left, int right, float score, int size) {
    }

    private void encodeText(String text, IntArrayBuilder out) {
        int n = text.codePointCount(0, text.length());
        if (n == 0) return;
        int[] start = new int[n];
        int[] len = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0, pos = 0; i < n; i++) {
            int l = Character.charCount(text.codePointAt(pos));
            start[i] = pos;
            len[i] = l;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            pos += l;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) -> a.score != b.score
                ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        for (int i = 1; i < n; i++) tryAddBigram(text, start, len, i - 1, i, queue);
        while (!queue.isEmpty()) {
            Bigram bg = queue.poll();
            int l = bg.left, r = bg.right;
            // stale: one side was merged away or grew since this candidate was queued
            if (len[l] == 0 || len[r] == 0 || len[l] + len[r] != bg.size) continue;
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            if (prev[l] >= 0) tryAddBigram(text, start, len, prev[l], l, queue);
            if (next[l] >= 0) tryAddBigram(text, start, len, l, next[l], queue);
        }
        for (int i = 0; i != -1; i = next[i]) {
            String piece = text.substring(start[i], start[i] + len[i]);
            int id = vocab.id(piece);
            if (id >= 0) {
                out.add(id);
            } else {
                for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                    int t = byteTokens[b & 0xFF];
                    if (t >= 0) out.add(t);
                }
            }
        }
    }

    private void tryAddBigram(String text, int[] start, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        int size = len[left] + len[right];
        int id = vocab.id(text.substring(start[left], start[left] + size));
        if (id < 0) return;
        queue.add(new Bigram(left, right, vocab.score(id), size));
    }

    @Override
    protected byte[] normalPieceBytes(int id) {
        return vocab.text(id).replace(SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8);
    }
}
