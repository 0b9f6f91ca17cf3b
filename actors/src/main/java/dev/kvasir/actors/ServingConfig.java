package dev.kvasir.actors;

import com.typesafe.config.Config;

/**
 * Settings of one model replica's serving core; HOCON {@code kvasir.serving.*} (see reference.conf).
 *
 * @param blockSize          KV positions per block
 * @param kvBlocks           KV blocks in the pool; 0 = derive from {@code kvMemoryBytes}
 * @param kvMemoryBytes      KV memory budget used when {@code kvBlocks} is 0
 * @param maxBatchedTokens   token budget of one step (decodes + prefill chunks)
 * @param maxWaiting         requests that may wait for admission; more are rejected as overloaded
 * @param maxRunning         sequences (samples) in the running batch at once
 * @param prefixCaching      keep finished sequences' full blocks and reuse them for equal prefixes
 * @param preemption         how sequences give up their blocks when the pool runs out
 * @param swapBlocks         host-memory blocks available to swap preemption (beyond: recompute)
 * @param computeThreads     CPU compute threads; 0 = one per core
 * @param queueAhead         send a decode step's successor before its tokens are back, where it can be planned without them
 */
public record ServingConfig(int blockSize, int kvBlocks, long kvMemoryBytes, int maxBatchedTokens, int maxWaiting,
                            int maxRunning, boolean prefixCaching, Preemption preemption, int swapBlocks,
                            int computeThreads, boolean queueAhead) {

    public enum Preemption { RECOMPUTE, SWAP }

    public ServingConfig {
        if (blockSize <= 0) throw new IllegalArgumentException("block size must be positive, got " + blockSize);
        if (kvBlocks < 0) throw new IllegalArgumentException("kv blocks must be >= 0, got " + kvBlocks);
        if (kvBlocks == 0 && kvMemoryBytes <= 0) throw new IllegalArgumentException("give kv blocks or a positive KV memory budget");
        if (maxBatchedTokens <= 0) throw new IllegalArgumentException("max batched tokens must be positive, got " + maxBatchedTokens);
        if (maxWaiting < 0) throw new IllegalArgumentException("max waiting must be >= 0, got " + maxWaiting);
        if (maxRunning <= 0) throw new IllegalArgumentException("max running must be positive, got " + maxRunning);
        if (swapBlocks < 0) throw new IllegalArgumentException("swap blocks must be >= 0, got " + swapBlocks);
        if (computeThreads < 0) throw new IllegalArgumentException("compute threads must be >= 0, got " + computeThreads);
        if (preemption == null) preemption = Preemption.RECOMPUTE;
    }

    /** Defaults: 16-token blocks, 256 MiB of KV, 2048 tokens per step, 256 waiting, 64 running, prefix caching and queueing ahead on. */
    public static ServingConfig defaults() {
        return new ServingConfig(16, 0, 256L << 20, 2048, 256, 64, true, Preemption.RECOMPUTE, 0, 0, true);
    }

    /** Reads {@code kvasir.serving} of a loaded configuration. */
    public static ServingConfig fromConfig(Config root) {
        Config c = root.getConfig("kvasir.serving");
        return new ServingConfig(c.getInt("block-size"), c.getInt("kv-blocks"), c.getBytes("kv-memory"),
                c.getInt("max-batched-tokens"), c.getInt("max-waiting"), c.getInt("max-running"),
                c.getBoolean("prefix-caching"), Preemption.valueOf(c.getString("preemption").toUpperCase(java.util.Locale.ROOT)),
                c.getInt("swap-blocks"), c.getInt("compute-threads"), c.getBoolean("queue-ahead"));
    }

    public ServingConfig withKvBlocks(int blocks) {
        return new ServingConfig(blockSize, blocks, kvMemoryBytes, maxBatchedTokens, maxWaiting, maxRunning, prefixCaching, preemption, swapBlocks, computeThreads, queueAhead);
    }

    public ServingConfig withBlockSize(int size) {
        return new ServingConfig(size, kvBlocks, kvMemoryBytes, maxBatchedTokens, maxWaiting, maxRunning, prefixCaching, preemption, swapBlocks, computeThreads, queueAhead);
    }

    public ServingConfig withMaxBatchedTokens(int tokens) {
        return new ServingConfig(blockSize, kvBlocks, kvMemoryBytes, tokens, maxWaiting, maxRunning, prefixCaching, preemption, swapBlocks, computeThreads, queueAhead);
    }

    public ServingConfig withQueues(int waiting, int running) {
        return new ServingConfig(blockSize, kvBlocks, kvMemoryBytes, maxBatchedTokens, waiting, running, prefixCaching, preemption, swapBlocks, computeThreads, queueAhead);
    }

    public ServingConfig withPrefixCaching(boolean on) {
        return new ServingConfig(blockSize, kvBlocks, kvMemoryBytes, maxBatchedTokens, maxWaiting, maxRunning, on, preemption, swapBlocks, computeThreads, queueAhead);
    }

    public ServingConfig withSwap(int hostBlocks) {
        return new ServingConfig(blockSize, kvBlocks, kvMemoryBytes, maxBatchedTokens, maxWaiting, maxRunning, prefixCaching,
                hostBlocks > 0 ? Preemption.SWAP : Preemption.RECOMPUTE, hostBlocks, computeThreads, queueAhead);
    }

    public ServingConfig withComputeThreads(int threads) {
        return new ServingConfig(blockSize, kvBlocks, kvMemoryBytes, maxBatchedTokens, maxWaiting, maxRunning, prefixCaching, preemption, swapBlocks, threads, queueAhead);
    }

    public ServingConfig withQueueAhead(boolean on) {
        return new ServingConfig(blockSize, kvBlocks, kvMemoryBytes, maxBatchedTokens, maxWaiting, maxRunning, prefixCaching, preemption, swapBlocks, computeThreads, on);
    }
}
