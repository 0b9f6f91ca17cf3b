package dev.kvasir.model.tokenizer;

import dev.kvasir.model.SharedData;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** llama.cpp's tokenizer vectors ({@code vectors/tokenizer/*.inp|.out}), read exactly as test-tokenizer-0 does. */
final class TokenizerVectors {
    static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    record Case(int index, String text, int[] expected) {
        @Override
        public String toString() {
            return "#" + index + " " + text.replace("\n", "\\n").replace("\t", "\\t");
        }
    }

    private TokenizerVectors() {
    }

    static Path dir() {
        return SharedData.require("vectors/tokenizer");
    }

    static List<Case> read(String vocabName) {
        Path base = dir().resolve("ggml-vocab-" + vocabName + ".gguf");
        return read(Path.of(base + ".inp"), Path.of(base + ".out"));
    }

    static List<Case> read(Path inp, Path out) {
        try {
            String input = Files.readString(inp, StandardCharsets.UTF_8);
            List<String> texts = new ArrayList<>();
            int pos = 0;
            while (pos < input.length()) {
                int sep = input.indexOf(SEPARATOR, pos);
                if (sep < 0) break;
                texts.add(input.substring(pos, sep));
                pos = sep + SEPARATOR.length();
            }
            List<String> lines = Files.readAllLines(out, StandardCharsets.US_ASCII);
            if (lines.size() != texts.size()) throw new IllegalStateException(inp + ": " + texts.size() + " inputs but " + lines.size() + " outputs");
            List<Case> cases = new ArrayList<>();
            for (int i = 0; i < texts.size(); i++) {
                String line = lines.get(i).strip();
                int[] ids = line.isEmpty() ? new int[0] : Arrays.stream(line.split(" ")).mapToInt(Integer::parseInt).toArray();
                cases.add(new Case(i, texts.get(i), ids));
            }
            return cases;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Encodes every case; returns a report line per failure (empty when all pass). */
    static List<String> failures(Tokenizer tok, List<Case> cases) {
        List<String> fails = new ArrayList<>();
        for (Case c : cases) {
            int[] got = tok.encode(c.text(), false, false);
            if (!Arrays.equals(got, c.expected())) {
                fails.add(c + "\n   expected " + Arrays.toString(c.expected()) + "\n   got      " + Arrays.toString(got));
            }
        }
        return fails;
    }
}
