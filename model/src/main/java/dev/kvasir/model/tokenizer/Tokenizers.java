package dev.kvasir.model.tokenizer;

import dev.kvasir.model.ModelFormatException;
import dev.kvasir.model.gguf.GgufArray;
import dev.kvasir.model.gguf.GgufFile;
import dev.kvasir.model.gguf.GgufMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.BitSet;
import java.util.Locale;
import java.util.TreeSet;

/**
 * Builds the tokenizer a GGUF file describes ({@code tokenizer.ggml.*} keys), following llama.cpp's
 * {@code llama_vocab::load}: vocabulary kind by {@code tokenizer.ggml.model}, pre-tokenizer by
 * {@code tokenizer.ggml.pre}, special ids and add-BOS/EOS flags with llama.cpp's defaults.
 */
public final class Tokenizers {
    private static final Logger log = LoggerFactory.getLogger(Tokenizers.class);

    private Tokenizers() {
    }

    /** Reads only the metadata, so vocab-only files (no tensors) work. */
    public static Tokenizer fromGguf(Path path) {
        try (GgufFile file = GgufFile.open(path)) {
            return fromGguf(file.metadata());
        } catch (ModelFormatException e) {
            throw new ModelFormatException(path + ": " + e.getMessage(), e);
        }
    }

    public static Tokenizer fromGguf(GgufFile file) {
        return fromGguf(file.metadata());
    }

    public static Tokenizer fromGguf(GgufMetadata md) {
        String model = md.getString("tokenizer.ggml.model")
                .orElseThrow(() -> new ModelFormatException("no tokenizer in this GGUF: tokenizer.ggml.model is missing"));
        return switch (model) {
            case "llama" -> spm(md);
            case "gpt2" -> bpe(md);
            case "bert" -> throw unsupported(model, "WordPiece (BERT)");
            case "t5" -> throw unsupported(model, "Unigram (T5)");
            case "rwkv" -> throw unsupported(model, "RWKV");
            case "plamo2" -> throw unsupported(model, "PLaMo-2");
            case "gemma4" -> throw unsupported(model, "Gemma 4 SentencePiece-style BPE");
            case "no_vocab", "none" -> throw new ModelFormatException("this GGUF has no vocabulary (tokenizer.ggml.model = '" + model + "')");
            default -> throw new ModelFormatException("unknown tokenizer type tokenizer.ggml.model = '" + model + "'");
        };
    }

    private static ModelFormatException unsupported(String model, String what) {
        return new ModelFormatException("unsupported tokenizer type '" + model + "' (" + what
                + "): only 'llama' (SentencePiece BPE) and 'gpt2' (byte-level BPE) vocabularies are supported");
    }

    private static Tokenizer spm(GgufMetadata md) {
        Vocabulary vocab = vocabulary(md);
        boolean addSpacePrefix = md.getBool("tokenizer.ggml.add_space_prefix").orElse(true);
        SpecialTokens special = specialTokens(md, vocab, 1, 2, 0, true);
        return new SpmTokenizer(vocab, special, addSpacePrefix);
    }

    private static Tokenizer bpe(GgufMetadata md) {
        String pre = md.getString("tokenizer.ggml.pre").orElse(null);
        if (pre == null) {
            log.warn("GGUF has no tokenizer.ggml.pre; using the 'default' pre-tokenizer (tokenization may differ from the model's own)");
            pre = "default";
        }
        String name = pre;
        BpePreset preset = BpePreset.byName(pre).orElseThrow(() -> new ModelFormatException(
                "unsupported pre-tokenizer tokenizer.ggml.pre = '" + name + "'; supported: " + String.join(", ", new TreeSet<>(BpePreset.names()))));
        Vocabulary vocab = vocabulary(md);
        String[] mergeStrings = md.getArray("tokenizer.ggml.merges")
                .orElseThrow(() -> new ModelFormatException("byte-level BPE vocabulary without tokenizer.ggml.merges")).strings();
        MergeTable merges = new MergeTable(vocab, MergeTable.parseJoined(mergeStrings));
        SpecialTokens special = specialTokens(md, vocab, -1, -1, -1, preset.addBos());
        return new BpeTokenizer(vocab, special, merges, PreTokenizer.ofRegexes(preset.regexes()), preset.ignoreMerges(), null, pre);
    }

    private static Vocabulary vocabulary(GgufMetadata md) {
        String[] tokens = md.getArray("tokenizer.ggml.tokens")
                .orElseThrow(() -> new ModelFormatException("GGUF tokenizer without tokenizer.ggml.tokens")).strings();
        float[] scores = md.getArray("tokenizer.ggml.scores").map(GgufArray::toFloatArray).orElse(null);
        TokenType[] types = md.getArray("tokenizer.ggml.token_type").map(a -> {
            int[] codes = a.toIntArray();
            TokenType[] t = new TokenType[codes.length];
            for (int i = 0; i < codes.length; i++) t[i] = TokenType.fromCode(codes[i]);
            return t;
        }).orElse(null);
        Vocabulary vocab = new Vocabulary(tokens, scores, types);
        // llama.cpp marks every special token of Phi-3 as eating the white space after it.
        String name = md.getString("general.name").orElse("").toLowerCase(Locale.ROOT);
        if (name.contains("phi-3") || name.contains("phi3")) {
            for (int id = 0; id < vocab.size(); id++) {
                if (vocab.type(id).isSpecial()) vocab.setStrip(id, false, true);
            }
            setStrip(vocab, "</s>", true);
            for (String t : new String[]{"<unk>", "<s>", "<|endoftext|>"}) setStrip(vocab, t, false);
        }
        return vocab;
    }

    private static void setStrip(Vocabulary vocab, String text, boolean rstrip) {
        int id = vocab.id(text);
        if (id >= 0) vocab.setStrip(id, false, rstrip);
    }

    private static SpecialTokens specialTokens(GgufMetadata md, Vocabulary vocab, int bos, int eos, int unk, boolean addBosDefault) {
        bos = id(md, "tokenizer.ggml.bos_token_id", vocab, bos);
        eos = id(md, "tokenizer.ggml.eos_token_id", vocab, eos);
        unk = id(md, "tokenizer.ggml.unknown_token_id", vocab, unk);
        int pad = id(md, "tokenizer.ggml.padding_token_id", vocab, -1);
        int eot = EndOfGeneration.findEot(vocab, id(md, "tokenizer.ggml.eot_token_id", vocab, -1));
        int eom = id(md, "tokenizer.ggml.eom_token_id", vocab, -1);
        if (eom < 0) eom = vocab.id("<|eom_id|>");
        boolean addBos = md.getBool("tokenizer.ggml.add_bos_token").orElse(addBosDefault);
        boolean addEos = md.getBool("tokenizer.ggml.add_eos_token").orElse(false);
        if (addBos && bos < 0) throw new ModelFormatException("tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set");
        if (addEos && eos < 0) throw new ModelFormatException("tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set");
        BitSet eog = EndOfGeneration.compute(vocab, eos, eot);
        if (eom >= 0) eog.set(eom);
        return new SpecialTokens(bos, eos, eot, unk, pad, addBos, addEos, eog);
    }

    /** A special id from metadata; out-of-range values are ignored, as llama.cpp does with a warning. */
    private static int id(GgufMetadata md, String key, Vocabulary vocab, int fallback) {
        int fb = vocab.contains(fallback) ? fallback : -1;
        return md.getLong(key).map(v -> {
            if (v < 0 || v >= vocab.size()) {
                log.warn("{} = {} is outside the vocabulary of {} tokens; ignored", key, v, vocab.size());
                return fb;
            }
            return (int) (long) v;
        }).orElse(fb);
    }
}
