package dev.kvasir.gpu;

import dev.kvasir.model.arch.ModelConfig;
import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.tensor.Quantizer;
import dev.kvasir.model.tensor.WeightMatrix;
import dev.kvasir.model.weights.LayerWeights;
import dev.kvasir.model.weights.LlamaWeights;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

/**
 * A model's weights uploaded to one device. Each matrix (or stack of matrices) takes the layout
 * {@link QuantPacking#plan} picks for the {@link Quantization}: quantized (INT8/INT4, repacked from
 * GGUF blocks or quantized on load, on the host) or dense in the device type — copied byte for byte
 * when already in it, else dequantized on the host row by row and rounded. The embedding table is
 * always dense (rows are gathered). Norms, biases and RoPE frequencies stay fp32. Every byte goes
 * through a pinned staging buffer.
 */
public final class GpuWeights {
    private static final Logger log = LoggerFactory.getLogger(GpuWeights.class);
    private static final long STAGING = 64L << 20;

    /**
     * One layer on the device. q, k and v are stacked into one matrix (rows: q, then k, then v) and
     * gate and up into another, so each takes one launch and the small k/v projections share the
     * big one's parallelism. {@code bqkv} stacks the biases the same way, or is null.
     */
    public record Layer(CUdeviceptr attnNorm, DeviceMatrix wqkv, CUdeviceptr bqkv, DeviceMatrix wo,
                        CUdeviceptr ffnNorm, DeviceMatrix gateUp, DeviceMatrix down) {
    }

    public final GpuDtype dtype;
    public final DeviceMatrix.Dense embedding;
    public final DeviceMatrix output;
    public final CUdeviceptr outputNorm;
    public final CUdeviceptr inverseFrequencies;
    /** cos and sin of every rotated pair for positions below {@link #ropeTablePositions} (float2 [position][pair]). */
    public final CUdeviceptr ropeTable;
    public final int ropeTablePositions;
    public final List<Layer> layers;
    /**
     * Bytes of the matrices one decode step streams: every layer's and the output's (the embedding
     * table only when it is the output; otherwise a step gathers just a few of its rows).
     */
    public final long matrixBytes;

    private GpuWeights(GpuDtype dtype, DeviceMatrix.Dense embedding, DeviceMatrix output, CUdeviceptr outputNorm,
                       CUdeviceptr inverseFrequencies, CUdeviceptr ropeTable, int ropeTablePositions, List<Layer> layers) {
        this.dtype = dtype;
        this.ropeTable = ropeTable;
        this.ropeTablePositions = ropeTablePositions;
        this.embedding = embedding;
        this.output = output;
        this.outputNorm = outputNorm;
        this.inverseFrequencies = inverseFrequencies;
        this.layers = layers;
        this.matrixBytes = streamedBytes(matrices());
    }

    /** Sum of {@link DeviceMatrix#bytes} over {@code ms}: what reading each once costs. */
    static long streamedBytes(List<DeviceMatrix> ms) {
        long n = 0;
        for (DeviceMatrix m : ms) n += m.bytes();
        return n;
    }

    /** The matrices the weight products read: every layer's, then the output. */
    public List<DeviceMatrix> matrices() {
        List<DeviceMatrix> ms = new ArrayList<>();
        for (Layer l : layers) ms.addAll(List.of(l.wqkv(), l.wo(), l.gateUp(), l.down()));
        ms.add(output);
        return ms;
    }

    /** Uploads everything with every matrix in {@code dtype}; call on the dispatcher thread. */
    public static GpuWeights upload(ModelConfig c, LlamaWeights w, GpuDtype dtype, DeviceMemory memory, CUstream stream) {
        return upload(c, w, dtype, Quantization.NONE, memory, stream);
    }

    /**
     * Uploads everything, the matrices laid out as {@code quantization} says (the rest in
     * {@code dtype}); call on the dispatcher thread.
     */
    public static GpuWeights upload(ModelConfig c, LlamaWeights w, GpuDtype dtype, Quantization quantization, DeviceMemory memory, CUstream stream) {
        long t0 = System.nanoTime();
        try (PinnedBuffer staging = new PinnedBuffer(STAGING)) {
            Uploader up = new Uploader(memory, staging, stream, dtype, quantization);
            DeviceMatrix.Dense embedding = up.dense(w.tokenEmbedding());
            DeviceMatrix output = w.tiedOutput() ? embedding : up.stacked(w.output());
            List<Layer> layers = new ArrayList<>();
            for (LayerWeights l : w.layers()) {
                layers.add(new Layer(up.floats(l.attnNorm()), up.stacked(l.wq(), l.wk(), l.wv()), up.floats(stackedBias(l, c)),
                        up.stacked(l.wo()), up.floats(l.ffnNorm()), up.stacked(l.gate(), l.up()), up.stacked(l.down())));
            }
            CUdeviceptr norm = up.floats(w.outputNorm());
            float[] invFreq = inverseFrequencies(c);
            CUdeviceptr freqs = up.floats(invFreq);
            int tablePositions = Math.min(c.contextLength(), ROPE_TABLE_POSITIONS);
            CUdeviceptr table = up.floats(ropeTable(invFreq, tablePositions));
            cuStreamSynchronize(stream);
            GpuWeights g = new GpuWeights(dtype, embedding, output, norm, freqs, table, tablePositions, List.copyOf(layers));
            log.info("uploaded {} MiB of weights in {} ms ({}; quantization {}); a decode step streams {} MiB",
                    up.uploadedBytes >> 20, (System.nanoTime() - t0) / 1_000_000, g.describe(), quantization, g.matrixBytes >> 20);
            return g;
        }
    }

    /** The streamed matrices grouped by role (q/k/v, output projection, gate/up, down: one per layer; then the logits matrix). */
    public List<List<DeviceMatrix>> matricesByRole() {
        return List.of(layers.stream().map(Layer::wqkv).toList(), layers.stream().map(Layer::wo).toList(),
                layers.stream().map(Layer::gateUp).toList(), layers.stream().map(Layer::down).toList(), List.of(output));
    }

    /** The layouts of the streamed matrices, e.g. "INT4/G32 ×96, BF16 ×33". */
    public String describe() {
        java.util.Map<String, Integer> counts = new java.util.TreeMap<>();
        for (DeviceMatrix m : matrices()) {
            String k = switch (m) {
                case DeviceMatrix.Dense d -> d.dtype().name();
                case DeviceMatrix.Quantized q -> q.format() + "/G" + q.groupSize();
            };
            counts.merge(k, 1, Integer::sum);
        }
        StringBuilder b = new StringBuilder();
        counts.forEach((k, v) -> b.append(b.isEmpty() ? "" : ", ").append(k).append(" ×").append(v));
        return b.toString();
    }

    /** q, k and v biases end to end (a missing one as zeros), or null when the model has none. */
    private static float[] stackedBias(LayerWeights l, ModelConfig c) {
        if (l.bq() == null && l.bk() == null && l.bv() == null) return null;
        float[] b = new float[c.qDim() + 2 * c.kvDim()];
        if (l.bq() != null) System.arraycopy(l.bq(), 0, b, 0, c.qDim());
        if (l.bk() != null) System.arraycopy(l.bk(), 0, b, c.qDim(), c.kvDim());
        if (l.bv() != null) System.arraycopy(l.bv(), 0, b, c.qDim() + c.kvDim(), c.kvDim());
        return b;
    }

    /** Positions the RoPE table covers at most (16 MiB for 128 rotated dims); later ones compute their angles. */
    static final int ROPE_TABLE_POSITIONS = 32768;

    /**
     * (cos, sin) of pos · invFreq[i] for pos below {@code positions}, in double and rounded to float
     * exactly as the CPU engine does, pair by pair: [pos][i] → (cos, sin).
     */
    static float[] ropeTable(float[] invFreq, int positions) {
        float[] t = new float[2 * positions * invFreq.length];
        for (int pos = 0, k = 0; pos < positions; pos++) {
            for (float f : invFreq) {
                double angle = pos * (double) f;
                t[k++] = (float) Math.cos(angle);
                t[k++] = (float) Math.sin(angle);
            }
        }
        return t;
    }

    /** Per rotated pair i: theta^(-2i/ropeDim), divided by the Llama 3 factor — as the CPU engine computes them. */
    static float[] inverseFrequencies(ModelConfig c) {
        float[] f = new float[c.ropeDim() / 2];
        for (int i = 0; i < f.length; i++) {
            double v = Math.pow(c.ropeTheta(), -2.0 * i / c.ropeDim());
            if (c.ropeFrequencyFactors() != null) v /= c.ropeFrequencyFactors()[i];
            f[i] = (float) v;
        }
        return f;
    }

    private static final class Uploader {
        final DeviceMemory memory;
        final PinnedBuffer staging;
        final CUstream stream;
        final GpuDtype dtype;
        final Quantization quantization;
        long uploadedBytes;

        Uploader(DeviceMemory memory, PinnedBuffer staging, CUstream stream, GpuDtype dtype, Quantization quantization) {
            this.memory = memory;
            this.staging = staging;
            this.stream = stream;
            this.dtype = dtype;
            this.quantization = quantization;
        }

        CUdeviceptr floats(float[] v) {
            if (v == null) return null;
            CUdeviceptr p = memory.allocate("weights", (long) v.length * 4);
            copy(MemorySegment.ofArray(v), p);
            return p;
        }

        /** Matrices with the same column count, one under the other in one allocation, laid out as planned. */
        DeviceMatrix stacked(WeightMatrix... parts) {
            checkWidths(parts);
            QuantPacking.Plan plan = QuantPacking.plan(quantization, List.of(parts));
            return plan.dense() ? dense(parts) : quantized(plan, parts);
        }

        private static void checkWidths(WeightMatrix... parts) {
            for (WeightMatrix m : parts) {
                if (m.cols() != parts[0].cols()) throw new IllegalArgumentException("stacked matrices differ in width: " + m.cols() + " vs " + parts[0].cols());
            }
        }

        /** Stacked matrices in the device type. */
        DeviceMatrix.Dense dense(WeightMatrix... parts) {
            checkWidths(parts);
            int cols = parts[0].cols();
            int rows = 0;
            for (WeightMatrix m : parts) rows += m.rows();
            long bytes = (long) rows * cols * dtype.bytes;
            CUdeviceptr p = memory.allocate("weights", bytes);
            uploadedBytes += bytes;
            long offset = 0;
            for (WeightMatrix m : parts) {
                CUdeviceptr dst = p.withByteOffset(offset);
                if (native_(m.type())) {
                    copy(m.data(), dst);
                } else {
                    convert(m, dst);
                }
                offset += (long) m.rows() * cols * dtype.bytes;
            }
            return new DeviceMatrix.Dense(p, rows, cols, dtype);
        }

        /**
         * Stacked matrices quantized: rows packed on the host (QuantPacking), as many at a time as
         * fit the staging buffer (values first, group parameters after them), then copied.
         */
        DeviceMatrix.Quantized quantized(QuantPacking.Plan plan, WeightMatrix... parts) {
            int cols = parts[0].cols();
            int rows = 0;
            for (WeightMatrix m : parts) rows += m.rows();
            long rowBytes = plan.format().rowBytes(cols);
            long scaleRowBytes = QuantPacking.scaleRowBytes(plan, cols);
            CUdeviceptr data = memory.allocate("weights", rows * rowBytes);
            CUdeviceptr scales = memory.allocate("weights", rows * scaleRowBytes);
            uploadedBytes += rows * (rowBytes + scaleRowBytes);
            int rowsPerChunk = (int) Math.max(1, (STAGING - 16) / (rowBytes + scaleRowBytes));
            float[] floats = new float[cols];
            MemorySegment seg = staging.segment();
            int r0 = 0;
            for (WeightMatrix m : parts) {
                for (int p0 = 0; p0 < m.rows(); p0 += rowsPerChunk) {
                    int n = Math.min(rowsPerChunk, m.rows() - p0);
                    long scaleBase = (n * rowBytes + 15) & ~15L;
                    cuStreamSynchronize(stream); // the staging buffer is free again
                    for (int r = 0; r < n; r++) {
                        QuantPacking.packRow(plan, m, p0 + r, floats, seg, r * rowBytes, seg, scaleBase + r * scaleRowBytes);
                    }
                    long dst = r0 + p0;
                    staging.toDevice(data.withByteOffset(dst * rowBytes), 0, n * rowBytes, stream);
                    staging.toDevice(scales.withByteOffset(dst * scaleRowBytes), scaleBase, n * scaleRowBytes, stream);
                }
                r0 += m.rows();
            }
            return new DeviceMatrix.Quantized(plan.format(), data, scales, rows, cols, plan.groupSize());
        }

        boolean native_(GgmlType t) {
            return (t == GgmlType.F32 && dtype == GpuDtype.F32) || (t == GgmlType.BF16 && dtype == GpuDtype.BF16)
                    || (t == GgmlType.F16 && dtype == GpuDtype.F16);
        }

        /** Bytes of {@code src} to {@code dst}, one staging buffer at a time. */
        void copy(MemorySegment src, CUdeviceptr dst) {
            long size = src.byteSize();
            for (long off = 0; off < size; off += STAGING) {
                long n = Math.min(STAGING, size - off);
                cuStreamSynchronize(stream); // the staging buffer is free again
                MemorySegment.copy(src, off, staging.segment(), 0, n);
                staging.toDevice(dst.withByteOffset(off), n, stream);
            }
        }

        /** Dequantizes rows on the host and rounds them to the device type. */
        void convert(WeightMatrix m, CUdeviceptr dst) {
            int cols = m.cols();
            long rowBytes = (long) cols * dtype.bytes;
            int rowsPerChunk = (int) Math.max(1, STAGING / rowBytes);
            float[] row = new float[cols];
            MemorySegment seg = staging.segment();
            for (int r0 = 0; r0 < m.rows(); r0 += rowsPerChunk) {
                int rows = Math.min(rowsPerChunk, m.rows() - r0);
                cuStreamSynchronize(stream);
                for (int r = 0; r < rows; r++) {
                    m.dequantizeRow(r0 + r, row, 0);
                    long base = r * rowBytes;
                    for (int i = 0; i < cols; i++) {
                        switch (dtype) {
                            case F32 -> seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED, base + 4L * i, row[i]);
                            case BF16 -> seg.set(ValueLayout.JAVA_SHORT_UNALIGNED, base + 2L * i, Quantizer.toBf16(row[i]));
                            case F16 -> seg.set(ValueLayout.JAVA_SHORT_UNALIGNED, base + 2L * i, Float.floatToFloat16(row[i]));
                        }
                    }
                }
                staging.toDevice(dst.withByteOffset(r0 * rowBytes), rows * rowBytes, stream);
            }
        }
    }
}
