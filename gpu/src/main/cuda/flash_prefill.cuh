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

}  // namespace

extern "C" {

#define ATTENTION_PREFILL(SFX, S)                                                                                       \
    __global__ void attention_prefill_##SFX(const float* q, const S::T* keys, const S::T* values, const __half* kScales, \
                                            const __half* vScales, float* out, const int* positions, const int* seqOf,   \
                                            const int* tables, int tableStride, const int* tiles, int heads,             \
                                            int kvHeads, int headDim, int blockSize, float scale, int qStride) {         \
        attention_prefill_tiles<S>(q, keys, values, kScales, vScales, out, positions, seqOf, tables, tableStride, tiles, \
                                   heads, kvHeads, headDim, blockSize, scale, qStride);                                  \
    }
ATTENTION_PREFILL(f32, KvF32)
ATTENTION_PREFILL(f16, KvF16)
ATTENTION_PREFILL(bf16, KvBF16)
ATTENTION_PREFILL(i8, KvI8)
ATTENTION_PREFILL(fp8, KvFP8)

}  // extern "C"
