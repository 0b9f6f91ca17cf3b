package dev.kvasir.gpu;

import jcuda.driver.CUdeviceptr;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static jcuda.driver.JCudaDriver.cuMemsetD8Async;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

/** Test helpers: arrays to and from the device through a pinned buffer, on the dispatcher thread. */
final class DeviceArrays implements AutoCloseable {
    private final GpuDispatcher d;
    final DeviceMemory memory;
    final Kernels kernels;

    DeviceArrays(GpuDispatcher d) {
        this.d = d;
        this.memory = new DeviceMemory(d);
        this.kernels = Kernels.load(d);
    }

    CUdeviceptr floats(float[] v) {
        CUdeviceptr p = memory.allocate("test", 4L * v.length);
        try (PinnedBuffer b = new PinnedBuffer(4L * Math.max(1, v.length))) {
            MemorySegment.copy(v, 0, b.segment(), ValueLayout.JAVA_FLOAT, 0, v.length);
            b.toDevice(p, 4L * v.length, d.stream());
            cuStreamSynchronize(d.stream());
        }
        return p;
    }

    CUdeviceptr ints(int[] v) {
        CUdeviceptr p = memory.allocate("test", 4L * Math.max(1, v.length));
        try (PinnedBuffer b = new PinnedBuffer(4L * Math.max(1, v.length))) {
            MemorySegment.copy(v, 0, b.segment(), ValueLayout.JAVA_INT, 0, v.length);
            b.toDevice(p, 4L * v.length, d.stream());
            cuStreamSynchronize(d.stream());
        }
        return p;
    }

    /** Raw 16-bit values (bf16 or f16 bits). */
    CUdeviceptr shorts(short[] v) {
        CUdeviceptr p = memory.allocate("test", 2L * v.length);
        try (PinnedBuffer b = new PinnedBuffer(2L * v.length)) {
            MemorySegment.copy(v, 0, b.segment(), ValueLayout.JAVA_SHORT, 0, v.length);
            b.toDevice(p, 2L * v.length, d.stream());
            cuStreamSynchronize(d.stream());
        }
        return p;
    }

    /** Raw bytes (packed quantized weights and their scales). */
    CUdeviceptr bytes(byte[] v) {
        CUdeviceptr p = memory.allocate("test", Math.max(1, v.length));
        try (PinnedBuffer b = new PinnedBuffer(Math.max(1, v.length))) {
            MemorySegment.copy(v, 0, b.segment(), ValueLayout.JAVA_BYTE, 0, v.length);
            b.toDevice(p, v.length, d.stream());
            cuStreamSynchronize(d.stream());
        }
        return p;
    }

    /** A fresh buffer of {@code n} floats poisoned with NaN, so unwritten outputs show. */
    CUdeviceptr poisoned(int n) {
        CUdeviceptr p = memory.allocate("test", 4L * n);
        kernels.launch("fill_f32", (n + 255) / 256, 1, 256, d.stream(), p, Float.NaN, (long) n);
        return p;
    }

    /** A fresh buffer of {@code n} bytes all 0xFF: NaN as fp32, fp16, bf16 and fp8 (and -1 as int8). */
    CUdeviceptr poisonedBytes(long n) {
        CUdeviceptr p = memory.allocate("test", n);
        cuMemsetD8Async(p, (byte) 0xFF, n, d.stream());
        return p;
    }

    byte[] readBytes(CUdeviceptr p, int n) {
        byte[] out = new byte[n];
        try (PinnedBuffer b = new PinnedBuffer(Math.max(1, n))) {
            b.fromDevice(p, n, d.stream());
            cuStreamSynchronize(d.stream());
            MemorySegment.copy(b.segment(), ValueLayout.JAVA_BYTE, 0, out, 0, n);
        }
        return out;
    }

    float[] readFloats(CUdeviceptr p, int n) {
        float[] out = new float[n];
        try (PinnedBuffer b = new PinnedBuffer(4L * n)) {
            b.fromDevice(p, 4L * n, d.stream());
            cuStreamSynchronize(d.stream());
            MemorySegment.copy(b.segment(), ValueLayout.JAVA_FLOAT, 0, out, 0, n);
        }
        return out;
    }

    int[] readInts(CUdeviceptr p, int n) {
        int[] out = new int[n];
        try (PinnedBuffer b = new PinnedBuffer(4L * n)) {
            b.fromDevice(p, 4L * n, d.stream());
            cuStreamSynchronize(d.stream());
            MemorySegment.copy(b.segment(), ValueLayout.JAVA_INT, 0, out, 0, n);
        }
        return out;
    }

    @Override
    public void close() {
        kernels.close();
        memory.close();
    }
}
