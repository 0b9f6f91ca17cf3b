package dev.kvasir.gpu;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;

import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

/**
 * The kernels of {@code src/main/cuda}, compiled at build time into one fatbin resource and loaded
 * with {@code cuModuleLoadData}: the driver picks the machine code for the card (or compiles the
 * PTX), so no CUDA toolkit is needed at run time. Belongs to one dispatcher thread.
 */
public final class Kernels implements AutoCloseable {
    static final String RESOURCE = "/dev/kvasir/gpu/kernels/kernels.fatbin";
    private final GpuDispatcher dispatcher;
    private final CUmodule module = new CUmodule();
    private final Map<String, CUfunction> functions = new HashMap<>();

    private Kernels(GpuDispatcher dispatcher) {
        this.dispatcher = dispatcher;
    }

    /** Whether this build carries the fatbin (it does not when nvcc was missing at build time). */
    public static boolean available() {
        return Kernels.class.getResource(RESOURCE) != null;
    }

    /** Loads the fatbin into the dispatcher's context; call on the dispatcher thread. */
    public static Kernels load(GpuDispatcher dispatcher) {
        dispatcher.checkThread();
        byte[] image;
        try (InputStream in = Kernels.class.getResourceAsStream(RESOURCE)) {
            if (in == null) throw new IllegalStateException("this build carries no GPU kernels (nvcc was missing when it was built)");
            image = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Kernels k = new Kernels(dispatcher);
        cuModuleLoadData(k.module, image);
        return k;
    }

    /**
     * Launches {@code name} on {@code stream} (asynchronous). Arguments: {@link CUdeviceptr}
     * (null = a null pointer), Integer, Long, Float.
     */
    public void launch(String name, int gridX, int gridY, int block, CUstream stream, Object... args) {
        launch3(name, gridX, gridY, 1, block, stream, args);
    }

    /** {@link #launch} with a three-dimensional grid. */
    public void launch3(String name, int gridX, int gridY, int gridZ, int block, CUstream stream, Object... args) {
        dispatcher.checkThread();
        CUfunction f = functions.computeIfAbsent(name, n -> {
            CUfunction fn = new CUfunction();
            cuModuleGetFunction(fn, module, n);
            return fn;
        });
        Pointer[] params = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            params[i] = switch (args[i]) {
                case null -> Pointer.to(new CUdeviceptr());
                case CUdeviceptr p -> Pointer.to(p);
                case Integer v -> Pointer.to(new int[]{v});
                case Long v -> Pointer.to(new long[]{v});
                case Float v -> Pointer.to(new float[]{v});
                default -> throw new IllegalArgumentException("kernel argument of type " + args[i].getClass());
            };
        }
        cuLaunchKernel(f, gridX, gridY, gridZ, block, 1, 1, 0, stream, Pointer.to(params), null);
    }

    @Override
    public void close() {
        dispatcher.checkThread();
        cuModuleUnload(module);
    }
}
