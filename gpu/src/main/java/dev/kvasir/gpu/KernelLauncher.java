package dev.kvasir.gpu;

import jcuda.CudaException;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Kernel launches through the driver's {@code cuLaunchKernelEx}, reached with the foreign-function
 * API because JCuda 12.6 binds only {@code cuLaunchKernel}. Why: {@code cuLaunchKernelEx} takes the
 * programmatic-stream-serialization attribute (programmatic dependent launch, sm_90+), which lets a
 * kernel start while the one before it in the stream drains — in a captured decode graph too: a
 * kernel boundary in a graph took 0.54 instead of 0.81 µs, and a decode GEMV starts streaming its
 * weights while the norm before it runs (H100, docs/PERFORMANCE.md run S4-2). The kernels' side of
 * that contract (wait before touching what the predecessor writes) is {@code grid_wait()} in kernels.cu.
 * One launcher per {@link Kernels}, used on its dispatcher thread only: the argument block is reused.
 */
final class KernelLauncher implements AutoCloseable {
    private static final int ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
    private static final int MAX_ARGS = 32;
    // CUlaunchConfig: 7 unsigned ints, then (8-aligned) hStream, attrs, numAttrs; CUlaunchAttribute: id, pad, 64-byte value
    private static final long CONFIG = 0, ATTRIBUTE = 64, PARAMS = 256, VALUES = PARAMS + 8 * MAX_ARGS;
    private static final long SCRATCH_BYTES = VALUES + 8 * MAX_ARGS;

    /** Resolved on first use, so that machines without a driver never look for it. */
    private static final class Driver {
        static final MethodHandle LAUNCH_EX = Linker.nativeLinker().downcallHandle(
                SymbolLookup.libraryLookup("libcuda.so.1", Arena.global()).find("cuLaunchKernelEx")
                        .orElseThrow(() -> new IllegalStateException("the CUDA driver has no cuLaunchKernelEx (driver older than CUDA 12)")),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    }

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment scratch = arena.allocate(SCRATCH_BYTES, 16);
    private final MemorySegment config = scratch.asSlice(CONFIG), params = scratch.asSlice(PARAMS);
    private final boolean programmatic;

    /** {@code programmatic}: launch every kernel with programmatic stream serialization. */
    KernelLauncher(boolean programmatic) {
        this.programmatic = programmatic;
        scratch.set(JAVA_INT, ATTRIBUTE, ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        scratch.set(JAVA_INT, ATTRIBUTE + 8, 1);
    }

    boolean programmatic() {
        return programmatic;
    }

    /** Launches the kernel {@code name} (CUfunction handle {@code function}) asynchronously; arguments as {@link Kernels#launch} takes them. */
    void launch(String name, long function, int gridX, int gridY, int gridZ, int block, CUstream stream, Object[] args) {
        if (args.length > MAX_ARGS) throw new IllegalArgumentException(args.length + " kernel arguments (at most " + MAX_ARGS + ")");
        scratch.set(JAVA_INT, CONFIG, gridX);
        scratch.set(JAVA_INT, CONFIG + 4, gridY);
        scratch.set(JAVA_INT, CONFIG + 8, gridZ);
        scratch.set(JAVA_INT, CONFIG + 12, block);
        scratch.set(JAVA_INT, CONFIG + 16, 1);
        scratch.set(JAVA_INT, CONFIG + 20, 1);
        scratch.set(JAVA_INT, CONFIG + 24, 0);
        scratch.set(JAVA_LONG, CONFIG + 32, stream == null ? 0L : NativeAddress.of(stream));
        scratch.set(JAVA_LONG, CONFIG + 40, programmatic ? scratch.address() + ATTRIBUTE : 0L);
        scratch.set(JAVA_INT, CONFIG + 48, programmatic ? 1 : 0);
        for (int i = 0; i < args.length; i++) {
            long slot = VALUES + 8L * i;
            switch (args[i]) {
                case null -> scratch.set(JAVA_LONG, slot, 0L);
                case CUdeviceptr p -> scratch.set(JAVA_LONG, slot, NativeAddress.of(p));
                case Integer v -> scratch.set(JAVA_INT, slot, v);
                case Long v -> scratch.set(JAVA_LONG, slot, v);
                case Float v -> scratch.set(JAVA_FLOAT, slot, v);
                default -> throw new IllegalArgumentException("kernel argument of type " + args[i].getClass());
            }
            scratch.set(JAVA_LONG, PARAMS + 8L * i, scratch.address() + slot);
        }
        int rc;
        try {
            rc = (int) Driver.LAUNCH_EX.invokeExact(config, MemorySegment.ofAddress(function), params, MemorySegment.NULL);
        } catch (Throwable t) {
            throw new IllegalStateException("cuLaunchKernelEx could not be called for " + name, t);
        }
        if (rc != CUresult.CUDA_SUCCESS) throw new CudaException(CUresult.stringFor(rc) + " launching " + name);
    }

    @Override
    public void close() {
        arena.close();
    }
}
