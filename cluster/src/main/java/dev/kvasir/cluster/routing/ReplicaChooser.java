package dev.kvasir.cluster.routing;

import java.util.ArrayList;
import java.util.List;

/**
 * Picks the replica for a request. By load: the replica with the fewest sequences in its system
 * (running + waiting + sent since its last load report) wins, KV usage breaking ties. By prefix
 * affinity: a prompt with at least one full KV block hashes its first block to a preferred replica
 * (rendezvous hashing, so every gateway prefers the same one and a lost replica moves only its own
 * prefixes) — the replica most likely to have that prefix in its cache — which is taken unless it is
 * more than {@code affinitySlack} sequences busier than the least loaded one, or its KV pool is
 * nearly full.
 *
 * @param blockSize     KV block size of the replicas (the prefix cache works in whole blocks)
 * @param affinitySlack how much busier than the least loaded replica the preferred one may be
 * @param kvHighWater   KV usage (0..1) above which a replica is not preferred for affinity
 */
public record ReplicaChooser(int blockSize, double affinitySlack, double kvHighWater) {

    /** A replica as the chooser sees it; {@code name} must be the same on every gateway. */
    public record Candidate(String name, double load, double kvUsage) {
    }

    /**
     * @param tieBreak rotates the choice among equally loaded replicas (e.g. a request counter)
     * @return the index of the chosen candidate, or -1 when there is none
     */
    public int choose(List<Candidate> candidates, int[] prompt, long tieBreak) {
        if (candidates.isEmpty()) return -1;
        List<Integer> least = new ArrayList<>();
        for (int i = 0; i < candidates.size(); i++) {
            if (least.isEmpty()) {
                least.add(i);
                continue;
            }
            int c = compare(candidates.get(i), candidates.get(least.getFirst()));
            if (c < 0) {
                least.clear();
                least.add(i);
            } else if (c == 0) {
                least.add(i);
            }
        }
        int leastLoaded = least.get((int) Math.floorMod(tieBreak, (long) least.size()));
        if (prompt.length < blockSize) return leastLoaded;
        long prefix = prefixHash(prompt, blockSize);
        int preferred = 0;
        long best = Long.MIN_VALUE;
        for (int i = 0; i < candidates.size(); i++) {
            long score = rendezvous(prefix, candidates.get(i).name());
            if (score > best) {
                best = score;
                preferred = i;
            }
        }
        Candidate p = candidates.get(preferred);
        boolean roomy = p.load() <= candidates.get(leastLoaded).load() + affinitySlack && p.kvUsage() < kvHighWater;
        return roomy ? preferred : leastLoaded;
    }

    private static int compare(Candidate a, Candidate b) {
        int c = Double.compare(a.load(), b.load());
        return c != 0 ? c : Double.compare(a.kvUsage(), b.kvUsage());
    }

    /** A hash of the prompt's first full block (the unit the prefix cache shares). */
    static long prefixHash(int[] prompt, int blockSize) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < blockSize; i++) h = mix(h ^ prompt[i]);
        return h;
    }

    /** Rendezvous (highest random weight) score of a replica for a prefix. */
    static long rendezvous(long prefix, String replica) {
        long h = prefix;
        for (int i = 0; i < replica.length(); i++) h = mix(h ^ replica.charAt(i));
        return h;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
        z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return z ^ (z >>> 33);
    }
}
