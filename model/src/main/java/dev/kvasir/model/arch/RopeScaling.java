package dev.kvasir.model.arch;

/**
 * Llama 3's RoPE frequency scaling ({@code rope_type: llama3}): long wavelengths are stretched by
 * {@code factor}, short ones kept, with a smooth blend in between. Expressed, as ggml does, as one
 * divisor per frequency.
 */
public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalContextLength) {

    /** Divisors for each of the {@code ropeDim/2} base frequencies. */
    public float[] frequencyFactors(int ropeDim, double theta) {
        float[] out = new float[ropeDim / 2];
        double lowWavelen = originalContextLength / lowFreqFactor;
        double highWavelen = originalContextLength / highFreqFactor;
        for (int i = 0; i < out.length; i++) {
            double freq = Math.pow(theta, -2.0 * i / ropeDim);
            double wavelen = 2 * Math.PI / freq;
            double scaled;
            if (wavelen < highWavelen) {
                scaled = freq;
            } else if (wavelen > lowWavelen) {
                scaled = freq / factor;
            } else {
                double smooth = (originalContextLength / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                scaled = (1 - smooth) * freq / factor + smooth * freq;
            }
            out[i] = (float) (freq / scaled);
        }
        return out;
    }
}
