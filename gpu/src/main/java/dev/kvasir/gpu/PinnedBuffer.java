package dev.kvasir.gpu;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemHostAlloc;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;

/**
 * Page-locked host memory (cuMemHostAlloc): every copy between host and device goes through one of
 * these, so copies run at full bus speed and can be asynchronous. Seen from Java as a memory segment.
 */
public final class PinnedBuffer implements AutoCloseable {
    private final Pointer host = new Pointer();
    private final long bytes;
    private final MemorySegment segment;

    public PinnedBuffer(long bytes) {
        this.bytes = bytes;
        cuMemHostAlloc(host, bytes, 0);
        this.segment = MemorySegment.ofBuffer(host.getByteBuffer(0, bytes).order(ByteOrder.nativeOrder()));
    }

    public long bytes() {
        return bytes;
    }

    public MemorySegment segment() {
        return segment;
    }

    public void toDevice(CUdeviceptr dst, long count, CUstream stream) {
        cuMemcpyHtoDAsync(dst, host, count, stream);
    }

    /** {@code count} bytes from {@code offset} in this buffer to {@code dst}. */
    public void toDevice(CUdeviceptr dst, long offset, long count, CUstream stream) {
        cuMemcpyHtoDAsync(dst, host.withByteOffset(offset), count, stream);
    }

    public void fromDevice(CUdeviceptr src, long count, CUstream stream) {
        cuMemcpyDtoHAsync(host, src, count, stream);
    }

    /** Copies count bytes from the device to this buffer at hostOffset. */
    public void fromDevice(CUdeviceptr src, long hostOffset, long count, CUstream stream) {
        cuMemcpyDtoHAsync(host.withByteOffset(hostOffset), src, count, stream);
    }

    @Override
    public void close() {
        cuMemFreeHost(host);
    }
}
