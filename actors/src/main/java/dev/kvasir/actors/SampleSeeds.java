package dev.kvasir.actors;

/**
 * Seeds of the samples of an {@code n > 1} request. Sample 0 uses the request's seed, so a request
 * with {@code n = 1} draws exactly as before; sample {@code i} uses a SplitMix64 mix of (seed, i), so
 * samples differ from each other and each equals a single-sample request submitted with its seed.
 */
public final class SampleSeeds {
    private SampleSeeds() {
    }

    public static long forSample(long requestSeed, int sampleIndex) {
        if (sampleIndex == 0) return requestSeed;
        long z = requestSeed + 0x9E3779B97F4A7C15L * sampleIndex;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
