/**
 * The serving engine as Pekko typed actors: request router (iteration-level scheduler), sequences,
 * KV-block managers (paged cache, prefix cache, preemption), speculative-decoding coordinator, and
 * the executor actor that hands steps to compute threads. Builds on {@code dev.kvasir.model}.
 */
package dev.kvasir.actors;
