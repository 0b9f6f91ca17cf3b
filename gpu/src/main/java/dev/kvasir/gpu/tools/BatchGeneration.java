package dev.kvasir.gpu.tools;

import dev.kvasir.model.exec.PendingStep;
import dev.kvasir.model.exec.SampledToken;
import dev.kvasir.model.exec.SamplingRequest;
import dev.kvasir.model.exec.SequenceWork;
import dev.kvasir.model.exec.Step;
import dev.kvasir.model.exec.StepExecutor;
import dev.kvasir.model.sampling.SamplingParams;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Generation of several sequences as one batch through any {@link StepExecutor} (greedy unless
 * given other sampling parameters; sequence s samples with seed {@code seed + s}), the way the
 * router drives it: one prefill step for all prompts, then one step per token with one token per
 * sequence. Each sequence gets its own blocks, shuffled over the pool so block tables are not
 * contiguous. Records the wall time of the decode steps.
 *
 * <p>On an executor that queues ahead, unless the sampling reads the history (penalties) or
 * {@link #stepByStep} says otherwise, each
 * decode step is submitted before the previous one's tokens are back, its sequences continuing
 * from their tokens there ({@link SequenceWork#continuing}): the GPU then runs step after step
 * without waiting for the host in between.
 */
public final class BatchGeneration {
    private final StepExecutor executor;
    private final SamplingParams params;
    private final long seed;
    private boolean pipelined;
    private long decodeNanos;
    private int decodeSteps;

    public BatchGeneration(StepExecutor executor) {
        this(executor, SamplingParams.greedy(), 0);
    }

    public BatchGeneration(StepExecutor executor, SamplingParams params, long seed) {
        this.executor = executor;
        this.params = params;
        this.seed = seed;
        this.pipelined = executor.queuesAhead() && !params.hasPenalties();
    }

    /** Each decode step only after the previous one's tokens are back (for comparisons). */
    public BatchGeneration stepByStep() {
        pipelined = false;
        return this;
    }

    /** Generates {@code steps} tokens after each prompt; returns them per prompt. */
    public int[][] generate(List<int[]> prompts, int steps) {
        int bs = executor.kvGeometry().blockSize();
        int seqs = prompts.size();
        int[][] tables = new int[seqs][];
        int total = 0;
        for (int[] p : prompts) total += executor.kvGeometry().blocksFor(p.length + steps);
        if (total > executor.kvGeometry().numBlocks()) {
            throw new IllegalArgumentException(total + " KV blocks needed, the pool has " + executor.kvGeometry().numBlocks());
        }
        int[] order = new int[executor.kvGeometry().numBlocks()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        SplittableRandom r = new SplittableRandom(7);
        for (int i = order.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int next = 0;
        for (int s = 0; s < seqs; s++) {
            int need = executor.kvGeometry().blocksFor(prompts.get(s).length + steps);
            tables[s] = new int[need];
            for (int b = 0; b < need; b++) tables[s][b] = order[next++];
        }
        int[][] out = new int[seqs][steps];
        int[][] history = new int[seqs][];
        for (int s = 0; s < seqs; s++) {
            history[s] = new int[prompts.get(s).length + steps];
            System.arraycopy(prompts.get(s), 0, history[s], 0, prompts.get(s).length);
        }
        List<SequenceWork> work = new ArrayList<>();
        for (int s = 0; s < seqs; s++) {
            int[] p = prompts.get(s);
            work.add(new SequenceWork(s, p, 0, tables[s], new SamplingRequest(params, seed + s, history[s], p.length, p.length, false, 0)));
        }
        List<SampledToken> first = executor.execute(new Step(work, List.of()));
        if (steps == 0) return out;
        record(first, 0, prompts, out, history);
        long t0 = System.nanoTime();
        PendingStep before = null;  // the decode step in flight, whose tokens the next one continues from
        for (int step = 1; step < steps; step++) {
            work.clear();
            for (int s = 0; s < seqs; s++) {
                int len = prompts.get(s).length + step;
                SamplingRequest sr = new SamplingRequest(params, seed + s, history[s], len, prompts.get(s).length, false, 0);
                work.add(before == null ? new SequenceWork(s, new int[]{out[s][step - 1]}, len - 1, tables[s], sr)
                        : SequenceWork.continuing(s, len - 1, tables[s], sr));
            }
            PendingStep queued = executor.submit(new Step(work, List.of()), before);
            if (before != null) record(before.await(), step - 1, prompts, out, history);
            if (pipelined) {
                before = queued;
            } else {
                record(queued.await(), step, prompts, out, history);
            }
        }
        if (before != null) record(before.await(), steps - 1, prompts, out, history);
        if (steps > 1) {
            decodeNanos += System.nanoTime() - t0;
            decodeSteps += steps - 1;
        }
        return out;
    }

    private static void record(List<SampledToken> tokens, int step, List<int[]> prompts, int[][] out, int[][] history) {
        for (int s = 0; s < out.length; s++) {
            out[s][step] = tokens.get(s).token();
            history[s][prompts.get(s).length + step] = out[s][step];
        }
    }

    /** Decode tokens per second over the steps run so far (all sequences counted). */
    public double decodeTokensPerSecond(int batch) {
        return decodeSteps == 0 ? 0 : (double) batch * decodeSteps / (decodeNanos / 1e9);
    }

    public double decodeStepMillis() {
        return decodeSteps == 0 ? 0 : decodeNanos / 1e6 / decodeSteps;
    }
}
