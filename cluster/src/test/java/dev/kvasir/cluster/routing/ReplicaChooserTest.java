package dev.kvasir.cluster.routing;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

/** Replica choice: least loaded, rotating among equals; prompts sharing a first block stick to one replica unless it is busy or full. */
class ReplicaChooserTest {
    final ReplicaChooser chooser = new ReplicaChooser(16, 4, 0.95);

    static ReplicaChooser.Candidate c(String name, double load, double kv) {
        return new ReplicaChooser.Candidate(name, load, kv);
    }

    static int[] prompt(int first, int length) {
        return IntStream.range(0, length).map(i -> first + i).toArray();
    }

    @Test
    void shortPromptsGoToTheLeastLoadedAndRotateAmongEquals() {
        assertEquals(1, chooser.choose(List.of(c("a", 5, 0.1), c("b", 2, 0.1), c("c", 3, 0.1)), prompt(1, 5), 0));
        Set<Integer> picked = new HashSet<>();
        for (long t = 0; t < 4; t++) picked.add(chooser.choose(List.of(c("a", 0, 0), c("b", 0, 0)), prompt(1, 5), t));
        assertEquals(Set.of(0, 1), picked);
        assertEquals(-1, chooser.choose(List.of(), prompt(1, 5), 0));
    }

    @Test
    void aSharedFirstBlockSticksToOneReplicaWhateverFollows() {
        List<ReplicaChooser.Candidate> replicas = List.of(c("node2-cpu", 1, 0.1), c("node3-cpu", 0, 0.1), c("node4-cpu", 2, 0.1));
        int first = chooser.choose(replicas, prompt(100, 20), 0);
        for (int extra = 0; extra < 10; extra++) {
            int salt = extra;
            int[] p = IntStream.concat(IntStream.of(prompt(100, 16)), IntStream.range(0, 4 + extra).map(i -> 7 * i + salt)).toArray();
            assertEquals(first, chooser.choose(replicas, p, extra));
        }
        Set<Integer> spread = new HashSet<>();
        for (int f = 0; f < 64; f++) spread.add(chooser.choose(replicas, prompt(f * 31, 16), 0));
        assertEquals(3, spread.size(), "different prefixes prefer different replicas");
    }

    @Test
    void affinityYieldsToLoadAndFullKv() {
        int[] p = prompt(100, 16);
        List<ReplicaChooser.Candidate> idle = List.of(c("x", 0, 0), c("y", 0, 0));
        int preferred = chooser.choose(idle, p, 0);
        int other = 1 - preferred;
        double[] loads = new double[2];
        loads[preferred] = 5; // more than slack 4 above the other
        assertEquals(other, chooser.choose(List.of(c("x", loads[0], 0), c("y", loads[1], 0)), p, 0));
        loads[preferred] = 4;
        assertEquals(preferred, chooser.choose(List.of(c("x", loads[0], 0), c("y", loads[1], 0)), p, 0));
        double[] kv = new double[2];
        kv[preferred] = 0.99;
        assertEquals(other, chooser.choose(List.of(c("x", 0, kv[0]), c("y", 0, kv[1])), p, 0));
    }
}
