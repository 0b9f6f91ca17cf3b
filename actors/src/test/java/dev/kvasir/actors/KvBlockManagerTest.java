package dev.kvasir.actors;

import dev.kvasir.model.exec.BlockCopy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class KvBlockManagerTest {
    private KvBlockManager m = new KvBlockManager(4, 8);

    @AfterEach
    void booksBalance() {
        assertEquals(List.of(), m.audit().violations());
    }

    private static int[] seq(int from, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = from + i;
        return t;
    }

    @Test
    void hashesChainOverParentAndTokens() {
        int[] a = {1, 2, 3, 4, 5, 6, 7, 8};
        int[] b = {9, 2, 3, 4, 5, 6, 7, 8};
        long a0 = KvBlockManager.chainHash(KvBlockManager.ROOT_HASH, a, 0, 4);
        long a1 = KvBlockManager.chainHash(a0, a, 4, 4);
        long b0 = KvBlockManager.chainHash(KvBlockManager.ROOT_HASH, b, 0, 4);
        long b1 = KvBlockManager.chainHash(b0, b, 4, 4);
        assertNotEquals(a0, b0);
        // same tokens in the second block, different prefix: different hash
        assertNotEquals(a1, b1);
        assertEquals(a1, KvBlockManager.chainHash(a0, b, 4, 4));
    }

    @Test
    void finishedSequenceLeavesFullBlocksCachedAndTheLongestPrefixIsReused() {
        int[] tokens = seq(10, 10); // 2 full blocks + 2 tokens
        m.allocatePrefix(1, KvBlockManager.PrefixMatch.NONE);
        assertTrue(m.prepareWrite(1, 0, 10, new ArrayList<>()));
        m.commitComputed(1, tokens, 10);
        int[] table = m.table(1);
        m.free(1);
        assertEquals(2, m.cachedFreeCount(), "the two full blocks stay cached");
        assertEquals(8, m.available());

        int[] other = seq(10, 12);
        other[9] = 99; // differs inside block 2: only blocks 0 and 1 match
        var match = m.matchPrefix(other, other.length, 10);
        assertArrayEquals(new int[]{table[0], table[1]}, match.blocks());
        assertEquals(2, m.evictableIn(match));
        m.allocatePrefix(2, match);
        assertEquals(0, m.cachedFreeCount());
        assertEquals(2, m.usedCount());
        // a prefix differing in the first block matches nothing
        int[] third = seq(11, 8);
        assertEquals(0, m.matchPrefix(third, 8, 2).blocks().length);
        m.free(2);
        assertTrue(m.audit().whole());
    }

    @Test
    void matchIsCappedSoThatSomethingIsLeftToCompute() {
        int[] tokens = seq(0, 8);
        m.allocatePrefix(1, KvBlockManager.PrefixMatch.NONE);
        assertTrue(m.prepareWrite(1, 0, 8, new ArrayList<>()));
        m.commitComputed(1, tokens, 8);
        m.free(1);
        assertEquals(1, m.matchPrefix(tokens, 8, (8 - 1) / 4).blocks().length);
    }

    @Test
    void evictsLeastRecentlyReleasedCachedBlockFirstAndFreeBlocksBeforeCachedOnes() {
        KvBlockManager small = new KvBlockManager(2, 4);
        int[] a = {1, 2};
        int[] b = {3, 4};
        small.allocatePrefix(1, KvBlockManager.PrefixMatch.NONE);
        small.prepareWrite(1, 0, 2, new ArrayList<>());
        small.commitComputed(1, a, 2);
        small.allocatePrefix(2, KvBlockManager.PrefixMatch.NONE);
        small.prepareWrite(2, 0, 2, new ArrayList<>());
        small.commitComputed(2, b, 2);
        small.free(1); // a released first: evicted first
        small.free(2);
        assertEquals(2, small.cachedFreeCount());
        // two fresh blocks come from the free list: both prefixes survive
        small.allocatePrefix(3, KvBlockManager.PrefixMatch.NONE);
        assertTrue(small.prepareWrite(3, 0, 4, new ArrayList<>()));
        assertEquals(1, small.matchPrefix(a, 2, 1).blocks().length);
        assertEquals(1, small.matchPrefix(b, 2, 1).blocks().length);
        // one more block must evict: the least recently released, a
        assertTrue(small.prepareWrite(3, 4, 6, new ArrayList<>()));
        assertEquals(0, small.matchPrefix(a, 2, 1).blocks().length);
        assertEquals(1, small.matchPrefix(b, 2, 1).blocks().length);
        assertFalse(small.prepareWrite(3, 6, 10, new ArrayList<>()), "two more blocks than the pool has: refused");
        assertEquals(List.of(), small.audit().violations());
        small.free(3);
        assertTrue(small.audit().whole());
    }

    @Test
    void forkSharesBlocksAndCopiesOnWrite() {
        int[] tokens = seq(0, 6);
        m.allocatePrefix(1, KvBlockManager.PrefixMatch.NONE);
        assertTrue(m.prepareWrite(1, 0, 5, new ArrayList<>()));
        m.commitComputed(1, tokens, 5);
        m.fork(1, 2);
        m.fork(1, 3);
        assertEquals(2, m.usedCount(), "three sequences, two shared blocks");
        assertArrayEquals(m.table(1), m.table(2));

        List<BlockCopy> copies = new ArrayList<>();
        assertTrue(m.prepareWrite(2, 5, 6, copies)); // writes into the shared partial block
        assertEquals(1, copies.size());
        assertEquals(m.table(1)[1], copies.getFirst().source());
        assertEquals(m.table(2)[1], copies.getFirst().target());
        assertEquals(m.table(1)[0], m.table(2)[0], "the full block stays shared");
        copies.clear();
        assertTrue(m.prepareWrite(3, 5, 6, copies));
        assertEquals(1, copies.size());
        copies.clear();
        assertTrue(m.prepareWrite(1, 5, 6, copies));
        assertEquals(0, copies.size(), "the last holder writes in place");
        assertEquals(2, m.cowCopies());
        assertEquals(List.of(), m.audit().violations());
        m.free(1);
        m.free(2);
        assertEquals(List.of(), m.audit().violations());
        m.free(3);
        assertTrue(m.audit().whole());
    }

    @Test
    void allocationIsAllOrNothing() {
        m.allocatePrefix(1, KvBlockManager.PrefixMatch.NONE);
        assertTrue(m.prepareWrite(1, 0, 24, new ArrayList<>()));
        m.allocatePrefix(2, KvBlockManager.PrefixMatch.NONE);
        assertFalse(m.prepareWrite(2, 0, 12, new ArrayList<>()));
        assertEquals(0, m.table(2).length);
        assertEquals(2, m.available());
        m.free(1);
        m.free(2);
        assertTrue(m.audit().whole());
    }

    @Test
    void auditFindsADoubleFreeAndCountsWaste() {
        m.allocatePrefix(1, KvBlockManager.PrefixMatch.NONE);
        assertTrue(m.prepareWrite(1, 0, 5, new ArrayList<>()));
        long[] usage = m.slotUsage(Map.of(1L, 5));
        assertArrayEquals(new long[]{8, 5}, usage);
        m.free(1);
        m.free(1); // unknown sequence now: a no-op, not a second release
        assertTrue(m.audit().whole());
        assertThrows(IllegalStateException.class, () -> m.fork(1, 2));
    }
}
