package dev.kvasir.gpu;

import jcuda.driver.CUdeviceptr;

/** A weight matrix on the device, rows × cols, row-major: dense (f32/bf16/f16) or weight-only quantized. */
public sealed interface DeviceMatrix permits DeviceMatrix.Dense, DeviceMatrix.Quantized {
    int rows();

    int cols();

    /** Bytes on the device: what a decode step reads of it. */
    long bytes();

    /** Elements of {@code dtype}. */
    record Dense(CUdeviceptr ptr, int rows, int cols, GpuDtype dtype) implements DeviceMatrix {
        @Override
        public long bytes() {
            return (long) rows * cols * dtype.bytes;
        }
    }

    /**
     * {@code data}: the values in {@code format}; {@code scales}: per row, cols / groupSize group
     * parameters ({@link QuantFormat#groupBytes} each). groupSize is a power-of-two multiple of 32
     * dividing cols, or cols itself (one group per row).
     */
    record Quantized(QuantFormat format, CUdeviceptr data, CUdeviceptr scales, int rows, int cols, int groupSize) implements DeviceMatrix {
        public Quantized {
            if (!validGroup(cols, groupSize)) throw new IllegalArgumentException("group size " + groupSize + " does not suit " + cols + " columns");
        }

        public static boolean validGroup(int cols, int groupSize) {
            if (cols % 32 != 0 || groupSize <= 0 || cols % groupSize != 0) return false;
            return groupSize == cols || (groupSize % 32 == 0 && Integer.bitCount(groupSize / 32) == 1);
        }

        public long dataBytes() {
            return rows * format.rowBytes(cols);
        }

        public long scaleBytes() {
            return (long) rows * (cols / groupSize) * format.groupBytes;
        }

        @Override
        public long bytes() {
            return dataBytes() + scaleBytes();
        }

        /** The kernels' group index shift: group of a lane's chunk c = c >> shift (31: one group per row). */
        int groupShift() {
            if (groupSize == cols) return 31;
            return Integer.numberOfTrailingZeros(groupSize / format.chunkCols());
        }
    }
}
