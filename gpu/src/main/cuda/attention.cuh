// The paged KV cache: writes into it, copy-on-write of whole blocks, and the per-token (decode)
// attention over it. Included by kernels.cu (after its helpers); flash_prefill.cuh holds the tiled
// prefill over the same pool.
//
// Pool layout (one allocation, see PagedKvPool.java):
//   data   [layer][K|V][slot][kvDim]      elements of the storage type
//   scales [layer][K|V][slot][kvHeads]    fp16, only for int8 and fp8 (after all of the data)
// slot = block * blockSize + offset. Storage types: fp32, fp16, bf16 (plain conversion, round to
// nearest), int8 (symmetric: q = round(x / s), s = max|x| / 127 over the head's headDim values of
// one token) and fp8 E4M3 (q = e4m3(x / s), s = max|x| / 448, saturating). The scale is rounded to
// fp16 first and the values divided by that rounded scale, so q * s is exactly the value a reader
// sees. Readers dequantize in registers: a key's dot product is summed over the raw values and
// multiplied by its scale once; a value's softmax weight is multiplied by its scale once.
// Every kernel comes in one version per storage type, named with its suffix: _f32, _f16, _bf16,
// _i8, _fp8. The fp32 writes and copies do exactly what the fp32-only kernels did before.
#include <cuda_fp8.h>

namespace {

// How one storage type converts. scaled: a per-(slot, kv head) fp16 scale goes with the values,
// whose largest magnitude maps to qmax.
struct KvF32 {
    typedef float T;
    static constexpr bool scaled = false;
    static constexpr float qmax = 1.f;
    __device__ static __forceinline__ float load(T v) { return v; }
    __device__ static __forceinline__ T store(float x) { return x; }
};
struct KvF16 {
    typedef __half T;
    static constexpr bool scaled = false;
    static constexpr float qmax = 1.f;
    __device__ static __forceinline__ float load(T v) { return __half2float(v); }
    __device__ static __forceinline__ T store(float x) { return __float2half_rn(x); }
};
struct KvBF16 {
    typedef __nv_bfloat16 T;
    static constexpr bool scaled = false;
    static constexpr float qmax = 1.f;
    __device__ static __forceinline__ float load(T v) { return __bfloat162float(v); }
    __device__ static __forceinline__ T store(float x) { return __float2bfloat16_rn(x); }
};
struct KvI8 {
    typedef int8_t T;
    static constexpr bool scaled = true;
    static constexpr float qmax = 127.f;
    __device__ static __forceinline__ float load(T v) { return (float) v; }
    __device__ static __forceinline__ T store(float x) { return (int8_t) max(-127, min(127, __float2int_rn(x))); }
};
// E4M3: 4 exponent bits (bias 7), 3 mantissa bits, largest finite 448. The conversions are hardware
// instructions from sm_89 on (emulated on sm_80; the host refuses fp8 below sm_89).
struct KvFP8 {
    typedef __nv_fp8_storage_t T;
    static constexpr bool scaled = true;
    static constexpr float qmax = 448.f;
    __device__ static __forceinline__ float load(T v) { return __half2float(__half(__nv_cvt_fp8_to_halfraw(v, __NV_E4M3))); }
    __device__ static __forceinline__ T store(float x) { return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3); }
};

// Writes each token's key and value rows (srcStride floats apart from token to token) into the
// layer's pool at slot[t]. One warp per (kv head, K|V) of the token: for scaled types it first finds
// the head's max |x|. grid = n tokens, block = 256.
template <typename S>
__device__ void kv_write_rows(const float* k, const float* v, typename S::T* keys, typename S::T* values,
                              __half* kScales, __half* vScales, const int* slot, int kvHeads, int headDim, int srcStride) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    size_t s = slot[blockIdx.x];
    size_t src = (size_t) blockIdx.x * srcStride;
    for (int job = warp; job < 2 * kvHeads; job += warps) {
        int h = job >> 1;
        bool isValue = job & 1;
        const float* x = (isValue ? v : k) + src + h * headDim;
        typename S::T* o = (isValue ? values : keys) + s * kvHeads * headDim + h * headDim;
        if constexpr (S::scaled) {
            float mx = 0.f;
            for (int d = lane; d < headDim; d += 32) mx = fmaxf(mx, fabsf(x[d]));
            mx = warp_max(mx);
            __half sc = __float2half_rn(mx / S::qmax);
            float scale = __half2float(sc);
            if (lane == 0) (isValue ? vScales : kScales)[s * kvHeads + h] = sc;
            for (int d = lane; d < headDim; d += 32) o[d] = S::store(scale > 0.f ? x[d] / scale : 0.f);
        } else {
            for (int d = lane; d < headDim; d += 32) o[d] = S::store(x[d]);
        }
    }
}

// One head's headDim values x (already written by this block, visible after a barrier) stored at o
// in the pool's type, with its fp16 scale at *scaleOut for the scaled types (as kv_write_rows does).
// KEEP: x then holds what a reader of the pool gets back (S::load of the stored values) and *kept
// the scale it multiplies them by (1 for the unscaled types), visible to the block after a barrier.
template <typename S, bool KEEP = false>
__device__ void store_head(float* x, typename S::T* o, __half* scaleOut, int headDim, float* kept = nullptr) {
    if constexpr (S::scaled) {
        float mx = 0.f;
        for (int d = threadIdx.x; d < headDim; d += blockDim.x) mx = fmaxf(mx, fabsf(x[d]));
        mx = block_max_f(mx);  // sampling.cuh
        __half sc = __float2half_rn(mx / S::qmax);
        float scale = __half2float(sc);
        if (threadIdx.x == 0) *scaleOut = sc;
        if (KEEP && threadIdx.x == 0) *kept = scale;
        for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
            typename S::T v = S::store(scale > 0.f ? x[d] / scale : 0.f);
            o[d] = v;
            if (KEEP) x[d] = S::load(v);
        }
    } else {
        if (KEEP && threadIdx.x == 0) *kept = 1.f;
        for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
            typename S::T v = S::store(x[d]);
            o[d] = v;
            if (KEEP) x[d] = S::load(v);
        }
    }
}

// RoPE and the K/V write of a layer in one launch: blocks y < heads rotate the query heads in place,
// the next kvHeads rotate the key heads (in place too) and store them in the pool at slot[t], the
// last kvHeads store the value heads. One launch instead of two saves a launch and a pass at every
// layer of a decode step, where both are latency, not bandwidth. grid = (n, heads + 2 kvHeads), block = 64.
template <typename S>
__device__ void rope_kv_rows(float* qkv, const int* positions, const float* invFreq, const float2* table, int tablePositions,
                             int headDim, int ropeDim, int interleaved, int stride, int heads, int kvHeads,
                             typename S::T* keys, typename S::T* values, __half* kScales, __half* vScales, const int* slot) {
    int t = blockIdx.x, h = blockIdx.y;
    float* hp = qkv + (size_t) t * stride + (size_t) h * headDim;
    if (h < heads + kvHeads) rotate_head(hp, positions[t], invFreq, table, tablePositions, ropeDim, interleaved);
    if (h < heads) return;
    __syncthreads();
    bool isValue = h >= heads + kvHeads;
    int kh = h - heads - (isValue ? kvHeads : 0);
    size_t s = slot[t];
    typename S::T* o = (isValue ? values : keys) + (s * kvHeads + kh) * headDim;
    store_head<S>(hp, o, (isValue ? vScales : kScales) + s * kvHeads + kh, headDim);
}

// This step's RoPE and K/V write done by the per-head decode attention's own blocks (_h16r, _h16rq)
// instead of a rope_kv launch before them: at batch 1 that launch is a link of its own in the step's
// chain of dependent kernels (~2 µs a layer), for 0.1 µs of work. Block (t, kv head g, z) rotates
// query head g·G + z in place (no other block reads it) and a copy of key head g in shared memory,
// then stores that key and the value head in the pool at slot[t]. Every block of the group stores
// them, the same bytes, so it does not matter whose write lands last, and each block's own reads of
// that position after the barrier see its writes. The same arithmetic as rope_kv_rows (rope_angle,
// rotate_pair), so the same bits (KvCacheCheckTest).
//
// What does not depend on the step's earlier kernels is read before grid_wait() (rope_step): the
// position and slot (step metadata, copied before the step's first kernel) and the rotation of the
// pair this thread turns (the table is a weight). After the wait one round trip reads the query,
// key and value heads at once, a third of the block each (part = threadIdx / MAXDIM): the query's
// and key's pairs rotated into shared memory (the query also in place, as rope_kv leaves it), the
// dims past ropeDim and the value copied. Reading it all after the wait (four dependent reads:
// position, angles, query, then key and value, and four barriers) made INT8 batch-1 decode 1.4%
// slower on an H100 (S10-1). blockDim >= 3 * MAXDIM, headDim <= MAXDIM.
struct RopeStep {
    int pos;
    size_t slot;
    float2 cs;  // this thread's pair's rotation, for threads of the query and key parts with i < ropeDim / 2
};
template <int MAXDIM>
__device__ __forceinline__ RopeStep rope_step(const int* positions, const int* slot, const float* invFreq,
                                                      const float2* table, int tablePositions, int ropeDim) {
    RopeStep r;
    r.pos = positions[blockIdx.x];
    r.slot = (size_t) slot[blockIdx.x];
    int part = threadIdx.x / MAXDIM, i = threadIdx.x % MAXDIM, half = ropeDim / 2;
    r.cs = part < 2 && i < half ? rope_angle(r.pos, i, invFreq, table, tablePositions, half) : make_float2(0.f, 0.f);
    return r;
}
// The step's key and value heads of a block's token as its walk reads them (what store_head<S, true>
// kept: the pool's values and scales), in shared memory, so that the walk need not read them back
// from the pool.
template <int MAXDIM> struct CurrentKv {
    float key[MAXDIM], value[MAXDIM];
    float keyScale, valueScale;
};
template <typename S, int MAXDIM, bool KEEP>
__device__ void rope_kv_head_after(const RopeStep& r, float* qkv, float* qHead, int headDim, int ropeDim,
                                   int interleaved, int stride, int heads, int kvHeads, typename S::T* keys,
                                   typename S::T* values, __half* kScales, __half* vScales, CurrentKv<MAXDIM>& cur) {
    float* key = cur.key;
    float* value = cur.value;
    int g = blockIdx.y, group = heads / kvHeads;
    int part = threadIdx.x / MAXDIM, i = threadIdx.x % MAXDIM, half = ropeDim / 2;
    float* row = qkv + (size_t) blockIdx.x * stride;
    if (part < 3) {
        float* src = row + (size_t) (part == 0 ? g * group + blockIdx.z : part == 1 ? heads + g : heads + kvHeads + g) * headDim;
        float* dst = part == 0 ? qHead : part == 1 ? key : value;
        if (part < 2) {
            if (i < half) {
                int2 ab = rope_pair(i, half, interleaved);
                float2 y = rotate_pair(src[ab.x], src[ab.y], r.cs);
                dst[ab.x] = y.x;
                dst[ab.y] = y.y;
                if (part == 0) {
                    src[ab.x] = y.x;
                    src[ab.y] = y.y;
                }
            }
            if (ropeDim + i < headDim) dst[ropeDim + i] = src[ropeDim + i];
        } else if (i < headDim) {
            dst[i] = src[i];
        }
    }
    __syncthreads();
    size_t at = r.slot * kvHeads + g;
    store_head<S, KEEP>(key, keys + at * headDim, kScales + at, headDim, &cur.keyScale);
    store_head<S, KEEP>(value, values + at * headDim, vScales + at, headDim, &cur.valueScale);
    __syncthreads();
}

// Merges a decode-attention block's warps' online-softmax states (running max sm, sum sl,
// accumulator sacc per head of the group and dim, in shared memory after a barrier) for head g and
// dim d: returns the block's unnormalised sum and sets its max gm and denominator gl (gm = -inf,
// gl = 0 when no warp saw a position).
template <int WARPS, int GMAX, int D>
__device__ __forceinline__ float merge_warps(const float (&sm)[WARPS][GMAX], const float (&sl)[WARPS][GMAX],
                                             const float (&sacc)[WARPS][GMAX][D], int g, int d, float& gm, float& gl) {
    gm = -INFINITY;
    for (int w = 0; w < WARPS; w++) gm = fmaxf(gm, sm[w][g]);
    gl = 0.f;
    float s = 0.f;
    for (int w = 0; w < WARPS; w++) {
        if (sm[w][g] == -INFINITY) continue;
        float e = expf(sm[w][g] - gm);
        gl += sl[w][g] * e;
        s += sacc[w][g][d] * e;
    }
    return s;
}

// The last step of a decode-attention block over token t and query heads first … first + G − 1:
// merges its warps' states and writes those heads' outputs out[t][first + g][d].
template <int WARPS, int GMAX, int D>
__device__ __forceinline__ void write_merged_heads(const float (&sm)[WARPS][GMAX], const float (&sl)[WARPS][GMAX],
                                                   const float (&sacc)[WARPS][GMAX][D], float* out, int t, int heads, int first,
                                                   int G, int headDim) {
    for (int i = threadIdx.x; i < G * headDim; i += blockDim.x) {
        int g = i / headDim, d = i % headDim;
        float gm, gl;
        float s = merge_warps<WARPS, GMAX, D>(sm, sl, sacc, g, d, gm, gl);
        out[(size_t) t * heads * headDim + (size_t) (first + g) * headDim + d] = s / gl;
    }
}

// As write_merged_heads, but the outputs quantized to int8 per 32 columns exactly as quantize_act_q8
// would quantize them (xq[t][first + g][d], xs per 32-column block): what the quantized GEMV of the
// output projection reads, so no conversion launch sits between. headDim % 32 == 0, so each warp's
// 32 outputs are one block.
template <int WARPS, int GMAX, int D>
__device__ __forceinline__ void write_merged_heads_q8(const float (&sm)[WARPS][GMAX], const float (&sl)[WARPS][GMAX],
                                                      const float (&sacc)[WARPS][GMAX][D], int8_t* xq, float2* xs, int t,
                                                      int heads, int first, int G, int headDim) {
    for (int i = threadIdx.x; i < G * headDim; i += blockDim.x) {  // whole warps: G · headDim % 32 == 0
        int g = i / headDim, d = i % headDim;
        float gm, gl;
        float v[1] = {merge_warps<WARPS, GMAX, D>(sm, sl, sacc, g, d, gm, gl) / gl};
        size_t at = (size_t) t * heads * headDim + (size_t) (first + g) * headDim + d;
        quantize_block<32, 1>(v, xq + at, xs + at / 32, true);
    }
}

// Split-context decode attention (flash-decoding): when a step has too few (token, kv head) pairs to
// fill the card, each pair's context is cut into `splits` chunks, one block each (grid z). A block
// with positions stores its merged state unnormalised in part[(t·kvHeads + kvh)·splits + z] as
// GMAX × headDim sums, then GMAX maxima and GMAX denominators; the block that finishes last for the
// pair (a counter, reset by that block for the next launch or graph replay) combines the `active`
// chunks that had positions and writes out. No second launch: at batch 1 a launch costs about what
// the combine does.
template <int WARPS, int GMAX, int D>
__device__ void write_split_state(const float (&sm)[WARPS][GMAX], const float (&sl)[WARPS][GMAX],
                                  const float (&sacc)[WARPS][GMAX][D], float* part, int splits, int t, int kvHeads,
                                  int kvh, int G, int headDim) {
    size_t partFloats = (size_t) GMAX * (headDim + 2);
    float* mine = part + (((size_t) t * kvHeads + kvh) * splits + blockIdx.z) * partFloats;
    for (int i = threadIdx.x; i < G * headDim; i += blockDim.x) {
        int g = i / headDim, d = i % headDim;
        float gm, gl;
        mine[i] = merge_warps<WARPS, GMAX, D>(sm, sl, sacc, g, d, gm, gl);
        if (d == 0) {
            mine[GMAX * headDim + g] = gm;
            mine[GMAX * headDim + GMAX + g] = gl;
        }
    }
}

// Every block of a split pair reports in here (after its state is written, or at once when its
// chunk is empty); the last one combines. splits <= 32.
template <int GMAX>
__device__ void finish_split(float* out, float* part, int* counters, int splits, int active, int t, int heads,
                             int kvHeads, int kvh, int G, int headDim) {
    size_t partFloats = (size_t) GMAX * (headDim + 2);
    size_t pair = (size_t) t * kvHeads + kvh;
    __threadfence();
    __syncthreads();
    __shared__ bool last;
    if (threadIdx.x == 0) last = atomicAdd(counters + pair, 1) == splits - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    const float* all = part + pair * splits * partFloats;
    // each chunk's weight per head, exp(m_z − M) / Σ l_z exp(m_z − M), then the sums weighted in parallel
    __shared__ float weight[32][GMAX];
    if (threadIdx.x < G) {
        int g = threadIdx.x;
        float m[32];
        float gm = -INFINITY, den = 0.f;
#pragma unroll
        for (int z = 0; z < 32; z++) {
            m[z] = z < active ? __ldcg(all + z * partFloats + GMAX * headDim + g) : -INFINITY;
            gm = fmaxf(gm, m[z]);
        }
#pragma unroll
        for (int z = 0; z < 32; z++) {
            float e = z < active ? expf(m[z] - gm) : 0.f;
            den += z < active ? __ldcg(all + z * partFloats + GMAX * headDim + GMAX + g) * e : 0.f;
            m[z] = e;
        }
#pragma unroll
        for (int z = 0; z < 32; z++) weight[z][g] = m[z] / den;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < G * headDim; i += blockDim.x) {
        int g = i / headDim;
        float s = 0.f;
#pragma unroll 8
        for (int z = 0; z < active; z++) s += __ldcg(all + z * partFloats + i) * weight[z][g];
        out[(size_t) t * heads * headDim + (size_t) kvh * G * headDim + i] = s;
    }
    if (threadIdx.x == 0) counters[pair] = 0;
}

// The context chunk [begin, end) of block z of a split decode attention over len positions: the
// context cut evenly into `splits`, but at least MIN positions a chunk, so a short context has
// only `active` chunks with positions (the other blocks only report in). Returns the chunk size.
template <int MIN>
__device__ __forceinline__ int split_range(int len, int splits, int& begin, int& end) {
    int chunk = max((len + splits - 1) / splits, MIN);
    begin = min(len, (int) blockIdx.z * chunk);
    end = min(len, begin + chunk);
    return chunk;
}

// The cache slots of positions s0 … s0 + P − 1 of a sequence (page table `table`), 0 past `end`.
template <int P>
__device__ __forceinline__ void kv_slots(const int* table, int s0, int end, int blockSize, size_t (&slot)[P]) {
#pragma unroll
    for (int p = 0; p < P; p++) {
        int s = s0 + p;
        slot[p] = s < end ? (size_t) table[s / blockSize] * blockSize + s % blockSize : 0;
    }
}

// Where a decode-attention block's walk over the cache starts: the token's context length, the
// block's chunk of it [begin, end) (the whole of it unless split), its sequence's page table and
// the slots of the warp's first sweep. All of it comes from the step's metadata, which the host
// copies to the device before the step's first kernel, so a kernel may read it before grid_wait().
template <int P> struct KvWalk {
    int len, begin, end, chunk;
    const int* table;
    size_t slot[P];
};
template <int P, int WARPS, bool SPLIT>
__device__ __forceinline__ KvWalk<P> kv_walk(const int* positions, const int* seqOf, const int* tables, int tableStride,
                                             int blockSize, int splits) {
    KvWalk<P> w;
    int t = blockIdx.x, warp = threadIdx.x >> 5;
    w.len = positions[t] + 1;
    w.begin = 0;
    w.end = w.len;
    w.chunk = w.len;
    if constexpr (SPLIT) w.chunk = split_range<WARPS * P>(w.len, splits, w.begin, w.end);
    w.table = tables + (size_t) seqOf[t] * tableStride;
    kv_slots<P>(w.table, w.begin + warp * P, w.end, blockSize, w.slot);
    return w;
}

// One sweep of a warp's walk: the keys x and values v of positions s0 … s0 + P − 1 (dims lane + 32 j;
// 0 past end or headDim) and their scales ks, vs (1 for the unscaled types).
template <int P, int MAXD> struct KvSweep {
    float x[P][MAXD], v[P][MAXD], ks[P], vs[P];
};
// A sweep from the pool (slots: its positions' slots), all of its loads issued together. Position
// skip (the step's own, taken from shared memory by take_current; -1: none) is left 0, not read.
template <typename S, int P, int MAXD>
__device__ __forceinline__ void load_sweep(KvSweep<P, MAXD>& sw, const typename S::T* keys, const typename S::T* values,
                                           const __half* kScales, const __half* vScales, const size_t (&slot)[P], int s0,
                                           int end, int skip, int kvDim, int kvHeads, int kvh, int headDim) {
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int p = 0; p < P; p++) {
        bool read = s0 + p < end && s0 + p != skip;
        size_t off = slot[p] * kvDim + kvh * headDim;
        sw.ks[p] = 1.f;
        sw.vs[p] = 1.f;
        if constexpr (S::scaled) {
            sw.ks[p] = read ? __half2float(kScales[slot[p] * kvHeads + kvh]) : 0.f;
            sw.vs[p] = read ? __half2float(vScales[slot[p] * kvHeads + kvh]) : 0.f;
        }
#pragma unroll
        for (int j = 0; j < MAXD; j++) {
            int d = lane + 32 * j;
            sw.x[p][j] = (read && d < headDim) ? S::load(keys[off + d]) : 0.f;
            sw.v[p][j] = (read && d < headDim) ? S::load(values[off + d]) : 0.f;
        }
    }
}
// The first sweep of a walk started before grid_wait() (attention_head_rope): its keys copied into
// shared memory before the wait (cp.async: no registers held across it), its values and scales
// loaded right after the wait beside the q/k/v read and converted only in the walk, so that after the
// wait one round trip precedes the walk instead of two. Position skip (the step's own) is left out.
// Measured in S13-4 with the whole sweep loaded into registers before the wait and converted as it
// landed: ptxas gave every load the same two registers and waited for each before issuing the next
// (32 round trips in a row), INT4 batch-1 decode 12% slower; raw loads held across the wait spilled.
template <typename S, int P, int MAXD> struct AheadSweep {
    const typename S::T* keys;  // the warp's P rows of 32 * MAXD stored values in shared memory
    typename S::T v[P][MAXD];
    __half ks[P], vs[P];
};
template <typename S, int P, int MAXD>
__device__ __forceinline__ void copy_ahead_keys(typename S::T* rows, const typename S::T* keys, const size_t (&slot)[P], int s0,
                                                int end, int skip, int kvDim, int kvh, int headDim) {
    constexpr int PER16 = 16 / sizeof(typename S::T);
    int lane = threadIdx.x & 31, chunks = headDim / PER16;
#pragma unroll
    for (int p = 0; p < P; p++) {
        bool read = s0 + p < end && s0 + p != skip;
        const typename S::T* row = keys + slot[p] * kvDim + kvh * headDim;
        for (int c = lane; c < chunks; c += 32) cp_async16(rows + p * 32 * MAXD + c * PER16, row + c * PER16, read ? 16 : 0);
    }
    cp_async_commit();
}
template <typename S, int P, int MAXD>
__device__ __forceinline__ void load_ahead_values(AheadSweep<S, P, MAXD>& sw, const typename S::T* values, const __half* kScales,
                                                  const __half* vScales, const size_t (&slot)[P], int s0, int end, int skip,
                                                  int kvDim, int kvHeads, int kvh, int headDim) {
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int p = 0; p < P; p++) {
        bool read = s0 + p < end && s0 + p != skip;
        size_t off = slot[p] * kvDim + kvh * headDim;
        if constexpr (S::scaled) {
            sw.ks[p] = read ? kScales[slot[p] * kvHeads + kvh] : __float2half(0.f);
            sw.vs[p] = read ? vScales[slot[p] * kvHeads + kvh] : __float2half(0.f);
        }
#pragma unroll
        for (int j = 0; j < MAXD; j++) {
            int d = lane + 32 * j;
            sw.v[p][j] = read && d < headDim ? values[off + d] : S::store(0.f);
        }
    }
}
// The sweep as the walk uses it; the keys' copies complete and visible (cp_async_wait_all and a
// barrier since). A skipped position's copy wrote zeros.
template <typename S, int P, int MAXD>
__device__ __forceinline__ void unpack_sweep(KvSweep<P, MAXD>& sw, const AheadSweep<S, P, MAXD>& a, int headDim) {
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int p = 0; p < P; p++) {
        sw.ks[p] = S::scaled ? __half2float(a.ks[p]) : 1.f;
        sw.vs[p] = S::scaled ? __half2float(a.vs[p]) : 1.f;
#pragma unroll
        for (int j = 0; j < MAXD; j++) {
            int d = lane + 32 * j;
            sw.x[p][j] = d < headDim ? S::load(a.keys[p * 32 * MAXD + d]) : 0.f;
            sw.v[p][j] = S::load(a.v[p][j]);
        }
    }
}

// The step's own position `current` of a sweep from the CurrentKv the block kept: the values and
// scales a read of the pool would give.
template <typename S, int P, int MAXD, int MAXDIM>
__device__ __forceinline__ void take_current(KvSweep<P, MAXD>& sw, const CurrentKv<MAXDIM>& cur, int s0, int current, int headDim) {
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int p = 0; p < P; p++) {
        if (s0 + p != current) continue;
        if constexpr (S::scaled) {
            sw.ks[p] = cur.keyScale;
            sw.vs[p] = cur.valueScale;
        }
#pragma unroll
        for (int j = 0; j < MAXD; j++) {
            int d = lane + 32 * j;
            sw.x[p][j] = d < headDim ? cur.key[d] : 0.f;
            sw.v[p][j] = d < headDim ? cur.value[d] : 0.f;
        }
    }
}

// A sweep of a warp's walk read from the pool: keys x and values v of positions s0 … s0 + P − 1
// (dims lane + 32 j; 0 past end or headDim), their scales ks, vs (1 for the unscaled types) and
// which of them are live, all of its loads issued together.
template <typename S, int P, int MAXD> struct PoolSweep {
    const typename S::T* keys;
    const typename S::T* values;
    const __half* kScales;
    const __half* vScales;
    int kvDim, kvHeads, kvh, headDim;
    __device__ __forceinline__ void operator()(int s0, int end, const size_t (&slot)[P], float (&x)[P][MAXD], float (&v)[P][MAXD],
                                               float (&ks)[P], float (&vs)[P], bool (&live)[P]) const {
        int lane = threadIdx.x & 31;
        size_t off[P];
#pragma unroll
        for (int p = 0; p < P; p++) {
            live[p] = s0 + p < end;
            off[p] = slot[p] * kvDim + kvh * headDim;
            ks[p] = 1.f;
            vs[p] = 1.f;
            if constexpr (S::scaled) {
                ks[p] = live[p] ? __half2float(kScales[slot[p] * kvHeads + kvh]) : 0.f;
                vs[p] = live[p] ? __half2float(vScales[slot[p] * kvHeads + kvh]) : 0.f;
            }
#pragma unroll
            for (int j = 0; j < MAXD; j++) {
                int d = lane + 32 * j;
                x[p][j] = (live[p] && d < headDim) ? S::load(keys[off[p] + d]) : 0.f;
                v[p][j] = (live[p] && d < headDim) ? S::load(values[off[p] + d]) : 0.f;
            }
        }
    }
};

// A sweep of attention_head_rope's walk with AHEAD: the warp's first sweep from *ahead (loaded
// before grid_wait()), the later ones from the pool, each without the step's own position (the
// last, end − 1), which comes from *cur instead of a read back.
template <typename S, int P, int MAXD> struct AheadSweepSource {
    PoolSweep<S, P, MAXD> pool;  // where the pool is (its own loads are load_sweep's, which skip a position)
    const AheadSweep<S, P, MAXD>* ahead;
    const CurrentKv<32 * MAXD>* cur;
    bool first = true;
    __device__ __forceinline__ void operator()(int s0, int end, const size_t (&slot)[P], float (&x)[P][MAXD], float (&v)[P][MAXD],
                                               float (&ks)[P], float (&vs)[P], bool (&live)[P]) {
        KvSweep<P, MAXD> sw;
#pragma unroll
        for (int p = 0; p < P; p++) live[p] = s0 + p < end;
        const PoolSweep<S, P, MAXD>& at = pool;
        if (first) unpack_sweep<S>(sw, *ahead, at.headDim);
        else load_sweep<S>(sw, at.keys, at.values, at.kScales, at.vScales, slot, s0, end, end - 1, at.kvDim, at.kvHeads, at.kvh, at.headDim);
        take_current<S>(sw, *cur, s0, end - 1, at.headDim);
        first = false;
#pragma unroll
        for (int p = 0; p < P; p++) {
            ks[p] = sw.ks[p];
            vs[p] = sw.vs[p];
#pragma unroll
            for (int j = 0; j < MAXD; j++) {
                x[p][j] = sw.x[p][j];
                v[p][j] = sw.v[p][j];
            }
        }
    }
};

// The walk itself, from a KvWalk read before or after grid_wait(), its sweeps from `source`
// (PoolSweep, AheadSweepSource). qHead: for PER_HEAD, the block's query head already in shared
// memory (then q is not read), or nullptr.
template <typename S, int GMAX, int MAXD, int P, int WARPS, bool SPLIT, bool PER_HEAD, bool Q8_OUT, typename Source>
__device__ void attention_walk(const float* q, const float* qHead, Source& source, float* out, KvWalk<P>& walk,
                               int heads, int kvHeads, int headDim, int blockSize, float scale, int qStride,
                               float* part, int* counters, int splits, int8_t* xq, float2* xs) {
    int t = blockIdx.x, kvh = blockIdx.y;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int G = heads / kvHeads;
    int h0 = PER_HEAD ? blockIdx.z : 0;  // the block's first query head within the group
    int Gb = PER_HEAD ? 1 : G;            // and how many it computes
    int len = walk.len, begin = walk.begin, end = walk.end, chunk = walk.chunk;
    if constexpr (SPLIT) {
        if (begin == end) {  // the whole block alike: nothing to attend to in this chunk
            finish_split<GMAX>(out, part, counters, splits, (len + chunk - 1) / chunk, t, heads, kvHeads, kvh, G, headDim);
            return;
        }
    }
    const int* table = walk.table;
    float qv[GMAX][MAXD], acc[GMAX][MAXD], m[GMAX], l[GMAX];
#pragma unroll
    for (int g = 0; g < GMAX; g++) {
        const float* qh = PER_HEAD && qHead != nullptr ? qHead
                        : q + (size_t) t * qStride + (size_t) (kvh * G + h0 + min(g, Gb - 1)) * headDim;
#pragma unroll
        for (int j = 0; j < MAXD; j++) {
            int d = lane + 32 * j;
            qv[g][j] = (g < Gb && d < headDim) ? qh[d] * scale : 0.f;
            acc[g][j] = 0.f;
        }
        m[g] = -INFINITY;
        l[g] = 0.f;
    }
    size_t (&slot)[P] = walk.slot;
    for (int s0 = begin + warp * P; s0 < end; s0 += WARPS * P) {
        float ks[P], vs[P], x[P][MAXD], v[P][MAXD];
        bool live[P];
        // this sweep's keys and values together, then the next sweep's page-table reads: the walk
        // waits on one memory round trip a sweep, not three (table, keys, values)
        source(s0, end, slot, x, v, ks, vs, live);
        kv_slots<P>(table, s0 + WARPS * P, end, blockSize, slot);
        float sc[GMAX][P];
#pragma unroll
        for (int g = 0; g < GMAX; g++) {
#pragma unroll
            for (int p = 0; p < P; p++) {
                float dot = 0.f;
                if (g < Gb) {
#pragma unroll
                    for (int j = 0; j < MAXD; j++) dot += qv[g][j] * x[p][j];
                    dot = warp_sum(dot);
                }
                sc[g][p] = dot * ks[p];
            }
        }
#pragma unroll
        for (int g = 0; g < GMAX; g++) {
            if (g >= Gb) continue;
            float mNew = m[g];
#pragma unroll
            for (int p = 0; p < P; p++) if (live[p]) mNew = fmaxf(mNew, sc[g][p]);
            float correction = expf(m[g] - mNew);
            float w[P];
            float sum = 0.f;
#pragma unroll
            for (int p = 0; p < P; p++) {
                w[p] = live[p] ? expf(sc[g][p] - mNew) : 0.f;
                sum += w[p];
            }
            l[g] = l[g] * correction + sum;
#pragma unroll
            for (int j = 0; j < MAXD; j++) {
                float a = acc[g][j] * correction;
#pragma unroll
                for (int p = 0; p < P; p++) a += w[p] * (v[p][j] * vs[p]);
                acc[g][j] = a;
            }
            m[g] = mNew;
        }
    }
    __shared__ float sm[WARPS][GMAX], sl[WARPS][GMAX];
    __shared__ float sacc[WARPS][GMAX][32 * MAXD];
#pragma unroll
    for (int g = 0; g < GMAX; g++) {
        if (lane == 0) { sm[warp][g] = m[g]; sl[warp][g] = l[g]; }
#pragma unroll
        for (int j = 0; j < MAXD; j++) sacc[warp][g][lane + 32 * j] = acc[g][j];
    }
    __syncthreads();
    if constexpr (SPLIT) {
        write_split_state<WARPS, GMAX, 32 * MAXD>(sm, sl, sacc, part, splits, t, kvHeads, kvh, G, headDim);
        finish_split<GMAX>(out, part, counters, splits, (len + chunk - 1) / chunk, t, heads, kvHeads, kvh, G, headDim);
    } else if constexpr (Q8_OUT) {
        write_merged_heads_q8<WARPS, GMAX, 32 * MAXD>(sm, sl, sacc, xq, xs, t, heads, kvh * G + h0, Gb, headDim);
    } else {
        write_merged_heads<WARPS, GMAX, 32 * MAXD>(sm, sl, sacc, out, t, heads, kvh * G + h0, Gb, headDim);
    }
}

// Decode attention with the query heads of a GQA group together: one block of 4 warps per (token,
// kv head) reads each cached key and value once for all G = heads / kvHeads query heads (a block
// per query head would read them G times), and each warp takes P positions per step whose loads
// and warp reductions are independent, so the walk over the context is no longer one long chain of
// load → dot → shuffle → exp per position (measured: that chain, not bandwidth, bounded decode
// attention). Online softmax per head in each warp; the WARPS warps' states meet in shared memory.
// grid = (n tokens, kvHeads), block = 32 * WARPS. G <= GMAX, headDim <= 32 * MAXD.
// SPLIT: grid z cuts the context into `splits` chunks (write_split_state, finish_split); part and counters unused otherwise.
// PER_HEAD (GMAX = 1): grid z is the query head within the group, a block each, so a step of one
// sequence keeps kvHeads × G SMs busy instead of kvHeads, each with a quarter of the arithmetic
// (the group's K/V rows are then read G times, from L2 after the first).
// Q8_OUT: the output written as int8 activations xq / xs (write_merged_heads_q8) instead of fp32 out.
template <typename S, int GMAX, int MAXD, int P, int WARPS, bool SPLIT, bool PER_HEAD = false, bool Q8_OUT = false>
__device__ void attention_group_rows(const float* q, const typename S::T* keys, const typename S::T* values,
                                     const __half* kScales, const __half* vScales, float* out,
                                     const int* positions, const int* seqOf, const int* tables, int tableStride,
                                     int heads, int kvHeads, int headDim, int blockSize, float scale, int qStride,
                                     float* part, int* counters, int splits, int8_t* xq = nullptr, float2* xs = nullptr) {
    KvWalk<P> walk = kv_walk<P, WARPS, SPLIT>(positions, seqOf, tables, tableStride, blockSize, splits);
    PoolSweep<S, P, MAXD> source{keys, values, kScales, vScales, kvHeads * headDim, kvHeads, (int) blockIdx.y, headDim};
    attention_walk<S, GMAX, MAXD, P, WARPS, SPLIT, PER_HEAD, Q8_OUT>(q, nullptr, source, out, walk,
            heads, kvHeads, headDim, blockSize, scale, qStride, part, counters, splits, xq, xs);
}

// The per-head decode attention with this step's RoPE and K/V write (_h16r, _h16rq): the walk's
// start (kv_walk) and the rotation (rope_step) are read before grid_wait(), only from the step's
// metadata and the rotation table. AHEAD: so is the walk's first sweep of the context before this
// step's position (written by earlier steps, like the metadata before the step's first kernel),
// and the step's own key and value come from shared memory (CurrentKv), so that after the wait one
// round trip (the q/k/v read) precedes the walk instead of two (that, then the sweep's read of the
// pool). The attention runs while the products after it stream their weights, and under that load
// a round trip costs several µs (S13). INT4 batch-1 decode of the 8B shape on an H100: 554.3 tok/s
// against 540.4 reading back, +2.6%, ahead faster in all of 9 alternating pairs over three calls
// (S14-3 … S14-5). Without AHEAD (_h16rb, _h16rbq) the walk reads everything back from the pool
// after the wait, as before S14 (-Dkvasir.gpu.attention-ahead=false).
template <typename S, int MAXD, int P, int WARPS, bool Q8, bool AHEAD>
__device__ void attention_head_rope(float* q, typename S::T* keys, typename S::T* values, __half* kScales, __half* vScales,
                                    float* out, const int* positions, const int* seqOf, const int* tables, int tableStride,
                                    int heads, int kvHeads, int headDim, int blockSize, float scale, int qStride,
                                    const float* invFreq, const float2* table, int tablePositions, int ropeDim, int interleaved,
                                    const int* slot, int8_t* xq = nullptr, float2* xs = nullptr) {
    KvWalk<P> walk = kv_walk<P, WARPS, false>(positions, seqOf, tables, tableStride, blockSize, 1);
    RopeStep rope = rope_step<32 * MAXD>(positions, slot, invFreq, table, tablePositions, ropeDim);
    // the keys of the warp's first sweep (16-byte copies: headDim % 16 == 0); for 16- and 8-bit
    // storage only (fp32 keys of 16 warps would take 64 KB of static shared memory): fp32 reads back
    constexpr bool A = AHEAD && sizeof(typename S::T) <= 2;
    __shared__ __align__(16) typename S::T aheadKeys[A ? WARPS * P * 32 * MAXD : 1];
    AheadSweep<S, P, MAXD> ahead;
    int warp = threadIdx.x >> 5;
    if constexpr (A) {
        ahead.keys = aheadKeys + warp * P * 32 * MAXD;
        copy_ahead_keys<S, P, MAXD>(aheadKeys + warp * P * 32 * MAXD, keys, walk.slot, warp * P, walk.end, walk.end - 1,
                                    kvHeads * headDim, blockIdx.y, headDim);
    }
    grid_enter();
    static_assert(WARPS >= 3 * MAXD, "rope_kv_head_after: a part of 32 * MAXD threads each for the query, key and value");
    if constexpr (A) {
        load_ahead_values<S, P, MAXD>(ahead, values, kScales, vScales, walk.slot, warp * P, walk.end, walk.end - 1,
                                      kvHeads * headDim, kvHeads, blockIdx.y, headDim);
        cp_async_wait_all();  // the barriers in rope_kv_head_after publish the copies to the warp
    }
    __shared__ float qHead[32 * MAXD];
    __shared__ CurrentKv<32 * MAXD> cur;
    rope_kv_head_after<S, 32 * MAXD, A>(rope, q, qHead, headDim, ropeDim, interleaved, qStride, heads, kvHeads, keys, values,
                                     kScales, vScales, cur);
    if constexpr (A) {
        AheadSweepSource<S, P, MAXD> source{{keys, values, kScales, vScales, kvHeads * headDim, kvHeads, (int) blockIdx.y, headDim}, &ahead, &cur};
        attention_walk<S, 1, MAXD, P, WARPS, false, true, Q8>(q, qHead, source, out, walk, heads, kvHeads, headDim, blockSize,
                scale, qStride, nullptr, nullptr, 1, xq, xs);
    } else {
        PoolSweep<S, P, MAXD> source{keys, values, kScales, vScales, kvHeads * headDim, kvHeads, (int) blockIdx.y, headDim};
        attention_walk<S, 1, MAXD, P, WARPS, false, true, Q8>(q, qHead, source, out, walk, heads, kvHeads, headDim, blockSize,
                scale, qStride, nullptr, nullptr, 1, xq, xs);
    }
}

// attention_head_rope (its first sweep ahead) with Llama 3's head shape as constants
// (ATTENTION_HEAD_ROPE_FIXED_KERNEL); any other shape traps (its arguments only: no memory read).
template <typename S, int MAXD, int P, int WARPS, bool Q8>
__device__ __forceinline__ void attention_head_rope_fixed(float* q, typename S::T* keys, typename S::T* values, __half* kScales,
                                                          __half* vScales, float* out, const int* positions, const int* seqOf,
                                                          const int* tables, int tableStride, int heads, int kvHeads, int headDim,
                                                          int blockSize, float scale, int qStride, const float* invFreq,
                                                          const float2* table, int tablePositions, int ropeDim, int interleaved,
                                                          const int* slot, int8_t* xq = nullptr, float2* xs = nullptr) {
    if (headDim != 128 || blockSize != 16 || ropeDim != 128 || interleaved != 1) __trap();
    attention_head_rope<S, MAXD, P, WARPS, Q8, true>(q, keys, values, kScales, vScales, out, positions, seqOf, tables, tableStride,
                                                     heads, kvHeads, 128, 16, scale, qStride, invFreq, table, tablePositions, 128, 1,
                                                     slot, xq, xs);
}

// Loads of stored K/V elements as floats: 16 bytes (4 fp32, 8 fp16/bf16, 16 int8/fp8) and 4 elements.
template <typename S> struct KvVec;
template <> struct KvVec<KvF32> {
    static constexpr int N16 = 4;
    __device__ static __forceinline__ void load16(const float* p, float* o) { float4 v = *reinterpret_cast<const float4*>(p); o[0] = v.x; o[1] = v.y; o[2] = v.z; o[3] = v.w; }
    __device__ static __forceinline__ void load4(const float* p, float* o) { load16(p, o); }
};
template <> struct KvVec<KvF16> {
    static constexpr int N16 = 8;
    __device__ static __forceinline__ void load16(const __half* p, float* o) {
        uint4 u = *reinterpret_cast<const uint4*>(p);
        const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
        for (int i = 0; i < 4; i++) { float2 f = __half22float2(h[i]); o[2 * i] = f.x; o[2 * i + 1] = f.y; }
    }
    __device__ static __forceinline__ void load4(const __half* p, float* o) {
        uint2 u = *reinterpret_cast<const uint2*>(p);
        const __half2* h = reinterpret_cast<const __half2*>(&u);
        float2 a = __half22float2(h[0]), b = __half22float2(h[1]);
        o[0] = a.x; o[1] = a.y; o[2] = b.x; o[3] = b.y;
    }
};
template <> struct KvVec<KvBF16> {
    static constexpr int N16 = 8;
    __device__ static __forceinline__ void load16(const __nv_bfloat16* p, float* o) {
        uint4 u = *reinterpret_cast<const uint4*>(p);
        const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
        for (int i = 0; i < 4; i++) { float2 f = __bfloat1622float2(h[i]); o[2 * i] = f.x; o[2 * i + 1] = f.y; }
    }
    __device__ static __forceinline__ void load4(const __nv_bfloat16* p, float* o) {
        uint2 u = *reinterpret_cast<const uint2*>(p);
        const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
        float2 a = __bfloat1622float2(h[0]), b = __bfloat1622float2(h[1]);
        o[0] = a.x; o[1] = a.y; o[2] = b.x; o[3] = b.y;
    }
};
template <typename S> struct KvVecBytes {
    static constexpr int N16 = 16;
    __device__ static __forceinline__ void load16(const typename S::T* p, float* o) {
        uint4 u = *reinterpret_cast<const uint4*>(p);
        const typename S::T* e = reinterpret_cast<const typename S::T*>(&u);
#pragma unroll
        for (int i = 0; i < 16; i++) o[i] = S::load(e[i]);
    }
    __device__ static __forceinline__ void load4(const typename S::T* p, float* o) {
        uint32_t u = *reinterpret_cast<const uint32_t*>(p);
        const typename S::T* e = reinterpret_cast<const typename S::T*>(&u);
#pragma unroll
        for (int i = 0; i < 4; i++) o[i] = S::load(e[i]);
    }
};
template <> struct KvVec<KvI8> : KvVecBytes<KvI8> {};
template <> struct KvVec<KvFP8> : KvVecBytes<KvFP8> {};

// Decode attention with a lane per cached position (heads of 128 dims, GQA groups of up to 4): each
// lane streams its own key row in 16-byte loads and forms the group's scores against q held in
// shared memory, so a score costs no warp reduction; the softmax update takes one max and one sum
// across the warp per head per 32 positions; then for P·V the lanes split the 128 dims (4 each)
// and walk the sweep's 32 positions, each position's weight and slot broadcast by a shuffle. The
// kernel it replaces reduced every score across the warp (5 shuffles per head per position) and
// was bound by those dependent chains (ncu, runs 11–17). grid = (n tokens, kvHeads), block = 32 * WARPS.
template <typename S, int WARPS>
__device__ void attention_lanes_rows(const float* q, const typename S::T* keys, const typename S::T* values,
                                     const __half* kScales, const __half* vScales, float* out,
                                     const int* positions, const int* seqOf, const int* tables, int tableStride,
                                     int heads, int kvHeads, int blockSize, float scale, int qStride) {
    constexpr int HD = 128, GMAX = 4;
    typedef KvVec<S> V;
    int t = blockIdx.x, kvh = blockIdx.y;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int G = heads / kvHeads;
    size_t kvDim = (size_t) kvHeads * HD;
    int len = positions[t] + 1;
    const int* table = tables + (size_t) seqOf[t] * tableStride;
    __shared__ float qs[GMAX][HD];
    for (int i = threadIdx.x; i < GMAX * HD; i += blockDim.x) {
        int g = i / HD, d = i % HD;
        qs[g][d] = g < G ? q[(size_t) t * qStride + (size_t) (kvh * G + g) * HD + d] * scale : 0.f;
    }
    __syncthreads();
    float m[GMAX], l[GMAX], acc[GMAX][4];
#pragma unroll
    for (int g = 0; g < GMAX; g++) {
        m[g] = -INFINITY;
        l[g] = 0.f;
#pragma unroll
        for (int e = 0; e < 4; e++) acc[g][e] = 0.f;
    }
    for (int s0 = warp * 32; s0 < len; s0 += WARPS * 32) {
        int s = s0 + lane;
        bool live = s < len;
        int slot = live ? table[s / blockSize] * blockSize + s % blockSize : 0;
        float sc[GMAX];
#pragma unroll
        for (int g = 0; g < GMAX; g++) sc[g] = 0.f;
        if (live) {
            const typename S::T* krow = keys + (size_t) slot * kvDim + (size_t) kvh * HD;
#pragma unroll 8
            for (int c = 0; c < HD; c += V::N16) {
                float kf[V::N16];
                V::load16(krow + c, kf);
#pragma unroll
                for (int g = 0; g < GMAX; g++) {
                    float dot = 0.f;
#pragma unroll
                    for (int e = 0; e < V::N16; e++) dot += qs[g][c + e] * kf[e];
                    sc[g] += dot;
                }
            }
        }
        float ks = 1.f, vs = 1.f;
        if constexpr (S::scaled) {
            ks = live ? __half2float(kScales[(size_t) slot * kvHeads + kvh]) : 0.f;
            vs = live ? __half2float(vScales[(size_t) slot * kvHeads + kvh]) : 0.f;
        }
        float p[GMAX];
#pragma unroll
        for (int g = 0; g < GMAX; g++) {
            if (g >= G) { p[g] = 0.f; continue; }
            float x = live ? sc[g] * ks : -INFINITY;
            float mNew = fmaxf(m[g], warp_max(x));
            float correction = expf(m[g] - mNew);
            p[g] = live ? expf(x - mNew) : 0.f;
            l[g] = l[g] * correction + warp_sum(p[g]);
#pragma unroll
            for (int e = 0; e < 4; e++) acc[g][e] *= correction;
            m[g] = mNew;
            p[g] *= vs;
        }
        int count = min(32, len - s0);
#pragma unroll 8
        for (int j = 0; j < count; j++) {
            int sj = __shfl_sync(0xffffffffu, slot, j);
            float vf[4];
            V::load4(values + (size_t) sj * kvDim + (size_t) kvh * HD + lane * 4, vf);
#pragma unroll
            for (int g = 0; g < GMAX; g++) {
                float pj = __shfl_sync(0xffffffffu, p[g], j);
#pragma unroll
                for (int e = 0; e < 4; e++) acc[g][e] += pj * vf[e];
            }
        }
    }
    __shared__ float sm[WARPS][GMAX], sl[WARPS][GMAX];
    __shared__ float sacc[WARPS][GMAX][HD];
#pragma unroll
    for (int g = 0; g < GMAX; g++) {
        if (lane == 0) { sm[warp][g] = m[g]; sl[warp][g] = l[g]; }
#pragma unroll
        for (int e = 0; e < 4; e++) sacc[warp][g][lane * 4 + e] = acc[g][e];
    }
    __syncthreads();
    write_merged_heads<WARPS, GMAX, HD>(sm, sl, sacc, out, t, heads, kvh * G, G, HD);
}

// n bytes from src to dst, in 4-byte words when both ends and n allow it.
__device__ void copy_bytes(unsigned char* dst, const unsigned char* src, size_t n) {
    if ((((uintptr_t) dst | (uintptr_t) src | n) & 3) == 0) {
        uint32_t* d = reinterpret_cast<uint32_t*>(dst);
        const uint32_t* s = reinterpret_cast<const uint32_t*>(src);
        for (size_t i = threadIdx.x; i < n / 4; i += blockDim.x) d[i] = s[i];
    } else {
        for (size_t i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
    }
}

}  // namespace

extern "C" {

#define KV_WRITE(SFX, S)                                                                                              \
    __global__ void kv_write_##SFX(const float* k, const float* v, S::T* keys, S::T* values, __half* kScales,          \
                                   __half* vScales, const int* slot, int kvHeads, int headDim, int srcStride) { grid_enter(); \
        kv_write_rows<S>(k, v, keys, values, kScales, vScales, slot, kvHeads, headDim, srcStride);                     \
    }
#define ROPE_KV(SFX, S)                                                                                               \
    __global__ void rope_kv_##SFX(float* qkv, const int* positions, const float* invFreq, const float2* table,          \
                                  int tablePositions, int headDim, int ropeDim, int interleaved, int stride, int heads,  \
                                  int kvHeads, S::T* keys, S::T* values, __half* kScales, __half* vScales,              \
                                  const int* slot) { grid_enter();                                                      \
        rope_kv_rows<S>(qkv, positions, invFreq, table, tablePositions, headDim, ropeDim, interleaved, stride, heads,   \
                        kvHeads, keys, values, kScales, vScales, slot);                                                 \
    }
ROPE_KV(f32, KvF32)
ROPE_KV(f16, KvF16)
ROPE_KV(bf16, KvBF16)
ROPE_KV(i8, KvI8)
ROPE_KV(fp8, KvFP8)
KV_WRITE(f32, KvF32)
KV_WRITE(f16, KvF16)
KV_WRITE(bf16, KvBF16)
KV_WRITE(i8, KvI8)
KV_WRITE(fp8, KvFP8)


// Grouped decode attention: _g4 for groups of up to 4 query heads and headDim <= 128 (Llama 3's
// shapes) with 8 warps (block 256), _g4w the same with 16 warps (block 512); _g8 for groups of up to
// 8 and headDim <= 256 with 4 warps (block 128). grid = (n tokens, kvHeads).
// _g4s and _g8s split the context (4 warps; grid = (n tokens, kvHeads, splits)) for steps of few
// sequences, whose few blocks would otherwise walk the whole context in long serial sweeps; they
// take three more arguments: scratch for the chunks' states (see write_split_state), the
// per-(token, kv head) counters (zero before the first launch) and the number of splits.
#define ATTENTION_GROUP_KERNEL(NAME, S, GMAX, MAXD, P, WARPS)                                                         \
    __global__ void __launch_bounds__(32 * WARPS) NAME(const float* q, const S::T* keys, const S::T* values,            \
            const __half* kScales, const __half* vScales, float* out, const int* positions, const int* seqOf,           \
            const int* tables, int tableStride, int heads, int kvHeads, int headDim, int blockSize, float scale,        \
            int qStride) { grid_enter();                                                                                \
        attention_group_rows<S, GMAX, MAXD, P, WARPS, false>(q, keys, values, kScales, vScales, out, positions, seqOf,  \
                tables, tableStride, heads, kvHeads, headDim, blockSize, scale, qStride, nullptr, nullptr, 1);          \
    }
#define ATTENTION_SPLIT_KERNEL(NAME, S, GMAX, MAXD, P, WARPS)                                                         \
    __global__ void __launch_bounds__(32 * WARPS) NAME(const float* q, const S::T* keys, const S::T* values,            \
            const __half* kScales, const __half* vScales, float* out, const int* positions, const int* seqOf,           \
            const int* tables, int tableStride, int heads, int kvHeads, int headDim, int blockSize, float scale,        \
            int qStride, float* part, int* counters, int splits) { grid_enter();                                        \
        attention_group_rows<S, GMAX, MAXD, P, WARPS, true>(q, keys, values, kScales, vScales, out, positions, seqOf,   \
                tables, tableStride, heads, kvHeads, headDim, blockSize, scale, qStride, part, counters, splits);        \
    }
// _h16: a block of 16 warps per (token, query head), grid = (n tokens, kvHeads, heads / kvHeads): for
// a step of one or few sequences, where a block per kv head leaves most SMs idle. Any group size,
// headDim <= 128.
#define ATTENTION_HEAD_KERNEL(NAME, S, MAXD, P, WARPS)                                                                \
    __global__ void __launch_bounds__(32 * WARPS) NAME(const float* q, const S::T* keys, const S::T* values,            \
            const __half* kScales, const __half* vScales, float* out, const int* positions, const int* seqOf,           \
            const int* tables, int tableStride, int heads, int kvHeads, int headDim, int blockSize, float scale,        \
            int qStride) { grid_enter();                                                                                \
        attention_group_rows<S, 1, MAXD, P, WARPS, false, true>(q, keys, values, kScales, vScales, out, positions,     \
                seqOf, tables, tableStride, heads, kvHeads, headDim, blockSize, scale, qStride, nullptr, nullptr, 1);   \
    }
// _h16q: _h16 writing int8 activations for a quantized output projection (two more arguments: xq,
// xs); headDim % 32 == 0.
#define ATTENTION_HEAD_Q8_KERNEL(NAME, S, MAXD, P, WARPS)                                                             \
    __global__ void __launch_bounds__(32 * WARPS) NAME(const float* q, const S::T* keys, const S::T* values,            \
            const __half* kScales, const __half* vScales, float* out, const int* positions, const int* seqOf,           \
            const int* tables, int tableStride, int heads, int kvHeads, int headDim, int blockSize, float scale,        \
            int qStride, int8_t* xq, float2* xs) { grid_enter();                                                        \
        attention_group_rows<S, 1, MAXD, P, WARPS, false, true, true>(q, keys, values, kScales, vScales, out,          \
                positions, seqOf, tables, tableStride, heads, kvHeads, headDim, blockSize, scale, qStride, nullptr,     \
                nullptr, 1, xq, xs);                                                                                    \
    }
// _h16r / _h16rq: _h16 / _h16q with this step's RoPE and K/V write folded in (attention_head_rope),
// for a step of decode tokens only: q is the q/k/v rows (keys, values written too), and six more
// arguments at the end: invFreq, table, tablePositions, ropeDim, interleaved (as rope_kv's) and slot.
// The forward pass takes _h16rq (INT4 batch 1 +2% on an H100, S7-3) but not _h16r (bf16 ~1% slower).
// _h16rb / _h16rbq: the same reading the step's own key and value back from the pool after the wait
// (attention_head_rope without AHEAD, the form before S14; -Dkvasir.gpu.attention-ahead=false).
#define ATTENTION_HEAD_ROPE_KERNEL(NAME, S, MAXD, P, WARPS, Q8, AHEAD, XQ_PARAMS, XQ_ARGS)                            \
    __global__ void __launch_bounds__(32 * WARPS) NAME(float* q, S::T* keys, S::T* values, __half* kScales,             \
            __half* vScales, float* out, const int* positions, const int* seqOf, const int* tables, int tableStride,    \
            int heads, int kvHeads, int headDim, int blockSize, float scale, int qStride XQ_PARAMS,                     \
            const float* invFreq, const float2* table, int tablePositions, int ropeDim, int interleaved,                \
            const int* slot) {                                                                                          \
        attention_head_rope<S, MAXD, P, WARPS, Q8, AHEAD>(q, keys, values, kScales, vScales, out, positions, seqOf, tables,   \
                tableStride, heads, kvHeads, headDim, blockSize, scale, qStride, invFreq, table, tablePositions, ropeDim, \
                interleaved, slot XQ_ARGS);                                                                             \
    }
// The same for Llama 3's head shape only (_h16rc, _h16rqc): 128-dim heads rotated whole in the
// interleaved layout (pairs 2i, 2i+1: every Llama model here, GGUF files as stored and Hugging Face
// checkpoints un-permuted on load), KV blocks of 16 positions, as compile-time constants, so that the
// walk's page and lane arithmetic folds (bf16 KV: 52 → 4 bytes of spills; batch-1 decode of the 8B
// shape on an H100: INT4 +4.2%, bf16 +2.2%, S16-4). Until S16 they were compiled for the half-split
// layout, which no Llama model takes, so the forward pass never chose them (S15-7 measured the
// general form twice).
// GpuForwardPass.fixedShape picks them only for that shape; other arguments trap rather than compute
// with the wrong shape.
#define ATTENTION_HEAD_ROPE_FIXED_KERNEL(NAME, S, MAXD, P, WARPS, Q8, XQ_PARAMS, XQ_ARGS)                               \
    __global__ void __launch_bounds__(32 * WARPS) NAME(float* q, S::T* keys, S::T* values, __half* kScales,             \
            __half* vScales, float* out, const int* positions, const int* seqOf, const int* tables, int tableStride,    \
            int heads, int kvHeads, int headDim, int blockSize, float scale, int qStride XQ_PARAMS,                     \
            const float* invFreq, const float2* table, int tablePositions, int ropeDim, int interleaved,                \
            const int* slot) {                                                                                          \
        attention_head_rope_fixed<S, MAXD, P, WARPS, Q8>(q, keys, values, kScales, vScales, out, positions, seqOf, tables,    \
                tableStride, heads, kvHeads, headDim, blockSize, scale, qStride, invFreq, table, tablePositions, ropeDim,     \
                interleaved, slot XQ_ARGS);                                                                             \
    }
#define ATTENTION_XQ_PARAMS , int8_t* xq, float2* xs
#define ATTENTION_XQ_ARGS , xq, xs
#define ATTENTION_GROUP(SFX, S)                                      \
    ATTENTION_HEAD_KERNEL(attention_h16_##SFX, S, 4, 8, 16)          \
    ATTENTION_HEAD_Q8_KERNEL(attention_h16q_##SFX, S, 4, 8, 16)      \
    ATTENTION_HEAD_ROPE_KERNEL(attention_h16r_##SFX, S, 4, 8, 16, false, true, , )                                  \
    ATTENTION_HEAD_ROPE_KERNEL(attention_h16rq_##SFX, S, 4, 8, 16, true, true, ATTENTION_XQ_PARAMS, ATTENTION_XQ_ARGS) \
    ATTENTION_HEAD_ROPE_FIXED_KERNEL(attention_h16rc_##SFX, S, 4, 8, 16, false, , )                                    \
    ATTENTION_HEAD_ROPE_FIXED_KERNEL(attention_h16rqc_##SFX, S, 4, 8, 16, true, ATTENTION_XQ_PARAMS, ATTENTION_XQ_ARGS) \
    ATTENTION_HEAD_ROPE_KERNEL(attention_h16rb_##SFX, S, 4, 8, 16, false, false, , )                                \
    ATTENTION_HEAD_ROPE_KERNEL(attention_h16rbq_##SFX, S, 4, 8, 16, true, false, ATTENTION_XQ_PARAMS, ATTENTION_XQ_ARGS) \
    ATTENTION_GROUP_KERNEL(attention_g4_##SFX, S, 4, 4, 4, 8)        \
    ATTENTION_GROUP_KERNEL(attention_g4w_##SFX, S, 4, 4, 4, 16)      \
    ATTENTION_GROUP_KERNEL(attention_g8_##SFX, S, 8, 8, 2, 4)        \
    ATTENTION_SPLIT_KERNEL(attention_g4s_##SFX, S, 4, 4, 4, 4)       \
    ATTENTION_SPLIT_KERNEL(attention_g8s_##SFX, S, 8, 8, 2, 4)
// Lane-per-position decode attention for heads of 128 dims and groups of up to 4 (Llama 3's shapes):
// _lp with 4 warps (128 positions a sweep), _lpw with 8 (256) for steps of few sequences.
#define ATTENTION_LANES_KERNEL(NAME, S, WARPS)                                                                        \
    __global__ void __launch_bounds__(32 * WARPS) NAME(const float* q, const S::T* keys, const S::T* values,            \
            const __half* kScales, const __half* vScales, float* out, const int* positions, const int* seqOf,           \
            const int* tables, int tableStride, int heads, int kvHeads, int headDim, int blockSize, float scale,        \
            int qStride) { grid_enter();                                                                                \
        attention_lanes_rows<S, WARPS>(q, keys, values, kScales, vScales, out, positions, seqOf, tables, tableStride,  \
                                       heads, kvHeads, blockSize, scale, qStride);                                      \
    }
#define ATTENTION_LANES(SFX, S)                          \
    ATTENTION_LANES_KERNEL(attention_lp_##SFX, S, 4)     \
    ATTENTION_LANES_KERNEL(attention_lpw_##SFX, S, 8)
ATTENTION_LANES(f32, KvF32)
ATTENTION_LANES(f16, KvF16)
ATTENTION_LANES(bf16, KvBF16)
ATTENTION_LANES(i8, KvI8)
ATTENTION_LANES(fp8, KvFP8)

ATTENTION_GROUP(f32, KvF32)
ATTENTION_GROUP(f16, KvF16)
ATTENTION_GROUP(bf16, KvBF16)
ATTENTION_GROUP(i8, KvI8)
ATTENTION_GROUP(fp8, KvFP8)

// Copies whole blocks (copy-on-write) in every layer, any storage type: blockBytes from block src to
// block dst in each layer's key and value data (sideBytes apart: [layer][K|V]), and when the type
// has scales (scaleBlockBytes > 0) the same blocks of the scale arrays, which start scaleOffset
// bytes into the pool, scaleSideBytes apart. grid = (copies, layers).
__global__ void kv_copy_blocks(unsigned char* pool, const int* pairs, size_t sideBytes, size_t blockBytes,
                               size_t scaleOffset, size_t scaleSideBytes, size_t scaleBlockBytes) { grid_enter();
    size_t src = pairs[2 * blockIdx.x], dst = pairs[2 * blockIdx.x + 1];
    for (int kv = 0; kv < 2; kv++) {
        size_t side = 2 * (size_t) blockIdx.y + kv;
        unsigned char* p = pool + side * sideBytes;
        copy_bytes(p + dst * blockBytes, p + src * blockBytes, blockBytes);
        if (scaleBlockBytes > 0) {
            unsigned char* sp = pool + scaleOffset + side * scaleSideBytes;
            copy_bytes(sp + dst * scaleBlockBytes, sp + src * scaleBlockBytes, scaleBlockBytes);
        }
    }
}

// count floats of a fixed pseudo-random pattern in [-1, 1) (benchmark and check inputs, made on the
// device instead of copied over): a hash of (seed, index).
__global__ void fill_uniform_f32(float* p, size_t count, unsigned seed) { grid_enter();
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    unsigned x = (unsigned) i * 0x9E3779B1u ^ (unsigned) (i >> 32) * 0x85EBCA77u ^ seed * 0xC2B2AE3Du;
    x ^= x >> 16; x *= 0x7FEB352Du; x ^= x >> 15; x *= 0x846CA68Bu; x ^= x >> 16;
    p[i] = (float) (x >> 8) * (2.f / 16777216.f) - 1.f;
}

}  // extern "C"
