package dev.kvasir.model.tokenizer;

import java.util.BitSet;
import java.util.Set;

/**
 * Which tokens end generation. Vocabularies name only EOS (and sometimes EOT) in metadata, yet chat
 * models stop on turn-end tokens too; like llama.cpp we recognise those by their text and treat
 * them as control tokens even where a converter typed them otherwise.
 */
final class EndOfGeneration {
    /** Turn/sequence end markers of common model families (llama.cpp's list). */
    static final Set<String> END_TEXTS = Set.of(
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
            "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
            "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
            "<｜end▁of▁sentence｜>");

    /** Candidates for the EOT id when metadata does not name one, in llama.cpp's order of preference. */
    static final Set<String> EOT_TEXTS = Set.of(
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
            "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>");

    /** FIM tokens that llama.cpp also stops on (a code model must not run past them). */
    static final Set<String> FIM_STOP_TEXTS = Set.of("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
            "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", "<|file_sep|>");

    private EndOfGeneration() {
    }

    /** The EOT id: the given one, or the lowest id whose text is an EOT marker, or -1. */
    static int findEot(Vocabulary vocab, int eot) {
        if (vocab.contains(eot)) return eot;
        for (int id = 0; id < vocab.size(); id++) {
            if (EOT_TEXTS.contains(vocab.text(id))) return id;
        }
        return -1;
    }

    /**
     * The EOG set: eos, eot and every token whose text is a known end/FIM-stop marker. Marks those
     * tokens CONTROL so that they decode to nothing and are only parsed with parse_special.
     */
    static BitSet compute(Vocabulary vocab, int eos, int eot) {
        BitSet eog = new BitSet(vocab.size());
        for (int id = 0; id < vocab.size(); id++) {
            String t = vocab.text(id);
            if (END_TEXTS.contains(t) || FIM_STOP_TEXTS.contains(t)) {
                eog.set(id);
                if (END_TEXTS.contains(t) && vocab.type(id) != TokenType.CONTROL) vocab.setType(id, TokenType.CONTROL);
            }
        }
        if (vocab.contains(eos)) eog.set(eos);
        if (vocab.contains(eot)) eog.set(eot);
        // o200k_harmony and solar-open use <|end|> between messages, not at the end of a turn.
        int end = vocab.id("<|end|>");
        if (end >= 0 && ((vocab.id("<|return|>") >= 0 && vocab.id("<|call|>") >= 0)
                || (vocab.id("<|calls|>") >= 0 && vocab.id("<|flush|>") >= 0))) {
            eog.clear(end);
        }
        return eog;
    }
}
