package dev.kvasir.model.weights;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Logs loading progress in 10% steps, so a large model shows it is moving. */
final class LoadProgress {
    private static final Logger log = LoggerFactory.getLogger(LoadProgress.class);
    private final String what;
    private final int total;
    private int done;
    private int lastDecile = -1;
    private final long start = System.nanoTime();

    LoadProgress(String what, int total) {
        this.what = what;
        this.total = Math.max(1, total);
    }

    void step() {
        done++;
        int decile = done * 10 / total;
        if (decile != lastDecile) {
            lastDecile = decile;
            log.info("loading {}: {}% ({}/{} parts, {} ms)", what, decile * 10, done, total, (System.nanoTime() - start) / 1_000_000);
        }
    }
}
