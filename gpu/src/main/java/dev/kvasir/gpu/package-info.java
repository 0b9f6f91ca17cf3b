/**
 * The CUDA backend through JCuda's driver API: device discovery, one dispatcher thread per device
 * that owns its context and makes every CUDA call, device memory accounting and pinned host buffers,
 * kernels compiled by nvcc at build time into a fatbin resource, and {@link dev.kvasir.gpu.GpuStepExecutor},
 * the GPU implementation of the executor interface. The CPU engine in {@code dev.kvasir.model.cpu}
 * is the reference it is checked against (GPU tests, tagged {@code gpu}, run from the bundle).
 */
package dev.kvasir.gpu;
