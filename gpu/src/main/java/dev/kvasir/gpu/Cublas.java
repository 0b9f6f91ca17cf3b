package dev.kvasir.gpu;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * cuBLAS's {@code cublasGemmEx}, reached through Java's foreign-function API where the library is on
 * the machine (the CUDA toolkit and PyTorch's wheels ship it). Why: for prefill and batched decode
 * the product is compute-bound, and cuBLAS's Hopper kernels (wgmma fed by the bulk copy engine) run
 * several times faster than our portable mma.sync kernel; JCuda's own cuBLAS binding would need a
 * native library built for the installed cuBLAS major version, the FFM API needs none. Without the
 * library the engine keeps its own kernels. One handle per dispatcher thread, whose context the
 * library's runtime picks up as the current one.
 */
final class Cublas implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Cublas.class);
    private static final int OP_N = 0, OP_T = 1;
    private static final int R_32F = 0, R_16F = 2, R_16BF = 14;
    private static final int COMPUTE_32F = 68;
    private static final int GEMM_DEFAULT = -1;
    /** Workspace handed to cuBLAS so that it never allocates (not allowed while a graph is captured). */
    static final long WORKSPACE_BYTES = 32L << 20;

    private final Arena arena = Arena.ofShared();
    private final MethodHandle setStream;
    private final MethodHandle gemmEx;
    private final MethodHandle destroy;
    private final MemorySegment handle;
    private final MemorySegment one;
    private final MemorySegment zero;
    private long boundStream = -1;
    final int version;
    final String library;

    private Cublas(SymbolLookup lib, String library, CUdeviceptr workspace) throws Throwable {
        this.library = library;
        Linker linker = Linker.nativeLinker();
        MethodHandle create = linker.downcallHandle(find(lib, "cublasCreate_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle getVersion = linker.downcallHandle(find(lib, "cublasGetVersion_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        MethodHandle setWorkspace = linker.downcallHandle(find(lib, "cublasSetWorkspace_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
        setStream = linker.downcallHandle(find(lib, "cublasSetStream_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        destroy = linker.downcallHandle(find(lib, "cublasDestroy_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        gemmEx = linker.downcallHandle(find(lib, "cublasGemmEx"), FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
                ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        MemorySegment slot = arena.allocate(ADDRESS);
        check("cublasCreate", (int) create.invokeExact(slot));
        handle = slot.get(ADDRESS, 0);
        MemorySegment v = arena.allocate(JAVA_INT);
        check("cublasGetVersion", (int) getVersion.invokeExact(handle, v));
        version = v.get(JAVA_INT, 0);
        check("cublasSetWorkspace", (int) setWorkspace.invokeExact(handle, MemorySegment.ofAddress(NativeAddress.of(workspace)), WORKSPACE_BYTES));
        one = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f);
        zero = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 0f);
    }

    /**
     * A handle on the calling dispatcher thread, or empty when the library is missing or turned off
     * ({@code -Dkvasir.gpu.cublas=false}); {@code workspace} must hold {@link #WORKSPACE_BYTES}.
     */
    static Optional<Cublas> open(CUdeviceptr workspace) {
        if ("false".equals(System.getProperty("kvasir.gpu.cublas"))) return Optional.empty();
        for (String candidate : candidates()) {
            SymbolLookup lib;
            try {
                lib = SymbolLookup.libraryLookup(candidate, Arena.global());
            } catch (IllegalArgumentException notThere) {
                continue;
            }
            try {
                Cublas c = new Cublas(lib, candidate, workspace);
                log.info("cuBLAS {} from {} for 16-bit weight products of more than a few tokens", c.version, candidate);
                return Optional.of(c);
            } catch (Throwable t) {
                log.warn("cuBLAS at {} could not be used: {}", candidate, t.toString());
            }
        }
        log.info("no cuBLAS library found (set KVASIR_CUBLAS to its path): the engine's own GEMM kernels serve batches");
        return Optional.empty();
    }

    /** KVASIR_CUBLAS, then the loader's search path, then the usual toolkit and PyTorch-wheel folders. */
    private static List<String> candidates() {
        List<String> c = new ArrayList<>();
        String env = System.getenv("KVASIR_CUBLAS");
        if (env != null && !env.isBlank()) c.add(env);
        c.add("libcublas.so.13");
        c.add("libcublas.so.12");
        List<Path> roots = new ArrayList<>(List.of(Path.of("/usr/local/cuda/lib64"), Path.of("/usr/local/cuda/targets/x86_64-linux/lib")));
        for (String venv : new String[]{"/opt/torch/.venv/lib", "/usr/local/lib", "/usr/lib"}) {
            try (Stream<Path> pythons = Files.list(Path.of(venv))) {
                pythons.filter(p -> p.getFileName().toString().startsWith("python3"))
                        .forEach(p -> {
                            roots.add(p.resolve("site-packages/nvidia/cu13/lib"));
                            roots.add(p.resolve("site-packages/nvidia/cublas/lib"));
                            roots.add(p.resolve("dist-packages/nvidia/cu13/lib"));
                            roots.add(p.resolve("dist-packages/nvidia/cublas/lib"));
                        });
            } catch (Exception ignored) {
                // no such folder on this machine
            }
        }
        for (Path root : roots) {
            for (String name : new String[]{"libcublas.so.13", "libcublas.so.12"}) {
                if (Files.isRegularFile(root.resolve(name))) c.add(root.resolve(name).toString());
            }
        }
        return c;
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new IllegalStateException("cuBLAS lacks " + name));
    }

    private static void check(String call, int status) {
        if (status != 0) throw new IllegalStateException(call + " failed with cuBLAS status " + status);
    }

    /**
     * y[t][r] (+)= sum_c W[r][c] x[t][c] for t < n, W row-major rows × cols in {@code type} (bf16 or
     * f16), x the activations already rounded to the same type, y fp32; fp32 accumulation. In
     * cuBLAS's column-major terms: Y (rows × n) = Wᵀ (W seen as cols × rows) · X (cols × n).
     */
    void gemm(CUstream stream, DeviceMatrix.Dense w, CUdeviceptr x16, CUdeviceptr y, int n, boolean accumulate) {
        int type = switch (w.dtype()) {
            case BF16 -> R_16BF;
            case F16 -> R_16F;
            case F32 -> throw new IllegalArgumentException("cuBLAS path is for 16-bit weights");
        };
        try {
            long s = NativeAddress.of(stream);
            if (s != boundStream) {
                check("cublasSetStream", (int) setStream.invokeExact(handle, MemorySegment.ofAddress(s)));
                boundStream = s;
            }
            MemorySegment beta = accumulate ? one : zero; // a typed local: invokeExact matches static types
            int status = (int) gemmEx.invokeExact(handle, OP_T, OP_N, w.rows(), n, w.cols(),
                    one, MemorySegment.ofAddress(NativeAddress.of(w.ptr())), type, w.cols(),
                    MemorySegment.ofAddress(NativeAddress.of(x16)), type, w.cols(),
                    beta, MemorySegment.ofAddress(NativeAddress.of(y)), R_32F, w.rows(),
                    COMPUTE_32F, GEMM_DEFAULT);
            check("cublasGemmEx(" + w.rows() + "×" + w.cols() + ", n=" + n + ")", status);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuBLAS call failed", t);
        }
    }

    @Override
    public void close() {
        try {
            int ignored = (int) destroy.invokeExact(handle);
        } catch (Throwable t) {
            log.debug("cublasDestroy: {}", t.toString());
        }
        arena.close();
    }
}
