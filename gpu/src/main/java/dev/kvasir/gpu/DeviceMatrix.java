package dev.kvasir.gpu;

import jcuda.driver.CUdeviceptr;

/** A weight matrix on the device: rows × cols elements of {@code dtype}, row-major. */
public record DeviceMatrix(CUdeviceptr ptr, int rows, int cols, GpuDtype dtype) {
    public long bytes() {
        return (long) rows * cols * dtype.bytes;
    }
}
