package dev.kvasir.model.generate;

import java.util.List;

/**
 * Watches generated text for stop strings. Text that could still turn into a stop string is held
 * back, so a streamed client never sees part of one; once matched, the text is cut before it.
 * Not thread-safe: one per sequence.
 */
public final class StopStrings {
    private final List<String> stops;
    private final StringBuilder text = new StringBuilder();
    private int emitted;
    private boolean matched;

    public StopStrings(List<String> stops) {
        this.stops = stops;
    }

    /** Adds generated text; returns the part that is now safe to show. */
    public String append(String piece) {
        if (matched) return "";
        int searchFrom = Math.max(0, text.length() - maxStopLength() + 1);
        text.append(piece);
        int cut = -1;
        for (String s : stops) {
            int at = text.indexOf(s, searchFrom);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0) {
            matched = true;
            text.setLength(cut);
            return release(text.length());
        }
        return release(text.length() - heldBack());
    }

    /** The rest of the text once generation ends without a match. */
    public String finish() {
        return release(text.length());
    }

    public boolean matched() {
        return matched;
    }

    public String text() {
        return text.toString();
    }

    private String release(int upTo) {
        if (upTo <= emitted) return "";
        String out = text.substring(emitted, upTo);
        emitted = upTo;
        return out;
    }

    /** Length of the longest suffix of the text that is a proper prefix of some stop string. */
    private int heldBack() {
        int best = 0;
        for (String s : stops) {
            for (int len = Math.min(s.length() - 1, text.length()); len > best; len--) {
                if (endsWithPrefix(s, len)) {
                    best = len;
                    break;
                }
            }
        }
        return best;
    }

    private boolean endsWithPrefix(String stop, int len) {
        int from = text.length() - len;
        for (int i = 0; i < len; i++) {
            if (text.charAt(from + i) != stop.charAt(i)) return false;
        }
        return true;
    }

    private int maxStopLength() {
        int m = 0;
        for (String s : stops) m = Math.max(m, s.length());
        return m;
    }
}
