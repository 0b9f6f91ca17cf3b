package dev.kvasir.gpu;

import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.io.PrintWriter;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.launcher.TagFilter.includeTags;
import static org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder.request;

/**
 * Runs the GPU-tagged tests on a machine with no Maven: the bundle's {@code bin/gpu-tests} calls
 * this with the test jars on the class path. Exit status 0 only when all ran and passed.
 */
public final class GpuTestMain {
    private GpuTestMain() {
    }

    public static void main(String[] args) {
        LauncherDiscoveryRequest req = request().selectors(selectClass(KernelCheckTest.class), selectClass(KvCacheCheckTest.class), selectClass(SamplingKernelTest.class),
                selectClass(GpuStories260KTest.class), selectClass(QuantKernelCheckTest.class), selectClass(GpuQuantizedStoriesTest.class),
                selectClass(ProgrammaticLaunchTest.class), selectClass(SwigluCarriedTest.class)).filters(includeTags("gpu")).build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(req, listener);
        TestExecutionSummary s = listener.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        s.printFailuresTo(out, 30);
        s.printTo(out);
        System.exit(s.getTotalFailureCount() == 0 && s.getTestsSkippedCount() == 0 && s.getTestsSucceededCount() > 0 ? 0 : 1);
    }
}
