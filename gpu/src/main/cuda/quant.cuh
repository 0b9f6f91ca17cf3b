// Weight-only quantized matrices: decode GEMV that dequantizes in registers, and a dequantization
// into bf16 for the batched (tensor-core) path. Included by kernels.cu.
//
// Device formats (QuantFormat on the host packs them; see QuantPacking):
//   INT8: rows × cols int8, row-major; per group of G columns of a row one fp16 scale s: w = s·q.
//         scales: rows × (cols/G) halves.
//   INT4: rows × cols/2 bytes, row-major; per 32 columns 16 bytes where byte i holds column i in its
//         low nibble and column i+16 in its high nibble (ggml Q4_0's order, so Q4_0 repacks by copy
//         and an AND / shift+AND pulls out four consecutive columns as bytes, ready for dp4a);
//         q unsigned 0..15. Per group of G columns an fp16 pair (s, b): w = s·q + b.
//         scales: rows × (cols/G) half2 {s, b} (one 4-byte load for both).
// G is 32 (GGUF repacks), 128 (INT4 quantized on load) or cols (INT8 per channel); cols % 32 == 0.
// The kernels take G as gshift: group of chunk c = c >> gshift, where a chunk is what one lane's
// 16-byte load covers (16 INT8 or 32 INT4 columns); gshift = 31 means one group per row.
//
// Why dp4a: at int4 a decode GEMV streams ~8.6e12 weights/s on an H200, while the card issues
// ~3.3e13 lane instructions/s, so the budget is about 3 instructions per weight (for 4 tokens!).
// Converting each weight to float and FMA-ing costs more than that. Instead the activations are
// quantized once per GEMV to int8 per 32-column block (quantize_act_q8), and the inner loop is
// integer dot products of four bytes (__dp4a), one float scale per 16 or 32 weights. Accumulation is
// fp32 across blocks. The activation rounding costs ~0.4% relative error on random inputs (see
// QuantKernelCheckTest); int8 weights × int8 activations is what llama.cpp's q8_0 × q8_1 path does.

namespace {

__device__ __forceinline__ int warp_sum_int(int v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// int8 quantization of one 32-column activation block held by LANES consecutive lanes, PER values
// each: exactly quantize_act_q8's arithmetic (sx = max|x| / 127, q = round(x / sx) clamped, the pair
// (sx, sx · sum(q)) written by the group's first lane). Every lane of the warp must call it.
template <int LANES, int PER>
__device__ __forceinline__ void quantize_block(const float (&v)[PER], int8_t* q, float2* pair, bool live) {
    float amax = 0.f;
#pragma unroll
    for (int p = 0; p < PER; p++) amax = fmaxf(amax, fabsf(v[p]));
#pragma unroll
    for (int o = 1; o < LANES; o <<= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    int sum = 0;
    int8_t qs[PER];
#pragma unroll
    for (int p = 0; p < PER; p++) {
        int qi = amax > 0.f ? max(-127, min(127, __float2int_rn(v[p] * (127.f / amax)))) : 0;
        qs[p] = (int8_t) qi;
        sum += qi;
    }
#pragma unroll
    for (int o = 1; o < LANES; o <<= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if (!live) return;
#pragma unroll
    for (int p = 0; p < PER; p++) q[p] = qs[p];
    float sx = amax / 127.f;
    if ((threadIdx.x & (LANES - 1)) == 0) *pair = make_float2(sx, sx * (float) sum);
}

// An RMSNorm carried by the quantized GEMVs around it instead of a launch of its own (both parts
// optional, null pointers = off). RMSNorm(x)·W = rs · ((x∘γ)·W) with rs = rsqrt(mean(x²) + eps) one
// number per token, and the int8 activations of x∘γ (per-32 scale) equal those of rs·x∘γ up to that
// scale. So:
//  - out (the residual product, y += W·a, that makes x): per 32 rows of y the last of its blocks to
//    finish (a counter per group, left at zero again) writes y∘γ as the next product's int8
//    activations (outQ, outS: quantize_act_q8's arithmetic) and the 32 rows' sum of squares (outPart,
//    rows / 32 a token);
//  - in (the product that reads them): every output is scaled by rs, from the inDim / 32 partial sums
//    its producer wrote (inPart), added in a fixed order.
// Deterministic: the counter only decides which block writes a group, not what it writes.
struct NormFusion {
    const float* inPart;
    int inDim;
    float eps;
    const float* gamma;
    int8_t* outQ;
    float2* outS;
    float* outPart;
    int* counters;
};

// rs of token t from the producer's partial sums (every lane of the warp gets it; call with whole warps).
__device__ __forceinline__ float fused_norm_scale(const NormFusion& f, int t) {
    int groups = f.inDim >> 5, lane = threadIdx.x & 31;
    float s = 0.f;
    for (int i = lane; i < groups; i += 32) s += f.inPart[(size_t) t * groups + i];
    return rsqrtf(warp_sum(s) / f.inDim + f.eps);
}

// The out part of NormFusion once this block's rows of y are stored (every thread of the block calls it).
template <int T>
__device__ void fused_norm_out(const float* y, int rows, int rowsPerBlock, const NormFusion& f) {
    __shared__ bool last;
    int group = blockIdx.x * rowsPerBlock / 32;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        last = atomicAdd(f.counters + group, 1) == 32 / rowsPerBlock - 1;
        if (last) f.counters[group] = 0;
    }
    __syncthreads();
    int t = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (!last || t >= T) return;
    __threadfence();
    size_t i = (size_t) t * rows + group * 32 + lane;
    float v = __ldcg(y + i);
    float ss = warp_sum(v * v);
    float g[1] = {v * f.gamma[group * 32 + lane]};
    quantize_block<32, 1>(g, f.outQ + i, f.outS + i / 32, true);
    if (lane == 0) f.outPart[(size_t) t * (rows >> 5) + group] = ss;
}

// grid_wait() that ptxas cannot issue before this lane's round of weight loads: the wait's predicate
// depends on every loaded row (it is true whatever they hold, so the wait always happens), so it
// issues once they are back — in a kernel started early, while its predecessor still runs. ptxas schedules griddepcontrol.wait as an instruction
// without operands, and in the gate/up GEMV (GEMV_SWIGLU_Q8: 16 rows a lane, one load each) it hoisted
// the plain grid_wait() above 15 of the 16 (S11, SASS), so the kernel, started early, streamed
// nothing until its predecessor was done. The other layouts keep the plain wait: there ptxas leaves
// it below all their loads (deploy/check_sass.py), and a lane of their later waves, started after the
// predecessor is done, would wait for its weights before it loads the activations.
template <int R, int U>
__device__ __forceinline__ void grid_wait_behind(const uint4 (&raw)[R][U]) {
    uint32_t x = 0;
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int u = 0; u < U; u++) x ^= raw[r][u].w;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("{ .reg .pred p; setp.ne.u32 p, %0, 0; @p griddepcontrol.wait; @!p griddepcontrol.wait; }" :: "r"(x) : "memory");
#endif
}

// What a quantized GEMV writes. GEMV_PLAIN: y (+)= W·a. GEMV_SWIGLU_Q8 carries a decode step's
// SwiGLU, so that no launch sits between the gate/up and down products (one link fewer in the step's
// chain of dependent kernels): the matrix is the gate rows then as many up rows, a warp's first R/2
// rows are gates p…, its last R/2 the matching ups, and a block's warps hold 32 consecutive outputs
// silu(g)·u together, which the block writes straight as the down product's int8 activations
// (outQ, outS: quantize_block's arithmetic).
enum GemvIo { GEMV_PLAIN, GEMV_SWIGLU_Q8 };

// How a product's lanes read their weights: W_L1 with __ldg (L1-allocating), W_PAST_L1 with
// load_stream (L1::no_allocate), so that the weights streaming through an SM do not push out the
// int8 activations its warps read again each round. The one-token products of a decode step take
// W_PAST_L1: INT4 batch-1 decode of the 8B shape +1.4% on an H100, INT8 +0.9% (S13-1 … S13-3).
enum WeightPath { W_L1, W_PAST_L1 };

// The matrix row of a warp's r-th row (row0: the warp's first; rows past the end repeat the last,
// loaded and never stored).
template <int R, int IO>
__device__ __forceinline__ int gemv_row(int row0, int r, int rows) {
    if constexpr (IO == GEMV_SWIGLU_Q8) {
        int pairs = rows >> 1, p = min((row0 >> 1) + r % (R / 2), pairs - 1);
        return r < R / 2 ? p : pairs + p;
    } else {
        return min(row0 + r, rows - 1);
    }
}

// The end of a quantized GEMV: each (row, token) sum over the warp, and for KS > 1 over the KS warps
// that split the row's chunks (shared memory), scaled by the input's norm and stored or added to y,
// then the output's norm (NormFusion). Every thread of the block calls it.
template <int T, int R, int KS>
__device__ __forceinline__ void store_rows(float (&acc)[R][T], float* __restrict__ y, int row0, int rows, int accumulate,
                                           const NormFusion& f) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float scale[T];
#pragma unroll
    for (int t = 0; t < T; t++) scale[t] = f.inPart ? fused_norm_scale(f, t) : 1.f;
    __shared__ float partial[KS > 1 ? 32 : 1][R][T];
#pragma unroll
    for (int r = 0; r < R; r++) {
#pragma unroll
        for (int t = 0; t < T; t++) {
            float v = warp_sum(acc[r][t]);
            if (KS > 1) {
                if (lane == 0) partial[warp][r][t] = v;
            } else if (lane == 0 && row0 + r < rows) {
                float* out = y + (size_t) t * rows + row0 + r;
                *out = accumulate ? *out + v * scale[t] : v * scale[t];
            }
        }
    }
    if (KS > 1) {
        __syncthreads();
        int r = lane / T, t = lane % T;
        if (warp % KS == 0 && lane < R * T && row0 + r < rows) {
            float v = 0.f;
#pragma unroll
            for (int k = 0; k < KS; k++) v += partial[warp + k][r][t];
#pragma unroll
            for (int u = 0; u < T; u++) if (u == t) v *= scale[u];  // scale[t] without a dynamic index into registers
            float* out = y + (size_t) t * rows + row0 + r;
            *out = accumulate ? *out + v : v;
        }
    }
    if (f.gamma) fused_norm_out<T>(y, rows, ((blockDim.x >> 5) / KS) * R, f);
}

// The end of the GEMV_SWIGLU_Q8 form (one token, whole rows a warp): each row's sum over the warp,
// scaled by the input's norm as store_rows does, then silu(g)·u of the warp's R / 2 pairs into shared
// memory and the block's 32 outputs quantized by one warp. Every thread of the block calls it.
template <int R, int KS>
__device__ __forceinline__ void store_swiglu_q8(float (&acc)[R][1], const NormFusion& f) {
    static_assert(KS == 1, "whole rows a warp");
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float scale = f.inPart ? fused_norm_scale(f, 0) : 1.f;
    __shared__ float h[32];  // (blockDim / 32) warps × R / 2
    float v = 0.f;
#pragma unroll
    for (int r = 0; r < R; r++) {
        float sum = warp_sum(acc[r][0]);
        if (lane == r) v = sum;
    }
    v *= scale;  // lane r < R / 2 holds gate r, lane r + R / 2 its up
    float up = __shfl_down_sync(0xffffffffu, v, R / 2);
    if (lane < R / 2) h[warp * (R / 2) + lane] = silu_mul(v, up);
    __syncthreads();
    if (warp == 0) {
        size_t i = (size_t) blockIdx.x * 32 + lane;
        float x[1] = {h[lane]};
        quantize_block<32, 1>(x, f.outQ + i, f.outS + i / 32, true);
    }
}

// Decode GEMV over INT8 weights for exactly T tokens (one kernel per token count: no per-token
// branches, and registers for only the accumulators needed). One warp owns R consecutive rows; each
// lane issues R × U 16-byte weight loads, and their scales, (chunk c = 16 columns; per load instruction the warp reads 512
// contiguous bytes of a row) before it uses any, so a warp has several KB in flight and a short
// matrix still covers the memory latency. R rows per warp also share each activation load: per chunk
// and token one 16-byte load of int8 activations serves R rows' four dp4a and scale products.
// Rows past the end repeat the last row (loaded, never stored).
template <int T, int R, int U, int KS, int IO = GEMV_PLAIN, int WEIGHTS = W_L1>
__device__ void gemv_q8_rows(const int8_t* __restrict__ w, const __half* __restrict__ scales,
                             const int8_t* __restrict__ xq, const float2* __restrict__ xs, float* __restrict__ y,
                             int rows, int cols, int gshift, int accumulate, const NormFusion& f) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, slice = warp % KS;
    int row0 = (blockIdx.x * ((blockDim.x >> 5) / KS) + warp / KS) * R;
    if (KS == 1 && row0 >= rows && !f.gamma && IO != GEMV_SWIGLU_Q8) return;  // (else the whole block meets at the end)
    int chunks = cols >> 4;
    int groups = ((chunks - 1) >> gshift) + 1;
    const uint4* wr[R];
    const __half* sr[R];
#pragma unroll
    for (int r = 0; r < R; r++) {
        int row = gemv_row<R, IO>(row0, r, rows);
        wr[r] = reinterpret_cast<const uint4*>(w + (size_t) row * cols);
        sr[r] = scales + (size_t) row * groups;
    }
    float acc[R][T];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int t = 0; t < T; t++) acc[r][t] = 0.f;
    bool first = true;
    for (int base = 32 * slice + lane; base < chunks; base += 32 * KS * U) {
        // every load of this round first (weights and their scales: DRAM), then the arithmetic
        uint4 raw[R][U];
        __half s[R][U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            int c = min(base + 32 * KS * u, chunks - 1);  // past the end: a repeated chunk, never used
#pragma unroll
            for (int r = 0; r < R; r++) {
                raw[r][u] = WEIGHTS == W_L1 ? __ldg(wr[r] + c) : load_stream(wr[r] + c);
                s[r][u] = sr[r][c >> gshift];
            }
        }
        if (first) {  // the first round of weights is on its way; activations only now
            if constexpr (IO == GEMV_SWIGLU_Q8) grid_wait_behind(raw);
            else grid_wait();
        }
        first = false;
#pragma unroll
        for (int u = 0; u < U; u++) {
            int c = base + 32 * KS * u;
            if (c >= chunks) break;
#pragma unroll
            for (int t = 0; t < T; t++) {
                int4 a = load_after_wait(reinterpret_cast<const int4*>(xq + (size_t) t * cols) + c);
                float sx = load_after_wait(xs + (size_t) t * (cols >> 5) + (c >> 1)).x;
#pragma unroll
                for (int r = 0; r < R; r++) {
                    int d = __dp4a((int) raw[r][u].x, a.x, 0);
                    d = __dp4a((int) raw[r][u].y, a.y, d);
                    d = __dp4a((int) raw[r][u].z, a.z, d);
                    d = __dp4a((int) raw[r][u].w, a.w, d);
                    acc[r][t] = fmaf(__half2float(s[r][u]) * sx, (float) d, acc[r][t]);
                }
            }
        }
    }
    grid_wait();  // lanes without a chunk
    if constexpr (IO == GEMV_SWIGLU_Q8) store_swiglu_q8<R, KS>(acc, f);
    else store_rows<T, R, KS>(acc, y, row0, rows, accumulate, f);
}

// Decode GEMV over INT4 weights for exactly T tokens: as gemv_q8_rows, but one 16-byte load is a whole
// 32-column block (chunk = activation block). Its four words give eight dp4a operands: low nibbles
// (v & 0x0F0F0F0F) are columns 4k..4k+3, high nibbles ((v >> 4) & 0x0F0F0F0F) columns 16+4k..;
// unsigned 0..15 is a valid signed byte. Per block and token:
//   sum_i (s q_i + b) x_i  ≈  s · sx · dot(q, xq) + b · (sx · sum(xq))
// with (sx, sx·sum(xq)) precomputed per activation block. The bias term uses the quantized
// activations' sum (not the exact one) so that the rounding error is that of the actual weights
// s·q + b (zero-mean q − 8 for Q4_0), not of the offset q alone, which is larger.
template <int T, int R, int U, int KS, int IO = GEMV_PLAIN, int WEIGHTS = W_L1>
__device__ void gemv_q4_rows(const uint8_t* __restrict__ w, const __half2* __restrict__ scales,
                             const int8_t* __restrict__ xq, const float2* __restrict__ xs, float* __restrict__ y,
                             int rows, int cols, int gshift, int accumulate, const NormFusion& f) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, slice = warp % KS;
    int row0 = (blockIdx.x * ((blockDim.x >> 5) / KS) + warp / KS) * R;
    if (KS == 1 && row0 >= rows && !f.gamma && IO != GEMV_SWIGLU_Q8) return;  // (else the whole block meets at the end)
    int chunks = cols >> 5;
    int groups = ((chunks - 1) >> gshift) + 1;
    const uint4* wr[R];
    const __half2* sr[R];
#pragma unroll
    for (int r = 0; r < R; r++) {
        int row = gemv_row<R, IO>(row0, r, rows);
        wr[r] = reinterpret_cast<const uint4*>(w + (size_t) row * (cols >> 1));
        sr[r] = scales + (size_t) row * groups;
    }
    float acc[R][T];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int t = 0; t < T; t++) acc[r][t] = 0.f;
    bool first = true;
    for (int base = 32 * slice + lane; base < chunks; base += 32 * KS * U) {
        // every load of this round first (weights and their scales: DRAM), then the arithmetic
        uint4 raw[R][U];
        __half2 sbh[R][U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            int c = min(base + 32 * KS * u, chunks - 1);  // past the end: a repeated chunk, never used
#pragma unroll
            for (int r = 0; r < R; r++) {
                raw[r][u] = WEIGHTS == W_L1 ? __ldg(wr[r] + c) : load_stream(wr[r] + c);
                sbh[r][u] = sr[r][c >> gshift];
            }
        }
        if (first) {  // the first round of weights is on its way; activations only now
            if constexpr (IO == GEMV_SWIGLU_Q8) grid_wait_behind(raw);
            else grid_wait();
        }
        first = false;
#pragma unroll
        for (int u = 0; u < U; u++) {
            int c = base + 32 * KS * u;
            if (c >= chunks) break;
            int4 a[T], b[T];
            float2 sx[T];
#pragma unroll
            for (int t = 0; t < T; t++) {
                const int4* xp = reinterpret_cast<const int4*>(xq + (size_t) t * cols) + 2 * c;
                a[t] = load_after_wait(xp);
                b[t] = load_after_wait(xp + 1);
                sx[t] = load_after_wait(xs + (size_t) t * chunks + c);
            }
#pragma unroll
            for (int r = 0; r < R; r++) {
                float2 sb = __half22float2(sbh[r][u]);
                uint32_t v[4] = {raw[r][u].x, raw[r][u].y, raw[r][u].z, raw[r][u].w};
                int lo[4], hi[4];
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    lo[k] = (int) (v[k] & 0x0F0F0F0Fu);
                    hi[k] = (int) ((v[k] >> 4) & 0x0F0F0F0Fu);
                }
#pragma unroll
                for (int t = 0; t < T; t++) {
                    int d = __dp4a(lo[0], a[t].x, 0);
                    d = __dp4a(lo[1], a[t].y, d);
                    d = __dp4a(lo[2], a[t].z, d);
                    d = __dp4a(lo[3], a[t].w, d);
                    d = __dp4a(hi[0], b[t].x, d);
                    d = __dp4a(hi[1], b[t].y, d);
                    d = __dp4a(hi[2], b[t].z, d);
                    d = __dp4a(hi[3], b[t].w, d);
                    acc[r][t] = fmaf(sb.x, sx[t].x * (float) d, acc[r][t]);
                    acc[r][t] = fmaf(sb.y, sx[t].y, acc[r][t]);
                }
            }
        }
    }
    grid_wait();  // lanes without a chunk
    if constexpr (IO == GEMV_SWIGLU_Q8) store_swiglu_q8<R, KS>(acc, f);
    else store_rows<T, R, KS>(acc, y, row0, rows, accumulate, f);
}

}  // namespace

extern "C" {

// Activations to int8, per 32-column block: sx = max|x| / 127, q = round(x / sx) (ties to even),
// and per block (sx, sx · sum(q)). x, xq: count floats / bytes (n rows of cols, cols % 32 == 0, so the
// blocks of the flat array are the rows' blocks); xs: count / 32 pairs. One warp per block;
// blockDim = 256, grid = ceil(count / 256).
__global__ void quantize_act_q8(const float* __restrict__ x, int8_t* __restrict__ xq, float2* __restrict__ xs, size_t count) { grid_enter();
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i - (threadIdx.x & 31) >= count) return;  // whole warps only: count % 32 == 0
    float v = x[i];
    float amax = warp_max(fabsf(v));
    float sx = amax / 127.f;
    int q = amax > 0.f ? max(-127, min(127, __float2int_rn(v * (127.f / amax)))) : 0;
    int sum = warp_sum_int(q);
    xq[i] = (int8_t) q;
    if ((threadIdx.x & 31) == 0) xs[i >> 5] = make_float2(sx, sx * (float) sum);
}

// RMSNorm (kernels.cu's rmsnorm) written straight as int8 activations for the quantized GEMV, the
// same values quantize_act_q8 would make of the fp32 row: xq rows × dim, xs rows × dim / 32 pairs.
// dim % 32 == 0 (eight lanes of four values each make a block). grid = rows, block = 32..1024.
__global__ void rmsnorm_q8(const float* x, const int* rowIndex, const float* weight, int8_t* xq, float2* xs, int dim, float eps) { grid_enter();
    size_t row = (size_t) blockIdx.x * dim;
    rmsnorm_row(x, rowIndex, weight, dim, eps, [&](int, float) {},
                [&](int i, float4 v, bool live) {
                    float f[4] = {v.x, v.y, v.z, v.w};
                    quantize_block<8, 4>(f, xq + row + 4 * i, xs + (row + 4 * i) / 32, live);
                });
}

// SwiGLU (kernels.cu's swiglu) written straight as int8 activations for the quantized GEMV (a warp
// per 32-column block, as quantize_act_q8). n · hidden % 32 == 0. grid = ceil(n · hidden / 256), block = 256.
__global__ void swiglu_q8(const float* gu, int8_t* xq, float2* xs, int n, int hidden) { grid_enter();
    swiglu_each(gu, n, hidden, [&](size_t i, float v) {
        float f[1] = {v};
        quantize_block<32, 1>(f, xq + i, xs + i / 32, true);
    });
}

// Decode GEMV, gemv_{q8,q4}[_k2|_k2u8|_k4|_k2r4]_{1..4} for n = 1..4 tokens, over activations quantized by
// quantize_act_q8 (or written so by rmsnorm_q8 / swiglu_q8 / attention_h16q_*). blockDim = 128: 4 warps of QUANT_GEMV_ROWS (4) rows each, each lane keeping
// QUANT_GEMV_ROWS × QUANT_GEMV_LOADS 16-byte loads in flight (a warp: 8 KB); grid = ceil(rows / 16).
// A short matrix gives that too few warps to cover the latency (a 4096-row matrix: 256 blocks on
// 132 SMs), so _k2 (2 rows a warp, 2 warps splitting each row's chunks; grid = ceil(rows / 4)) and
// _k4 (1 row a warp, the 4 warps of the block on one row; grid = rows) trade rows per warp for
// warps; _k2u8 is _k2 with 8 loads a lane; _k2r4 is _k2 with 4 rows a warp (grid = ceil(rows / 8)):
// twice the bytes in flight a warp and half the blocks, so that a small matrix's first wave holds
// more of it (per row the same lanes add the same chunks in the same order as _k2: the same bits).
// Measured at Llama 3 8B's shapes (graph replays, docs/PERFORMANCE.md): on an H200 _k2 fastest at
// n = 1 on every shape (1.1–2× the 4-row layout, most on the 14336-wide down projection), the 4-row
// layout fastest at n = 4 (S3-2/S3-3); on an H100 at n = 1 _k2r4 6–13% faster than _k2 on 4096 ×
// 4096, up to 6% on down, within ±1% on gate/up and q/k/v (S5-5). Matmuls takes _k2r8 (below) for one token, _k2 for two. The macros only exist so that
// other shapes can be timed.
#ifndef QUANT_GEMV_ROWS
#define QUANT_GEMV_ROWS 4
#endif
#ifndef QUANT_GEMV_LOADS
#define QUANT_GEMV_LOADS 4
#endif
#define QUANT_GEMV_KERNEL_PATH(NAME, fmt, T, W, S, R, U, KS, WEIGHTS) \
    __global__ void __launch_bounds__(128) NAME(const W* w, const S* scales, const int8_t* xq, const float2* xs, float* y, \
                                                int rows, int cols, int gshift, int acc, \
                                                const float* inPart, int inDim, float eps, const float* gamma, \
                                                int8_t* outQ, float2* outS, float* outPart, int* counters) { grid_release(); \
        gemv_##fmt##_rows<T, R, U, KS, GEMV_PLAIN, WEIGHTS>(w, scales, xq, xs, y, rows, cols, gshift, acc, \
                                       NormFusion{inPart, inDim, eps, gamma, outQ, outS, outPart, counters}); \
    }
#define QUANT_GEMV_KERNEL(NAME, fmt, T, W, S, R, U, KS) QUANT_GEMV_KERNEL_PATH(NAME, fmt, T, W, S, R, U, KS, W_L1)
#define QUANT_GEMV(fmt, T, W, S) \
    QUANT_GEMV_KERNEL(gemv_##fmt##_##T, fmt, T, W, S, QUANT_GEMV_ROWS, QUANT_GEMV_LOADS, 1) \
    QUANT_GEMV_KERNEL(gemv_##fmt##_k2_##T, fmt, T, W, S, 2, QUANT_GEMV_LOADS, 2) \
    QUANT_GEMV_KERNEL(gemv_##fmt##_k2u8_##T, fmt, T, W, S, 2, 8, 2) \
    QUANT_GEMV_KERNEL(gemv_##fmt##_k4_##T, fmt, T, W, S, 1, QUANT_GEMV_LOADS, 4) \
    QUANT_GEMV_KERNEL(gemv_##fmt##_k2r4_##T, fmt, T, W, S, 4, QUANT_GEMV_LOADS, 2)
QUANT_GEMV(q8, 1, int8_t, __half)
QUANT_GEMV(q8, 2, int8_t, __half)
QUANT_GEMV(q8, 3, int8_t, __half)
QUANT_GEMV(q8, 4, int8_t, __half)
QUANT_GEMV(q4, 1, uint8_t, __half2)
QUANT_GEMV(q4, 2, uint8_t, __half2)
QUANT_GEMV(q4, 3, uint8_t, __half2)
QUANT_GEMV(q4, 4, uint8_t, __half2)
// _k2r8 (one token): _k2 with 8 rows a warp and 2 loads a lane, grid = ceil(rows / 16). For INT4 rows of
// up to 4096 columns (128 chunks) a round covers the row, where _k2r4's last two loads of a lane
// repeat a chunk. Its weights are read past L1 (W_PAST_L1); _k2r8l reads them through it, as before
// S13 (-Dkvasir.gpu.weights-past-l1=false, for measurements).
QUANT_GEMV_KERNEL_PATH(gemv_q8_k2r8_1, q8, 1, int8_t, __half, 8, 2, 2, W_PAST_L1)
QUANT_GEMV_KERNEL_PATH(gemv_q4_k2r8_1, q4, 1, uint8_t, __half2, 8, 2, 2, W_PAST_L1)
QUANT_GEMV_KERNEL_PATH(gemv_q8_k2r8l_1, q8, 1, int8_t, __half, 8, 2, 2, W_L1)
QUANT_GEMV_KERNEL_PATH(gemv_q4_k2r8l_1, q4, 1, uint8_t, __half2, 8, 2, 2, W_L1)

// gemv_{q8,q4}_glu32_1: the gate/up product writing silu(g)·u straight as the down product's int8
// activations (GEMV_SWIGLU_Q8): 4 warps of 8 gate rows and their 8 ups, 32 outputs a block; grid =
// rows / 2 / 32, and outQ / outS take the int8 form. rows / 2 % 32 == 0. Whole rows a warp, one
// 16-byte load a row in flight per lane and round: the "rows" layout's order of summation, so its
// bits. (Two warps on each row as _k2r4, 8 warps a block, was slower, S8-3.)
// It starts like the other GEMVs (weights loaded before the wait, the down product released at once),
// its wait behind its loads (grid_wait_behind). _glu32w waits for its predecessor before it loads
// anything, the form kept from S8 to S10: started early, the kernel of S8 read stale activations
// (batch-1 INT4 decode of a synthetic tinystories-15m in CUDA graphs with programmatic launch went
// wrong at nearly every run, S8-4 … S8-7) because ptxas issued its __ldg activation loads above the
// wait (found in its SASS in S11); they are plain loads now (load_after_wait). _glu32 reads
// its weights past L1, _glu32l and _glu32w through it (as _k2r8l).
#define QUANT_GEMV_GLU32_KERNEL(NAME, fmt, W, S, START, WEIGHTS) \
    __global__ void __launch_bounds__(128) NAME(const W* w, const S* scales, const int8_t* xq, const float2* xs, \
            float* y, int rows, int cols, int gshift, int acc, const float* inPart, int inDim, float eps, const float* gamma, \
            int8_t* outQ, float2* outS, float* outPart, int* counters) { START(); \
        gemv_##fmt##_rows<1, 16, 1, 1, GEMV_SWIGLU_Q8, WEIGHTS>(w, scales, xq, xs, y, rows, cols, gshift, acc, \
                NormFusion{inPart, inDim, eps, gamma, outQ, outS, outPart, counters}); \
    }
QUANT_GEMV_GLU32_KERNEL(gemv_q8_glu32_1, q8, int8_t, __half, grid_release, W_PAST_L1)
QUANT_GEMV_GLU32_KERNEL(gemv_q4_glu32_1, q4, uint8_t, __half2, grid_release, W_PAST_L1)
QUANT_GEMV_GLU32_KERNEL(gemv_q8_glu32l_1, q8, int8_t, __half, grid_release, W_L1)
QUANT_GEMV_GLU32_KERNEL(gemv_q4_glu32l_1, q4, uint8_t, __half2, grid_release, W_L1)
QUANT_GEMV_GLU32_KERNEL(gemv_q8_glu32w_1, q8, int8_t, __half, grid_enter, W_L1)
QUANT_GEMV_GLU32_KERNEL(gemv_q4_glu32w_1, q4, uint8_t, __half2, grid_enter, W_L1)

// The batched path: the matrix dequantized to bf16 (w = s·q [+ b] in fp32, then rounded), for the
// bf16 tensor-core GEMM. One thread per 8 INT8 weights / per 32-column INT4 block; G in columns.
// blockDim = 256, grid = ceil(rows · cols / 8 / 256) resp. ceil(rows · cols / 32 / 256).
__global__ void dequant_q8_bf16(const int8_t* __restrict__ w, const __half* __restrict__ scales, __nv_bfloat16* __restrict__ out,
                                int rows, int cols, int groupSize) { grid_enter();
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    size_t perRow = cols >> 3;
    if (i >= (size_t) rows * perRow) return;
    size_t row = i / perRow;
    int col = (int) (i % perRow) * 8;
    float s = __half2float(scales[row * (cols / groupSize) + col / groupSize]);
    uint2 raw = *reinterpret_cast<const uint2*>(w + row * cols + col);
    const int8_t* q = reinterpret_cast<const int8_t*>(&raw);
    __align__(16) __nv_bfloat16 o[8];
#pragma unroll
    for (int e = 0; e < 8; e++) o[e] = __float2bfloat16_rn(s * (float) q[e]);
    *reinterpret_cast<uint4*>(out + row * cols + col) = *reinterpret_cast<const uint4*>(o);
}

__global__ void dequant_q4_bf16(const uint8_t* __restrict__ w, const __half2* __restrict__ scales, __nv_bfloat16* __restrict__ out,
                                int rows, int cols, int groupSize) { grid_enter();
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    size_t perRow = cols >> 5;
    if (i >= (size_t) rows * perRow) return;
    size_t row = i / perRow;
    int col = (int) (i % perRow) * 32;
    float2 sb = __half22float2(scales[row * (cols / groupSize) + col / groupSize]);
    uint4 raw = *reinterpret_cast<const uint4*>(w + row * (cols >> 1) + (col >> 1));
    const uint8_t* q = reinterpret_cast<const uint8_t*>(&raw);
    __align__(16) __nv_bfloat16 o[32];
#pragma unroll
    for (int e = 0; e < 16; e++) {
        o[e] = __float2bfloat16_rn(fmaf(sb.x, (float) (q[e] & 0xF), sb.y));
        o[e + 16] = __float2bfloat16_rn(fmaf(sb.x, (float) (q[e] >> 4), sb.y));
    }
    uint4* dst = reinterpret_cast<uint4*>(out + row * cols + col);
#pragma unroll
    for (int k = 0; k < 4; k++) dst[k] = reinterpret_cast<const uint4*>(o)[k];
}

}  // extern "C"
