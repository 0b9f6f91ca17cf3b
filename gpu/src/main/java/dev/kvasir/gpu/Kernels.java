package dev.kvasir.gpu;

import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static jcuda.driver.JCudaDriver.cuCtxGetDevice;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

/**
 * The kernels of {@code src/main/cuda}, compiled at build time into one fatbin resource and loaded
 * with {@code cuModuleLoadData}: the driver picks the machine code for the card (or compiles the
 * PTX), so no CUDA toolkit is needed at run time. Belongs to one dispatcher thread.
 * On sm_90 and newer every kernel is launched with programmatic dependent launch (see
 * {@link KernelLauncher}); {@code -Dkvasir.gpu.pdl=false} turns that off.
 */
public final class Kernels implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Kernels.class);
    static final String RESOURCE = "/dev/kvasir/gpu/kernels/kernels.fatbin";
    private final GpuDispatcher dispatcher;
    private final CUmodule module = new CUmodule();
    /** Each kernel's CUfunction handle as the driver's address, looked up once by name. */
    private final Map<String, Long> functions = new HashMap<>();
    private final KernelLauncher launcher;
    /**
     * A diagnostic for timing only: kernels whose names start with one of these comma-separated
     * prefixes are not launched at all (-Dkvasir.gpu.skip-kernels=attention_,rmsnorm), so that a
     * decode step's time without them shows what they cost inside the graph, where per-kernel
     * profilers, which serialise and instrument each launch, overstate short kernels several times.
     * Every result computed with it set is wrong.
     */
    private static final List<String> SKIPPED = java.util.Arrays.stream(System.getProperty("kvasir.gpu.skip-kernels", "").split(","))
            .map(String::strip).filter(p -> !p.isEmpty()).toList();

    private Kernels(GpuDispatcher dispatcher, boolean programmatic) {
        this.dispatcher = dispatcher;
        this.launcher = new KernelLauncher(programmatic);
    }

    /** Whether this build carries the fatbin (it does not when nvcc was missing at build time). */
    public static boolean available() {
        return Kernels.class.getResource(RESOURCE) != null;
    }

    /** Loads the fatbin into the dispatcher's context; call on the dispatcher thread. */
    public static Kernels load(GpuDispatcher dispatcher) {
        dispatcher.checkThread();
        return load(dispatcher, programmaticLaunch(dispatcher));
    }

    /** {@link #load} with programmatic dependent launch chosen by the caller (benchmarks, checks). */
    static Kernels load(GpuDispatcher dispatcher, boolean programmatic) {
        dispatcher.checkThread();
        byte[] image = image();
        Kernels k = new Kernels(dispatcher, programmatic);
        cuModuleLoadData(k.module, image);
        if (!SKIPPED.isEmpty()) log.warn("kernels starting with {} are NOT launched (-Dkvasir.gpu.skip-kernels, a timing diagnostic): results are wrong", SKIPPED);
        return k;
    }

    private static byte[] image() {
        try (InputStream in = Kernels.class.getResourceAsStream(RESOURCE)) {
            if (in == null) throw new IllegalStateException("this build carries no GPU kernels (nvcc was missing when it was built)");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Programmatic dependent launch: Hopper (compute capability 9) and newer, unless turned off. */
    private static boolean programmaticLaunch(GpuDispatcher dispatcher) {
        CUdevice device = new CUdevice();
        cuCtxGetDevice(device);
        int[] major = new int[1];
        cuDeviceGetAttribute(major, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
        boolean on = major[0] >= 9 && Boolean.parseBoolean(System.getProperty("kvasir.gpu.pdl", "true"));
        log.info("kernels on cuda:{} launched {}", dispatcher.ordinal(), on ? "with programmatic dependent launch" : "plainly");
        return on;
    }

    /** Whether kernels start while their predecessor in the stream drains (programmatic dependent launch). */
    public boolean programmaticLaunch() {
        return launcher.programmatic();
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
        if (!SKIPPED.isEmpty() && SKIPPED.stream().anyMatch(name::startsWith)) return;
        long f = functions.computeIfAbsent(name, n -> {
            CUfunction fn = new CUfunction();
            cuModuleGetFunction(fn, module, n);
            return NativeAddress.of(fn);
        });
        launcher.launch(name, f, gridX, gridY, gridZ, block, stream, args);
    }

    @Override
    public void close() {
        dispatcher.checkThread();
        cuModuleUnload(module);
        launcher.close();
    }
}
