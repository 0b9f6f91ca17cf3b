package dev.kvasir.model.tokenizer;

import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Byte-level BPE (GGUF {@code tokenizer.ggml.model = gpt2}, Hugging Face {@code tokenizer.json}
 * with a ByteLevel pre-tokenizer): text is optionally normalized, split into words by the
 * pre-tokenizer, each word's UTF-8 bytes are written in GPT-2's byte alphabet, and adjacent symbols
 * merge lowest rank first (leftmost on ties) until no ranked pair is left. With ignore_merges a word
 * that is itself a token is emitted whole (Llama 3).
 */
public final class BpeTokenizer extends VocabTokenizer {
    private final PreTokenizer preTokenizer;
    private final MergeTable merges;
    private final boolean ignoreMerges;
    private final UnaryOperator<String> normalizer;
    private final String preName;

    BpeTokenizer(Vocabulary vocab, SpecialTokens special, MergeTable merges, PreTokenizer preTokenizer,
                 boolean ignoreMerges, UnaryOperator<String> normalizer, String preName) {
        super(vocab, special);
        this.merges = merges;
        this.preTokenizer = preTokenizer;
        this.ignoreMerges = ignoreMerges;
        this.normalizer = normalizer;
        this.preName = preName;
    }

    /** The pre-tokenizer's name (GGUF {@code tokenizer.ggml.pre}, or "tokenizer.json"). */
    public String preName() {
        return preName;
    }

    @Override
    protected void encodeFragments(String text, List<SpecialTokenSplitter.Fragment> fragments, IntArrayBuilder out) {
        Session session = new Session();
        for (SpecialTokenSplitter.Fragment f : fragments) {
            switch (f) {
                case SpecialTokenSplitter.Token(int id) -> out.add(id);
                case SpecialTokenSplitter.Text(int start, int end) -> {
                    String piece = text.substring(start, end);
                    if (normalizer != null) piece = normalizer.apply(piece);
                    for (String word : preTokenizer.split(piece)) session.encodeWord(ByteLevel.encode(word), out);
                }
            }
        }
    }

    /** Scratch arrays for one encode call, grown as words need. */
    private final class Session {
        private int[] sym = new int[64];
        private int[] prev = new int[64];
        private int[] next = new int[64];
        private final LongMinHeap queue = new LongMinHeap();

        void encodeWord(String word, IntArrayBuilder out) {
            if (ignoreMerges) {
                int id = vocab.id(word);
                if (id >= 0) {
                    out.add(id);
                    return;
                }
            }
            int n = word.length(); // byte-level: one char per byte
            if (sym.length < n) {
                sym = new int[n * 2];
                prev = new int[n * 2];
                next = new int[n * 2];
            }
            for (int i = 0; i < n; i++) {
                char c = word.charAt(i);
                int b = ByteLevel.byteOf(c);
                sym[i] = b >= 0 ? merges.byteSymbol(b) : -1;
                prev[i] = i - 1;
                next[i] = i + 1 < n ? i + 1 : -1;
            }
            queue.clear();
            for (int i = 0; i + 1 < n; i++) push(i, i + 1);
            while (!queue.isEmpty()) {
                long e = queue.poll();
                int rank = (int) (e >>> 32);
                int left = (int) e;
                int right = next[left];
                // A rank names exactly one pair, so an entry is current iff its pair is still there.
                if (sym[left] < 0 || right < 0 || merges.rank(sym[left], sym[right]) != rank) continue;
                sym[left] = merges.result(rank);
                sym[right] = -2;
                next[left] = next[right];
                if (next[right] >= 0) prev[next[right]] = left;
                if (prev[left] >= 0) push(prev[left], left);
                if (next[left] >= 0) push(left, next[left]);
            }
            for (int i = 0; i != -1; i = next[i]) emit(sym[i], word, i, next[i] < 0 ? n : next[i], out);
        }

        private void push(int left, int right) {
            int rank = merges.rank(sym[left], sym[right]);
            if (rank >= 0) queue.add(((long) rank << 32) | left);
        }

        /** A finished symbol: its token, or failing that the tokens of its single characters (llama.cpp). */
        private void emit(int symbol, String word, int from, int to, IntArrayBuilder out) {
            if (merges.isToken(symbol)) {
                out.add(symbol);
                return;
            }
            String text = symbol >= 0 ? merges.text(symbol) : word.substring(from, to);
            for (int i = 0; i < text.length(); i++) {
                int id = vocab.id(String.valueOf(text.charAt(i)));
                if (id < 0) id = special.unk();
                if (id >= 0) out.add(id);
            }
        }
    }

    @Override
    protected byte[] normalPieceBytes(int id) {
        return ByteLevel.decode(vocab.text(id));
    }
}
