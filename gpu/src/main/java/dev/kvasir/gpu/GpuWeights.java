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
 * A model's weights uploaded to one device. Matrices already in the device type are copied byte for
 * byte; others (quantized, or another float type) are dequantized on the host row by row and rounded
 * to the device type. Norms, biases and RoPE frequencies stay fp32. Every byte goes through a pinned
 * staging buffer.
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
    public final DeviceMatrix embedding;
    public final DeviceMatrix output;
    public final CUdeviceptr outputNorm;
    public final CUdeviceptr inverseFrequencies;
    public final List<Layer> layers;
    public final long matrixBytes;

    private GpuWeights(GpuDtype dtype, DeviceMatrix embedding, DeviceMatrix output, CUdeviceptr outputNorm,
                       CUdeviceptr inverseFrequencies, List<Layer> layers, long matrixBytes) {
        this.dtype = dtype;
        this.embedding = embedding;
        this.output = output;
        this.outputNorm = outputNorm;
        this.inverseFrequencies = inverseFrequencies;
        this.layers = layers;
        this.matrixBytes = matrixBytes;
    }

    /** Uploads everything; call on the dispatcher thread. */
    public static GpuWeights upload(ModelConfig c, LlamaWeights w, GpuDtype dtype, DeviceMemory memory, CUstream stream) {
        long t0 = System.nanoTime();
        try (PinnedBuffer staging = new PinnedBuffer(STAGING)) {
            Uploader up = new Uploader(memory, staging, stream, dtype);
            DeviceMatrix embedding = up.matrix(w.tokenEmbedding());
            DeviceMatrix output = w.tiedOutput() ? embedding : up.matrix(w.output());
            List<Layer> layers = new ArrayList<>();
            for (LayerWeights l : w.layers()) {
                layers.add(new Layer(up.floats(l.attnNorm()), up.stacked(l.wq(), l.wk(), l.wv()), up.floats(stackedBias(l, c)),
                        up.matrix(l.wo()), up.floats(l.ffnNorm()), up.stacked(l.gate(), l.up()), up.matrix(l.down())));
            }
            CUdeviceptr norm = up.floats(w.outputNorm());
            CUdeviceptr freqs = up.floats(inverseFrequencies(c));
            cuStreamSynchronize(stream);
            log.info("uploaded {} MiB of {} weights in {} ms", up.matrixBytes >> 20, dtype, (System.nanoTime() - t0) / 1_000_000);
            return new GpuWeights(dtype, embedding, output, norm, freqs, List.copyOf(layers), up.matrixBytes);
        }
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
        long matrixBytes;

        Uploader(DeviceMemory memory, PinnedBuffer staging, CUstream stream, GpuDtype dtype) {
            this.memory = memory;
            this.staging = staging;
            this.stream = stream;
            this.dtype = dtype;
        }

        CUdeviceptr floats(float[] v) {
            if (v == null) return null;
            CUdeviceptr p = memory.allocate("weights", (long) v.length * 4);
            copy(MemorySegment.ofArray(v), p);
            return p;
        }

        DeviceMatrix matrix(WeightMatrix m) {
            return stacked(m);
        }

        /** Matrices with the same column count, one under the other in one allocation. */
        DeviceMatrix stacked(WeightMatrix... parts) {
            int cols = parts[0].cols();
            int rows = 0;
            for (WeightMatrix m : parts) {
                if (m.cols() != cols) throw new IllegalArgumentException("stacked matrices differ in width: " + m.cols() + " vs " + cols);
                rows += m.rows();
            }
            long bytes = (long) rows * cols * dtype.bytes;
            CUdeviceptr p = memory.allocate("weights", bytes);
            matrixBytes += bytes;
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
            return new DeviceMatrix(p, rows, cols, dtype);
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
