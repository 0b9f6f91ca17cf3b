package dev.kvasir.gpu;

import dev.kvasir.model.tensor.Quantizer;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The KV pool in every storage type (fp32, fp16, bf16, int8, fp8): kv_write's conversion and
 * quantization, decode and tiled prefill attention, and copy-on-write. The pool is poisoned (all
 * bytes 0xFF: NaN in the float types, a NaN scale for int8) and then filled through kv_write; the
 * attention kernels are checked against a float64 reference computed from what the pool actually
 * stores (read back and dequantized on the host: only fp32 arithmetic error is left, so the
 * threshold is tight) and against the unquantized fp32 keys and values (the type's accuracy, logged
 * and held to a loose bound). Random shapes with GQA, shuffled block tables, outputs poisoned.
 */
@GpuTest
class KvCacheCheckTest {
    private static final Logger log = LoggerFactory.getLogger(KvCacheCheckTest.class);
    private static final SplittableRandom random = new SplittableRandom(System.nanoTime());
    private static GpuDispatcher d;
    private static GpuDeviceInfo card;

    @BeforeAll
    static void open() {
        Gpu.assume();
        d = GpuDispatcher.open(0);
        card = GpuDevices.list().getFirst();
    }

    @AfterAll
    static void close() {
        if (d != null) d.close();
    }

    private static float[] randoms(int n, double amplitude) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((random.nextDouble() * 2 - 1) * amplitude);
        return v;
    }

    private static boolean runs(KvCacheDtype t) {
        String reason = t.unsupportedReason(card.computeMajor(), card.computeMinor());
        if (reason != null) log.info("skipped on {}: {}", card, reason);
        return reason == null;
    }

    /** Error of the stored values against the unquantized ones, relative: ‖out − ref‖ / ‖ref‖ (bounds per type). */
    private static double accuracyLimit(KvCacheDtype t) {
        return switch (t) {
            case FP32 -> 1e-5;
            case FP16 -> 2e-3;
            case BF16 -> 1e-2;
            case INT8 -> 3e-2;
            case FP8 -> 8e-2;
        };
    }

    /** A one-layer pool filled through kv_write: device pool, the host's view of what it stores, the unquantized values. */
    private record Filled(PagedKvPool pool, double[] keys, double[] values, float[] rawKeys, float[] rawValues) {
    }

    /**
     * Writes every slot of a fresh poisoned pool (slots in shuffled order, key/value rows inside
     * wider rows as in the forward pass), reads it back and checks each stored element against its
     * input within the type's rounding.
     */
    private static Filled fill(DeviceArrays a, KvCacheDtype t, int blocks, int bs, int kvHeads, int headDim, double amplitude) {
        int kvDim = kvHeads * headDim, slots = blocks * bs;
        long poolBytes = new PagedKvPool(null, 1, bs, blocks, kvHeads, headDim, t).totalBytes();
        PagedKvPool pool = new PagedKvPool(a.poisonedBytes(poolBytes), 1, bs, blocks, kvHeads, headDim, t);
        int stride = 3 * kvDim + 5;
        float[] rows = randoms(slots * stride, amplitude);
        // a few heads of all zeros (scale 0) and a few with one large outlier
        for (int z = 0; z < 3; z++) {
            int s = random.nextInt(slots), h = random.nextInt(kvHeads);
            for (int i = 0; i < headDim; i++) rows[s * stride + h * headDim + i] = 0;
            rows[random.nextInt(slots) * stride + random.nextInt(kvDim)] = (float) (20 * amplitude);
        }
        int[] slot = shuffled(slots);
        CUdeviceptr src = a.floats(rows);
        a.kernels.launch("kv_write_" + t.kernelSuffix, slots, 1, 256, d.stream(), src, src.withByteOffset(4L * kvDim), pool.keys(0), pool.values(0),
                pool.keyScales(0), pool.valueScales(0), a.ints(slot), kvHeads, headDim, stride);
        byte[] raw = a.readBytes(pool.base(), (int) poolBytes);
        byte[] data = java.util.Arrays.copyOf(raw, (int) (2 * pool.sideBytes()));
        byte[] scales = t.scaled ? java.util.Arrays.copyOfRange(raw, (int) pool.scaleOffset(), (int) poolBytes) : null;
        double[] keys = new double[slots * kvDim], values = new double[slots * kvDim];
        float[] rawKeys = new float[slots * kvDim], rawValues = new float[slots * kvDim];
        long sideElements = (long) slots * kvDim;
        for (int tk = 0; tk < slots; tk++) {
            int s = slot[tk];
            for (int side = 0; side < 2; side++) {
                for (int h = 0; h < kvHeads; h++) {
                    float max = 0;
                    for (int i = 0; i < headDim; i++) max = Math.max(max, Math.abs(rows[tk * stride + side * kvDim + h * headDim + i]));
                    float scale = 1;
                    if (t.scaled) {
                        scale = KvStorage.scale(scales, side * (long) slots * kvHeads + (long) s * kvHeads + h);
                        float expected = Float.float16ToFloat(Float.floatToFloat16(max / (t == KvCacheDtype.INT8 ? 127f : 448f)));
                        assertEquals(expected, scale, t + ": scale of slot " + s + " head " + h);
                    }
                    for (int i = 0; i < headDim; i++) {
                        int e = s * kvDim + h * headDim + i;
                        float x = rows[tk * stride + side * kvDim + h * headDim + i];
                        float q = KvStorage.element(data, side * sideElements + e, t);
                        double stored = (double) q * scale;
                        double err = Math.abs(stored - x);
                        boolean ok = switch (t) {
                            case FP32 -> stored == x;
                            case FP16 -> q == Float.float16ToFloat(Float.floatToFloat16(x));
                            case BF16 -> q == Float.intBitsToFloat(Quantizer.toBf16(x) << 16);
                            case INT8 -> Math.abs(q) <= 127 && err <= 0.5 * scale * (1 + 1e-3) + 1e-7 * Math.abs(x);
                            case FP8 -> Float.isFinite(q) && Math.abs(q) <= 448 && err <= Math.abs(x) / 16 * (1 + 1e-3) + scale * Math.pow(2, -10) * (1 + 1e-3);
                        };
                        assertTrue(ok, t + ": slot " + s + " element " + i + " of head " + h + (side == 0 ? " key " : " value ") + x + " stored as " + q + " × " + scale);
                        (side == 0 ? keys : values)[e] = stored;
                        (side == 0 ? rawKeys : rawValues)[e] = x;
                    }
                }
            }
        }
        return new Filled(pool, keys, values, rawKeys, rawValues);
    }

    private static int[] shuffled(int n) {
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int x = perm[i]; perm[i] = perm[j]; perm[j] = x;
        }
        return perm;
    }



    /**
     * Per type and shape: decode queries (each sequence's last position and one in its middle) through
     * `attention`, and prefill chunks over cached prefixes through `attention_prefill` (head dims up
     * to 128) and `attention` on the same chunks.
     */
    @Test
    void attentionOverEveryKvTypeMatchesWhatThePoolStores() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                // GQA groups of 2, 4, 8, 3, 1, 5 and 6 (the tensor-core kernel puts up to 4 heads of a group in a block);
                // heads of 48 and 80 dims end on an odd 16-dim step (the tensor-core kernel loads two at a time)
                int[][] shapes = {{8, 4, 8}, {32, 8, 64}, {32, 8, 128}, {6, 2, 100}, {16, 2, 256}, {12, 4, 32}, {16, 16, 64}, {40, 8, 128},
                        {12, 2, 128}, {8, 8, 128}, {24, 8, 128}, {6, 3, 48}, {10, 2, 80}, {0, 0, 0}};
                for (KvCacheDtype t : KvCacheDtype.values()) {
                    if (!runs(t)) continue;
                    for (int[] shape0 : shapes) {
                        int[] shape = shape0;
                        if (shape[0] == 0) {  // a random GQA shape
                            int kvHeads = 1 + random.nextInt(4), group = 1 + random.nextInt(6), headDim = 8 * (1 + random.nextInt(16));
                            shape = new int[]{kvHeads * group, kvHeads, headDim};
                        }
                        checkShape(a, t, shape[0], shape[1], shape[2]);
                    }
                }
            }
            return null;
        });
    }

    private static void checkShape(DeviceArrays a, KvCacheDtype t, int heads, int kvHeads, int headDim) {
        int bs = 16, blocks = 96;
        double amplitude = 0.5 + 3 * random.nextDouble();
        Filled f = fill(a, t, blocks, bs, kvHeads, headDim, amplitude);
        int kvDim = kvHeads * headDim;
        String what = t + " " + heads + "/" + kvHeads + " heads, head " + headDim;
        float scale = (float) (1 / Math.sqrt(headDim));
        // sequences: (cached prefix, new tokens); block tables of shuffled, non-contiguous blocks
        int[][] seqs = {{0, 1}, {0, 8}, {0, 17}, {0, 40}, {16, 16}, {5, 33}, {100, 57}, {0, 257}, {31, 1}, {200, 20}};
        int stride = 0;
        for (int[] sq : seqs) stride = Math.max(stride, (sq[0] + sq[1] + bs - 1) / bs);
        int[] perm = shuffled(blocks);
        int[] tables = new int[seqs.length * stride];
        for (int s = 0; s < seqs.length; s++) for (int b = 0; b < stride; b++) tables[s * stride + b] = perm[(s * 7 + b * 3) % blocks];
        CUdeviceptr tp = a.ints(tables);
        PagedKvPool pool = f.pool();

        // decode: the last position of each sequence and one in its middle
        int n = 2 * seqs.length;
        int[] positions = new int[n], seqOf = new int[n];
        for (int s = 0; s < seqs.length; s++) {
            int len = seqs[s][0] + seqs[s][1];
            positions[2 * s] = len - 1;
            positions[2 * s + 1] = (len - 1) / 2;
            seqOf[2 * s] = seqOf[2 * s + 1] = s;
        }
        float[] q = randoms(n * heads * headDim, 1);
        double[] refStored = AttentionReference.causal(q, heads * headDim, f.keys(), f.values(), positions, seqOf, tables, stride, heads, kvHeads, headDim, bs, scale);
        double[] refRaw = AttentionReference.causal(q, heads * headDim, AttentionReference.toDouble(f.rawKeys()), AttentionReference.toDouble(f.rawValues()), positions, seqOf, tables, stride, heads, kvHeads, headDim, bs, scale);

        // every grouped decode kernel that fits the shape (the forward pass picks one by shape and step size)
        GpuForwardPass.SplitScratch scratch = scratch(a, headDim);
        for (String kernel : new String[]{"attention_lp_", "attention_lpw_", "attention_g4_", "attention_g4w_", "attention_g8_", "attention_g4s_", "attention_g8s_", "attention_h16_"}) {
            if (kernel.startsWith("attention_lp") && (heads / kvHeads > 4 || headDim != 128)) continue;
            if (kernel.startsWith("attention_g4") && (heads / kvHeads > 4 || headDim > 128)) continue;
            if (kernel.startsWith("attention_h") && headDim > 128) continue;
            if (GpuForwardPass.splitsContext(kernel) && n * kvHeads > GpuForwardPass.SplitScratch.MAX_PAIRS) continue;
            CUdeviceptr grouped = a.poisoned(n * heads * headDim);
            GpuForwardPass.launchDecodeAttention(a.kernels, kernel, t, n, heads, kvHeads, d.stream(), scratch, a.floats(q), pool.keys(0), pool.values(0), pool.keyScales(0), pool.valueScales(0),
                    grouped, a.ints(positions), a.ints(seqOf), tp, stride, heads, kvHeads, headDim, bs, scale, heads * headDim);
            compare("grouped decode attention (" + kernel + ") " + what, t, a.readFloats(grouped, n * heads * headDim), refStored, refRaw);
            if (GpuForwardPass.blockPerHead(kernel) && headDim % 32 == 0) {
                // its int8 form writes exactly what quantize_act_q8 makes of the fp32 output
                int count = n * heads * headDim;
                CUdeviceptr[] int8 = KernelCheckTest.int8Buffers(a, count);
                GpuForwardPass.launchDecodeAttention(a.kernels, GpuForwardPass.int8Output(kernel), t, n, heads, kvHeads, d.stream(), scratch, a.floats(q), pool.keys(0),
                        pool.values(0), pool.keyScales(0), pool.valueScales(0), null, a.ints(positions), a.ints(seqOf), tp, stride, heads, kvHeads, headDim, bs, scale,
                        heads * headDim, int8[0], int8[1]);
                KernelCheckTest.assertInt8FormEqualsQuantizeAct(a, d.stream(), kernel + " " + what, grouped, count, int8);
                log.info("{} int8 form ({}): equal to quantize_act_q8 of its fp32 output, {}", kernel, GpuForwardPass.int8Output(kernel), what);
            }
        }

        // prefill: each sequence's new tokens over its cached prefix, query tiles of up to 16
        n = 0;
        int tileCount = 0;
        for (int[] sq : seqs) {
            n += sq[1];
            tileCount += (sq[1] + 15) / 16;
        }
        positions = new int[n];
        seqOf = new int[n];
        int[] tiles = new int[2 * tileCount];
        int tk = 0, tile = 0;
        for (int s = 0; s < seqs.length; s++) {
            for (int i = 0; i < seqs[s][1]; i += 16) {
                tiles[2 * tile] = tk + i;
                tiles[2 * tile + 1] = Math.min(16, seqs[s][1] - i);
                tile++;
            }
            for (int i = 0; i < seqs[s][1]; i++, tk++) {
                positions[tk] = seqs[s][0] + i;
                seqOf[tk] = s;
            }
        }
        int qStride = heads * headDim + 2 * kvDim;
        q = randoms(n * qStride, 1);
        double[] stored = AttentionReference.causal(q, qStride, f.keys(), f.values(), positions, seqOf, tables, stride, heads, kvHeads, headDim, bs, scale);
        double[] exact = AttentionReference.causal(q, qStride, AttentionReference.toDouble(f.rawKeys()), AttentionReference.toDouble(f.rawValues()), positions, seqOf, tables, stride, heads, kvHeads, headDim, bs, scale);
        CUdeviceptr qp = a.floats(q), pp = a.ints(positions), sp = a.ints(seqOf);
        CUdeviceptr out;
        if (headDim <= 128) {
            out = a.poisoned(n * heads * headDim);
            a.kernels.launch("attention_prefill_" + t.kernelSuffix, tileCount, heads, 128, d.stream(), qp, pool.keys(0), pool.values(0),
                    pool.keyScales(0), pool.valueScales(0), out, pp, sp, tp, stride, a.ints(tiles), heads, kvHeads, headDim, bs, scale, qStride);
            compare("tiled prefill attention " + what, t, a.readFloats(out, n * heads * headDim), stored, exact);
        }
        if (GpuForwardPass.tensorCoresFit(t, headDim)) {
            out = a.poisoned(n * heads * headDim);
            GpuForwardPass.launchTensorCorePrefill(a.kernels, t, tileCount, heads, kvHeads, d.stream(), qp, pool.keys(0), pool.values(0),
                    pool.keyScales(0), pool.valueScales(0), out, pp, sp, tp, stride, a.ints(tiles), heads, kvHeads, headDim, bs, scale, qStride);
            float[] tc = a.readFloats(out, n * heads * headDim);
            // Q and P are rounded to the pool's 16-bit type for the tensor cores
            double limit = t == KvCacheDtype.FP16 ? 2e-3 : 1.5e-2;
            double eStored = KernelCheckTest.relativeError(tc, stored);
            log.info("tensor-core tiled prefill {}: vs stored K/V {}, vs unquantized fp32 K/V {}", what, String.format("%.2e", eStored),
                    String.format("%.2e", KernelCheckTest.relativeError(tc, exact)));
            assertTrue(eStored < limit, "tensor-core tiled prefill " + what + ": relative error " + eStored + " against the stored K/V over " + limit);
        }
        out = a.poisoned(n * heads * headDim);
        // a prefill chunk without tiles goes through the decode kernel the forward pass picks for n tokens
        String perToken = GpuForwardPass.decodeAttention(heads, kvHeads, headDim, n, 257);
        GpuForwardPass.launchDecodeAttention(a.kernels, perToken, t, n, heads, kvHeads, d.stream(), scratch, qp, pool.keys(0), pool.values(0),
                pool.keyScales(0), pool.valueScales(0), out, pp, sp, tp, stride, heads, kvHeads, headDim, bs, scale, qStride);
        compare("per-token attention (" + perToken + ") on the prefill " + what, t, a.readFloats(out, n * heads * headDim), stored, exact);
    }

    /** Scratch for the split decode attention kernels: poisoned states, zeroed counters. */
    static GpuForwardPass.SplitScratch scratch(DeviceArrays a, int headDim) {
        return new GpuForwardPass.SplitScratch(a.poisoned((int) GpuForwardPass.SplitScratch.partialFloats(headDim)),
                a.ints(new int[GpuForwardPass.SplitScratch.MAX_PAIRS]));
    }

    /**
     * rope_kv (the forward pass's RoPE with the K/V write) against rope followed by kv_write, per
     * type: the same q/k rows and, byte for byte, the same pool (data and scales). Both layouts of
     * the rotation, a partial rotary dimension, positions past the cos/sin table.
     */
    @Test
    void ropeWithKvWriteEqualsRopeThenKvWrite() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                for (KvCacheDtype t : KvCacheDtype.values()) {
                    if (!runs(t)) continue;
                    for (int interleaved = 0; interleaved <= 1; interleaved++) {
                        int heads = 8, kvHeads = 2, headDim = 64, ropeDim = interleaved == 1 ? 64 : 32, n = 7, bs = 16, blocks = 4;
                        int qkvDim = (heads + 2 * kvHeads) * headDim, kvDim = kvHeads * headDim;
                        float[] rows = randoms(n * qkvDim, 2);
                        int[] positions = {0, 1, 5, 17, 40, 63, 200};
                        int[] slots = {3, 0, 17, 42, 9, 63, 30};
                        int tablePositions = 64;
                        RopeTable rope = RopeTable.of(ropeDim, tablePositions, 10000);
                        long poolBytes = new PagedKvPool(null, 1, bs, blocks, kvHeads, headDim, t).totalBytes();
                        PagedKvPool expectedPool = new PagedKvPool(a.poisonedBytes(poolBytes), 1, bs, blocks, kvHeads, headDim, t);
                        PagedKvPool fusedPool = new PagedKvPool(a.poisonedBytes(poolBytes), 1, bs, blocks, kvHeads, headDim, t);
                        CUdeviceptr pp = a.ints(positions), sp = a.ints(slots), ip = a.floats(rope.inverseFrequencies()), tb = a.floats(rope.cosSin());
                        CUdeviceptr twoStep = a.floats(rows), fused = a.floats(rows);
                        a.kernels.launch("rope", n, heads + kvHeads, 64, d.stream(), twoStep, pp, ip, tb, tablePositions, headDim, ropeDim, interleaved, qkvDim);
                        a.kernels.launch("kv_write_" + t.kernelSuffix, n, 1, 256, d.stream(), twoStep.withByteOffset(4L * heads * headDim),
                                twoStep.withByteOffset(4L * (heads * headDim + kvDim)), expectedPool.keys(0), expectedPool.values(0),
                                expectedPool.keyScales(0), expectedPool.valueScales(0), sp, kvHeads, headDim, qkvDim);
                        a.kernels.launch("rope_kv_" + t.kernelSuffix, n, heads + 2 * kvHeads, 64, d.stream(), fused, pp, ip, tb, tablePositions, headDim, ropeDim,
                                interleaved, qkvDim, heads, kvHeads, fusedPool.keys(0), fusedPool.values(0), fusedPool.keyScales(0), fusedPool.valueScales(0), sp);
                        String what = t + (interleaved == 1 ? " interleaved" : " half-split, rotary " + ropeDim + " of " + headDim);
                        assertArrayEquals(a.readFloats(twoStep, n * qkvDim), a.readFloats(fused, n * qkvDim), what + ": rotated q/k rows");
                        assertArrayEquals(a.readBytes(expectedPool.base(), (int) poolBytes), a.readBytes(fusedPool.base(), (int) poolBytes), what + ": pool bytes");
                        log.info("rope_kv {}: rows and pool equal rope + kv_write", what);
                    }
                }
            }
            return null;
        });
    }

    /**
     * The per-head decode attention with the step's RoPE and K/V write folded in (_h16r, _h16rq, the
     * forward pass's choice for up to four decode tokens; they read the step's metadata and the
     * context's first sweep before waiting and keep the step's own key and value in shared memory;
     * and _h16rb, _h16rbq, which read both back from the pool after the wait; and _h16rc, _h16rqc,
     * compiled for Llama 3's head shape) against rope_kv followed by _h16 / _h16q,
     * per type: bit for bit the same output (fp32, and the int8 form), the same pool bytes (data and
     * scales) and the same rotated query rows. Three sequences of 1, 37 and 150 positions whose last
     * one the step writes, on scattered pages; groups of 4 and of 1; both rotation layouts, a
     * partial rotary dimension, positions past the cos/sin table.
     */
    @Test
    void ropeInsideThePerHeadAttentionEqualsRopeKvThenAttention() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                for (KvCacheDtype t : KvCacheDtype.values()) {
                    if (!runs(t)) continue;
                    for (boolean ahead : new boolean[]{true, false}) {
                        checkRopeInAttention(a, t, 8, 2, 128, 128, 0, ahead, false);
                        checkRopeInAttention(a, t, 4, 4, 64, 32, 1, ahead, false);
                    }
                    checkRopeInAttention(a, t, 8, 2, 128, 128, 1, true, true);  // the forms compiled for Llama 3's head shape (interleaved, as every Llama model is rotated here)
                }
            }
            return null;
        });
    }

    private static String ropeForm(String kernel, boolean ahead, boolean fixed) {
        String rope = GpuForwardPass.withRope(kernel, ahead);
        return fixed ? GpuForwardPass.fixedShape(rope) : rope;
    }

    private void checkRopeInAttention(DeviceArrays a, KvCacheDtype t, int heads, int kvHeads, int headDim, int ropeDim, int interleaved, boolean ahead,
                                      boolean fixed) {
        int[] lengths = {1, 37, 150};
        int n = lengths.length, bs = 16, stride = 10, blocks = n * stride, qkvDim = (heads + 2 * kvHeads) * headDim;
        float scale = (float) (1 / Math.sqrt(headDim));
        int[] tables = new int[n * stride];
        for (int s = 0; s < n; s++) for (int b = 0; b < stride; b++) tables[s * stride + b] = s * stride + stride - 1 - b;
        int tablePositions = 64;
        RopeTable rope = RopeTable.of(ropeDim, tablePositions, 500000);
        CUdeviceptr ip = a.floats(rope.inverseFrequencies()), tb = a.floats(rope.cosSin()), tp = a.ints(tables);
        // the earlier positions, written as a prefill would (rope_kv), into both pools
        int earlier = 0;
        for (int len : lengths) earlier += len - 1;
        int[] ePositions = new int[earlier], eSlots = new int[earlier];
        for (int s = 0, i = 0; s < n; s++) {
            for (int p = 0; p < lengths[s] - 1; p++, i++) {
                ePositions[i] = p;
                eSlots[i] = tables[s * stride + p / bs] * bs + p % bs;
            }
        }
        float[] eRows = randoms(earlier * qkvDim, 2);
        long poolBytes = new PagedKvPool(null, 1, bs, blocks, kvHeads, headDim, t).totalBytes();
        PagedKvPool expected = new PagedKvPool(a.poisonedBytes(poolBytes), 1, bs, blocks, kvHeads, headDim, t);
        PagedKvPool folded = new PagedKvPool(a.poisonedBytes(poolBytes), 1, bs, blocks, kvHeads, headDim, t);
        for (PagedKvPool pool : new PagedKvPool[]{expected, folded}) {
            a.kernels.launch("rope_kv_" + t.kernelSuffix, earlier, heads + 2 * kvHeads, 64, d.stream(), a.floats(eRows), a.ints(ePositions), ip, tb,
                    tablePositions, headDim, ropeDim, interleaved, qkvDim, heads, kvHeads, pool.keys(0), pool.values(0), pool.keyScales(0),
                    pool.valueScales(0), a.ints(eSlots));
        }
        // the step: each sequence's last position
        int[] positions = new int[n], seqOf = new int[n], slots = new int[n];
        for (int s = 0; s < n; s++) {
            positions[s] = lengths[s] - 1;
            seqOf[s] = s;
            slots[s] = tables[s * stride + positions[s] / bs] * bs + positions[s] % bs;
        }
        CUdeviceptr pp = a.ints(positions), sq = a.ints(seqOf), sp = a.ints(slots);
        float[] rows = randoms(n * qkvDim, 2);
        CUdeviceptr twoStep = a.floats(rows), inPlace = a.floats(rows), inPlaceQ8 = a.floats(rows);
        int count = n * heads * headDim;
        GpuForwardPass.SplitScratch scratch = scratch(a, headDim);
        a.kernels.launch("rope_kv_" + t.kernelSuffix, n, heads + 2 * kvHeads, 64, d.stream(), twoStep, pp, ip, tb, tablePositions, headDim, ropeDim,
                interleaved, qkvDim, heads, kvHeads, expected.keys(0), expected.values(0), expected.keyScales(0), expected.valueScales(0), sp);
        CUdeviceptr outExpected = a.poisoned(count), outFolded = a.poisoned(count);
        CUdeviceptr[] int8Expected = KernelCheckTest.int8Buffers(a, count), int8Folded = KernelCheckTest.int8Buffers(a, count);
        GpuForwardPass.launchDecodeAttention(a.kernels, "attention_h16_", t, n, heads, kvHeads, d.stream(), scratch, twoStep, expected.keys(0),
                expected.values(0), expected.keyScales(0), expected.valueScales(0), outExpected, pp, sq, tp, stride, heads, kvHeads, headDim, bs, scale, qkvDim);
        GpuForwardPass.launchDecodeAttention(a.kernels, "attention_h16q_", t, n, heads, kvHeads, d.stream(), scratch, twoStep, expected.keys(0),
                expected.values(0), expected.keyScales(0), expected.valueScales(0), null, pp, sq, tp, stride, heads, kvHeads, headDim, bs, scale, qkvDim,
                int8Expected[0], int8Expected[1]);
        GpuForwardPass.launchDecodeAttention(a.kernels, ropeForm("attention_h16_", ahead, fixed), t, n, heads, kvHeads, d.stream(), scratch, inPlace,
                folded.keys(0), folded.values(0), folded.keyScales(0), folded.valueScales(0), outFolded, pp, sq, tp, stride, heads, kvHeads, headDim, bs,
                scale, qkvDim, ip, tb, tablePositions, ropeDim, interleaved, sp);
        // the int8 form on fresh rows: it writes the same pool bytes again
        GpuForwardPass.launchDecodeAttention(a.kernels, ropeForm("attention_h16q_", ahead, fixed), t, n, heads, kvHeads, d.stream(), scratch, inPlaceQ8,
                folded.keys(0), folded.values(0), folded.keyScales(0), folded.valueScales(0), null, pp, sq, tp, stride, heads, kvHeads, headDim, bs,
                scale, qkvDim, int8Folded[0], int8Folded[1], ip, tb, tablePositions, ropeDim, interleaved, sp);
        String what = (fixed ? "fixed shape, " : "") + (ahead ? "ahead, " : "read back, ") + t + ", " + heads + " heads over " + kvHeads + ", " + headDim + " dims, rotary " + ropeDim
                + (interleaved == 1 ? " interleaved" : " half-split");
        assertArrayEquals(a.readFloats(outExpected, count), a.readFloats(outFolded, count), what + ": attention output");
        assertArrayEquals(a.readBytes(int8Expected[0], count), a.readBytes(int8Folded[0], count), what + ": int8 output");
        assertArrayEquals(a.readBytes(int8Expected[1], count / 4), a.readBytes(int8Folded[1], count / 4), what + ": int8 output scales");
        assertArrayEquals(a.readBytes(expected.base(), (int) poolBytes), a.readBytes(folded.base(), (int) poolBytes), what + ": pool bytes");
        float[] qExpected = a.readFloats(twoStep, n * qkvDim), qFolded = a.readFloats(inPlace, n * qkvDim), qFoldedQ8 = a.readFloats(inPlaceQ8, n * qkvDim);
        for (int s = 0; s < n; s++) {
            int from = s * qkvDim, to = from + heads * headDim;
            assertArrayEquals(Arrays.copyOfRange(qExpected, from, to), Arrays.copyOfRange(qFolded, from, to), what + ": rotated query heads");
            assertArrayEquals(Arrays.copyOfRange(qExpected, from, to), Arrays.copyOfRange(qFoldedQ8, from, to), what + ": rotated query heads (int8 form)");
        }
        log.info("attention with RoPE inside {}: output, int8 output, pool and query rows equal rope_kv + attention", what);
    }

    /**
     * RoPE's inputs as the kernels take them: theta^(-2i/ropeDim) per rotated pair, and the cos/sin
     * table of the first {@code positions} positions as GpuWeights makes it for the forward pass.
     */
    private record RopeTable(float[] inverseFrequencies, float[] cosSin) {
        static RopeTable of(int ropeDim, int positions, double theta) {
            float[] inv = new float[ropeDim / 2];
            for (int i = 0; i < inv.length; i++) inv[i] = (float) Math.pow(theta, -2.0 * i / ropeDim);
            return new RopeTable(inv, GpuWeights.ropeTable(inv, positions));
        }
    }

    private static void compare(String what, KvCacheDtype t, float[] got, double[] stored, double[] exact) {
        double eStored = KernelCheckTest.relativeError(got, stored);
        double eExact = KernelCheckTest.relativeError(got, exact);
        log.info("{}: vs stored K/V {}, vs unquantized fp32 K/V {}", what, String.format("%.2e", eStored), String.format("%.2e", eExact));
        assertTrue(eStored < 1e-5, what + ": relative error " + eStored + " against the stored K/V");
        assertTrue(eExact < accuracyLimit(t), what + ": relative error " + eExact + " against the unquantized K/V over " + accuracyLimit(t));
    }

    /** Copy-on-write in a two-layer pool of each type: the target blocks become byte copies of their sources, scales included; nothing else changes. */
    @Test
    void copyOnWriteCopiesDataAndScales() {
        d.call(() -> {
            try (DeviceArrays a = new DeviceArrays(d)) {
                for (KvCacheDtype t : KvCacheDtype.values()) {
                    if (!runs(t)) continue;
                    int layers = 2, bs = 16, blocks = 12, kvHeads = 3, headDim = 40, kvDim = kvHeads * headDim;
                    long poolBytes = new PagedKvPool(null, layers, bs, blocks, kvHeads, headDim, t).totalBytes();
                    PagedKvPool pool = new PagedKvPool(a.poisonedBytes(poolBytes), layers, bs, blocks, kvHeads, headDim, t);
                    int slots = blocks * bs;
                    for (int l = 0; l < layers; l++) {
                        float[] k = randoms(slots * kvDim, 2), v = randoms(slots * kvDim, 2);
                        a.kernels.launch("kv_write_" + t.kernelSuffix, slots, 1, 256, d.stream(), a.floats(k), a.floats(v), pool.keys(l), pool.values(l),
                                pool.keyScales(l), pool.valueScales(l), a.ints(shuffled(slots)), kvHeads, headDim, kvDim);
                    }
                    byte[] before = a.readBytes(pool.base(), (int) poolBytes);
                    int[] pairs = {3, 10, 0, 5, 11, 1};
                    a.kernels.launch("kv_copy_blocks", pairs.length / 2, layers, 256, d.stream(), pool.base(), a.ints(pairs), pool.sideBytes(), pool.blockBytes(),
                            pool.scaleOffset(), pool.scaleSideBytes(), pool.scaleBlockBytes());
                    byte[] after = a.readBytes(pool.base(), (int) poolBytes);
                    byte[] expected = before.clone();
                    for (int p = 0; p < pairs.length; p += 2) {
                        var src = pool.blockSegments(pairs[p]);
                        var dst = pool.blockSegments(pairs[p + 1]);
                        assertEquals(src.size(), dst.size());
                        for (int i = 0; i < src.size(); i++) {
                            System.arraycopy(before, (int) src.get(i).offset(), expected, (int) dst.get(i).offset(), (int) src.get(i).bytes());
                        }
                    }
                    assertArrayEquals(expected, after, t + ": pool after copy-on-write");
                    log.info("copy-on-write {}: {} blocks copied in {} layers, data and scales", t, pairs.length / 2, layers);
                }
            }
            return null;
        });
    }
}
