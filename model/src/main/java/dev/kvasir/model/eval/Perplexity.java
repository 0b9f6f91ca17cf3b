package dev.kvasir.model.eval;

import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Perplexity exactly as llama.cpp's {@code llama-perplexity} computes it: tokenize the whole text
 * once (BOS added when the vocabulary says so), cut it into {@code floor(tokens / context)}
 * consecutive chunks of {@code context} tokens (the rest is dropped), put BOS in place of each
 * chunk's first token, run the chunk from an empty cache, and score only the second half: the
 * logits at positions {@code context/2 .. context-2} predict tokens {@code context/2+1 .. context-1}.
 * PPL = exp(mean negative log-likelihood) over every scored token. Log-softmax sums the
 * exponentials in double, as llama.cpp does.
 */
public final class Perplexity {
    private static final Logger log = LoggerFactory.getLogger(Perplexity.class);

    /** The result, with the running value after each chunk as llama-perplexity prints it. */
    public record Result(double perplexity, double standardError, int chunks, int scoredTokens, int totalTokens, double[] runningValues) {
    }

    private Perplexity() {
    }

    /** The logits of every position of a chunk (context × vocab), each chunk scored from an empty cache. */
    @FunctionalInterface
    public interface ChunkScorer {
        float[] logits(int[] chunk);
    }

    public static Result evaluate(LlamaCpuModel model, Tokenizer tokenizer, String text, int context) {
        return evaluate(chunk -> model.forward(chunk, model.newCache(chunk.length), true), model.config().vocabSize(),
                model.config().contextLength(), tokenizer, text, context);
    }

    /** The same measurement with any engine that can score a chunk (the GPU executor, say). */
    public static Result evaluate(ChunkScorer scorer, int vocab, int contextLength, Tokenizer tokenizer, String text, int context) {
        if (context < 4) throw new IllegalArgumentException("--context must be at least 4, got " + context);
        if (context > contextLength) {
            throw new IllegalArgumentException("--context " + context + " exceeds the model's context window of " + contextLength);
        }
        int[] tokens = tokenizer.encode(text, tokenizer.addBosByDefault(), false);
        int chunks = tokens.length / context;
        if (chunks == 0) {
            throw new IllegalArgumentException("the text has " + tokens.length + " tokens, fewer than one chunk of " + context);
        }
        int first = context / 2;
        double nll = 0;
        double nll2 = 0;
        int count = 0;
        double[] running = new double[chunks];
        for (int c = 0; c < chunks; c++) {
            int[] chunk = new int[context];
            System.arraycopy(tokens, c * context, chunk, 0, context);
            if (tokenizer.bosId() >= 0) chunk[0] = tokenizer.bosId();
            float[] logits = scorer.logits(chunk);
            for (int i = first; i < context - 1; i++) {
                double v = -logSoftmax(logits, i * vocab, vocab, chunk[i + 1]);
                nll += v;
                nll2 += v * v;
                count++;
            }
            running[c] = Math.exp(nll / count);
            log.info("chunk {}/{}: running perplexity {}", c + 1, chunks, String.format("%.4f", running[c]));
        }
        double mean = nll / count;
        double variance = nll2 / count - mean * mean;
        double error = count > 1 ? Math.sqrt(Math.max(variance, 0) / (count - 1)) : 0;
        double ppl = Math.exp(mean);
        return new Result(ppl, ppl * error, chunks, count, tokens.length, running);
    }

    /** log p(token) under softmax(logits[offset .. offset+vocab)), llama-perplexity's way. */
    static double logSoftmax(float[] logits, int offset, int vocab, int token) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < vocab; j++) max = Math.max(max, logits[offset + j]);
        double sumExp = 0;
        for (int j = 0; j < vocab; j++) sumExp += (float) Math.exp(logits[offset + j] - max);
        return logits[offset + token] - max - Math.log(sumExp);
    }
}
