package dev.kvasir.model.tensor;

/**
 * A batch of activation rows quantized to Q8_0 blocks, the way llama.cpp's x86 backend does it
 * ({@code quantize_row_q8_0}): per 32 values, {@code d = max|x| / 127} stored as f16,
 * {@code q = round-half-even(x * 127 / max|x|)}. Reused across steps; {@link #quantize} resizes.
 */
public final class Q8Activations {
    static final int BLOCK = 32;
    /** The quantized values in lane order (see {@link #quantize}), held as floats (exact: they are integers -127..127) for float-lane kernels. */
    float[] values = new float[0];
    /**
     * The same values as 16-bit integers, per block the 16 even-indexed elements then the 16
     * odd-indexed ones, for the integer kernels: a weight block read as 16 shorts splits into its
     * even and odd bytes with shifts, and the two products add up to pair sums in place.
     */
    short[] pairs = new short[0];
    /**
     * For the Q4_0 kernel ({@code Q4_0Matrix.dotQ8}), per block 48 shorts: the 16 even-indexed
     * values {@code e}, then {@code o - 256 e} for the 16 odd-indexed ones {@code o} (wrapped to 16
     * bits), then {@code 8 (e + o)}. A short lane holding the nibble pair {@code lo + 256 hi} times
     * {@code e}, plus {@code hi} times {@code o - 256 e}, less {@code 8 (e + o)}, is
     * {@code (lo - 8) e + (hi - 8) o} modulo 2^16, hence exactly (it fits 16 bits): the kernel needs
     * neither a mask for the low nibble nor the two subtractions of 8.
     */
    short[] q4Terms = new short[0];
    /** Per block: the f16-rounded scale, as float. */
    float[] scales = new float[0];
    /**
     * The same values as {@link #values}, regrouped for the batched kernels: activations in tiles
     * (of {@link #WIDE} from the first, then one of {@link #NARROW} if at least that many are
     * left; see {@link #tileWidth}), and within a tile block by block, the tile's activations one
     * after the other (32 floats each, in lane order). A tile starting at activation {@code b} of
     * width {@code w} holds block {@code k} of its activation {@code t} at
     * {@code b * cols + (k * w + t) * 32}: one running index walks the whole tile, so the kernel's
     * loads differ only by constant displacements, and its scales likewise sit at
     * {@code b * blocks + k * w + t} in {@link #tileScales}.
     */
    float[] tiles = new float[0];
    float[] tileScales = new float[0];
    static final int WIDE = 8;
    static final int NARROW = 4;
    int cols;
    int batch;

    public void quantize(float[] x, int batch, int cols) {
        if (cols % BLOCK != 0) throw new IllegalArgumentException("Q8_0 activations need a multiple of 32 columns, got " + cols);
        this.cols = cols;
        this.batch = batch;
        int n = batch * cols;
        if (values.length < n) {
            values = new float[n];
            pairs = new short[n];
            q4Terms = new short[n / BLOCK * 48];
            scales = new float[n / BLOCK];
            tiles = new float[n];
            tileScales = new float[n / BLOCK];
        }
        for (int b = 0; b < n / BLOCK; b++) {
            int o = b * BLOCK;
            float max = 0;
            for (int i = 0; i < BLOCK; i++) max = Math.max(max, Math.abs(x[o + i]));
            float d = max / 127f;
            scales[b] = Float.float16ToFloat(Float.floatToFloat16(d));
            float id = max != 0 ? 127f / max : 0f;
            // stored in ggml's lane order: slot 8t + j holds element 4j + t (see Q8_0Matrix.dotQ8)
            for (int i = 0; i < BLOCK; i++) {
                float q = (float) Math.rint(x[o + i] * id);
                values[o + 8 * (i % 4) + i / 4] = q;
                pairs[o + (i % 2) * 16 + i / 2] = (short) q;
            }
            int t = b * 48;
            for (int m = 0; m < 16; m++) {
                int even = pairs[o + m], odd = pairs[o + 16 + m];
                q4Terms[t + m] = (short) even;
                q4Terms[t + 16 + m] = (short) (odd - 256 * even);
                q4Terms[t + 32 + m] = (short) (8 * (even + odd));
            }
        }
        tile();
    }

    /** Regroups {@link #values} and {@link #scales} into {@link #tiles} and {@link #tileScales}. */
    private void tile() {
        int blocks = cols / BLOCK;
        for (int b = 0; b < batch; ) {
            int w = tileWidth(b);
            if (w == 0) break;
            for (int t = 0; t < w; t++) {
                for (int k = 0; k < blocks; k++) {
                    System.arraycopy(values, (b + t) * cols + k * BLOCK, tiles, b * cols + (k * w + t) * BLOCK, BLOCK);
                    tileScales[b * blocks + k * w + t] = scales[(b + t) * blocks + k];
                }
            }
            b += w;
        }
    }

    /**
     * The width of the tile that starts at activation {@code b}: {@link #WIDE} while that many
     * are left, then {@link #NARROW} if that many are left, else 0 (the rest go one at a time).
     * Tiles start at multiples of 8, then possibly one more tile of 4.
     */
    int tileWidth(int b) {
        int left = batch - b;
        return left >= WIDE ? WIDE : left >= NARROW ? NARROW : 0;
    }

    public int cols() {
        return cols;
    }

    public int batch() {
        return batch;
    }
}
