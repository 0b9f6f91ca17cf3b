package dev.kvasir.gpu;

import dev.kvasir.model.eval.Perplexity;
import dev.kvasir.model.exec.SamplingRequest;
import dev.kvasir.model.exec.SequenceWork;
import dev.kvasir.model.exec.Step;
import dev.kvasir.model.sampling.SamplingParams;

import java.util.ArrayList;
import java.util.List;

/**
 * Scores a perplexity chunk on the GPU in one forward pass: every position is its own one-token
 * entry of the step over one shared block table, so each writes its K/V and attends to the
 * positions before it (all written earlier in the same layer), and each is a logit row.
 */
public final class GpuChunkScorer implements Perplexity.ChunkScorer {
    private final GpuStepExecutor executor;

    public GpuChunkScorer(GpuStepExecutor executor) {
        this.executor = executor;
    }

    @Override
    public float[] logits(int[] chunk) {
        int[] table = new int[executor.kvGeometry().blocksFor(chunk.length)];
        for (int b = 0; b < table.length; b++) table[b] = b;
        List<SequenceWork> work = new ArrayList<>(chunk.length);
        for (int i = 0; i < chunk.length; i++) {
            SamplingRequest row = new SamplingRequest(SamplingParams.greedy(), 0, chunk, i + 1, i + 1, false, 0);
            work.add(new SequenceWork(i, new int[]{chunk[i]}, i, table, row));
        }
        return executor.logits(new Step(work, List.of()));
    }
}
