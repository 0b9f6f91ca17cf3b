// Tiled (FlashAttention-style) causal attention for prefill over the paged KV pool.
// Included by kernels.cu.
//
// A query tile is up to FA_BQ consecutive new tokens of one sequence (the host cuts them; tile
// = (first token index, count)). One block of 4 warps per (tile, head) walks the sequence's keys
// 0 .. last query position in tiles of FA_BK through shared memory, reading them through the block
// table (so a cached prefix and the new chunk are read alike), and keeps an online softmax per
// query row: scores of a key tile are computed once for all 16 queries, so each key and value is
// read from memory once per query tile instead of once per query token, and nothing of size N×N
// is ever stored. Warp w owns query rows 4w..4w+3: lane k scores key k of the tile, then lanes
// split the head dims to accumulate P·V. headDim <= FA_MAXD (larger heads use `attention`).
// Keys and values are dequantized (attention.cuh's storage types) as they enter shared memory, which
// holds fp32: the fp32 version computes what the fp32-only kernel did.

namespace {
#define FA_BQ 16
#define FA_BK 32
#define FA_MAXD 128

// grid = (tiles, heads), block = 128.
template <typename S>
__device__ void attention_prefill_tiles(const float* q, const typename S::T* keys, const typename S::T* values,
                                        const __half* kScales, const __half* vScales, float* out,
                                        const int* positions, const int* seqOf, const int* tables, int tableStride, const int* tiles,
                                        int heads, int kvHeads, int headDim, int blockSize, float scale, int qStride) {
    __shared__ float sQ[FA_BQ][FA_MAXD];
    __shared__ float sK[FA_BK][FA_MAXD + 1];  // +1: lane k reads row k, no bank conflicts
    __shared__ float sV[FA_BK][FA_MAXD];
    __shared__ float sP[FA_BQ][FA_BK];
    int h = blockIdx.y;
    int t0 = tiles[2 * blockIdx.x], nq = tiles[2 * blockIdx.x + 1];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int kvDim = kvHeads * headDim;
    int kvh = h / (heads / kvHeads);
    int pos0 = positions[t0];
    int lastPos = pos0 + nq - 1;
    const int* table = tables + (size_t) seqOf[t0] * tableStride;
    for (int i = threadIdx.x; i < FA_BQ * headDim; i += blockDim.x) {
        int qi = i / headDim, d = i % headDim;
        sQ[qi][d] = qi < nq ? q[(size_t) (t0 + qi) * qStride + h * headDim + d] * scale : 0.f;
    }
    float m[4], l[4], acc[4][FA_MAXD / 32];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        m[i] = -INFINITY;
        l[i] = 0.f;
#pragma unroll
        for (int j = 0; j < FA_MAXD / 32; j++) acc[i][j] = 0.f;
    }
    for (int kb = 0; kb <= lastPos; kb += FA_BK) {
        __syncthreads();  // the previous tile's K/V/P are no longer read
        for (int i = threadIdx.x; i < FA_BK * headDim; i += blockDim.x) {
            int kk = i / headDim, d = i % headDim;
            int s = kb + kk;
            float kv = 0.f, vv = 0.f;
            if (s <= lastPos) {
                size_t slot = (size_t) table[s / blockSize] * blockSize + s % blockSize;
                size_t off = slot * kvDim + kvh * headDim + d;
                kv = S::load(keys[off]);
                vv = S::load(values[off]);
                if constexpr (S::scaled) {
                    kv *= __half2float(kScales[slot * kvHeads + kvh]);
                    vv *= __half2float(vScales[slot * kvHeads + kvh]);
                }
            }
            sK[kk][d] = kv;
            sV[kk][d] = vv;
        }
        __syncthreads();
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int qi = warp * 4 + i;
            int s = kb + lane;
            bool valid = qi < nq && s <= pos0 + qi;  // causal: a query sees keys up to its own position
            float dot = 0.f;
            for (int d = 0; d < headDim; d++) dot += sQ[qi][d] * sK[lane][d];
            float sc = valid ? dot : -INFINITY;
            float tileMax = sc;
            for (int o = 16; o > 0; o >>= 1) tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, o));
            float mNew = fmaxf(m[i], tileMax);
            float p = valid ? expf(sc - mNew) : 0.f;
            float corr = m[i] == -INFINITY ? 0.f : expf(m[i] - mNew);
            float ps = p;
            for (int o = 16; o > 0; o >>= 1) ps += __shfl_xor_sync(0xffffffffu, ps, o);
            l[i] = l[i] * corr + ps;
            m[i] = mNew;
            sP[qi][lane] = p;
            __syncwarp();
#pragma unroll
            for (int j = 0; j < FA_MAXD / 32; j++) {
                int d = lane + 32 * j;
                if (d < headDim) {
                    float a = acc[i][j] * corr;
                    for (int k = 0; k < FA_BK; k++) a += sP[qi][k] * sV[k][d];
                    acc[i][j] = a;
                }
            }
            __syncwarp();
        }
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int qi = warp * 4 + i;
        if (qi >= nq) continue;
        float* o = out + (size_t) (t0 + qi) * heads * headDim + h * headDim;
#pragma unroll
        for (int j = 0; j < FA_MAXD / 32; j++) {
            int d = lane + 32 * j;
            if (d < headDim) o[d] = acc[i][j] / l[i];
        }
    }
}


// ---- tensor cores, 16-bit KV ----------------------------------------------------------------
// The same tiled causal prefill for an fp16 or bf16 pool on the tensor cores (mma.sync m16n8k16,
// 16-bit operands of the pool's type, fp32 accumulation), FlashAttention-2 style. One block per
// (query tile of up to 16 tokens, kv head, group slice): its warps are query heads of one GQA group
// (up to 4 per block), so each key/value tile is read into shared memory once for all of them.
// Warp = 16 query rows × one head: Q (scaled, rounded to 16 bits) stays in registers as A
// fragments; per key tile of TC_BK, S = Q·Kᵀ in fp32 accumulators, the causal mask and online
// softmax on those accumulators (each lane holds rows g and g + 8 of its quad), P rounded to 16 bits
// and reused as A fragments for O += P·V (the accumulator layout of two n8 tiles is the A layout of
// one k16 step). Row sums stay per lane until the end. Differs from the fp32 kernel by the
// rounding of Q and P to 16 bits. headDim % 16 == 0, headDim <= TC_MAXD.
// grid = (tiles, kvHeads, ceil(group / warps)), block = 32 × warps, warps = min(group, 4).
#define TC_BK 64
#define TC_MAXD 128
#define TC_PAD 8   // row stride 272 bytes: the fragment loads of a warp hit 32 different banks

template <typename T> struct Mma16;
template <> struct Mma16<__half> {
    __device__ static __forceinline__ uint32_t pack(float lo, float hi) {
        __half2 h = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&h);
    }
    __device__ static __forceinline__ void mma(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};
template <> struct Mma16<__nv_bfloat16> {
    __device__ static __forceinline__ uint32_t pack(float lo, float hi) {
        __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&h);
    }
    __device__ static __forceinline__ void mma(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

template <typename T>
__device__ void attention_prefill_mma(const float* q, const T* keys, const T* values, float* out,
                                      const int* positions, const int* seqOf, const int* tables, int tableStride, const int* tiles,
                                      int heads, int kvHeads, int headDim, int blockSize, float scale, int qStride) {
    __shared__ __align__(16) T sK[TC_BK][TC_MAXD + TC_PAD];
    __shared__ __align__(16) T sV[TC_BK][TC_MAXD + TC_PAD];
    typedef Mma16<T> M;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    int g = lane >> 2, tq = lane & 3;
    int kvh = blockIdx.y;
    int group = heads / kvHeads;
    int inGroup = blockIdx.z * warps + warp;
    bool active = inGroup < group;  // the last slice of a group may have idle warps: they still load
    int h = kvh * group + min(inGroup, group - 1);
    int t0 = tiles[2 * blockIdx.x], nq = tiles[2 * blockIdx.x + 1];
    int kvDim = kvHeads * headDim;
    int pos0 = positions[t0];
    int lastPos = pos0 + nq - 1;
    const int* table = tables + (size_t) seqOf[t0] * tableStride;
    int ksteps = headDim / 16, dtiles = headDim / 8;

    // Q as A fragments: qa[k][0] = rows g, dims 16k + 2tq (+1); [1] rows g + 8; [2], [3] the same 8 dims on
    uint32_t qa[TC_MAXD / 16][4];
    const float* q0 = q + (size_t) (t0 + g) * qStride + h * headDim;
    const float* q8 = q + (size_t) (t0 + g + 8) * qStride + h * headDim;
    bool live0 = g < nq, live8 = g + 8 < nq;
#pragma unroll
    for (int k = 0; k < TC_MAXD / 16; k++) {
        if (k < ksteps) {
            int d = 16 * k + 2 * tq;
            qa[k][0] = live0 ? M::pack(q0[d] * scale, q0[d + 1] * scale) : 0u;
            qa[k][1] = live8 ? M::pack(q8[d] * scale, q8[d + 1] * scale) : 0u;
            qa[k][2] = live0 ? M::pack(q0[d + 8] * scale, q0[d + 9] * scale) : 0u;
            qa[k][3] = live8 ? M::pack(q8[d + 8] * scale, q8[d + 9] * scale) : 0u;
        } else {
            qa[k][0] = qa[k][1] = qa[k][2] = qa[k][3] = 0u;
        }
    }
    float o[TC_MAXD / 8][4];
#pragma unroll
    for (int j = 0; j < TC_MAXD / 8; j++) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

    for (int kb = 0; kb <= lastPos; kb += TC_BK) {
        __syncthreads();  // the previous tile's K/V are no longer read
        // K/V tile into shared memory, 8 elements (16 bytes) a load; past the last position: zeros
        int vecs = headDim / 8;
        for (int i = threadIdx.x; i < TC_BK * vecs; i += blockDim.x) {
            int r = i / vecs, c = (i % vecs) * 8;
            int s = kb + r;
            uint4 kv = make_uint4(0u, 0u, 0u, 0u), vv = make_uint4(0u, 0u, 0u, 0u);
            if (s <= lastPos) {
                size_t off = ((size_t) table[s / blockSize] * blockSize + s % blockSize) * kvDim + kvh * headDim + c;
                kv = *reinterpret_cast<const uint4*>(keys + off);
                vv = *reinterpret_cast<const uint4*>(values + off);
            }
            *reinterpret_cast<uint4*>(&sK[r][c]) = kv;
            *reinterpret_cast<uint4*>(&sV[r][c]) = vv;
        }
        __syncthreads();
        if (!active) continue;

        // S = Q·Kᵀ for keys kb .. kb + TC_BK - 1: n-tile j = keys 8j .. 8j + 7
        float sc[TC_BK / 8][4];
#pragma unroll
        for (int j = 0; j < TC_BK / 8; j++) {
            sc[j][0] = sc[j][1] = sc[j][2] = sc[j][3] = 0.f;
#pragma unroll
            for (int k = 0; k < TC_MAXD / 16; k++) {
                if (k < ksteps) {
                    const T* kr = &sK[8 * j + g][16 * k + 2 * tq];
                    M::mma(sc[j], qa[k], *reinterpret_cast<const uint32_t*>(kr), *reinterpret_cast<const uint32_t*>(kr + 8));
                }
            }
        }
        // causal mask and online softmax; element e of tile j: row g + 8 (e >> 1), key kb + 8j + 2tq + (e & 1)
        float mx[2] = {m[0], m[1]};
#pragma unroll
        for (int j = 0; j < TC_BK / 8; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int row = g + 8 * (e >> 1);
                int key = kb + 8 * j + 2 * tq + (e & 1);
                if (row >= nq || key > pos0 + row) sc[j][e] = -INFINITY;
                mx[e >> 1] = fmaxf(mx[e >> 1], sc[j][e]);
            }
        }
        float corr[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            corr[r] = mx[r] == -INFINITY ? 1.f : expf(m[r] - mx[r]);
            m[r] = mx[r];
            l[r] *= corr[r];
        }
#pragma unroll
        for (int j = 0; j < TC_BK / 8; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float p = sc[j][e] == -INFINITY ? 0.f : expf(sc[j][e] - m[e >> 1]);
                sc[j][e] = p;
                l[e >> 1] += p;
            }
        }
#pragma unroll
        for (int j = 0; j < TC_MAXD / 8; j++) {
            o[j][0] *= corr[0]; o[j][1] *= corr[0];
            o[j][2] *= corr[1]; o[j][3] *= corr[1];
        }
        // O += P·V: k-step kk = keys 16kk .. 16kk + 15 (score tiles 2kk, 2kk + 1); n-tile j = dims 8j .. 8j + 7
        const unsigned short* v16 = reinterpret_cast<const unsigned short*>(&sV[0][0]);
        const int vs = TC_MAXD + TC_PAD;
#pragma unroll
        for (int kk = 0; kk < TC_BK / 16; kk++) {
            uint32_t pa[4] = {M::pack(sc[2 * kk][0], sc[2 * kk][1]), M::pack(sc[2 * kk][2], sc[2 * kk][3]),
                              M::pack(sc[2 * kk + 1][0], sc[2 * kk + 1][1]), M::pack(sc[2 * kk + 1][2], sc[2 * kk + 1][3])};
            int key = 16 * kk + 2 * tq;
#pragma unroll
            for (int j = 0; j < TC_MAXD / 8; j++) {
                if (j < dtiles) {
                    int d = 8 * j + g;
                    uint32_t b0 = (uint32_t) v16[key * vs + d] | (uint32_t) v16[(key + 1) * vs + d] << 16;
                    uint32_t b1 = (uint32_t) v16[(key + 8) * vs + d] | (uint32_t) v16[(key + 9) * vs + d] << 16;
                    M::mma(o[j], pa, b0, b1);
                }
            }
        }
    }
    if (!active) return;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    }
#pragma unroll
    for (int j = 0; j < TC_MAXD / 8; j++) {
        if (j < dtiles) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int row = g + 8 * (e >> 1);
                if (row < nq) out[(size_t) (t0 + row) * heads * headDim + h * headDim + 8 * j + 2 * tq + (e & 1)] = o[j][e] / l[e >> 1];
            }
        }
    }
}

}  // namespace

extern "C" {

#define ATTENTION_PREFILL(SFX, S)                                                                                       \
    __global__ void attention_prefill_##SFX(const float* q, const S::T* keys, const S::T* values, const __half* kScales, \
                                            const __half* vScales, float* out, const int* positions, const int* seqOf,   \
                                            const int* tables, int tableStride, const int* tiles, int heads,             \
                                            int kvHeads, int headDim, int blockSize, float scale, int qStride) { grid_enter(); \
        attention_prefill_tiles<S>(q, keys, values, kScales, vScales, out, positions, seqOf, tables, tableStride, tiles, \
                                   heads, kvHeads, headDim, blockSize, scale, qStride);                                  \
    }
ATTENTION_PREFILL(f32, KvF32)
ATTENTION_PREFILL(f16, KvF16)
ATTENTION_PREFILL(bf16, KvBF16)
ATTENTION_PREFILL(i8, KvI8)
ATTENTION_PREFILL(fp8, KvFP8)

// The tensor-core version for 16-bit pools (same arguments; the scale pointers are unused).
#define ATTENTION_PREFILL_TC(SFX, T)                                                                                    \
    __global__ void __launch_bounds__(128) attention_prefill_tc_##SFX(                                                  \
            const float* q, const T* keys, const T* values, const __half* kScales, const __half* vScales, float* out,   \
            const int* positions, const int* seqOf, const int* tables, int tableStride, const int* tiles, int heads,    \
            int kvHeads, int headDim, int blockSize, float scale, int qStride) { grid_enter();                          \
        attention_prefill_mma<T>(q, keys, values, out, positions, seqOf, tables, tableStride, tiles, heads, kvHeads,    \
                                 headDim, blockSize, scale, qStride);                                                   \
    }
ATTENTION_PREFILL_TC(f16, __half)
ATTENTION_PREFILL_TC(bf16, __nv_bfloat16)

}  // extern "C"
