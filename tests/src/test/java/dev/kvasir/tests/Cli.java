package dev.kvasir.tests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.cluster.cli.KvasirCli;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs the {@code ./kvasir} command line in-process (the launcher's main class, same parsing and error handling). */
record Cli(int exitCode, String out, String err) {

    static Cli run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = KvasirCli.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Cli(code, out.toString(), err.toString());
    }

    /** A failed command that says why in one line on stderr (mentioning each of {@code mustContain}) and prints nothing on stdout. */
    void assertOneLineError(String... mustContain) {
        assertNotEquals(0, exitCode, "exit code");
        assertEquals("", out, "nothing on stdout");
        String line = err.strip();
        assertEquals(1, line.lines().count(), "one line: " + line);
        for (String s : mustContain) assertTrue(line.contains(s), "'" + line + "' should mention '" + s + "'");
    }

    JsonNode json() {
        try {
            return new ObjectMapper().readTree(out);
        } catch (IOException e) {
            throw new UncheckedIOException("not JSON: " + out, e);
        }
    }

    static int[] ints(JsonNode array) {
        int[] r = new int[array.size()];
        for (int i = 0; i < r.length; i++) r[i] = array.get(i).asInt();
        return r;
    }
}
