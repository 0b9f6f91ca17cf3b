package dev.kvasir.model.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into words before BPE: a chain of regex splits, each applied to every piece the
 * previous one left (llama.cpp's {@code unicode_regex_split}, Hugging Face's {@code Sequence} of
 * {@code Split}s). A regex only sees its own piece: lookarounds and {@code $} stop at the piece's
 * bounds, as they do when llama.cpp runs each regex over each fragment.
 *
 * <p>Patterns compile with {@link Pattern#UNICODE_CHARACTER_CLASS}: without it Java's {@code \s}
 * is ASCII-only, whereas Oniguruma (Hugging Face) and llama.cpp treat every Unicode white space as
 * {@code \s}. {@code \p{L}}, {@code \p{N}} and friends are Unicode either way.
 */
public final class PreTokenizer {

    /** What happens to the regex matches (Hugging Face's SplitDelimiterBehavior). */
    public enum Behavior { ISOLATED, REMOVED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS }

    /** One split step. With invert the gaps between matches play the part of the matches. */
    public record Split(Pattern pattern, Behavior behavior, boolean invert) {
    }

    private final List<Split> steps;
    private final boolean addPrefixSpace;

    public PreTokenizer(List<Split> steps, boolean addPrefixSpace) {
        this.steps = List.copyOf(steps);
        this.addPrefixSpace = addPrefixSpace;
    }

    /** Isolated splits by each regex in turn (how llama.cpp's presets are written). */
    public static PreTokenizer ofRegexes(List<String> regexes) {
        List<Split> steps = new ArrayList<>();
        for (String r : regexes) steps.add(new Split(compile(r), Behavior.ISOLATED, false));
        return new PreTokenizer(steps, false);
    }

    static Pattern compile(String regex) {
        return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
    }

    public List<Split> steps() {
        return steps;
    }

    /** The words of text, in order; never empty strings. */
    public List<String> split(String text) {
        if (addPrefixSpace && !text.isEmpty() && text.charAt(0) != ' ') text = " " + text;
        IntArrayBuilder pieces = new IntArrayBuilder();
        if (!text.isEmpty()) pieces.add(0, text.length());
        IntArrayBuilder next = new IntArrayBuilder();
        IntArrayBuilder segments = new IntArrayBuilder();
        for (Split step : steps) {
            next.clear();
            Matcher m = step.pattern().matcher(text);
            for (int p = 0; p < pieces.size(); p += 2) {
                splitPiece(m, step, pieces.get(p), pieces.get(p + 1), segments, next);
            }
            IntArrayBuilder t = pieces;
            pieces = next;
            next = t;
        }
        List<String> words = new ArrayList<>(pieces.size() / 2);
        for (int p = 0; p < pieces.size(); p += 2) words.add(text.substring(pieces.get(p), pieces.get(p + 1)));
        return words;
    }

    /** Segments of [start,end) as (start, end, isMatch) triples, then combined per the behavior. */
    private static void splitPiece(Matcher m, Split step, int start, int end, IntArrayBuilder seg, IntArrayBuilder out) {
        seg.clear();
        m.region(start, end);
        int pos = start;
        while (m.find()) {
            if (m.start() > pos) seg.add(pos, m.start()).add(0);
            seg.add(m.start(), m.end()).add(1);
            pos = m.end();
        }
        if (pos < end) seg.add(pos, end).add(0);
        int invert = step.invert() ? 1 : 0;
        int n = seg.size() / 3;
        switch (step.behavior()) {
            case ISOLATED -> {
                for (int i = 0; i < n; i++) emit(out, seg.get(3 * i), seg.get(3 * i + 1));
            }
            case REMOVED -> {
                for (int i = 0; i < n; i++) {
                    if ((seg.get(3 * i + 2) ^ invert) == 0) emit(out, seg.get(3 * i), seg.get(3 * i + 1));
                }
            }
            case MERGED_WITH_PREVIOUS -> {
                int cs = -1, ce = -1;
                boolean prevMatch = false;
                for (int i = 0; i < n; i++) {
                    boolean match = (seg.get(3 * i + 2) ^ invert) == 1;
                    if (match && !prevMatch && cs >= 0) {
                        ce = seg.get(3 * i + 1);
                    } else {
                        if (cs >= 0) emit(out, cs, ce);
                        cs = seg.get(3 * i);
                        ce = seg.get(3 * i + 1);
                    }
                    prevMatch = match;
                }
                if (cs >= 0) emit(out, cs, ce);
            }
            case MERGED_WITH_NEXT -> {
                IntArrayBuilder rev = new IntArrayBuilder();
                int cs = -1, ce = -1;
                boolean prevMatch = false;
                for (int i = n - 1; i >= 0; i--) {
                    boolean match = (seg.get(3 * i + 2) ^ invert) == 1;
                    if (match && !prevMatch && cs >= 0) {
                        cs = seg.get(3 * i);
                    } else {
                        if (cs >= 0) rev.add(cs, ce);
                        cs = seg.get(3 * i);
                        ce = seg.get(3 * i + 1);
                    }
                    prevMatch = match;
                }
                if (cs >= 0) rev.add(cs, ce);
                for (int i = rev.size() - 2; i >= 0; i -= 2) emit(out, rev.get(i), rev.get(i + 1));
            }
            case CONTIGUOUS -> {
                int cs = -1, ce = -1;
                boolean prevMatch = false;
                for (int i = 0; i < n; i++) {
                    boolean match = (seg.get(3 * i + 2) ^ invert) == 1;
                    if (match == prevMatch && cs >= 0) {
                        ce = seg.get(3 * i + 1);
                    } else {
                        if (cs >= 0) emit(out, cs, ce);
                        cs = seg.get(3 * i);
                        ce = seg.get(3 * i + 1);
                    }
                    prevMatch = match;
                }
                if (cs >= 0) emit(out, cs, ce);
            }
        }
    }

    private static void emit(IntArrayBuilder out, int start, int end) {
        if (end > start) out.add(start, end);
    }
}
