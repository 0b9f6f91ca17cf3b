package dev.kvasir.model.tokenizer;

import dev.kvasir.model.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of a SentencePiece {@code tokenizer.model} (a serialized {@code ModelProto}) that
 * tokenization needs. Field numbers are those of sentencepiece_model.proto.
 *
 * @param modelType 1 unigram, 2 BPE, 3 word, 4 char
 */
public record SentencePieceModel(List<Piece> pieces, int modelType, boolean byteFallback, int unkId, int bosId, int eosId,
                                 int padId, boolean addDummyPrefix, boolean removeExtraWhitespaces) {

    public static final int UNIGRAM = 1, BPE = 2;

    /** One vocabulary entry; type as in {@link TokenType} (SentencePiece numbers them the same way). */
    public record Piece(String text, float score, int type) {
    }

    public static SentencePieceModel read(Path path) {
        try {
            return parse(Files.readAllBytes(path));
        } catch (IOException e) {
            throw new ModelFormatException("cannot read " + path + ": " + e.getMessage(), e);
        } catch (ModelFormatException e) {
            throw new ModelFormatException(path + ": not a valid SentencePiece model: " + e.getMessage(), e);
        }
    }

    public static SentencePieceModel parse(byte[] bytes) {
        List<Piece> pieces = new ArrayList<>();
        // proto defaults
        int modelType = UNIGRAM, unk = 0, bos = 1, eos = 2, pad = -1;
        boolean byteFallback = false, dummyPrefix = true, removeWs = true;
        ProtobufReader r = new ProtobufReader(bytes);
        while (r.hasMore()) {
            int tag = r.readTag();
            switch (tag) {
                case (1 << 3) | ProtobufReader.LENGTH_DELIMITED -> pieces.add(piece(r.readMessage()));
                case (2 << 3) | ProtobufReader.LENGTH_DELIMITED -> {
                    ProtobufReader t = r.readMessage();
                    while (t.hasMore()) {
                        int tt = t.readTag();
                        switch (tt) {
                            case (3 << 3) -> modelType = (int) t.readVarint();
                            case (35 << 3) -> byteFallback = t.readVarint() != 0;
                            case (40 << 3) -> unk = (int) t.readVarint();
                            case (41 << 3) -> bos = (int) t.readVarint();
                            case (42 << 3) -> eos = (int) t.readVarint();
                            case (43 << 3) -> pad = (int) t.readVarint();
                            default -> t.skip(tt & 7);
                        }
                    }
                }
                case (3 << 3) | ProtobufReader.LENGTH_DELIMITED -> {
                    ProtobufReader n = r.readMessage();
                    while (n.hasMore()) {
                        int nt = n.readTag();
                        switch (nt) {
                            case (3 << 3) -> dummyPrefix = n.readVarint() != 0;
                            case (4 << 3) -> removeWs = n.readVarint() != 0;
                            default -> n.skip(nt & 7);
                        }
                    }
                }
                default -> r.skip(tag & 7);
            }
        }
        if (pieces.isEmpty()) throw new ModelFormatException("no pieces");
        return new SentencePieceModel(List.copyOf(pieces), modelType, byteFallback, unk, bos, eos, pad, dummyPrefix, removeWs);
    }

    private static Piece piece(ProtobufReader r) {
        String text = "";
        float score = 0;
        int type = 1;
        while (r.hasMore()) {
            int tag = r.readTag();
            switch (tag) {
                case (1 << 3) | ProtobufReader.LENGTH_DELIMITED -> text = r.readString();
                case (2 << 3) | ProtobufReader.FIXED32 -> score = r.readFloat();
                case (3 << 3) -> type = (int) r.readVarint();
                default -> r.skip(tag & 7);
            }
        }
        return new Piece(text, score, type);
    }
}
