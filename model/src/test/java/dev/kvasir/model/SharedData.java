package dev.kvasir.model;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The project's shared test data ({@code ../shared} beside the checkout). Tests that need it call
 * {@link #require(String)}, which skips the test with a clear message when the data is absent.
 */
public final class SharedData {
    private SharedData() {
    }

    public static Path root() {
        String configured = System.getProperty("kvasir.shared");
        return Path.of(configured != null ? configured : "../shared").toAbsolutePath().normalize();
    }

    /** The file or folder {@code relative} under the shared data, or a skipped test. */
    public static Path require(String relative) {
        Path p = root().resolve(relative);
        Assumptions.assumeTrue(Files.exists(p), () -> "shared test data not found: " + p + " (../shared beside the checkout)");
        return p;
    }
}
