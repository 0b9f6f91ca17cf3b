package dev.kvasir.model.sampling;

/**
 * How the next token is chosen. {@code temperature == 0} is greedy. Penalties follow the usual
 * meanings: {@code repetitionPenalty} (llama.cpp/CTRL style, 1 = off) over the last
 * {@code penaltyLastN} tokens of prompt and output; {@code presencePenalty} and
 * {@code frequencyPenalty} (OpenAI style, 0 = off) over the generated tokens.
 *
 * @param topK 0 = off
 * @param topP 1 = off
 * @param minP 0 = off
 * @param seed null = a fresh random seed
 */
public record SamplingParams(float temperature, int topK, float topP, float minP,
                             float repetitionPenalty, int penaltyLastN,
                             float presencePenalty, float frequencyPenalty, Long seed) {

    public static final int DEFAULT_PENALTY_LAST_N = 64;

    public SamplingParams {
        require(Float.isFinite(temperature) && temperature >= 0, "temperature must be >= 0, got " + temperature);
        require(topK >= 0, "top_k must be >= 0 (0 = off), got " + topK);
        require(topP > 0 && topP <= 1, "top_p must be in (0, 1], got " + topP);
        require(minP >= 0 && minP <= 1, "min_p must be in [0, 1], got " + minP);
        require(Float.isFinite(repetitionPenalty) && repetitionPenalty > 0, "repetition_penalty must be > 0, got " + repetitionPenalty);
        require(penaltyLastN >= 0, "penalty window must be >= 0, got " + penaltyLastN);
        require(Float.isFinite(presencePenalty) && presencePenalty >= -2 && presencePenalty <= 2, "presence_penalty must be in [-2, 2], got " + presencePenalty);
        require(Float.isFinite(frequencyPenalty) && frequencyPenalty >= -2 && frequencyPenalty <= 2, "frequency_penalty must be in [-2, 2], got " + frequencyPenalty);
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }

    public static SamplingParams greedy() {
        return new SamplingParams(0f, 0, 1f, 0f, 1f, DEFAULT_PENALTY_LAST_N, 0f, 0f, null);
    }

    public static SamplingParams of(float temperature, int topK, float topP, Long seed) {
        return new SamplingParams(temperature, topK, topP, 0f, 1f, DEFAULT_PENALTY_LAST_N, 0f, 0f, seed);
    }

    public boolean isGreedy() {
        return temperature == 0 || topK == 1;
    }

    public boolean hasPenalties() {
        return repetitionPenalty != 1f || presencePenalty != 0f || frequencyPenalty != 0f;
    }

    public SamplingParams withMinP(float value) {
        return new SamplingParams(temperature, topK, topP, value, repetitionPenalty, penaltyLastN, presencePenalty, frequencyPenalty, seed);
    }

    public SamplingParams withPenalties(float repetition, float presence, float frequency) {
        return new SamplingParams(temperature, topK, topP, minP, repetition, penaltyLastN, presence, frequency, seed);
    }

    public SamplingParams withSeed(Long value) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, penaltyLastN, presencePenalty, frequencyPenalty, value);
    }
}
