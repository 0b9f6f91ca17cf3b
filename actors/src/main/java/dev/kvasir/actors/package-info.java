/**
 * The serving core of one model replica as Pekko typed actors and the plain classes they own: the
 * {@link dev.kvasir.actors.RequestRouter} (iteration-level scheduling, streaming), the
 * {@link dev.kvasir.actors.IterationScheduler} (token budget, chunked prefill, preemption), the
 * {@link dev.kvasir.actors.KvBlockManager} (paged blocks, prefix cache, copy-on-write), and the
 * protocol to the shards that run steps ({@link dev.kvasir.actors.ExecutorCommand}). Builds on
 * {@code dev.kvasir.model}; the shard entities themselves live in {@code dev.kvasir.sharding}.
 */
package dev.kvasir.actors;
