/**
 * The executor interface between scheduling and compute. The serving core (actors) decides which
 * sequences run in a step, which KV blocks hold them and how each samples; an executor (CPU here,
 * GPU in {@code dev.kvasir.gpu}) runs the step and returns sampled tokens. Only ids, positions,
 * block numbers and parameters cross this line — never weights or KV tensors.
 */
package dev.kvasir.model.exec;
