package dev.kvasir.model.exec;

/** A KV block's contents swapped out to host memory (all layers, keys and values). */
public record HostKvBlock(float[] data) {
}
