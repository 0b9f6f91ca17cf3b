package dev.kvasir.gpu;

import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuInit;

/**
 * Device discovery through the driver API. Loading JCuda's native library or finding no driver is
 * an ordinary outcome on machines without GPUs: {@link #list()} is then empty and
 * {@link #unavailableReason()} says why.
 */
public final class GpuDevices {
    private static final Logger log = LoggerFactory.getLogger(GpuDevices.class);
    private static volatile String unavailable;
    private static volatile boolean initialized;

    private GpuDevices() {
    }

    /** Initializes the driver once; true when it is usable. Safe to call from any thread. */
    static synchronized boolean init() {
        if (initialized) return unavailable == null;
        initialized = true;
        try {
            JCudaDriver.setExceptionsEnabled(true);
            cuInit(0);
        } catch (Throwable e) {
            String m = String.valueOf(e.getMessage());
            unavailable = m.contains("libcuda.so") ? "no NVIDIA driver here (libcuda.so.1 cannot be loaded)"
                    : "CUDA driver not usable: " + e.getClass().getSimpleName() + ": " + m.lines().findFirst().orElse("").strip();
            log.info("{}", unavailable);
        }
        return unavailable == null;
    }

    /** Every visible device; empty without a driver or GPU. */
    public static List<GpuDeviceInfo> list() {
        if (!init()) return List.of();
        try {
            int[] count = new int[1];
            cuDeviceGetCount(count);
            List<GpuDeviceInfo> out = new ArrayList<>();
            for (int i = 0; i < count[0]; i++) {
                CUdevice d = new CUdevice();
                cuDeviceGet(d, i);
                byte[] name = new byte[256];
                cuDeviceGetName(name, name.length, d);
                long[] total = new long[1];
                cuDeviceTotalMem(total, d);
                out.add(new GpuDeviceInfo(i, cString(name), attr(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                        attr(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                        attr(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT), total[0]));
            }
            if (out.isEmpty()) unavailable = "no CUDA device found";
            return out;
        } catch (Throwable e) {
            unavailable = "CUDA device query failed: " + e;
            return List.of();
        }
    }

    /** Why no device can be used, or null when one can. */
    public static String unavailableReason() {
        if (list().isEmpty() && unavailable == null) return "no CUDA device found";
        if (unavailable == null && !Kernels.available()) return "this build carries no GPU kernels (nvcc was missing when it was built)";
        return unavailable;
    }

    public static boolean available() {
        return unavailableReason() == null;
    }

    private static int attr(CUdevice d, int attribute) {
        int[] v = new int[1];
        cuDeviceGetAttribute(v, attribute, d);
        return v[0];
    }

    private static String cString(byte[] bytes) {
        int n = 0;
        while (n < bytes.length && bytes[n] != 0) n++;
        return new String(bytes, 0, n, java.nio.charset.StandardCharsets.US_ASCII);
    }
}
