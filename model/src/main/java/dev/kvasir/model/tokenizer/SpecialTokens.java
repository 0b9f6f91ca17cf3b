package dev.kvasir.model.tokenizer;

import java.util.BitSet;

/**
 * The vocabulary's special ids (-1 when absent), whether encoding adds BOS/EOS, and the set of
 * end-of-generation ids.
 */
record SpecialTokens(int bos, int eos, int eot, int unk, int pad, boolean addBos, boolean addEos, BitSet endOfGeneration) {

    boolean isEndOfGeneration(int id) {
        return id >= 0 && endOfGeneration.get(id);
    }
}
