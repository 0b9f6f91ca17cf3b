package dev.kvasir.cluster.cli;

import dev.kvasir.model.tokenizer.Tokenizer;
import dev.kvasir.model.LoadedModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code ./kvasir tokenize}: token ids of a text; needs only the vocabulary. */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Print the token ids of TEXT as the model's tokenizer encodes it (works on vocab-only GGUF files).")
final class TokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "GGUF file (vocab-only is enough) or Hugging Face directory")
    Path model;

    @Option(names = "--no-bos", description = "do not add BOS even when the model asks for it")
    boolean noBos;

    @Option(names = "--parse-special", description = "turn text that spells a special token into that token")
    boolean parseSpecial;

    @Option(names = "--json", description = "print {\"tokens\":[...]}")
    boolean json;

    @Parameters(index = "0", paramLabel = "TEXT", description = "text to tokenize")
    String text;

    @Override
    public Integer call() {
        Tokenizer tokenizer = LoadedModel.openTokenizer(model);
        int[] ids = tokenizer.encode(text, !noBos && tokenizer.addBosByDefault(), parseSpecial);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(Map.of("tokens", ids)));
        } else {
            out.println(Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
        }
        out.flush();
        return 0;
    }
}
