package dev.kvasir.model.tensor;

/**
 * The form activations take before meeting a weight type in a matmul — what llama.cpp's CPU
 * backend calls the weight type's {@code vec_dot_type}. Following it makes quantized models
 * produce llama.cpp's numbers (greedy outputs agree token for token), and turns the inner loop of
 * 8-bit weights into integer arithmetic.
 */
public enum ActivationFormat {
    /** float32 as they are (F32 weights, and types without an integer kernel yet). */
    F32,
    /** Rounded to float16 (F16 weights). */
    F16,
    /** Rounded to bfloat16 (BF16 weights). */
    BF16,
    /** Quantized to Q8_0 blocks: 32 int8 values and one f16 scale (Q8_0, Q4_0 weights). */
    Q8_0
}
