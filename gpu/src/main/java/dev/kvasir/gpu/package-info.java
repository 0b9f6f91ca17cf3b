/**
 * The JCuda backend (issue: GPU backend): device discovery, one dispatcher thread per device that
 * owns its CUDA context and makes every CUDA call, memory pools, streams/events/CUDA graphs, kernels
 * compiled by nvcc into a fatbin resource, pinned host buffers. Nothing here yet: the CPU engine in
 * {@code dev.kvasir.model.cpu} is the reference the GPU executor will be checked against.
 */
package dev.kvasir.gpu;
