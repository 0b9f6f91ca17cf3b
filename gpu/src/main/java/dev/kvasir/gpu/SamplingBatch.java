package dev.kvasir.gpu;

import dev.kvasir.model.exec.SamplingRequest;
import dev.kvasir.model.sampling.Sampler;
import dev.kvasir.model.sampling.SamplingParams;

import java.util.List;

/**
 * A step's sampling requests packed for the device kernels ({@code sampling.cuh}): 16 ints of
 * parameters per row, the row's uniform draw (computed here exactly as the CPU {@link Sampler}
 * computes it, so both engines draw the same token from the same logits), and for rows with
 * penalties the slice of history the penalties read (the repetition window and the generated
 * tokens), so a long prompt is not copied when only its last 64 ids matter. Pure host code.
 */
final class SamplingBatch {
    static final int META = 16;
    static final int GREEDY = 1, PENALTIES = 2, LOGPROBS = 4;

    final int rows;
    final int[] meta;
    final double[] uniform;
    final int[] history;
    final int maxTop;
    final boolean anyPenalties;
    final boolean anyLogprobs;
    final boolean allGreedyPlain;

    private SamplingBatch(int rows, int[] meta, double[] uniform, int[] history, int maxTop, boolean anyPenalties,
                          boolean anyLogprobs, boolean allGreedyPlain) {
        this.rows = rows;
        this.meta = meta;
        this.uniform = uniform;
        this.history = history;
        this.maxTop = maxTop;
        this.anyPenalties = anyPenalties;
        this.anyLogprobs = anyLogprobs;
        this.allGreedyPlain = allGreedyPlain;
    }

    static SamplingBatch pack(List<SamplingRequest> requests) {
        int rows = requests.size();
        int[] meta = new int[rows * META];
        double[] uniform = new double[rows];
        int historyInts = 0;
        for (SamplingRequest r : requests) if (r.params().hasPenalties()) historyInts += r.historyLength() - sliceStart(r);
        int[] history = new int[Math.max(1, historyInts)];
        int at = 0;
        int maxTop = 0;
        boolean penalties = false, logprobs = false, plain = true;
        for (int i = 0; i < rows; i++) {
            SamplingRequest r = requests.get(i);
            SamplingParams p = r.params();
            int base = i * META;
            int flags = (p.isGreedy() ? GREEDY : 0) | (p.hasPenalties() ? PENALTIES : 0) | (r.logprobs() ? LOGPROBS : 0);
            meta[base] = flags;
            // 1/T in float as the CPU Sampler computes it; unused (and infinite) for greedy rows
            meta[base + 1] = Float.floatToRawIntBits(p.temperature() > 0 ? 1f / p.temperature() : 0f);
            meta[base + 2] = p.topK();
            meta[base + 3] = Float.floatToRawIntBits(p.topP());
            meta[base + 4] = Float.floatToRawIntBits(p.minP());
            meta[base + 5] = Float.floatToRawIntBits(p.repetitionPenalty());
            meta[base + 6] = Float.floatToRawIntBits(p.presencePenalty());
            meta[base + 7] = Float.floatToRawIntBits(p.frequencyPenalty());
            if (p.hasPenalties()) {
                int start = sliceStart(r);
                int length = r.historyLength() - start;
                System.arraycopy(r.history(), start, history, at, length);
                meta[base + 8] = at;
                meta[base + 9] = repetitionStart(r) - start;
                meta[base + 10] = presenceStart(r) - start;
                meta[base + 11] = length;
                at += length;
            }
            meta[base + 12] = r.logprobs() ? r.topLogprobs() : 0;
            uniform[i] = Sampler.uniform(r.seed(), r.historyLength(), r.generatedFrom());
            maxTop = Math.max(maxTop, meta[base + 12]);
            penalties |= p.hasPenalties();
            logprobs |= r.logprobs();
            plain &= flags == GREEDY;
        }
        return new SamplingBatch(rows, meta, uniform, history, maxTop, penalties, logprobs, plain);
    }

    /** The first history index the repetition penalty reads (its length when it is off). */
    static int repetitionStart(SamplingRequest r) {
        SamplingParams p = r.params();
        return p.repetitionPenalty() != 1f ? Math.max(0, r.historyLength() - p.penaltyLastN()) : r.historyLength();
    }

    /** The first history index presence and frequency penalties read (its length when they are off). */
    static int presenceStart(SamplingRequest r) {
        SamplingParams p = r.params();
        return p.presencePenalty() != 0f || p.frequencyPenalty() != 0f ? Math.min(r.generatedFrom(), r.historyLength()) : r.historyLength();
    }

    private static int sliceStart(SamplingRequest r) {
        return Math.min(repetitionStart(r), presenceStart(r));
    }
}
