package dev.kvasir.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * Where a step's int metadata lies on the device (all in one buffer, copied in one transfer):
 * token ids, positions, owning sequence and KV slot of each token, the rows to sample, and the
 * sequences' block tables, {@code tableStride} entries each, and — when the step's attention runs
 * tiled — {@code tileCount} prefill query tiles (first token, count).
 */
record StepLayout(int tokens, int rows, int tableStride, CUdeviceptr tokenIds, CUdeviceptr positions, CUdeviceptr sequenceOf,
                  CUdeviceptr slots, CUdeviceptr logitRows, CUdeviceptr tables, int tileCount, CUdeviceptr tiles) {
}
