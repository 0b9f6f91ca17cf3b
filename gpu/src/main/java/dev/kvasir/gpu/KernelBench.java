package dev.kvasir.gpu;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;

import java.util.ArrayList;
import java.util.List;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;

/**
 * Times the weight-product kernels alone on Llama 3 8B's matrix shapes (bf16), through the same
 * dispatch the forward pass uses: achieved weight bandwidth for decode (n = 1) and TFLOP/s for a
 * batch of 32. Weights are a constant non-zero pattern, activations non-zero; several weight
 * copies rotate so that repeated launches do not run from L2.
 */
public final class KernelBench {
    /** One measurement: shape, tokens, milliseconds per launch, weight GB/s, TFLOP/s. */
    public record Result(int rows, int cols, int n, double ms, double gbPerS, double tflops) {
    }

    private KernelBench() {
    }

    public static List<Result> run(GpuDispatcher d) {
        return d.call(() -> {
            List<Result> out = new ArrayList<>();
            try (DeviceMemory mem = new DeviceMemory(d); Kernels k = Kernels.load(d)) {
                Matmuls mm = new Matmuls(k, mem);
                int[][] shapes = {{6144, 4096}, {4096, 4096}, {28672, 4096}, {4096, 14336}, {128256, 4096}};
                for (int[] shape : shapes) {
                    int rows = shape[0], cols = shape[1];
                    int copies = (int) Math.max(2, Math.min(8, (1L << 31) / ((long) rows * cols * 2)));
                    DeviceMatrix[] w = new DeviceMatrix[copies];
                    for (int i = 0; i < copies; i++) {
                        long floats = (long) rows * cols / 2;
                        CUdeviceptr p = mem.allocate("bench", floats * 4);
                        k.launch("fill_f32", (int) ((floats + 255) / 256), 1, 256, d.stream(), p, 0.0123f, floats);
                        w[i] = new DeviceMatrix(p, rows, cols, GpuDtype.BF16);
                    }
                    for (int n : new int[]{1, 32}) {
                        CUdeviceptr x = mem.allocate("bench", 4L * n * cols);
                        CUdeviceptr y = mem.allocate("bench", 4L * n * rows);
                        k.launch("fill_f32", (n * cols + 255) / 256, 1, 256, d.stream(), x, 0.5f, (long) n * cols);
                        for (int i = 0; i < copies; i++) mm.run(w[i], x, y, n, false, d.stream());
                        CUevent start = new CUevent();
                        CUevent stop = new CUevent();
                        cuEventCreate(start, 0);
                        cuEventCreate(stop, 0);
                        int reps = 8 * copies;
                        cuEventRecord(start, d.stream());
                        for (int i = 0; i < reps; i++) mm.run(w[i % copies], x, y, n, false, d.stream());
                        cuEventRecord(stop, d.stream());
                        cuEventSynchronize(stop);
                        float[] ms = new float[1];
                        cuEventElapsedTime(ms, start, stop);
                        double per = ms[0] / reps;
                        double bytes = (double) rows * cols * 2;
                        out.add(new Result(rows, cols, n, per, bytes / (per / 1e3) / 1e9, 2.0 * rows * cols * n / (per / 1e3) / 1e12));
                    }
                }
            }
            return out;
        });
    }
}
