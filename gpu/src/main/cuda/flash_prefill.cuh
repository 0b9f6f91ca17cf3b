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
// The block's warps are the query heads of one KV group, so each K/V tile serves 16 rows × up to 4
// heads. Tiles are double-buffered: cp.async copies tile i + 1 (through the block table, zeros past
// the last position) while the warps compute tile i, since with 4 blocks an SM (registers) the
// copy's latency is not hidden by other warps (one barrier a tile); ldmatrix (.trans for V) feeds the B fragments, four
// 8×8 matrices an instruction instead of a shared load per register (per 16-bit pair of V). Scores
// are in log2 units (Q carries log2 e) for exp2. The mask is only evaluated on tiles that reach past
// the tile's first query position.
// grid = (tiles, kvHeads, ceil(group / warps)), block = 32 × warps, warps = min(group, 4).
#define TC_BK 32
#define TC_MAXD 128
#define TC_PAD 8   // row stride 272 bytes: the 8 rows of an ldmatrix hit 8 different 16-byte bank groups

// Four 8×8 16-bit matrices from shared memory (lanes 8m .. 8m + 7 give the rows of matrix m); .trans
// hands each lane the column pair a B fragment wants from a row-major [k][n] tile.
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* row) {
    uint32_t a = (uint32_t) __cvta_generic_to_shared(row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], const void* row) {
    uint32_t a = (uint32_t) __cvta_generic_to_shared(row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}

// Copies the K/V tile of positions kb .. kb + TC_BK − 1 (zeros past lastPos) into sK, sV. Each
// thread keeps one 16-byte column c of rows r, r + rowStep, …, so the per-copy index arithmetic is a
// few adds: divisions by runtime values cost ~20 instructions each and, done per copy, outweighed the
// tile's tensor-core work. blockShift >= 0: blockSize is 1 << blockShift (a shift instead of a division).
template <typename T>
__device__ __forceinline__ void load_kv_tile(T (*sK)[TC_MAXD + TC_PAD], T (*sV)[TC_MAXD + TC_PAD], const T* keys, const T* values,
                                             const int* table, int kb, int lastPos, int blockSize, int blockShift, size_t colOffset,
                                             int kvDim, int r0, int rowStep, int c) {
    if (r0 >= TC_BK) return;  // threads past the last whole column set
    for (int r = r0; r < TC_BK; r += rowStep) {
        int s = kb + r;
        bool live = s <= lastPos;
        size_t off = 0;
        if (live) {
            int block = blockShift >= 0 ? s >> blockShift : s / blockSize;
            int within = blockShift >= 0 ? s & (blockSize - 1) : s - block * blockSize;
            off = ((size_t) table[block] * blockSize + within) * kvDim + colOffset;
        }
        cp_async16(&sK[r][c], keys + off, live ? 16 : 0);
        cp_async16(&sV[r][c], values + off, live ? 16 : 0);
    }
}

template <typename T>
__device__ void attention_prefill_mma(const float* q, const T* keys, const T* values, float* out,
                                      const int* positions, const int* seqOf, const int* tables, int tableStride, const int* tiles,
                                      int heads, int kvHeads, int headDim, int blockSize, float scale, int qStride) {
    __shared__ __align__(16) T sK[2][TC_BK][TC_MAXD + TC_PAD];
    __shared__ __align__(16) T sV[2][TC_BK][TC_MAXD + TC_PAD];
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
    // this thread's share of every K/V tile: column c of rows r0, r0 + rowStep, … (see load_kv_tile)
    int vecs = headDim / 8, rowStep = blockDim.x / vecs;
    int r0 = threadIdx.x / vecs, c = (threadIdx.x % vecs) * 8;
    if (threadIdx.x >= rowStep * vecs) r0 = TC_BK;
    int blockShift = (blockSize & (blockSize - 1)) == 0 ? __ffs(blockSize) - 1 : -1;
    size_t colOffset = (size_t) kvh * headDim + c;
    load_kv_tile<T>(sK[0], sV[0], keys, values, table, 0, lastPos, blockSize, blockShift, colOffset, kvDim, r0, rowStep, c);
    cp_async_commit();

    // Q as A fragments: qa[k][0] = rows g, dims 16k + 2tq (+1); [1] rows g + 8; [2], [3] the same 8 dims on
    uint32_t qa[TC_MAXD / 16][4];
    const float* q0 = q + (size_t) (t0 + g) * qStride + h * headDim;
    const float* q8 = q + (size_t) (t0 + g + 8) * qStride + h * headDim;
    bool live0 = g < nq, live8 = g + 8 < nq;
    float qs = scale * 1.4426950408889634f;  // log2 e: the scores in log2 units, for exp2
#pragma unroll
    for (int k = 0; k < TC_MAXD / 16; k++) {
        if (k < ksteps) {
            int d = 16 * k + 2 * tq;
            qa[k][0] = live0 ? M::pack(q0[d] * qs, q0[d + 1] * qs) : 0u;
            qa[k][1] = live8 ? M::pack(q8[d] * qs, q8[d + 1] * qs) : 0u;
            qa[k][2] = live0 ? M::pack(q0[d + 8] * qs, q0[d + 9] * qs) : 0u;
            qa[k][3] = live8 ? M::pack(q8[d + 8] * qs, q8[d + 9] * qs) : 0u;
        } else {
            qa[k][0] = qa[k][1] = qa[k][2] = qa[k][3] = 0u;
        }
    }
    float o[TC_MAXD / 8][4];
#pragma unroll
    for (int j = 0; j < TC_MAXD / 8; j++) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    int mrow = lane & 7, mat = lane >> 3;  // this lane's row within, and which of, the four ldmatrix matrices

    for (int kb = 0, buf = 0; kb <= lastPos; kb += TC_BK, buf ^= 1) {
        // this tile landed and every warp is past the previous one, whose buffer then takes the next
        // tile while this one is computed: one barrier a tile
        cp_async_wait_all();
        __syncthreads();
        if (kb + TC_BK <= lastPos) {
            load_kv_tile<T>(sK[buf ^ 1], sV[buf ^ 1], keys, values, table, kb + TC_BK, lastPos, blockSize, blockShift, colOffset, kvDim, r0, rowStep, c);
            cp_async_commit();
        }
        if (active) {
            // S = Q·Kᵀ for keys kb .. kb + TC_BK − 1: n-tile j = keys 8j .. 8j + 7; one ldmatrix.x4 = the B
            // fragments of k-steps k and k + 1 (matrix m: dims 16k + 8m)
            float sc[TC_BK / 8][4];
#pragma unroll
            for (int j = 0; j < TC_BK / 8; j++) {
                sc[j][0] = sc[j][1] = sc[j][2] = sc[j][3] = 0.f;
#pragma unroll
                for (int k = 0; k < TC_MAXD / 16; k += 2) {
                    if (k < ksteps) {
                        uint32_t b[4];
                        // past an odd last k-step the second pair reads the first again (unused)
                        int col = k + 1 < ksteps ? 16 * k + 8 * mat : 16 * k + 8 * (mat & 1);
                        ldsm_x4(b, &sK[buf][8 * j + mrow][col]);
                        M::mma(sc[j], qa[k], b[0], b[1]);
                        if (k + 1 < ksteps) M::mma(sc[j], qa[k + 1], b[2], b[3]);
                    }
                }
            }
            // causal mask, only where this tile reaches past the first query's position; element e of
            // tile j: row g + 8 (e >> 1), key kb + 8j + 2tq + (e & 1)
            if (kb + TC_BK - 1 > pos0) {
#pragma unroll
                for (int j = 0; j < TC_BK / 8; j++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        int row = g + 8 * (e >> 1);
                        int key = kb + 8 * j + 2 * tq + (e & 1);
                        if (row >= nq || key > pos0 + row) sc[j][e] = -INFINITY;
                    }
                }
            }
            float mx[2] = {m[0], m[1]};
#pragma unroll
            for (int j = 0; j < TC_BK / 8; j++) {
#pragma unroll
                for (int e = 0; e < 4; e++) mx[e >> 1] = fmaxf(mx[e >> 1], sc[j][e]);
            }
            float corr[2];
#pragma unroll
            for (int r = 0; r < 2; r++) {
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
                corr[r] = mx[r] == -INFINITY ? 1.f : exp2f(m[r] - mx[r]);
                m[r] = mx[r];
                l[r] *= corr[r];
            }
#pragma unroll
            for (int j = 0; j < TC_BK / 8; j++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    float p = sc[j][e] == -INFINITY ? 0.f : exp2f(sc[j][e] - m[e >> 1]);
                    sc[j][e] = p;
                    l[e >> 1] += p;
                }
            }
#pragma unroll
            for (int j = 0; j < TC_MAXD / 8; j++) {
                o[j][0] *= corr[0]; o[j][1] *= corr[0];
                o[j][2] *= corr[1]; o[j][3] *= corr[1];
            }
            // O += P·V: k-step kk = keys 16kk .. 16kk + 15 (score tiles 2kk, 2kk + 1); n-tile j = dims
            // 8j .. 8j + 7; one ldmatrix.x4.trans = the B fragments of n-tiles j and j + 1 (matrix m:
            // keys 16kk + 8 (m & 1), dims 8j + 8 (m >> 1))
#pragma unroll
            for (int kk = 0; kk < TC_BK / 16; kk++) {
                uint32_t pa[4] = {M::pack(sc[2 * kk][0], sc[2 * kk][1]), M::pack(sc[2 * kk][2], sc[2 * kk][3]),
                                  M::pack(sc[2 * kk + 1][0], sc[2 * kk + 1][1]), M::pack(sc[2 * kk + 1][2], sc[2 * kk + 1][3])};
#pragma unroll
                for (int j = 0; j < TC_MAXD / 8; j += 2) {
                    if (j < dtiles) {
                        uint32_t b[4];
                        int col = j + 1 < dtiles ? 8 * j + 8 * (mat >> 1) : 8 * j;
                        ldsm_x4_trans(b, &sV[buf][16 * kk + 8 * (mat & 1) + mrow][col]);
                        M::mma(o[j], pa, b[0], b[1]);
                        if (j + 1 < dtiles) M::mma(o[j + 1], pa, b[2], b[3]);
                    }
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

// The tensor-core version for 16-bit pools (same arguments; the scale pointers are unused). Registers
// limited for 4 blocks an SM (128, a few values spilled): 5% faster at 4k tokens than 139 registers
// and 3 blocks (H100, docs/PERFORMANCE.md S7-6), the kernel being latency-bound.
#define ATTENTION_PREFILL_TC(NAME, T)                                                                                   \
    __global__ void __launch_bounds__(128, 4) NAME(                                                                     \
            const float* q, const T* keys, const T* values, const __half* kScales, const __half* vScales, float* out,   \
            const int* positions, const int* seqOf, const int* tables, int tableStride, const int* tiles, int heads,    \
            int kvHeads, int headDim, int blockSize, float scale, int qStride) { grid_enter();                          \
        attention_prefill_mma<T>(q, keys, values, out, positions, seqOf, tables, tableStride, tiles, heads, kvHeads,    \
                                 headDim, blockSize, scale, qStride);                                                   \
    }
ATTENTION_PREFILL_TC(attention_prefill_tc_f16, __half)
ATTENTION_PREFILL_TC(attention_prefill_tc_bf16, __nv_bfloat16)

}  // extern "C"
