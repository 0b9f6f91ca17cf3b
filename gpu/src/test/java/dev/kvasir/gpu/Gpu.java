package dev.kvasir.gpu;

import org.junit.jupiter.api.Assumptions;

/** Test helper: skips the calling test unless a device and the kernels are there. */
final class Gpu {
    private Gpu() {
    }

    static void assume() {
        String reason = GpuDevices.unavailableReason();
        Assumptions.assumeTrue(reason == null, () -> "GPU test skipped: " + reason);
    }
}
