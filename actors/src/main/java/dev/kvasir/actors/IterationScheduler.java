package dev.kvasir.actors;

import dev.kvasir.model.exec.BlockCopy;
import dev.kvasir.model.exec.SamplingRequest;
import dev.kvasir.model.exec.SequenceWork;
import dev.kvasir.model.exec.Step;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Iteration-level scheduling: decides, once per step, which sequences run and how many tokens each
 * (a decode token, or a chunk of prefill) under the step's token budget, and keeps the KV blocks in
 * step with that decision. Order of priority: running decodes, running prefills, sequences swapped
 * to host memory, then waiting ones first-come first-served (preempted sequences go back to the
 * front). When blocks run out the newest running sequences are preempted. Plain class owned by the
 * router actor.
 */
final class IterationScheduler {
    private final ServingConfig config;
    private final KvBlockManager blocks;
    private final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
    /** In admission order: the last is the newest and the first preempted. */
    private final List<Sequence> running = new ArrayList<>();
    private final ArrayDeque<Sequence> swapped = new ArrayDeque<>();
    private int swappedHostBlocks;
    long preemptions;
    long swapOuts;
    long prefixQueries;
    long prefixHits;

    /** What one step runs, and for whom (parallel lists), plus the swaps to make before it. */
    record Plan(Step step, List<Sequence> sequences, int[] counts, int[] swapOut, List<Sequence> swapOutOwners,
                int[] swapOutCounts, List<ExecutorCommand.SwapIn> swapIn) {
        boolean isEmpty() {
            return step.sequences().isEmpty() && swapOut.length == 0;
        }
    }

    private static final class Planned {
        final Sequence sequence;
        final int count;
        final List<BlockCopy> copies;

        Planned(Sequence sequence, int count, List<BlockCopy> copies) {
            this.sequence = sequence;
            this.count = count;
            this.copies = copies;
        }
    }

    IterationScheduler(ServingConfig config, KvBlockManager blocks) {
        this.config = config;
        this.blocks = blocks;
    }

    KvBlockManager blocks() {
        return blocks;
    }

    int runningCount() {
        return running.size();
    }

    int waitingCount() {
        return waiting.size();
    }

    int swappedCount() {
        return swapped.size();
    }

    List<Sequence> running() {
        return running;
    }

    /** Requests not yet admitted at all (what the bounded queue limits). */
    int waitingRequests() {
        Set<ActiveRequest> seen = new HashSet<>();
        for (Sequence s : waiting) if (s.computed == 0 && !s.request.admitted) seen.add(s.request);
        return seen.size();
    }

    boolean hasWork() {
        return !running.isEmpty() || !waiting.isEmpty() || !swapped.isEmpty();
    }

    void enqueue(Sequence s) {
        s.status = Sequence.Status.WAITING;
        waiting.addLast(s);
    }

    /** Adds forked samples right after their parent, running. */
    void addRunning(Sequence parent, List<Sequence> children) {
        int at = running.indexOf(parent);
        running.addAll(at < 0 ? running.size() : at + 1, children);
        for (Sequence c : children) c.status = Sequence.Status.RUNNING;
    }

    /** Takes a sequence out of every queue and releases its blocks and host copies. */
    void remove(Sequence s) {
        switch (s.status) {
            case WAITING -> waiting.remove(s);
            case RUNNING -> running.remove(s);
            case SWAPPED -> swapped.remove(s);
            default -> {
            }
        }
        if (s.status == Sequence.Status.SWAPPING_OUT) swappedHostBlocks -= blocks.blocksFor(s.computed);
        if (s.swappedBlocks != null) {
            swappedHostBlocks -= s.swappedBlocks.size();
            s.swappedBlocks = null;
        }
        blocks.free(s.id);
        s.status = Sequence.Status.FINISHED;
    }

    /** A swap-out made in the last step has delivered its host copies. */
    void swappedOut(Sequence s, List<dev.kvasir.model.exec.HostKvBlock> data) {
        if (s.status != Sequence.Status.SWAPPING_OUT) return; // finished meanwhile
        s.swappedBlocks = data;
        s.status = Sequence.Status.SWAPPED;
        swapped.addLast(s);
    }

    /** Builds the next step; an empty plan when nothing can run. */
    Plan schedule() {
        int budget = config.maxBatchedTokens();
        LinkedHashMap<Sequence, Planned> planned = new LinkedHashMap<>();
        List<Integer> swapOutBlocks = new ArrayList<>();
        List<Sequence> swapOutOwners = new ArrayList<>();
        List<Integer> swapOutCounts = new ArrayList<>();
        List<ExecutorCommand.SwapIn> swapIns = new ArrayList<>();
        boolean preempted = false;

        // Running sequences: decodes first, so a long prefill never holds them back; then prefill chunks.
        for (int pass = 0; pass < 2; pass++) {
            for (Sequence s : List.copyOf(running)) {
                if (s.status != Sequence.Status.RUNNING || planned.containsKey(s)) continue;
                int remaining = s.target() - s.computed;
                boolean decode = remaining == 1;
                if (remaining <= 0 || decode != (pass == 0)) continue;
                int take = Math.min(remaining, budget);
                if (take == 0) break;
                while (true) {
                    List<BlockCopy> copies = new ArrayList<>();
                    if (blocks.prepareWrite(s.id, s.computed, s.computed + take, copies)) {
                        planned.put(s, new Planned(s, take, copies));
                        budget -= take;
                        break;
                    }
                    Sequence victim = running.getLast();
                    Planned undone = planned.remove(victim);
                    if (undone != null) budget += undone.count;
                    preempt(victim, swapOutBlocks, swapOutOwners, swapOutCounts);
                    preempted = true;
                    if (victim == s) break;
                }
            }
        }

        // Admissions only when nothing had to be preempted: admitting now would just thrash.
        if (!preempted) {
            while (!swapped.isEmpty() && budget > 0 && running.size() < config.maxRunning()) {
                Sequence s = swapped.peekFirst();
                int take = Math.min(s.target() - s.computed, budget);
                int restore = s.swappedBlocks.size();
                if (blocks.available() < blocks.blocksFor(s.computed + take) || !blocks.allocateFresh(s.id, restore)) break;
                List<BlockCopy> copies = new ArrayList<>();
                if (!blocks.prepareWrite(s.id, s.computed, s.computed + take, copies)) {
                    blocks.free(s.id);
                    break;
                }
                swapped.pollFirst();
                int[] table = blocks.table(s.id);
                for (int i = 0; i < restore; i++) swapIns.add(new ExecutorCommand.SwapIn(table[i], s.swappedBlocks.get(i)));
                swappedHostBlocks -= restore;
                s.swappedBlocks = null;
                s.status = Sequence.Status.RUNNING;
                running.add(s);
                planned.put(s, new Planned(s, take, copies));
                budget -= take;
            }
            while (!waiting.isEmpty() && budget > 0 && swapped.isEmpty()) {
                Sequence s = waiting.peekFirst();
                int slots = s.request.admitted ? 1 : s.request.n();
                if (!running.isEmpty() && running.size() + slots > config.maxRunning()) break;
                KvBlockManager.PrefixMatch match = config.prefixCaching()
                        ? blocks.matchPrefix(s.tokens(), s.length(), (s.target() - 1) / blocks.blockSize())
                        : KvBlockManager.PrefixMatch.NONE;
                int start = match.tokens(blocks.blockSize());
                int take = Math.min(s.target() - start, budget);
                int newBlocks = blocks.blocksFor(start + take) - match.blocks().length;
                if (blocks.available() - blocks.evictableIn(match) < newBlocks) break;
                waiting.pollFirst();
                blocks.allocatePrefix(s.id, match);
                List<BlockCopy> copies = new ArrayList<>();
                if (!blocks.prepareWrite(s.id, start, start + take, copies)) {
                    throw new IllegalStateException("blocks counted for " + s + " are not there");
                }
                if (config.prefixCaching()) {
                    prefixQueries += s.length();
                    prefixHits += start;
                }
                if (!s.request.admitted) s.cachedPromptTokens = Math.min(start, s.promptLength);
                s.request.admitted = true;
                s.computed = start;
                s.status = Sequence.Status.RUNNING;
                running.add(s);
                planned.put(s, new Planned(s, take, copies));
                budget -= take;
            }
        }

        List<SequenceWork> works = new ArrayList<>(planned.size());
        List<Sequence> order = new ArrayList<>(planned.size());
        List<BlockCopy> copies = new ArrayList<>();
        int[] counts = new int[planned.size()];
        for (Planned p : planned.values()) {
            Sequence s = p.sequence;
            int[] chunk = Arrays.copyOfRange(s.tokens(), s.computed, s.computed + p.count);
            SamplingRequest sampling = null;
            if (!s.forkPending && s.computed + p.count == s.length()) sampling = sampling(s, s.length());
            counts[order.size()] = p.count;
            order.add(s);
            works.add(new SequenceWork(s.id, chunk, s.computed, blocks.table(s.id), sampling));
            copies.addAll(p.copies);
        }
        return new Plan(new Step(works, copies), order, counts, swapOutBlocks.stream().mapToInt(Integer::intValue).toArray(),
                swapOutOwners, swapOutCounts.stream().mapToInt(Integer::intValue).toArray(), swapIns);
    }

    /**
     * The step after {@code last}, which still runs, when it can be planned without last's tokens:
     * nothing waits or is swapped out, last sampled a token for every running sequence (a decode,
     * or the end of a prompt), and none of them uses penalties (they would read the unknown token).
     * Each sequence then continues at the position of that token ({@link SequenceWork#continuing}),
     * whose KV block is made ready now. Left out: sequences of last that have finished meanwhile,
     * and those whose token from last ends them by length (max_tokens, the context window); the rest
     * must be all that runs. Null when no such step can be planned.
     */
    Plan continuation(Plan last, int contextLength) {
        if (!waiting.isEmpty() || !swapped.isEmpty() || last.swapOut().length > 0 || !last.swapIn().isEmpty()) return null;
        List<Sequence> order = new ArrayList<>();
        List<Integer> positions = new ArrayList<>();
        List<SequenceWork> lastWork = last.step().sequences();
        int ending = 0;
        for (int i = 0; i < lastWork.size(); i++) {
            Sequence s = last.sequences().get(i);
            if (s.status == Sequence.Status.FINISHED) continue;
            if (s.status != Sequence.Status.RUNNING || lastWork.get(i).sampling() == null || s.forkPending) return null;
            if (s.request.sampling.hasPenalties()) return null;
            // accept() ends it after appending last's token (if nothing ends it before)
            if (s.generated() + 1 >= s.request.submit.maxTokens() || s.length() + 1 >= contextLength) {
                ending++;
                continue;
            }
            order.add(s);
            positions.add(s.computed + last.counts()[i]);
        }
        // every running sequence in it or ending, and at most one fresh block each (a new page or a copy on write)
        if (order.isEmpty() || order.size() + ending != running.size() || blocks.available() < order.size()) return null;
        List<SequenceWork> works = new ArrayList<>(order.size());
        List<BlockCopy> copies = new ArrayList<>();
        int[] counts = new int[order.size()];
        for (int i = 0; i < order.size(); i++) {
            Sequence s = order.get(i);
            int position = positions.get(i);
            if (!blocks.prepareWrite(s.id, position, position + 1, copies)) throw new IllegalStateException("blocks counted for " + s + " are not there");
            // the history's last entry (the token not yet known) is never read: no penalties
            works.add(SequenceWork.continuing(s.id, position, blocks.table(s.id), sampling(s, position + 1)));
            counts[i] = 1;
        }
        return new Plan(new Step(works, copies), order, counts, new int[0], List.of(), new int[0], List.of());
    }

    /** How the sequence samples its next token, after the first {@code historyLength} of its tokens. */
    private static SamplingRequest sampling(Sequence s, int historyLength) {
        var submit = s.request.submit;
        return new SamplingRequest(s.request.sampling, s.seed, Arrays.copyOf(s.tokens(), historyLength), historyLength,
                s.promptLength, submit.logprobs(), submit.topLogprobs());
    }

    /**
     * Frees a running sequence's blocks. With swapping configured (and host room left) its computed
     * blocks are copied to host memory by the coming step first; otherwise it recomputes later
     * from its tokens — same output either way, since a draw depends only on (seed, index).
     */
    private void preempt(Sequence victim, List<Integer> swapOutBlocks, List<Sequence> owners, List<Integer> counts) {
        running.remove(victim);
        preemptions++;
        int keep = blocks.blocksFor(victim.computed);
        if (config.preemption() == ServingConfig.Preemption.SWAP && keep > 0
                && swappedHostBlocks + keep <= config.swapBlocks()) {
            int[] table = blocks.table(victim.id);
            for (int i = 0; i < keep; i++) swapOutBlocks.add(table[i]);
            owners.add(victim);
            counts.add(keep);
            swappedHostBlocks += keep;
            swapOuts++;
            victim.status = Sequence.Status.SWAPPING_OUT;
        } else {
            victim.computed = 0;
            victim.status = Sequence.Status.WAITING;
            waiting.addFirst(victim);
        }
        blocks.free(victim.id);
    }

    /** Positions filled per live sequence, for the KV-waste measure. */
    Map<Long, Integer> filledPositions() {
        Map<Long, Integer> m = new HashMap<>();
        for (Sequence s : running) m.put(s.id, s.computed);
        return m;
    }
}
