package dev.kvasir.gpu;

import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.io.PrintWriter;
import java.util.List;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.launcher.TagFilter.includeTags;
import static org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder.request;

/**
 * Runs the GPU-tagged tests on a machine with no Maven: the bundle's {@code bin/gpu-tests} calls
 * this with the test jars on the class path, and the names of some test classes to run only those.
 * Exit status 0 only when all ran and passed.
 */
public final class GpuTestMain {
    private GpuTestMain() {
    }

    /** Every GPU test class; arguments (simple class names) pick some of them. */
    private static final List<Class<?>> CLASSES = List.of(KernelCheckTest.class, KvCacheCheckTest.class, SamplingKernelTest.class,
            GpuStories260KTest.class, QuantKernelCheckTest.class, GpuQuantizedStoriesTest.class, ProgrammaticLaunchTest.class,
            SwigluCarriedTest.class);

    public static void main(String[] args) {
        List<Class<?>> picked = args.length == 0 ? CLASSES : CLASSES.stream().filter(c -> List.of(args).contains(c.getSimpleName())).toList();
        if (args.length > 0 && picked.size() != args.length) {
            System.err.println("unknown test class among " + List.of(args) + "; known: " + CLASSES.stream().map(Class::getSimpleName).toList());
            System.exit(2);
        }
        LauncherDiscoveryRequest req = request().selectors(picked.stream().map(c -> selectClass(c)).toList()).filters(includeTags("gpu")).build();
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
