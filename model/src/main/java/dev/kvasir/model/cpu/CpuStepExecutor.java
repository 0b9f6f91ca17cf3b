package dev.kvasir.model.cpu;

import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.exec.BlockCopy;
import dev.kvasir.model.exec.HostKvBlock;
import dev.kvasir.model.exec.KvGeometry;
import dev.kvasir.model.exec.SampledToken;
import dev.kvasir.model.exec.SamplingRequest;
import dev.kvasir.model.exec.SequenceWork;
import dev.kvasir.model.exec.Step;
import dev.kvasir.model.exec.StepExecutor;
import dev.kvasir.model.sampling.Logprobs;
import dev.kvasir.model.sampling.Sampler;

import java.util.ArrayList;
import java.util.List;

/** The CPU engine behind the executor interface: one batched forward pass per step over a paged pool. */
public final class CpuStepExecutor implements StepExecutor {
    private final LlamaCpuModel model;
    private final PagedKvPool kv;
    private final KvGeometry geometry;

    /** A pool of the model's default KV type ({@link LlamaCpuModel#defaultKvDtype()}), as the CLI uses. */
    public CpuStepExecutor(LlamaCpuModel model, int blockSize, int numBlocks) {
        this.model = model;
        this.kv = new PagedKvPool(model.config(), blockSize, numBlocks, model.defaultKvDtype());
        this.geometry = new KvGeometry(blockSize, numBlocks);
    }

    /** Blocks that fit {@code bytes} of KV memory for this model, in its default KV type. */
    public static int blocksForBudget(LlamaCpuModel model, int blockSize, long bytes) {
        ModelConfig config = model.config();
        int elementBytes = model.defaultKvDtype() == KvDtype.F16 ? 2 : Float.BYTES;
        long perBlock = 2L * config.layers() * config.kvDim() * elementBytes * blockSize;
        return (int) Math.max(1, Math.min(bytes / perBlock, (Integer.MAX_VALUE - 16L) / ((long) blockSize * config.kvDim())));
    }

    @Override
    public ModelConfig config() {
        return model.config();
    }

    @Override
    public KvGeometry kvGeometry() {
        return geometry;
    }

    @Override
    public List<SampledToken> execute(Step step) {
        if (step.continues()) throw new IllegalArgumentException("a step with continuing sequences goes through submit, after the step it continues");
        for (BlockCopy copy : step.copies()) kv.copyBlock(copy.source(), copy.target());
        List<SequenceWork> seqs = step.sequences();
        if (seqs.isEmpty()) return List.of();
        int n = step.tokenCount();
        int[] tokens = new int[n];
        int[] positions = new int[n];
        int[] sequenceOf = new int[n];
        int[][] tables = new int[seqs.size()][];
        int sampling = 0;
        for (SequenceWork w : seqs) if (w.sampling() != null) sampling++;
        int[] logitRows = new int[sampling];
        int t = 0;
        int r = 0;
        for (int s = 0; s < seqs.size(); s++) {
            SequenceWork w = seqs.get(s);
            int needed = geometry.blocksFor(w.startPosition() + w.tokens().length);
            if (w.blockTable().length < needed) {
                throw new IllegalArgumentException("sequence " + w.sequenceId() + ": block table of " + w.blockTable().length
                        + " blocks cannot hold " + (w.startPosition() + w.tokens().length) + " positions");
            }
            tables[s] = w.blockTable();
            for (int i = 0; i < w.tokens().length; i++) {
                tokens[t] = w.tokens()[i];
                positions[t] = w.startPosition() + i;
                sequenceOf[t] = s;
                t++;
            }
            if (w.sampling() != null) logitRows[r++] = t - 1;
        }
        float[] logits = model.forward(new BatchInput(tokens, positions, sequenceOf, tables, logitRows), kv);
        int vocab = model.config().vocabSize();
        List<SampledToken> out = new ArrayList<>(sampling);
        r = 0;
        for (SequenceWork w : seqs) {
            SamplingRequest sr = w.sampling();
            if (sr == null) continue;
            float[] row = new float[vocab];
            System.arraycopy(logits, r++ * vocab, row, 0, vocab);
            int token = new Sampler(sr.params().withSeed(sr.seed())).sample(row, sr.history(), sr.historyLength(), sr.generatedFrom());
            float logprob = Float.NaN;
            int[] topTokens = null;
            float[] topLogprobs = null;
            if (sr.logprobs()) {
                Logprobs lp = new Logprobs(row, 0, vocab);
                logprob = lp.of(token);
                if (sr.topLogprobs() > 0) {
                    topTokens = lp.top(sr.topLogprobs());
                    topLogprobs = new float[topTokens.length];
                    for (int i = 0; i < topTokens.length; i++) topLogprobs[i] = lp.of(topTokens[i]);
                }
            }
            out.add(new SampledToken(w.sequenceId(), token, logprob, topTokens, topLogprobs));
        }
        return out;
    }

    @Override
    public HostKvBlock swapOut(int block) {
        float[] data = new float[kv.blockFloats()];
        kv.readBlock(block, data);
        return new HostKvBlock(data);
    }

    @Override
    public void swapIn(HostKvBlock data, int block) {
        kv.writeBlock(block, data.data());
    }

    @Override
    public String device() {
        return "cpu";
    }

    @Override
    public void close() {
    }
}
