package dev.kvasir.gpu;

import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.exec.BlockCopy;
import dev.kvasir.model.exec.HostKvBlock;
import dev.kvasir.model.exec.KvGeometry;
import dev.kvasir.model.exec.PendingStep;
import dev.kvasir.model.exec.SampledToken;
import dev.kvasir.model.exec.SamplingRequest;
import dev.kvasir.model.exec.SequenceWork;
import dev.kvasir.model.exec.Step;
import dev.kvasir.model.exec.StepExecutor;
import dev.kvasir.model.weights.ModelWeights;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.CUstream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

/**
 * The GPU engine behind the executor interface. All device work happens on the device's
 * {@link GpuDispatcher} thread (packing a step included): a caller's thread hands it steps and waits
 * for their events. One step is one
 * metadata copy, the forward pass's launches, sampling on the device and a copy of one int per
 * sequence back (plus log-probabilities when asked), completed through an event. Logits never
 * cross to the host: plain greedy rows take one argmax launch; temperature, top-k/p, min-p,
 * penalties and log-probabilities go through {@link DeviceSampler}, whose draws use the CPU
 * {@link dev.kvasir.model.sampling.Sampler}'s uniform number and candidate order, so they equal
 * the CPU engine's for the same (seed, index) and the same logits.
 *
 * <p>{@link #submit} queues a step and returns while it runs, so that the caller can queue the next
 * one before this one's tokens are back: the GPU then never waits for the host between steps. A
 * continuing sequence's token ({@link SequenceWork#continuing}) after a plain greedy step is taken
 * from that step's argmax output on the device ({@code take_sampled_ids}). Two steps at most are
 * in flight, each with its own pinned buffers and events ({@link Slot}).
 */
public final class GpuStepExecutor implements StepExecutor {
    private static final Logger log = LoggerFactory.getLogger(GpuStepExecutor.class);
    /** Device memory kept free for activation buffers and the driver's own needs. */
    private static final long RESERVE = 1L << 30;

    private final ModelConfig config;
    private final GpuDispatcher dispatcher;
    private final DeviceMemory memory;
    private final Kernels kernels;
    private final GpuWeights weights;
    private final PagedKvPool kv;
    private final KvGeometry geometry;
    private final GpuForwardPass forward;
    /** Two steps' host buffers and events: a step takes the one the step in flight does not hold. */
    private final Slot[] slots = {new Slot(), new Slot()};
    /** Steps queued on the stream whose tokens have not been read yet, oldest first (at most two). */
    private final Deque<InFlight> inFlight = new ArrayDeque<>();
    private boolean timing;
    private double timedMillis;
    private int timedSteps;
    private CUdeviceptr deviceInts;
    private long deviceIntsBytes;
    private PinnedBuffer hostLogits;
    private CUdeviceptr sampled, argmaxScratch;
    private final DeviceSampler sampler;
    private int intsGeneration;
    private boolean graphs = !"false".equals(System.getProperty("kvasir.gpu.graphs"));
    private final Map<Long, Graph> graphCache = new HashMap<>();
    /** Query tile of the tiled prefill kernel (FA_BQ in flash_prefill.cuh). */
    private static final int PREFILL_TILE = 16;
    private static final int TILED_PREFILL_MIN_TOKENS = 8;
    private boolean tiledPrefill = !"false".equals(System.getProperty("kvasir.gpu.tiled-prefill"));

    /**
     * What a step in flight uses on the host: the pinned buffer its metadata is copied from and the
     * one its tokens come back to (so the next step's packing cannot overwrite either), and the
     * events that bracket it on the stream ({@code begin}/{@code end} while timing) and complete it.
     */
    private static final class Slot {
        PinnedBuffer staging, sampledIds;
        final CUevent begin = new CUevent(), end = new CUevent(), done = new CUevent();

        PinnedBuffer staging(long bytes) {
            if (staging == null || staging.bytes() < bytes) staging = grown(staging, bytes);
            return staging;
        }

        PinnedBuffer sampledIds(long bytes) {
            if (sampledIds == null || sampledIds.bytes() < bytes) sampledIds = grown(sampledIds, bytes);
            return sampledIds;
        }

        private static PinnedBuffer grown(PinnedBuffer old, long bytes) {
            long size = Math.max(Math.max(bytes, 4L * 4096), old == null ? 0 : 2 * old.bytes());
            if (old != null) old.close();
            return new PinnedBuffer(size);
        }

        void close() {
            if (staging != null) staging.close();
            if (sampledIds != null) sampledIds.close();
            cuEventDestroy(begin);
            cuEventDestroy(end);
            cuEventDestroy(done);
        }
    }

    /** A step queued on the stream; its tokens are read once, in submission order. */
    private final class InFlight implements PendingStep {
        final Slot slot;
        final List<SequenceWork> sequences;
        final SamplingBatch batch;
        final boolean timed;
        /** Set on the dispatcher thread once read; {@link #await} checks it from the caller's. */
        volatile List<SampledToken> tokens;
        /** Sampling row by sequence id, built on first use (dispatcher thread). */
        private Map<Long, Integer> rows;

        InFlight(Slot slot, List<SequenceWork> sequences, SamplingBatch batch, boolean timed) {
            this.slot = slot;
            this.sequences = sequences;
            this.batch = batch;
            this.timed = timed;
        }

        /**
         * Waits off the dispatcher thread (which meanwhile takes the next step), then reads the
         * tokens there. An await that comes after the slot was handed to a newer step (possible only
         * once two more steps were submitted) waits for that step too; the tokens are still this one's.
         */
        @Override
        public List<SampledToken> await() {
            List<SampledToken> read = tokens;
            if (read != null) return read;
            dispatcher.waitFor(slot.done);
            return dispatcher.call(() -> finish(this));
        }

        /** The row of {@code sequenceId}'s token in this step's argmax output. */
        int rowOf(long sequenceId) {
            if (rows == null) {
                rows = new HashMap<>();
                for (SequenceWork w : sequences) if (w.sampling() != null) rows.put(w.sequenceId(), rows.size());
            }
            Integer r = rows.get(sequenceId);
            if (r == null) throw new IllegalArgumentException("sequence " + sequenceId + " continues but sampled nothing in the step before");
            return r;
        }

        boolean owner(GpuStepExecutor e) {
            return e == GpuStepExecutor.this;
        }
    }

    /** A decode step's forward pass captured once and replayed: one launch instead of hundreds. */
    private record Graph(CUgraphExec exec, int forwardGeneration, int intsGeneration, CUdeviceptr logits) {
    }

    private GpuStepExecutor(ModelConfig config, GpuDispatcher dispatcher, DeviceMemory memory, Kernels kernels, GpuWeights weights,
                            PagedKvPool kv, Matmuls matmuls) {
        this.config = config;
        this.dispatcher = dispatcher;
        this.memory = memory;
        this.kernels = kernels;
        this.weights = weights;
        this.kv = kv;
        this.geometry = new KvGeometry(kv.blockSize(), kv.numBlocks());
        this.forward = new GpuForwardPass(config, weights, kv, kernels, memory, matmuls);
        this.sampler = new DeviceSampler(kernels, memory, config.vocabSize());
    }

    /** Starts a dispatcher on {@code options.device()}, uploads the weights and sizes the KV pool. */
    public static GpuStepExecutor create(ModelWeights model, GpuOptions options) {
        String reason = GpuDevices.unavailableReason();
        if (reason != null) throw new IllegalStateException("GPU backend unavailable: " + reason);
        GpuDispatcher dispatcher = GpuDispatcher.open(options.device());
        try {
            return dispatcher.call(() -> {
                ModelConfig c = model.config();
                DeviceMemory memory = new DeviceMemory(dispatcher);
                Kernels kernels = Kernels.load(dispatcher);
                GpuDtype dtype = GpuDtype.parse(options.dtype(), model.weights());
                GpuForwardPass.decodeAttention(c, 1, 0); // an unsupported head shape fails here, before any upload
                KvCacheDtype kvDtype = KvCacheDtype.parse(options.kvCacheDtype(), dtype);
                GpuDeviceInfo card = GpuDevices.list().get(options.device());
                String unsupported = kvDtype.unsupportedReason(card.computeMajor(), card.computeMinor());
                if (unsupported != null) throw new IllegalArgumentException(unsupported);
                Quantization quantization = Quantization.parse(options.quantization());
                GpuWeights w = GpuWeights.upload(c, model.weights(), dtype, quantization, memory, dispatcher.stream());
                // the products' scratch (with the bf16 copy of the largest quantized matrix) before the KV pool takes the rest
                Matmuls matmuls = new Matmuls(kernels, memory, w.matrices());
                matmuls.ensureWorkspace();
                for (String line : matmuls.tuneDecode(w.matricesByRole(), dispatcher.stream())) log.info("decode product timed on cuda:{}: {}", options.device(), line);
                long budget = memory.kvBudget(options.memoryFraction(), RESERVE);
                long perBlock = PagedKvPool.bytesPerBlock(c, options.blockSize(), kvDtype);
                long maxUseful = (long) c.contextLength() * 256 / options.blockSize() + 1;
                long blocks = Math.min(budget / perBlock, maxUseful);
                if (options.maxKvBlocks() > 0) blocks = Math.min(blocks, options.maxKvBlocks());
                blocks = Math.min(blocks, (Integer.MAX_VALUE - 1L) / options.blockSize());
                if (blocks < 1) throw new IllegalStateException("no device memory left for the KV cache (budget " + (budget >> 20) + " MiB)");
                CUdeviceptr pool = memory.allocate("kv", blocks * perBlock);
                PagedKvPool kv = new PagedKvPool(pool, c.layers(), options.blockSize(), (int) blocks, c.kvHeads(), c.headDim(), kvDtype);
                GpuStepExecutor e = new GpuStepExecutor(c, dispatcher, memory, kernels, w, kv, matmuls);
                for (Slot slot : e.slots) {
                    cuEventCreate(slot.done, CUevent_flags.CU_EVENT_DISABLE_TIMING);
                    cuEventCreate(slot.begin, CUevent_flags.CU_EVENT_DEFAULT);
                    cuEventCreate(slot.end, CUevent_flags.CU_EVENT_DEFAULT);
                }
                log.info("cuda:{} ready: weights {} ({} MiB streamed per decode step), {} KV pool of {} blocks × {} ({} MiB)", options.device(),
                        w.describe(), w.matrixBytes >> 20, kvDtype, blocks, options.blockSize(), (blocks * perBlock) >> 20);
                return e;
            });
        } catch (RuntimeException e) {
            dispatcher.close();
            throw e;
        }
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public KvGeometry kvGeometry() {
        return geometry;
    }

    /** Bytes of weight matrices on the device: what one decode step must stream. */
    public long weightBytes() {
        return weights.matrixBytes;
    }

    /** The weight matrices' device layouts, e.g. "BF16 ×6, INT8/G32 ×15". */
    public String describeWeights() {
        return weights.describe();
    }

    /** Whether this executor's kernels start while their predecessor drains (see {@link Kernels}). */
    public boolean programmaticLaunch() {
        return kernels.programmaticLaunch();
    }

    public GpuDispatcher dispatcher() {
        return dispatcher;
    }

    @Override
    public List<SampledToken> execute(Step step) {
        return dispatcher.call(() -> finish(start(step, null)));
    }

    @Override
    public boolean queuesAhead() {
        return true;
    }

    @Override
    public PendingStep submit(Step step, PendingStep before) {
        return dispatcher.call(() -> start(step, before));
    }

    /**
     * Runs the forward pass and returns the logits of the sampled rows ({@code rows × vocab}) without
     * sampling: for checks against other implementations.
     */
    public float[] logits(Step step) {
        if (step.continues()) throw new IllegalArgumentException("logits of a step with continuing sequences: fill in their tokens first");
        return dispatcher.call(() -> {
            drain();
            StepLayout s = upload(step, nextSlot(), 0, usesTiledPrefill(step), null);
            CUdeviceptr logits = forward.run(s, dispatcher.stream());
            long floats = (long) s.rows() * config.vocabSize();
            float[] out = new float[(int) floats];
            PinnedBuffer host = hostLogits(floats * 4);
            host.fromDevice(logits, floats * 4, dispatcher.stream());
            cuStreamSynchronize(dispatcher.stream());
            MemorySegment.copy(host.segment(), ValueLayout.JAVA_FLOAT, 0, out, 0, out.length);
            return out;
        });
    }

    /**
     * Queues the step on the stream and returns. Continuing sequences take their tokens from
     * {@code before} on the device when it is the newest step in flight and sampled by argmax, else
     * from its tokens on the host. A step that samples through {@link DeviceSampler} (whose host
     * buffers every such step reuses) first waits for the steps in flight.
     */
    private InFlight start(Step step, PendingStep before) {
        CUstream stream = dispatcher.stream();
        InFlight previous = null;
        if (step.continues()) {
            if (before == null) throw new IllegalArgumentException("a step with continuing sequences needs the step before it");
            if (before instanceof InFlight f && f.owner(this) && f.tokens == null && f == inFlight.peekLast() && f.batch.allGreedyPlain) {
                previous = f;
            } else {
                step = step.withSampledTokens(before instanceof InFlight f && f.owner(this) ? finish(f) : before.await());
            }
        }
        List<SequenceWork> seqs = step.sequences();
        List<SamplingRequest> requests = new ArrayList<>(seqs.size());
        for (SequenceWork w : seqs) if (w.sampling() != null) requests.add(w.sampling());
        int rows = requests.size();
        if (rows > 4096) throw new IllegalArgumentException("at most 4096 sequences may sample in one step");
        SamplingBatch batch = SamplingBatch.pack(requests);
        if (!batch.allGreedyPlain) drain();
        while (inFlight.size() > 1) finish(inFlight.peekFirst());
        Slot slot = nextSlot();
        try {
            copyBlocks(step.copies(), slot, stream);
            boolean decode = graphs;
            int stride = 1;
            for (SequenceWork w : seqs) {
                if (w.tokens().length != 1 || w.sampling() == null) decode = false;
                stride = Math.max(stride, geometry.blocksFor(w.startPosition() + w.tokens().length));
            }
            boolean timed = timing && decode;
            InFlight f = new InFlight(slot, seqs, batch, timed);
            if (seqs.isEmpty()) {
                cuEventRecord(slot.done, stream);
                inFlight.addLast(f);
                return f;
            }
            if (timed) cuEventRecord(slot.begin, stream);
            StepLayout s = upload(step, slot, decode ? Integer.highestOneBit(Math.max(4, stride) - 1) << 1 : 0,
                    !decode && usesTiledPrefill(step), previous);
            if (previous != null) kernels.launch("take_sampled_ids", (s.tokens() + 255) / 256, 1, 256, stream, s.tokenIds(), sampled, s.tokens());
            CUdeviceptr logits = decode ? replay(s, stream) : forward.run(s, stream);
            if (batch.allGreedyPlain) {
                // plain greedy (the common case): the argmax on the device, only the ids come back
                if (sampled == null) {
                    sampled = memory.allocate("activations", 4L * 4096);
                    argmaxScratch = memory.allocate("activations", DeviceSampler.argmaxScratchBytes(4096));
                }
                DeviceSampler.argmax(kernels, logits, rows, config.vocabSize(), argmaxScratch, sampled, stream);
                slot.sampledIds(4L * rows).fromDevice(sampled, 4L * rows, stream);
            } else {
                sampler.queue(logits, batch, stream);
            }
            if (timed) cuEventRecord(slot.end, stream);
            cuEventRecord(slot.done, stream);
            inFlight.addLast(f);
            return f;
        } catch (RuntimeException e) {
            // whatever this step queued may still read the slot's buffers: let it finish before the slot is reused
            try {
                cuStreamSynchronize(stream);
            } catch (RuntimeException ignored) {
                // the stream's own error: the exception below says what went wrong first
            }
            throw e;
        }
    }

    /** The slot for the next step, with at most one step in flight: the one that step does not hold. */
    private Slot nextSlot() {
        InFlight last = inFlight.peekLast();
        return last != null && last.slot == slots[0] ? slots[1] : slots[0];
    }

    /** Waits for the step (and the ones before it) and reads its tokens. */
    private List<SampledToken> finish(InFlight f) {
        if (f.tokens != null) return f.tokens;
        while (inFlight.peekFirst() != f) finish(inFlight.peekFirst());
        cuEventSynchronize(f.slot.done);
        inFlight.removeFirst();
        if (f.timed) {
            float[] ms = new float[1];
            cuEventElapsedTime(ms, f.slot.begin, f.slot.end);
            timedMillis += ms[0];
            timedSteps++;
        }
        List<SampledToken> out = new ArrayList<>(f.batch.rows);
        int r = 0;
        for (SequenceWork w : f.sequences) {
            SamplingRequest sr = w.sampling();
            if (sr == null) continue;
            if (f.batch.allGreedyPlain) {
                out.add(new SampledToken(w.sequenceId(), f.slot.sampledIds.segment().getAtIndex(ValueLayout.JAVA_INT, r), Float.NaN, null, null));
            } else {
                float logprob = Float.NaN;
                int[] topTokens = null;
                float[] topLogprobs = null;
                if (sr.logprobs()) {
                    logprob = sampler.logprob(r);
                    if (sr.topLogprobs() > 0) {
                        int k = Math.min(sr.topLogprobs(), config.vocabSize());
                        topTokens = sampler.topTokens(r, k);
                        topLogprobs = sampler.topLogprobs(r, k);
                    }
                }
                out.add(new SampledToken(w.sequenceId(), sampler.token(r), logprob, topTokens, topLogprobs));
            }
            r++;
        }
        f.tokens = List.copyOf(out);
        return f.tokens;
    }

    /** Reads the tokens of every step in flight (before work that reuses their buffers). */
    private void drain() {
        while (!inFlight.isEmpty()) finish(inFlight.peekFirst());
    }

    /**
     * Whether the step's attention runs as the tiled prefill kernel: when some sequence brings at
     * least {@link #TILED_PREFILL_MIN_TOKENS} new tokens (below that, the per-token kernel reads each
     * key about as often), the heads fit the kernel (head dim ≤ 128) and it is not switched off.
     */
    private boolean usesTiledPrefill(Step step) {
        if (!tiledPrefill || config.headDim() > 128) return false;
        for (SequenceWork w : step.sequences()) if (w.tokens().length >= TILED_PREFILL_MIN_TOKENS) return true;
        return false;
    }

    /** Whether prefill uses the tiled attention kernel (on by default; -Dkvasir.gpu.tiled-prefill=false turns it off). */
    public void useTiledPrefill(boolean on) {
        dispatcher.call(() -> {
            tiledPrefill = on;
            return null;
        });
    }

    /**
     * Whether the tiled prefill runs on the tensor cores for fp16/bf16 KV pools (Q and P rounded to
     * 16 bits; on by default, -Dkvasir.gpu.tc-prefill=false turns it off).
     */
    public void useTensorCorePrefill(boolean on) {
        dispatcher.call(() -> {
            forward.useTensorCorePrefill(on);
            return null;
        });
    }

    /**
     * Starts (or stops) timing each decode step replayed from a graph on the stream, from before its
     * metadata copy to after its tokens' copy back, and clears the figures so far: the step as the
     * device saw it, without the time the caller spends between steps (for gpu-bench). A step queued
     * behind another starts its clock when that one ends; one submitted to an idle stream when it is
     * queued, so the host's enqueue latency counts then.
     */
    public void timeSteps(boolean on) {
        dispatcher.call(() -> {
            timing = on;
            timedMillis = 0;
            timedSteps = 0;
            return null;
        });
    }

    /** The mean stream time of the steps timed since {@link #timeSteps} turned timing on (NaN before any). */
    public double timedStepMillis() {
        return dispatcher.call(() -> timedSteps == 0 ? Double.NaN : timedMillis / timedSteps);
    }

    /** Whether decode steps replay captured CUDA graphs (on by default; -Dkvasir.gpu.graphs=false turns them off). */
    public void useGraphs(boolean on) {
        dispatcher.call(() -> {
            graphs = on;
            return null;
        });
    }

    /**
     * Runs a decode step's forward pass as a CUDA graph, captured on first use for this (batch, table
     * width) and replayed after: the step's metadata always lies at the same device addresses, so
     * the kernels' arguments do not change. A capture that fails turns graphs off.
     */
    private CUdeviceptr replay(StepLayout s, CUstream stream) {
        forward.ensure(s.tokens(), s.rows());
        long key = ((long) s.tokens() << 32) | s.tableStride();
        Graph g = graphCache.get(key);
        if (g == null || g.forwardGeneration() != forward.generation() || g.intsGeneration() != intsGeneration) {
            if (g != null) cuGraphExecDestroy(g.exec());
            graphCache.remove(key);
            CUgraph graph = new CUgraph();
            CUdeviceptr logits;
            try {
                cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
                try {
                    logits = forward.run(s, stream);
                } finally {
                    cuStreamEndCapture(stream, graph);
                }
                CUgraphExec exec = new CUgraphExec();
                cuGraphInstantiate(exec, graph, 0);
                cuGraphDestroy(graph);
                g = new Graph(exec, forward.generation(), intsGeneration, logits);
                graphCache.put(key, g);
                log.debug("captured the decode graph for {} sequences, table width {}", s.tokens(), s.tableStride());
            } catch (RuntimeException e) {
                log.warn("CUDA graph capture failed, running decode without graphs: {}", e.toString());
                graphs = false;
                return forward.run(s, stream);
            }
        }
        cuGraphLaunch(g.exec(), stream);
        return g.logits();
    }

    /**
     * Packs the step's ids, positions, slots, rows and block tables (each {@code minStride} entries
     * wide at least), and with {@code tiles} the prefill query tiles (first token, count: up to
     * {@link #PREFILL_TILE} consecutive tokens of one sequence) into the slot's staging buffer, and queues one
     * copy to the device. A continuing sequence's id is -1 - its row in {@code previous}'s argmax
     * output, for take_sampled_ids.
     */
    private StepLayout upload(Step step, Slot slot, int minStride, boolean tiles, InFlight previous) {
        List<SequenceWork> seqs = step.sequences();
        int n = step.tokenCount();
        int rows = 0;
        int stride = Math.max(1, minStride);
        for (SequenceWork w : seqs) {
            if (w.sampling() != null) rows++;
            int needed = geometry.blocksFor(w.startPosition() + w.tokens().length);
            if (w.blockTable().length < needed) {
                throw new IllegalArgumentException("sequence " + w.sequenceId() + ": block table of " + w.blockTable().length
                        + " blocks cannot hold " + (w.startPosition() + w.tokens().length) + " positions");
            }
            stride = Math.max(stride, needed);
        }
        int tileCount = 0;
        if (tiles) for (SequenceWork w : seqs) tileCount += (w.tokens().length + PREFILL_TILE - 1) / PREFILL_TILE;
        long tileBase = 4L * n + Math.max(rows, 1) + (long) seqs.size() * stride;
        long ints = tileBase + 2L * tileCount;
        CUdeviceptr d = deviceInts(ints * 4);
        PinnedBuffer host = slot.staging(ints * 4);
        MemorySegment m = host.segment();
        int bs = geometry.blockSize();
        int t = 0;
        int r = 0;
        int tile = 0;
        long rowBase = 4L * n;
        long tableBase = rowBase + Math.max(rows, 1);
        for (int si = 0; si < seqs.size(); si++) {
            SequenceWork w = seqs.get(si);
            int[] table = w.blockTable();
            boolean continues = w.continues();
            if (continues && previous == null) throw new IllegalStateException("sequence " + w.sequenceId() + " continues without a step before it on the device");
            for (int i = 0; i < w.tokens().length; i++) {
                int id = continues ? -1 - previous.rowOf(w.sequenceId()) : w.tokens()[i];
                if (!continues && (id < 0 || id >= config.vocabSize())) {
                    throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + config.vocabSize());
                }
                int pos = w.startPosition() + i;
                if (pos >= config.contextLength()) throw new IllegalArgumentException("position " + pos + " outside the context window of " + config.contextLength());
                int block = table[pos / bs];
                if (block < 0 || block >= geometry.numBlocks()) throw new IllegalArgumentException("KV block " + block + " outside the pool of " + geometry.numBlocks());
                m.setAtIndex(ValueLayout.JAVA_INT, t, id);
                m.setAtIndex(ValueLayout.JAVA_INT, n + t, pos);
                m.setAtIndex(ValueLayout.JAVA_INT, 2L * n + t, si);
                m.setAtIndex(ValueLayout.JAVA_INT, 3L * n + t, block * bs + pos % bs);
                t++;
            }
            if (w.sampling() != null) m.setAtIndex(ValueLayout.JAVA_INT, rowBase + r++, t - 1);
            if (tiles) {
                int first = t - w.tokens().length;
                for (int i = 0; i < w.tokens().length; i += PREFILL_TILE) {
                    m.setAtIndex(ValueLayout.JAVA_INT, tileBase + 2L * tile, first + i);
                    m.setAtIndex(ValueLayout.JAVA_INT, tileBase + 2L * tile + 1, Math.min(PREFILL_TILE, w.tokens().length - i));
                    tile++;
                }
            }
            int needed = geometry.blocksFor(w.startPosition() + w.tokens().length);
            for (int b = 0; b < stride; b++) m.setAtIndex(ValueLayout.JAVA_INT, tableBase + (long) si * stride + b, b < needed ? table[b] : 0);
        }
        host.toDevice(d, ints * 4, dispatcher.stream());
        return new StepLayout(n, rows, stride, d, d.withByteOffset(4L * n), d.withByteOffset(8L * n), d.withByteOffset(12L * n),
                d.withByteOffset(4 * rowBase), d.withByteOffset(4 * tableBase), tileCount, tiles ? d.withByteOffset(4 * tileBase) : null);
    }

    private void copyBlocks(List<BlockCopy> copies, Slot slot, CUstream stream) {
        if (copies.isEmpty()) return;
        long bytes = 8L * copies.size();
        PinnedBuffer host = slot.staging(bytes);
        for (int i = 0; i < copies.size(); i++) {
            host.segment().setAtIndex(ValueLayout.JAVA_INT, 2L * i, copies.get(i).source());
            host.segment().setAtIndex(ValueLayout.JAVA_INT, 2L * i + 1, copies.get(i).target());
        }
        CUdeviceptr d = deviceInts(bytes);
        host.toDevice(d, bytes, stream);
        kernels.launch("kv_copy_blocks", copies.size(), config.layers(), 256, stream, kv.base(), d, kv.sideBytes(), kv.blockBytes(),
                kv.scaleOffset(), kv.scaleSideBytes(), kv.scaleBlockBytes());
        // the pinned buffer is rewritten by the next upload: wait until this copy has read it
        cuStreamSynchronize(stream);
    }

    /** The device buffer of step metadata (one: steps run in stream order); grown only with no step in flight. */
    private CUdeviceptr deviceInts(long bytes) {
        if (deviceInts == null || deviceIntsBytes < bytes) {
            drain();
            if (deviceInts != null) memory.free("activations", deviceInts, deviceIntsBytes);
            intsGeneration++;
            deviceIntsBytes = Math.max(bytes, Math.max(1L << 20, 2 * deviceIntsBytes));
            deviceInts = memory.allocate("activations", deviceIntsBytes);
        }
        return deviceInts;
    }

    private PinnedBuffer hostLogits(long bytes) {
        if (hostLogits == null || hostLogits.bytes() < bytes) {
            if (hostLogits != null) hostLogits.close();
            hostLogits = new PinnedBuffer(bytes);
        }
        return hostLogits;
    }

    /** The KV pool's element type. */
    public KvCacheDtype kvCacheDtype() {
        return kv.dtype();
    }

    /**
     * Copies a block (every layer's keys and values, and their scales for int8/fp8) to the host. The
     * bytes travel as they are stored, packed into the float array (raw bits; for an fp32 pool these
     * are the keys' and values' floats, layer by layer).
     */
    @Override
    public HostKvBlock swapOut(int block) {
        return dispatcher.call(() -> {
            drain();
            List<PagedKvPool.Segment> segments = kv.blockSegments(block);
            long total = 0;
            for (PagedKvPool.Segment sg : segments) total += sg.bytes();
            PinnedBuffer host = hostLogits(total);
            long at = 0;
            for (PagedKvPool.Segment sg : segments) {
                host.fromDevice(kv.base().withByteOffset(sg.offset()), at, sg.bytes(), dispatcher.stream());
                at += sg.bytes();
            }
            cuStreamSynchronize(dispatcher.stream());
            float[] data = new float[(int) ((total + 3) / 4)];
            MemorySegment.copy(host.segment(), ValueLayout.JAVA_BYTE, 0, MemorySegment.ofArray(data), ValueLayout.JAVA_BYTE, 0, total);
            return new HostKvBlock(data);
        });
    }

    @Override
    public void swapIn(HostKvBlock data, int block) {
        dispatcher.call(() -> {
            drain();
            List<PagedKvPool.Segment> segments = kv.blockSegments(block);
            long total = 0;
            for (PagedKvPool.Segment sg : segments) total += sg.bytes();
            if (4L * data.data().length < total) throw new IllegalArgumentException("a swapped-out block of " + 4L * data.data().length + " bytes, the pool's take " + total);
            PinnedBuffer host = hostLogits(total);
            cuStreamSynchronize(dispatcher.stream()); // nothing queued still reads the buffer
            MemorySegment.copy(MemorySegment.ofArray(data.data()), ValueLayout.JAVA_BYTE, 0, host.segment(), ValueLayout.JAVA_BYTE, 0, total);
            long at = 0;
            for (PagedKvPool.Segment sg : segments) {
                host.toDevice(kv.base().withByteOffset(sg.offset()), at, sg.bytes(), dispatcher.stream());
                at += sg.bytes();
            }
            cuStreamSynchronize(dispatcher.stream());
            return null;
        });
    }

    @Override
    public String device() {
        return "cuda:" + dispatcher.ordinal();
    }

    @Override
    public void close() {
        try {
            dispatcher.call(() -> {
                cuStreamSynchronize(dispatcher.stream());
                inFlight.clear();
                for (Slot slot : slots) slot.close();
                for (Graph g : graphCache.values()) cuGraphExecDestroy(g.exec());
                if (hostLogits != null) hostLogits.close();
                sampler.close();
                forward.close();
                kernels.close();
                memory.close();
                return null;
            });
        } finally {
            dispatcher.close();
        }
    }
}
