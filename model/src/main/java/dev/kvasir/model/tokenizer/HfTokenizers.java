package dev.kvasir.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.model.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Tokenizers of Hugging Face model directories: {@code tokenizer.json} (byte-level BPE: GPT-2,
 * Llama 3, Qwen and relatives) or SentencePiece {@code tokenizer.model} (Llama 2 family), with
 * {@code tokenizer_config.json} for BOS/EOS and the add-BOS/EOS flags.
 *
 * <p>Added tokens are matched in the text before pre-tokenization as Hugging Face does:
 * {@code special: true} ones become control tokens (matched with parse_special),
 * {@code special: false} ones user-defined tokens (always matched).
 */
public final class HfTokenizers {
    /** The regex of Hugging Face's ByteLevel pre-tokenizer when use_regex is on (GPT-2's). */
    static final String BYTE_LEVEL_REGEX = BpePreset.GPT2 + "|\\s+";

    private HfTokenizers() {
    }

    public static Tokenizer fromDirectory(Path dir) {
        HfTokenizerConfig config = HfTokenizerConfig.readDirectory(dir);
        Path json = dir.resolve("tokenizer.json");
        Path model = dir.resolve("tokenizer.model");
        if (Files.exists(json)) {
            JsonNode root = readJson(json);
            if (isByteLevelBpe(root) || !Files.exists(model)) return fromTokenizerJson(root, config, json);
        }
        if (Files.exists(model)) return fromSentencePiece(SentencePieceModel.read(model), config);
        throw new ModelFormatException(dir + ": no tokenizer.json or tokenizer.model");
    }

    /** A tokenizer.json file on its own (the directory's tokenizer_config.json is read if present). */
    public static Tokenizer fromTokenizerJson(Path file) {
        Path dir = file.toAbsolutePath().getParent();
        return fromTokenizerJson(readJson(file), HfTokenizerConfig.readDirectory(dir), file);
    }

    private static JsonNode readJson(Path file) {
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(file + ": malformed JSON: " + e.getMessage(), e);
        }
    }

    private static boolean isByteLevelBpe(JsonNode root) {
        return "BPE".equals(root.path("model").path("type").asText()) && mentionsByteLevel(root.path("pre_tokenizer"));
    }

    private static boolean mentionsByteLevel(JsonNode pre) {
        if ("ByteLevel".equals(pre.path("type").asText())) return true;
        for (JsonNode p : pre.path("pretokenizers")) if (mentionsByteLevel(p)) return true;
        return false;
    }

    // ---- tokenizer.json -------------------------------------------------------------------

    static Tokenizer fromTokenizerJson(JsonNode root, HfTokenizerConfig config, Path source) {
        try {
            return buildBpe(root, config);
        } catch (ModelFormatException e) {
            throw new ModelFormatException(source + ": " + e.getMessage(), e);
        }
    }

    private static Tokenizer buildBpe(JsonNode root, HfTokenizerConfig config) {
        JsonNode model = root.path("model");
        String type = model.path("type").asText("");
        if (!"BPE".equals(type)) {
            throw new ModelFormatException("unsupported tokenizer.json model type '" + type + "': only byte-level BPE is supported");
        }
        if (!mentionsByteLevel(root.path("pre_tokenizer"))) {
            throw new ModelFormatException("unsupported tokenizer.json: BPE without a ByteLevel pre-tokenizer (SentencePiece-style); "
                    + "use the directory's tokenizer.model instead");
        }
        if (!model.path("continuing_subword_prefix").asText("").isEmpty() || !model.path("end_of_word_suffix").asText("").isEmpty()) {
            throw new ModelFormatException("unsupported tokenizer.json: BPE with continuing_subword_prefix/end_of_word_suffix");
        }
        // vocabulary: model.vocab, then added tokens at their ids
        JsonNode vocabNode = model.path("vocab");
        int size = 0;
        for (Map.Entry<String, JsonNode> e : vocabNode.properties()) size = Math.max(size, e.getValue().asInt() + 1);
        for (JsonNode t : root.path("added_tokens")) size = Math.max(size, t.path("id").asInt() + 1);
        String[] texts = new String[size];
        TokenType[] types = new TokenType[size];
        for (Map.Entry<String, JsonNode> e : vocabNode.properties()) {
            int id = e.getValue().asInt();
            texts[id] = e.getKey();
            types[id] = TokenType.NORMAL;
        }
        List<JsonNode> added = new ArrayList<>();
        root.path("added_tokens").forEach(added::add);
        for (JsonNode t : added) {
            int id = t.path("id").asInt();
            texts[id] = t.path("content").asText();
            types[id] = t.path("special").asBoolean(false) ? TokenType.CONTROL : TokenType.USER_DEFINED;
        }
        for (int i = 0; i < size; i++) {
            if (texts[i] == null) {
                texts[i] = "[PAD" + i + "]"; // ids the file leaves unused
                types[i] = TokenType.UNUSED;
            }
        }
        Vocabulary vocab = new Vocabulary(texts, null, types);
        for (JsonNode t : added) {
            vocab.setStrip(t.path("id").asInt(), t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false));
        }
        MergeTable merges = new MergeTable(vocab, merges(model.path("merges")));
        PreTokenizer pre = preTokenizer(root.path("pre_tokenizer"));
        UnaryOperator<String> normalizer = normalizer(root.path("normalizer"));

        int unk = idOf(vocab, config.unkToken() != null ? config.unkToken() : model.path("unk_token").asText(null));
        int bos = idOf(vocab, config.bosToken());
        int eos = idOf(vocab, config.eosToken());
        int pad = idOf(vocab, config.padToken());
        JsonNode post = root.path("post_processor");
        boolean addBos = config.addBosToken() != null ? config.addBosToken() : templateAdds(post, vocab, bos, true);
        boolean addEos = config.addEosToken() != null ? config.addEosToken() : templateAdds(post, vocab, eos, false);
        int eot = EndOfGeneration.findEot(vocab, -1);
        BitSet eog = EndOfGeneration.compute(vocab, eos, eot);
        SpecialTokens special = new SpecialTokens(bos, eos, eot, unk, pad, addBos && bos >= 0, addEos && eos >= 0, eog);
        return new BpeTokenizer(vocab, special, merges, pre, model.path("ignore_merges").asBoolean(false), normalizer, "tokenizer.json");
    }

    private static int idOf(Vocabulary vocab, String text) {
        return text == null ? -1 : vocab.id(text);
    }

    private static List<String[]> merges(JsonNode node) {
        List<String[]> out = new ArrayList<>(node.size());
        for (JsonNode m : node) {
            if (m.isTextual()) {
                String s = m.asText();
                int sp = s.indexOf(' ', 1);
                if (sp < 0) throw new ModelFormatException("malformed BPE merge '" + s + "'");
                out.add(new String[]{s.substring(0, sp), s.substring(sp + 1)});
            } else if (m.isArray() && m.size() == 2) {
                out.add(new String[]{m.get(0).asText(), m.get(1).asText()});
            } else {
                throw new ModelFormatException("malformed BPE merge " + m);
            }
        }
        return out;
    }

    /** Whether the post-processor's single-sequence template starts (bos) or ends (eos) with that token. */
    private static boolean templateAdds(JsonNode post, Vocabulary vocab, int id, boolean atStart) {
        if (id < 0) return false;
        if ("Sequence".equals(post.path("type").asText())) {
            for (JsonNode p : post.path("processors")) if (templateAdds(p, vocab, id, atStart)) return true;
            return false;
        }
        if (!"TemplateProcessing".equals(post.path("type").asText())) return false;
        JsonNode single = post.path("single");
        if (single.isEmpty()) return false;
        JsonNode item = single.get(atStart ? 0 : single.size() - 1).path("SpecialToken");
        return item.isObject() && vocab.text(id).equals(item.path("id").asText());
    }

    static PreTokenizer preTokenizer(JsonNode node) {
        List<PreTokenizer.Split> steps = new ArrayList<>();
        boolean[] prefixSpace = {false};
        addSteps(node, steps, prefixSpace);
        return new PreTokenizer(steps, prefixSpace[0]);
    }

    private static void addSteps(JsonNode node, List<PreTokenizer.Split> steps, boolean[] prefixSpace) {
        if (node.isMissingNode() || node.isNull()) return;
        String type = node.path("type").asText();
        switch (type) {
            case "Sequence" -> node.path("pretokenizers").forEach(p -> addSteps(p, steps, prefixSpace));
            case "Split" -> {
                JsonNode pattern = node.path("pattern");
                Pattern p;
                if (pattern.has("Regex")) {
                    p = PreTokenizer.compile(javaRegex(pattern.get("Regex").asText()));
                } else if (pattern.has("String")) {
                    p = Pattern.compile(Pattern.quote(pattern.get("String").asText()));
                } else {
                    throw new ModelFormatException("Split pre-tokenizer without a pattern: " + node);
                }
                steps.add(new PreTokenizer.Split(p, behavior(node.path("behavior").asText("Isolated")), node.path("invert").asBoolean(false)));
            }
            case "ByteLevel" -> {
                if (node.path("add_prefix_space").asBoolean(false)) {
                    if (!steps.isEmpty()) throw new ModelFormatException("unsupported: ByteLevel add_prefix_space after other pre-tokenizers");
                    prefixSpace[0] = true;
                }
                if (node.path("use_regex").asBoolean(true)) {
                    steps.add(new PreTokenizer.Split(PreTokenizer.compile(BYTE_LEVEL_REGEX), PreTokenizer.Behavior.ISOLATED, false));
                }
            }
            case "Digits" -> steps.add(new PreTokenizer.Split(PreTokenizer.compile(
                    node.path("individual_digits").asBoolean(false) ? "\\p{N}" : "\\p{N}+"), PreTokenizer.Behavior.ISOLATED, false));
            default -> throw new ModelFormatException("unsupported tokenizer.json pre-tokenizer type '" + type + "'");
        }
    }

    private static PreTokenizer.Behavior behavior(String name) {
        return switch (name) {
            case "Isolated" -> PreTokenizer.Behavior.ISOLATED;
            case "Removed" -> PreTokenizer.Behavior.REMOVED;
            case "MergedWithPrevious" -> PreTokenizer.Behavior.MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> PreTokenizer.Behavior.MERGED_WITH_NEXT;
            case "Contiguous" -> PreTokenizer.Behavior.CONTIGUOUS;
            default -> throw new ModelFormatException("unsupported Split behavior '" + name + "'");
        };
    }

    private static final Pattern SCRIPT = Pattern.compile("\\\\([pP])\\{(Han|Hiragana|Katakana|Hangul|Latin|Cyrillic|Greek|Arabic|Hebrew|Thai|Devanagari)}");

    /**
     * Oniguruma (what Hugging Face compiles these with) and java.util.regex agree on the syntax
     * these files use (Unicode categories, (?i:), lookahead, possessive quantifiers); scripts are
     * the exception: Oniguruma writes {@code \p{Han}}, Java {@code \p{IsHan}}.
     */
    static String javaRegex(String onig) {
        Matcher m = SCRIPT.matcher(onig);
        return m.replaceAll("\\\\$1{Is$2}");
    }

    private static UnaryOperator<String> normalizer(JsonNode node) {
        if (node.isMissingNode() || node.isNull()) return null;
        String type = node.path("type").asText();
        return switch (type) {
            case "NFC" -> s -> Normalizer.normalize(s, Normalizer.Form.NFC);
            case "NFD" -> s -> Normalizer.normalize(s, Normalizer.Form.NFD);
            case "NFKC" -> s -> Normalizer.normalize(s, Normalizer.Form.NFKC);
            case "NFKD" -> s -> Normalizer.normalize(s, Normalizer.Form.NFKD);
            case "Lowercase" -> s -> s.toLowerCase(java.util.Locale.ROOT);
            case "Sequence" -> {
                List<UnaryOperator<String>> parts = new ArrayList<>();
                for (JsonNode n : node.path("normalizers")) {
                    UnaryOperator<String> p = normalizer(n);
                    if (p != null) parts.add(p);
                }
                yield s -> {
                    for (UnaryOperator<String> p : parts) s = p.apply(s);
                    return s;
                };
            }
            default -> throw new ModelFormatException("unsupported tokenizer.json normalizer type '" + type + "'");
        };
    }

    // ---- tokenizer.model ------------------------------------------------------------------

    static Tokenizer fromSentencePiece(SentencePieceModel spm, HfTokenizerConfig config) {
        if (spm.modelType() != SentencePieceModel.BPE) {
            throw new ModelFormatException("unsupported SentencePiece model type " + spm.modelType()
                    + (spm.modelType() == SentencePieceModel.UNIGRAM ? " (Unigram, T5-style)" : "") + ": only BPE is supported");
        }
        int n = spm.pieces().size();
        String[] texts = new String[n];
        float[] scores = new float[n];
        TokenType[] types = new TokenType[n];
        for (int i = 0; i < n; i++) {
            SentencePieceModel.Piece p = spm.pieces().get(i);
            texts[i] = p.text();
            scores[i] = p.score();
            types[i] = TokenType.fromCode(p.type());
        }
        Vocabulary vocab = new Vocabulary(texts, scores, types);
        int bos = config.bosToken() != null ? vocab.id(config.bosToken()) : valid(vocab, spm.bosId());
        int eos = config.eosToken() != null ? vocab.id(config.eosToken()) : valid(vocab, spm.eosId());
        int unk = config.unkToken() != null ? vocab.id(config.unkToken()) : valid(vocab, spm.unkId());
        int pad = config.padToken() != null ? vocab.id(config.padToken()) : valid(vocab, spm.padId());
        boolean addBos = config.addBosToken() != null ? config.addBosToken() : true;
        boolean addEos = config.addEosToken() != null && config.addEosToken();
        int eot = EndOfGeneration.findEot(vocab, -1);
        SpecialTokens special = new SpecialTokens(bos, eos, eot, unk, pad, addBos && bos >= 0, addEos && eos >= 0,
                EndOfGeneration.compute(vocab, eos, eot));
        // remove_extra_whitespaces is deliberately not applied: llama.cpp and llama2.c do not, and
        // the model's GGUF conversion must tokenize the same way.
        return new SpmTokenizer(vocab, special, spm.addDummyPrefix());
    }

    private static int valid(Vocabulary vocab, int id) {
        return vocab.contains(id) ? id : -1;
    }
}
