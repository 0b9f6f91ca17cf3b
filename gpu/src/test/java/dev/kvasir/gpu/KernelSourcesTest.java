package dev.kvasir.gpu;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kernels' half of programmatic dependent launch, read off the sources (no device needed):
 * {@link KernelLauncher} lets every kernel start before its predecessor finishes, which is only
 * correct when every kernel waits first ({@code grid_enter()}), or, for the decode products that
 * stream their weights before waiting (the GEMVs, the skinny products), releases the next kernel and
 * waits inside ({@code grid_release()} then {@code grid_wait()} in the product's body). A kernel added without either would race.
 */
class KernelSourcesTest {
    private static final Path SOURCES = Path.of("src/main/cuda");
    // "__global__ ... name(...) {" then the first statement, across macro line continuations
    private static final Pattern KERNEL = Pattern.compile("__global__\\s+(?:void|[^({;]*?)\\s*(?:__launch_bounds__\\([^)]*\\)\\s*)?(\\w+)\\s*\\([^{;]*\\)\\s*\\{[\\s\\\\]*(\\w+)(?:\\(\\);|<[^;]*?>\\()");
    private static final Pattern ANY_KERNEL = Pattern.compile("(?m)^[^/\\n]*__global__");

    @Test
    void everyKernelWaitsForItsPredecessorBeforeTouchingMemory() throws IOException {
        List<String> offenders = new ArrayList<>();
        int kernels = 0, declared = 0;
        try (Stream<Path> files = Files.list(SOURCES)) {
            for (Path file : files.filter(p -> p.toString().endsWith(".cu") || p.toString().endsWith(".cuh")).sorted().toList()) {
                String text = Files.readString(file);
                declared += (int) ANY_KERNEL.matcher(text).results().count();
                Matcher m = KERNEL.matcher(text);
                while (m.find()) {
                    kernels++;
                    String first = m.group(2);
                    // the products that stream weights first: the GEMVs, and the macros that define the quantized GEMVs and the skinny products
                    boolean ok = first.equals("grid_enter") || first.equals("grid_release") && m.group(1).startsWith("gemv_")
                            || first.equals("grid_release") && m.group(1).equals("NAME") && (text.contains("QUANT_GEMV_KERNEL") || text.contains("#define SKINNY("))
                            || first.equals("START") && m.group(1).equals("NAME") && text.contains("#define QUANT_GEMV_GLU32_KERNEL")  // its uses: below
                            || first.equals("attention_head_rope") || first.equals("attention_head_rope_fixed");  // reads only step metadata before its wait: see below
                    if (!ok) offenders.add(file.getFileName() + ": " + m.group(1) + " starts with " + first + "()");
                }
            }
        }
        assertTrue(kernels > 40, "found only " + kernels + " kernels under " + SOURCES.toAbsolutePath());
        assertEquals(declared, kernels, "every __global__ declaration should be recognised (a kernel whose body starts otherwise is unchecked)");
        assertTrue(offenders.isEmpty(), "kernels that touch memory before grid_wait(): " + offenders);
    }

    @Test
    void theProductsThatStreamWeightsFirstWaitBeforeTheirActivations() throws IOException {
        String kernels = Files.readString(SOURCES.resolve("kernels.cu"));
        String quant = Files.readString(SOURCES.resolve("quant.cuh"));
        assertTrue(body(kernels, "gemv_rows_share").contains("grid_wait();"));
        assertTrue(body(kernels, "matmul_skinny").contains("grid_wait();"));
        assertTrue(body(quant, "gemv_q8_rows").contains("grid_wait();"));
        assertTrue(body(quant, "gemv_q4_rows").contains("grid_wait();"));
        // the SwiGLU-carrying gate/up GEMV: each form starts with grid_release() (loads weights first, its wait inside) or grid_enter()
        List<String> starts = Pattern.compile("(?m)^QUANT_GEMV_GLU32_KERNEL\\((\\w+),.*, (\\w+), W_\\w+\\)$").matcher(quant).results()
                .map(r -> r.group(1) + ":" + r.group(2)).toList();
        assertEquals(List.of("gemv_q8_glu32_1:grid_release", "gemv_q4_glu32_1:grid_release", "gemv_q8_glu32l_1:grid_release",
                "gemv_q4_glu32l_1:grid_release", "gemv_q8_glu32w_1:grid_enter", "gemv_q4_glu32w_1:grid_enter"), starts);
    }

    /**
     * In the products that load weights before their wait, __ldg (ld.global.nc) reads weights only:
     * ptxas may issue a non-coherent load above griddepcontrol.wait, so a read of what the kernel
     * before wrote (the activations) would be stale (S8's race, S11). Those go through load_after_wait.
     */
    @Test
    void theProductsThatStreamWeightsFirstReadOnlyWeightsThroughLdg() throws IOException {
        String kernels = Files.readString(SOURCES.resolve("kernels.cu"));
        String quant = Files.readString(SOURCES.resolve("quant.cuh"));
        Pattern ldg = Pattern.compile("__ldg\\(([^;]*?)\\)\\s*[;:]");
        for (String body : List.of(body(kernels, "gemv_rows_share"), body(kernels, "matmul_skinny"), body(quant, "gemv_q8_rows"),
                body(quant, "gemv_q4_rows"))) {
            assertTrue(body.contains("load_after_wait("), "activations through load_after_wait");
            ldg.matcher(body).results().forEach(r -> assertTrue(r.group(1).contains("wr["), "__ldg of something other than weights: " + r.group(0)));
        }
    }

    /**
     * Before its wait the decode attention with RoPE inside reads only what was on the device before
     * the step's first kernel: the walk's start (positions, sequence, page table) and the rotation
     * (positions, slot, rotation table), copied there with the step's metadata or weights, and the
     * context's first sweep without the step's own position (the last, end − 1), which earlier steps
     * wrote and this one writes only after the wait.
     */
    @Test
    void theDecodeAttentionWithRopeReadsOnlyWhatEarlierStepsWroteBeforeItsWait() throws IOException {
        String attention = Files.readString(SOURCES.resolve("attention.cuh"));
        String head = body(attention, "attention_head_rope");
        String beforeWait = head.substring(head.indexOf('{') + 1, head.indexOf("grid_enter();")).replaceAll("//[^\n]*", "");
        List<String> calls = Pattern.compile("(\\w+)\\s*(?:<[^<>;()]*>)?\\(").matcher(beforeWait).results().map(r -> r.group(1))
                .filter(c -> !List.of("if", "constexpr", "sizeof", "__align__").contains(c)).toList();
        assertEquals(List.of("kv_walk", "rope_step", "copy_ahead_keys"), calls, "the calls before grid_enter() in attention_head_rope");
        assertTrue(body(attention, "kv_walk").contains("positions[t]") && !body(attention, "kv_walk").contains("keys"));
        assertTrue(beforeWait.replaceAll("\\s+", " ").contains("walk.end, walk.end - 1,"), "the first sweep skips the step's own position");
        assertTrue(body(attention, "copy_ahead_keys").contains("s0 + p != skip"), "copy_ahead_keys leaves the skipped position unread");
    }

    /** The text of the device function {@code name}'s body (to its closing brace at column 0). */
    private static String body(String text, String name) {
        int start = text.indexOf(" " + name + "(");
        assertTrue(start >= 0, name + " not found");
        int end = text.indexOf("\n}\n", start);
        return text.substring(start, end);
    }
}
