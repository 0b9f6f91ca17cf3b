package dev.kvasir.model.tokenizer;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The byte-level BPE pre-tokenizers that llama.cpp selects by GGUF {@code tokenizer.ggml.pre}, with
 * the per-family flags it sets alongside. Regexes are llama.cpp's (its ASCII-only spelling of the
 * case-insensitive contractions included), except where llama.cpp had to approximate what
 * {@code std::regex} cannot do: there the original Hugging Face regex is used, since Java supports
 * Unicode categories, possessive quantifiers and class intersection.
 *
 * @param regexes      applied one after the other, each to every piece the previous left
 * @param ignoreMerges a word that is itself a token is not merged (Llama 3 and relatives)
 * @param addBos       the default for add_bos_token when the file does not say
 * @param noBos        the family has no BOS token (ChatGLM)
 */
record BpePreset(List<String> regexes, boolean ignoreMerges, boolean addBos, boolean noBos) {

    private static final String CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
    static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    static final String LLAMA3 = CONTRACTIONS
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String QWEN2 = CONTRACTIONS
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String CJK_HANGUL = "[\\u4E00-\\u9FA5\\u0800-\\u4E00\\uAC00-\\uD7FF]+";
    private static final String HAN_KANA = "[\\u4E00-\\u9FA5\\u3040-\\u309F\\u30A0-\\u30FF]+";
    private static final String ASCII_PUNCT_WORD = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+";
    /** Bloom-style: everything up to white space or sentence punctuation, with one leading space. */
    private static final String BLOOM = " ?[^(\\s|.,!?\\u2026\\u3002\\uFF0C\\u3001\\u0964\\u06D4\\u060C)]+";
    private static final String UPPER = "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]";
    private static final String LOWER = "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]";
    private static final String GPT4O = "[^\\r\\n\\p{L}\\p{N}]?" + UPPER + "*" + LOWER + "+" + CONTRACTIONS + "?"
            + "|[^\\r\\n\\p{L}\\p{N}]?" + UPPER + "+" + LOWER + "*" + CONTRACTIONS + "?"
            + "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static final Map<String, BpePreset> BY_NAME = new LinkedHashMap<>();

    private static void add(BpePreset preset, String... names) {
        for (String n : names) BY_NAME.put(n, preset);
    }

    private static BpePreset of(String... regexes) {
        return new BpePreset(List.of(regexes), false, false, false);
    }

    static {
        add(of("[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]"), "default");
        add(new BpePreset(List.of(LLAMA3), true, true, false),
                "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano");
        add(of(LLAMA3), "dbrx", "smaug-bpe");
        add(new BpePreset(List.of(LLAMA3), false, false, true), "chatglm-bpe", "glm4");
        add(of(CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+"
                + "|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)"
                + "|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}"), "jais-2");
        // llama.cpp spells the cased-letter class of the tokenizer out as code point ranges; \p{LC} is that class.
        add(of("[\\r\\n]", "\\s?\\p{LC}+", "\\s?[!-/:-~\\uFF01-\\uFF0F\\uFF1A-\\uFF5E\\u2018-\\u201F\\u3000-\\u3002]+",
                "\\s+\\z", CJK_HANGUL, "\\p{N}+"), "deepseek-llm");
        add(of("[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", CJK_HANGUL, "\\p{N}"), "deepseek-coder");
        add(of("\\p{N}{1,3}", HAN_KANA, ASCII_PUNCT_WORD
                        + "|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
                "deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4");
        add(of("\\p{N}{1,3}", HAN_KANA, ASCII_PUNCT_WORD
                        + "|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+|[\\r\\n]|\\s+(?!\\S)|\\s+", "\\p{N}"),
                "spark2_5");
        add(of("[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2, "[0-9][0-9][0-9]"), "falcon");
        add(of("\\p{N}", GPT2), "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2");
        add(of(GPT2), "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
                "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo", "jais", "trillion",
                "granite-docling");
        add(of(QWEN2), "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open", "grok-2");
        add(of(CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+"
                + "|\\s+(?!\\S)|\\s+"), "qwen35");
        add(of("[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"), "ufakzeka");
        add(of("[^\\n]+|[\\n]+", QWEN2), "laguna");
        add(of(BLOOM), "poro-chat", "bloom", "gpt3-finnish");
        add(of(BLOOM, "\\p{N}"), "viking");
        add(new BpePreset(List.of("[^\\r\\n\\p{L}\\p{N}]?" + UPPER + "*" + LOWER + "+|[^\\r\\n\\p{L}\\p{N}]?" + UPPER + "+" + LOWER
                + "*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"), true, true, false), "tekken");
        add(new BpePreset(List.of("<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
                "[\\p{P}!-/:-@\\[-`{-~]", GPT2), false, true, false), "chameleon");
        add(of(GPT4O), "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2");
        add(new BpePreset(List.of("[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}&&[^a-z]]*[\\p{L}\\p{M}&&[^A-Z]]+" + CONTRACTIONS
                + "?|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}&&[^a-z]]+[\\p{L}\\p{M}&&[^A-Z]]*" + CONTRACTIONS
                + "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"), true, false, false),
                "granite-embed-multi-97m");
        add(of("\\d{1,3}(?=(?:\\d{3})*\\b)", GPT4O), "tiny_aya", "cohere2moe");
        add(of("\\p{N}+", "(?=(\\d{3})+(?!\\d))"), "superbpe");
        add(of("'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*"
                + "|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"), "bailingmoe", "bailingmoe2", "llada-moe");
        add(of(CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
                "seed-coder");
        add(of(CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?"
                + "|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"), "exaone-moe");
        add(new BpePreset(List.of("\\p{N}{1,3}", CONTRACTIONS
                + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"), true, false, false),
                "minicpm5");
    }

    static Optional<BpePreset> byName(String pre) {
        return Optional.ofNullable(BY_NAME.get(pre));
    }

    static Set<String> names() {
        return BY_NAME.keySet();
    }
}
