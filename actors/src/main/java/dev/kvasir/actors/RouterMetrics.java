package dev.kvasir.actors;

/**
 * A snapshot of one router's state and cumulative counters (counters only grow; the gateway turns
 * them into Prometheus counters and histograms).
 *
 * @param running               sequences in the running batch
 * @param waiting               sequences waiting for admission (new and preempted by recompute)
 * @param swapped               sequences preempted to host memory
 * @param kvBlocksUsed          blocks referenced by live sequences
 * @param kvBlocksFree          blocks holding nothing
 * @param kvBlocksCached        unreferenced blocks kept for the prefix cache (evictable, LRU)
 * @param prefixCacheQueries    prompt tokens looked up in the prefix cache
 * @param prefixCacheHits       of those, tokens found (their KV was not recomputed)
 * @param preemptions           sequences preempted (recompute + swap)
 * @param swapOuts              of those, preempted by swapping to host memory
 * @param stepsQueuedAhead      of the steps, those sent before the step they follow had answered (ServingConfig.queueAhead)
 * @param forks                 samples forked from a shared prompt (n > 1)
 * @param cowCopies             blocks copied because a shared block was about to be written
 * @param kvWaste               mean over steps of allocated-but-unfilled KV slots / allocated slots
 * @param timeToFirstToken      submit → first token, per request
 * @param interTokenLatency     between consecutive tokens of a sample
 */
public record RouterMetrics(int running, int waiting, int swapped,
                            int kvBlocksTotal, int kvBlocksUsed, int kvBlocksFree, int kvBlocksCached,
                            long requestsAccepted, long requestsRejected, long requestsFinished,
                            long promptTokens, long generatedTokens, long steps, long stepTokens, long stepsQueuedAhead,
                            long prefixCacheQueries, long prefixCacheHits,
                            long preemptions, long swapOuts, long forks, long cowCopies, double kvWaste,
                            HistogramSnapshot timeToFirstToken, HistogramSnapshot interTokenLatency) {
}
