package dev.kvasir.model.tokenizer;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Hugging Face tokenizer.json files the converted GGUFs came from must give the same ids. */
class TokenizerHfVectorTest {

    @ParameterizedTest(name = "hf/{0} -> {1}.out")
    @CsvSource({"llama3, llama-bpe", "qwen3, qwen2"})
    void tokenizerJsonMatchesExpectedIds(String hfDir, String vocabName) {
        Tokenizer tok = HfTokenizers.fromDirectory(TokenizerVectors.dir().resolve("hf").resolve(hfDir));
        List<TokenizerVectors.Case> cases = TokenizerVectors.read(vocabName);
        assertEquals(46, cases.size());
        List<String> fails = TokenizerVectors.failures(tok, cases);
        int passed = cases.size() - fails.size();
        System.out.println("tokenizer vector pass count: hf/" + hfDir + " " + passed + "/" + cases.size());
        assertTrue(fails.isEmpty(), "hf/" + hfDir + ": " + passed + "/" + cases.size() + " passed; failures:\n" + String.join("\n", fails));
    }
}
