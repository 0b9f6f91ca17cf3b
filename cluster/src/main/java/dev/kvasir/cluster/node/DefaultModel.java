package dev.kvasir.cluster.node;

import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.synth.ModelShape;
import dev.kvasir.model.synth.SyntheticModelWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The model {@code ./kvasir serve} runs when given none: a synthetic tinystories-15m in q8_0 (real
 * shape, seeded random weights, ~16 MB), written on first use into a cache folder, so a fresh machine
 * serves something with nothing downloaded. Its text is noise; it exists to show the node working.
 */
public final class DefaultModel {
    private static final Logger log = LoggerFactory.getLogger(DefaultModel.class);
    public static final String SHAPE = "tinystories-15m";
    public static final String TYPE = "q8_0";
    public static final long SEED = 1;
    public static final String ID = "kvasir-default-" + SHAPE + "-" + TYPE;
    public static final String DESCRIPTION = "embedded default: synthetic " + SHAPE + " (" + TYPE
            + ", random weights, seed " + SEED + "); its text is noise, serve a real model with --model";

    private DefaultModel() {
    }

    /** {@code models/} of the checkout when run through ./kvasir, else ~/.cache/kvasir/models. */
    public static Path cacheDir() {
        String home = System.getProperty("kvasir.home");
        if (home != null && !home.isBlank()) return Path.of(home, "models");
        return Path.of(System.getProperty("user.home"), ".cache", "kvasir", "models");
    }

    /** The default model's file in {@code dir}, written first if absent. */
    public static Path ensure(Path dir) {
        Path file = dir.resolve(SHAPE + "-" + TYPE + ".gguf");
        if (Files.isRegularFile(file)) return file;
        try {
            Files.createDirectories(dir);
            // Written beside and moved into place, so a crash or a second node never sees half a file.
            Path tmp = Files.createTempFile(dir, SHAPE, ".gguf.part");
            try {
                log.info("first run: writing the embedded default model (synthetic {} {}) to {}", SHAPE, TYPE, file);
                SyntheticModelWriter.write(ModelShape.named(SHAPE), GgmlType.Q8_0, SEED, tmp);
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the default model to " + dir + ": " + e.getMessage(), e);
        }
        return file;
    }
}
