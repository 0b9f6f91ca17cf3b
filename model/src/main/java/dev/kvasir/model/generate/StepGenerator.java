package dev.kvasir.model.generate;

import dev.kvasir.model.exec.PendingStep;
import dev.kvasir.model.exec.SamplingRequest;
import dev.kvasir.model.exec.SequenceWork;
import dev.kvasir.model.exec.Step;
import dev.kvasir.model.exec.StepExecutor;
import dev.kvasir.model.sampling.Sampler;
import dev.kvasir.model.tokenizer.StreamingDetokenizer;
import dev.kvasir.model.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * Generates one sequence through any {@link StepExecutor} (CPU or GPU): the prompt as one prefill
 * step, then one step per token, sampling inside the executor, until an end-of-generation token, a
 * stop string, max_tokens or the end of the context window. Blocks 0.. of the executor's pool hold
 * the sequence. On an executor that {@linkplain StepExecutor#queuesAhead queues ahead}, each step is
 * queued before the previous one's token is read ({@link SequenceWork#continuing}).
 */
public final class StepGenerator {
    private final StepExecutor executor;
    private final Tokenizer tokenizer;

    public StepGenerator(StepExecutor executor, Tokenizer tokenizer) {
        this.executor = executor;
        this.tokenizer = tokenizer;
    }

    public GenerationResult generate(GenerationRequest request, TokenSink sink) {
        int[] prompt = request.promptTokens();
        int context = executor.config().contextLength();
        if (prompt.length > context) throw new PromptTooLongException(prompt.length, context);
        int budget = Math.min(request.maxTokens(), context - prompt.length);
        int blocks = executor.kvGeometry().blocksFor(prompt.length + budget);
        if (blocks > executor.kvGeometry().numBlocks()) {
            throw new IllegalArgumentException("prompt plus max_tokens need " + blocks + " KV blocks, the device holds " + executor.kvGeometry().numBlocks());
        }
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = i;
        int[] history = Arrays.copyOf(prompt, prompt.length + budget);
        int length = prompt.length;
        // a fixed seed for the whole sequence: the n-th draw depends on (seed, n) only
        long seed = new Sampler(request.sampling()).seed();
        StreamingDetokenizer detok = tokenizer.streamingDetokenizer();
        StopStrings stops = new StopStrings(request.stop());

        // The step after a token is queued before the token is read, where the executor returns while a step runs
        // and no penalties need the token on the host first: the device then runs step after step, and a token
        // that ends the sequence wastes one step.
        boolean queueAhead = executor.queuesAhead() && !request.sampling().hasPenalties();
        long t0 = System.nanoTime();
        long t1 = t0;
        PendingStep current = budget > 0 ? submit(new SequenceWork(0, prompt, 0, table, request(request, seed, history, length, prompt.length)), null) : null;
        PendingStep next = null;
        FinishReason reason = FinishReason.LENGTH;
        int generated = 0;
        while (current != null) {
            next = queueAhead && generated + 1 < budget
                    ? submit(SequenceWork.continuing(0, length, table, request(request, seed, history, length + 1, prompt.length)), current) : null;
            int token = current.await().get(0).token();
            if (generated == 0) t1 = System.nanoTime();
            current = null;
            if (tokenizer.isEndOfGeneration(token)) {
                reason = FinishReason.STOP;
                break;
            }
            history[length++] = token;
            String visible = stops.append(detok.push(token));
            sink.accept(generated, token, visible);
            generated++;
            if (stops.matched()) {
                reason = FinishReason.STOP;
                break;
            }
            if (generated < budget) {
                current = next != null ? next : submit(new SequenceWork(0, new int[]{token}, length - 1, table,
                        request(request, seed, history, length, prompt.length)), null);
                next = null;
            }
        }
        if (next != null) next.await();  // the step queued after the last token: its KV write lands before the executor's next use
        if (!stops.matched()) {
            String tail = stops.append(detok.flush()) + stops.finish();
            if (!tail.isEmpty()) sink.flush(tail);
        }
        long t2 = System.nanoTime();
        return new GenerationResult(prompt, Arrays.copyOfRange(history, prompt.length, length), stops.text(), reason, t1 - t0, t2 - t1);
    }

    private PendingStep submit(SequenceWork work, PendingStep before) {
        return executor.submit(new Step(List.of(work), List.of()), before);
    }

    private static SamplingRequest request(GenerationRequest request, long seed, int[] history, int length, int generatedFrom) {
        return new SamplingRequest(request.sampling(), seed, history, length, generatedFrom, false, 0);
    }
}
