package dev.kvasir.model.exec;

/** Copy-on-write: copy KV block {@code source} onto {@code target} before the step runs. */
public record BlockCopy(int source, int target) {
}
