package dev.kvasir.gpu;

import org.junit.jupiter.api.Assumptions;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Test helpers: skipping a test unless a device and the kernels are there, and building a GPU object
 * under -Dkvasir.gpu.* switches (which the classes read when they are built).
 */
final class Gpu {
    private Gpu() {
    }

    static void assume() {
        String reason = GpuDevices.unavailableReason();
        Assumptions.assumeTrue(reason == null, () -> "GPU test skipped: " + reason);
    }

    /** {@code build}'s result with the system properties {@code set} in force, the previous values restored after. */
    static <T> T withProperties(Map<String, String> set, Supplier<T> build) {
        Map<String, String> before = new HashMap<>();
        for (String key : set.keySet()) before.put(key, System.getProperty(key));
        set.forEach(System::setProperty);
        try {
            return build.get();
        } finally {
            before.forEach((key, value) -> {
                if (value == null) System.clearProperty(key);
                else System.setProperty(key, value);
            });
        }
    }
}
