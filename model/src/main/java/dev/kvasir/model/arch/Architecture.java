package dev.kvasir.model.arch;

import dev.kvasir.model.ModelFormatException;

import java.util.List;
import java.util.Locale;

/**
 * The Llama-family architectures Kvasir runs, as data: the GGUF {@code general.architecture} name,
 * the Hugging Face {@code model_type}, and the RoPE layout their GGUF files use. Anything else is
 * refused by name rather than run wrongly.
 */
public record Architecture(String ggufName, String hfModelType, RopeLayout ggufRopeLayout) {

    public static final List<Architecture> KNOWN = List.of(
            new Architecture("llama", "llama", RopeLayout.INTERLEAVED),
            new Architecture("mistral", "mistral", RopeLayout.INTERLEAVED),
            new Architecture("qwen2", "qwen2", RopeLayout.HALVES));

    public static Architecture forGguf(String name) {
        for (Architecture a : KNOWN) if (a.ggufName.equals(name)) return a;
        throw new ModelFormatException("unsupported architecture '" + name + "' (supported: " + names() + ")");
    }

    public static Architecture forHfModelType(String modelType) {
        String t = modelType.toLowerCase(Locale.ROOT);
        for (Architecture a : KNOWN) if (a.hfModelType.equals(t)) return a;
        throw new ModelFormatException("unsupported model_type '" + modelType + "' (supported: " + names() + ")");
    }

    private static String names() {
        return String.join(", ", KNOWN.stream().map(Architecture::ggufName).toList());
    }
}
