package dev.kvasir.tests;

/** Lets tests in sub-packages run the CLI in-process through {@link Cli}. */
public final class CliAccess {
    private CliAccess() {
    }

    public record Result(int exitCode, String out, String err, com.fasterxml.jackson.databind.JsonNode jsonOrNull) {
        public com.fasterxml.jackson.databind.JsonNode json() {
            return jsonOrNull;
        }
    }

    public static Result run(String... args) {
        Cli c = Cli.run(args);
        return new Result(c.exitCode(), c.out(), c.err(), c.exitCode() == 0 && c.out().startsWith("{") ? c.json() : null);
    }
}
