package dev.kvasir.cluster.cli;

import dev.kvasir.model.gguf.GgmlType;
import dev.kvasir.model.synth.ModelShape;
import dev.kvasir.model.synth.SyntheticModelWriter;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code ./kvasir synth}: a GGUF file of a real model shape with seeded random weights. */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = "Write a GGUF model of a real Llama shape with seeded random weights (for benchmarks and the default model).")
final class SynthCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    ShapeChoice choice;

    static final class ShapeChoice {
        @Option(names = "--shape", required = true, description = "stories260K, tinystories-15m, tinystories-110m, llama3.2-1b, llama3-8b")
        String shape;

        @ArgGroup(exclusive = false)
        CustomShape custom;
    }

    static final class CustomShape {
        @Option(names = "--dim", required = true, description = "embedding size")
        int dim;
        @Option(names = "--hidden", required = true, description = "feed-forward size")
        int hidden;
        @Option(names = "--layers", required = true)
        int layers;
        @Option(names = "--heads", required = true)
        int heads;
        @Option(names = "--kv-heads", description = "default: --heads")
        Integer kvHeads;
        @Option(names = "--vocab", defaultValue = "32000")
        int vocab;
        @Option(names = "--context", defaultValue = "2048")
        int context;
        @Option(names = "--rope-theta", defaultValue = "10000")
        float ropeTheta;
    }

    @Option(names = "--type", defaultValue = "f32", description = "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1 (default ${DEFAULT-VALUE})")
    String type;

    @Option(names = "--seed", defaultValue = "1", description = "weight seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--out", required = true, description = "GGUF file to write")
    Path out;

    @Override
    public Integer call() {
        GgmlType t = SyntheticModelWriter.parseType(type);
        ModelShape shape = choice.shape != null ? ModelShape.named(choice.shape) : custom(choice.custom);
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) throw new IllegalArgumentException("folder " + parent + " does not exist");
        SyntheticModelWriter.write(shape, t, seed, out);
        spec.commandLine().getOut().println(out);
        spec.commandLine().getOut().flush();
        return 0;
    }

    private static ModelShape custom(CustomShape c) {
        return new ModelShape("custom-" + c.dim + "x" + c.layers, c.dim, c.hidden, c.layers, c.heads,
                c.kvHeads != null ? c.kvHeads : c.heads, c.vocab, c.context, c.ropeTheta, 1e-5f, null, true);
    }
}
