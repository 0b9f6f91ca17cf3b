package dev.kvasir.cluster.cli;

import dev.kvasir.model.ModelFormatException;

import java.io.UncheckedIOException;

/** Turns a failure into the one line a CLI user reads. */
final class CliErrors {
    private CliErrors() {
    }

    static String describe(Throwable ex) {
        if (ex instanceof UncheckedIOException u && u.getCause() != null) return u.getCause().getMessage();
        String msg = ex.getMessage();
        if (msg == null || msg.isBlank()) return ex.getClass().getSimpleName();
        return msg.replace('\n', ' ');
    }

    /** Whether the failure is ours rather than the input's (worth a stack trace in the debug log). */
    static boolean isBug(Throwable ex) {
        return !(ex instanceof ModelFormatException || ex instanceof IllegalArgumentException || ex instanceof UncheckedIOException);
    }
}
