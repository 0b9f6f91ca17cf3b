package dev.kvasir.actors;

import dev.kvasir.model.exec.BlockCopy;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * The paged KV cache's bookkeeping for one shard group: which blocks of the executor's pool each
 * sequence uses (its block table), reference counts, copy-on-write and the automatic prefix cache.
 * A plain class owned by the router actor — one call per sequence per step, never a message per block.
 *
 * <p>Every block is in exactly one state: in use (refcount > 0, in one or more tables), free
 * (refcount 0, no content worth keeping) or cached-free (refcount 0, a full block whose content is
 * keyed by its prefix hash and may be reused until evicted, least recently released first).
 *
 * <p>Prefix hashes chain: a full block's hash covers (parent block's hash, its token ids), so equal
 * hashes mean equal prefixes up to and including that block. A lookup also compares the stored
 * token ids and parent hash, so only a 64-bit collision on both could alias two prefixes.
 */
public final class KvBlockManager {
    /** The chain's start: the "parent hash" of a sequence's first block. */
    static final long ROOT_HASH = 0x6A09E667F3BCC909L;

    private final int blockSize;
    private final int numBlocks;
    private final int[] refCount;
    private final boolean[] hashed;
    private final long[] hash;
    private final long[] parentHash;
    private final int[][] blockTokens;
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    /** Cached-free blocks in release order: the first is evicted first. */
    private final LinkedHashSet<Integer> evictable = new LinkedHashSet<>();
    private final Map<Long, Integer> cachedByHash = new HashMap<>();
    private final Map<Long, Table> tables = new HashMap<>();
    private long cowCopies;

    /** A sequence's blocks, and the prefix hashes of those of its full blocks that are computed. */
    private static final class Table {
        int[] blocks = new int[4];
        int size;
        long[] hashes = new long[4];
        int hashedBlocks;

        void add(int block) {
            if (size == blocks.length) blocks = Arrays.copyOf(blocks, size * 2);
            blocks[size++] = block;
        }

        void addHash(long h) {
            if (hashedBlocks == hashes.length) hashes = Arrays.copyOf(hashes, hashedBlocks * 2);
            hashes[hashedBlocks++] = h;
        }

        Table copy() {
            Table t = new Table();
            t.blocks = Arrays.copyOf(blocks, Math.max(4, size));
            t.size = size;
            t.hashes = Arrays.copyOf(hashes, Math.max(4, hashedBlocks));
            t.hashedBlocks = hashedBlocks;
            return t;
        }
    }

    /** The longest cached prefix found for some tokens: its blocks and their hashes. */
    public record PrefixMatch(int[] blocks, long[] hashes) {
        static final PrefixMatch NONE = new PrefixMatch(new int[0], new long[0]);

        public int tokens(int blockSize) {
            return blocks.length * blockSize;
        }
    }

    public KvBlockManager(int blockSize, int numBlocks) {
        if (blockSize <= 0 || numBlocks <= 0) throw new IllegalArgumentException("block size and count must be positive");
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.refCount = new int[numBlocks];
        this.hashed = new boolean[numBlocks];
        this.hash = new long[numBlocks];
        this.parentHash = new long[numBlocks];
        this.blockTokens = new int[numBlocks][];
        for (int b = 0; b < numBlocks; b++) free.add(b);
    }

    public int blockSize() {
        return blockSize;
    }

    public int numBlocks() {
        return numBlocks;
    }

    /** Blocks that an allocation may take: free plus evictable cached ones. */
    public int available() {
        return free.size() + evictable.size();
    }

    public int freeCount() {
        return free.size();
    }

    public int cachedFreeCount() {
        return evictable.size();
    }

    public int usedCount() {
        return numBlocks - free.size() - evictable.size();
    }

    public long cowCopies() {
        return cowCopies;
    }

    public int blocksFor(int positions) {
        return (positions + blockSize - 1) / blockSize;
    }

    public boolean has(long seq) {
        return tables.containsKey(seq);
    }

    /** A copy of the sequence's block table (safe to hand to another thread). */
    public int[] table(long seq) {
        Table t = tables.get(seq);
        return t == null ? new int[0] : Arrays.copyOf(t.blocks, t.size);
    }

    /** The hash of a full block with these tokens after a block whose hash is {@code parent}. */
    public static long chainHash(long parent, int[] tokens, int from, int count) {
        long h = parent ^ 0x9E3779B97F4A7C15L;
        for (int i = from; i < from + count; i++) h = mix(h + tokens[i] * 0xC2B2AE3D27D4EB4FL);
        return mix(h + count);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * The longest run of cached full blocks equal to the start of {@code tokens[0 .. length)}, at
     * most {@code maxBlocks} blocks. Looks only; {@link #allocatePrefix} takes them.
     */
    public PrefixMatch matchPrefix(int[] tokens, int length, int maxBlocks) {
        int limit = Math.min(maxBlocks, length / blockSize);
        if (limit <= 0) return PrefixMatch.NONE;
        int[] blocks = new int[limit];
        long[] hashes = new long[limit];
        long parent = ROOT_HASH;
        int n = 0;
        while (n < limit) {
            long h = chainHash(parent, tokens, n * blockSize, blockSize);
            Integer b = cachedByHash.get(h);
            if (b == null || parentHash[b] != parent || !sameTokens(blockTokens[b], tokens, n * blockSize)) break;
            blocks[n] = b;
            hashes[n] = h;
            parent = h;
            n++;
        }
        return n == 0 ? PrefixMatch.NONE : new PrefixMatch(Arrays.copyOf(blocks, n), Arrays.copyOf(hashes, n));
    }

    private boolean sameTokens(int[] stored, int[] tokens, int from) {
        if (stored == null) return false;
        for (int i = 0; i < blockSize; i++) if (stored[i] != tokens[from + i]) return false;
        return true;
    }

    /** Blocks of a match that are cached-free now (taking them lowers {@link #available()}). */
    public int evictableIn(PrefixMatch match) {
        int n = 0;
        for (int b : match.blocks()) if (refCount[b] == 0) n++;
        return n;
    }

    /** Starts a sequence's table with the blocks of a prefix match (possibly empty). */
    public void allocatePrefix(long seq, PrefixMatch match) {
        if (tables.containsKey(seq)) throw new IllegalStateException("sequence " + seq + " already has blocks");
        Table t = new Table();
        for (int i = 0; i < match.blocks().length; i++) {
            int b = match.blocks()[i];
            acquire(b);
            t.add(b);
            t.addHash(match.hashes()[i]);
        }
        tables.put(seq, t);
    }

    /** Starts a sequence's table with {@code count} fresh blocks (swap-in target); false if they are not there. */
    public boolean allocateFresh(long seq, int count) {
        if (tables.containsKey(seq)) throw new IllegalStateException("sequence " + seq + " already has blocks");
        if (available() < count) return false;
        Table t = new Table();
        for (int i = 0; i < count; i++) t.add(take());
        tables.put(seq, t);
        return true;
    }

    /**
     * Makes the sequence ready to write positions {@code [from, to)}: grows its table to cover
     * {@code to} positions and gives it private copies of shared blocks it will write into
     * (copy-on-write; the copies are added to {@code copies}). All or nothing: false, and no
     * change, when the pool cannot supply the blocks.
     */
    public boolean prepareWrite(long seq, int from, int to, List<BlockCopy> copies) {
        Table t = tables.get(seq);
        if (t == null) throw new IllegalStateException("sequence " + seq + " has no blocks");
        int needed = blocksFor(to);
        int grow = Math.max(0, needed - t.size);
        int firstWritten = from / blockSize;
        int lastExisting = Math.min(t.size, needed);
        int cow = 0;
        for (int i = firstWritten; i < lastExisting; i++) if (refCount[t.blocks[i]] > 1) cow++;
        if (grow + cow > available()) return false;
        for (int i = firstWritten; i < lastExisting; i++) {
            int old = t.blocks[i];
            if (refCount[old] > 1) {
                int copy = take();
                copies.add(new BlockCopy(old, copy));
                refCount[old]--;
                t.blocks[i] = copy;
                cowCopies++;
            }
        }
        for (int i = 0; i < grow; i++) t.add(take());
        return true;
    }

    /**
     * Records that the sequence's first {@code computed} positions hold KV: each newly full block
     * gets its prefix hash and, unless an equal block is cached already, enters the prefix cache.
     */
    public void commitComputed(long seq, int[] tokens, int computed) {
        Table t = tables.get(seq);
        if (t == null) return;
        int full = Math.min(computed / blockSize, t.size);
        while (t.hashedBlocks < full) {
            int i = t.hashedBlocks;
            long parent = i == 0 ? ROOT_HASH : t.hashes[i - 1];
            long h = chainHash(parent, tokens, i * blockSize, blockSize);
            t.addHash(h);
            int b = t.blocks[i];
            if (!hashed[b] && !cachedByHash.containsKey(h)) {
                hashed[b] = true;
                hash[b] = h;
                parentHash[b] = parent;
                blockTokens[b] = Arrays.copyOfRange(tokens, i * blockSize, (i + 1) * blockSize);
                cachedByHash.put(h, b);
            }
        }
    }

    /** Gives {@code child} the same blocks as {@code parent} (each one more reference); writes will copy. */
    public void fork(long parent, long child) {
        Table t = tables.get(parent);
        if (t == null) throw new IllegalStateException("sequence " + parent + " has no blocks");
        if (tables.containsKey(child)) throw new IllegalStateException("sequence " + child + " already has blocks");
        for (int i = 0; i < t.size; i++) refCount[t.blocks[i]]++;
        tables.put(child, t.copy());
    }

    /**
     * Releases all of a sequence's blocks. Hashed blocks whose last reference goes stay cached;
     * released tail-first so that a sequence's last blocks are evicted before its first ones
     * (a shorter prefix is more likely shared).
     */
    public void free(long seq) {
        Table t = tables.remove(seq);
        if (t == null) return;
        for (int i = t.size - 1; i >= 0; i--) release(t.blocks[i]);
    }

    private void acquire(int b) {
        if (refCount[b] == 0) {
            if (!evictable.remove(b)) throw new IllegalStateException("block " + b + " has no references but is not cached");
        }
        refCount[b]++;
    }

    private void release(int b) {
        if (refCount[b] <= 0) throw new IllegalStateException("block " + b + " released more often than taken");
        if (--refCount[b] == 0) {
            if (hashed[b]) evictable.add(b);
            else free.add(b);
        }
    }

    /** Takes a block: a free one first, else the least recently released cached one (evicting it). */
    private int take() {
        int b;
        if (!free.isEmpty()) {
            b = free.poll();
        } else {
            var it = evictable.iterator();
            if (!it.hasNext()) throw new IllegalStateException("KV pool exhausted");
            b = it.next();
            it.remove();
            cachedByHash.remove(hash[b]);
            hashed[b] = false;
            blockTokens[b] = null;
        }
        refCount[b] = 1;
        return b;
    }

    /**
     * Allocated-but-unfilled slots: {@code filled} maps each live sequence to the positions it
     * holds; a block shared by several sequences counts once, as full as its fullest user.
     * Returns {allocated slots, filled slots}.
     */
    public long[] slotUsage(Map<Long, Integer> filled) {
        int[] fill = new int[numBlocks];
        for (var e : tables.entrySet()) {
            Table t = e.getValue();
            int len = filled.getOrDefault(e.getKey(), 0);
            for (int i = 0; i < t.size; i++) {
                int f = Math.max(0, Math.min(blockSize, len - i * blockSize));
                if (f > fill[t.blocks[i]]) fill[t.blocks[i]] = f;
            }
        }
        long filledSlots = 0;
        for (int f : fill) filledSlots += f;
        return new long[]{(long) usedCount() * blockSize, filledSlots};
    }

    /** Checks every invariant; an empty list means the books balance. */
    public BlockAudit audit() {
        List<String> problems = new ArrayList<>();
        int[] expected = new int[numBlocks];
        for (var e : tables.entrySet()) {
            Table t = e.getValue();
            if (t.hashedBlocks > t.size) problems.add("sequence " + e.getKey() + " has more hashes than blocks");
            for (int i = 0; i < t.size; i++) {
                int b = t.blocks[i];
                if (b < 0 || b >= numBlocks) problems.add("sequence " + e.getKey() + " holds block " + b + " outside the pool");
                else expected[b]++;
            }
        }
        boolean[] inFree = new boolean[numBlocks];
        for (int b : free) {
            if (inFree[b]) problems.add("block " + b + " is twice on the free list");
            inFree[b] = true;
            if (hashed[b]) problems.add("free block " + b + " still has a prefix hash");
        }
        for (int b : evictable) {
            if (inFree[b]) problems.add("block " + b + " is both free and cached");
            if (!hashed[b]) problems.add("cached block " + b + " has no prefix hash");
        }
        for (int b = 0; b < numBlocks; b++) {
            if (refCount[b] < 0) problems.add("block " + b + " has negative refcount " + refCount[b]);
            if (refCount[b] != expected[b]) problems.add("block " + b + " refcount " + refCount[b] + " but " + expected[b] + " table entries");
            boolean idle = inFree[b] || evictable.contains(b);
            if (refCount[b] == 0 && !idle) problems.add("block " + b + " is unreferenced but neither free nor cached (leaked)");
            if (refCount[b] > 0 && idle) problems.add("block " + b + " is referenced but listed as free or cached");
            if (hashed[b] && !Integer.valueOf(b).equals(cachedByHash.get(hash[b]))) problems.add("block " + b + " hash is not indexed");
        }
        for (var e : cachedByHash.entrySet()) {
            int b = e.getValue();
            if (!hashed[b] || hash[b] != e.getKey()) problems.add("hash index points to block " + b + " with another hash");
        }
        return new BlockAudit(problems, numBlocks, usedCount(), free.size(), evictable.size());
    }
}
