// Kvasir's GPU kernels: the Llama forward pass over fp32 activations, weights in fp32, bf16 or fp16
// (fp32 accumulation everywhere), a paged KV pool (fp32, fp16, bf16, int8 or fp8), and sampling on the device.
// Every entry point is extern "C" so the Java side finds it by name in the fatbin.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace {

// Programmatic dependent launch (sm_90 and newer). Kernels.launch lets a kernel's blocks start while
// the kernel before it in the stream is still running, so the next kernel's launch and, for the
// matrix products, its first weight loads overlap the tail of the one before (a kernel boundary in a
// decode graph: 0.81 → 0.54 µs on an H100, docs/PERFORMANCE.md run S4-2). The rule that
// keeps this correct: every kernel calls grid_wait() before it reads or writes memory that an earlier
// kernel of the stream writes or reads (only the weights, and the step's metadata that the host
// copies before the step's first kernel, may be read before; not the token ids, which
// take_sampled_ids may rewrite on the device), and grid_release()
// to let the next kernel start early. grid_wait() returns once every earlier kernel has completed and
// its writes are visible; both are no-ops on older cards and in launches without the attribute.
// KernelSourcesTest checks that every __global__ body starts with grid_enter() or grid_release().
__device__ __forceinline__ void grid_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void grid_release() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
// The usual start of a kernel that reads nothing before its predecessor is done.
__device__ __forceinline__ void grid_enter() {
    grid_wait();
    grid_release();
}

// Loads of what an earlier kernel of the stream wrote (the products' activations) in a kernel that
// loads weights before grid_wait(): plain coherent loads, never __ldg. ptxas takes ld.global.nc as
// a read of memory that nothing writes while the kernel runs and may issue it above
// griddepcontrol.wait: in the SASS of the gate/up GEMV started early (S11) the activation loads sat
// above the wait — a stale read, the race of S8 that made that kernel wait first. A weak ld.global
// stays below the wait (the wait orders it), and asm volatile keeps the compiler from turning it
// into ld.global.nc. Checked in the SASS of every such kernel by deploy/check_sass.py.
// (The other 16-byte forms are this load's bits: one asm for all of them.)
__device__ __forceinline__ uint4 load_after_wait(const uint4* p) {
    uint4 v;
    asm volatile("ld.global.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}
__device__ __forceinline__ int4 load_after_wait(const int4* p) {
    uint4 v = load_after_wait(reinterpret_cast<const uint4*>(p));
    return make_int4((int) v.x, (int) v.y, (int) v.z, (int) v.w);
}
__device__ __forceinline__ float4 load_after_wait(const float4* p) {
    uint4 v = load_after_wait(reinterpret_cast<const uint4*>(p));
    return make_float4(__uint_as_float(v.x), __uint_as_float(v.y), __uint_as_float(v.z), __uint_as_float(v.w));
}
__device__ __forceinline__ float load_after_wait(const float* p) {
    float v;
    asm volatile("ld.global.f32 %0, [%1];" : "=f"(v) : "l"(p));
    return v;
}
__device__ __forceinline__ float2 load_after_wait(const float2* p) {
    float2 v;
    asm volatile("ld.global.v2.f32 {%0,%1}, [%2];" : "=f"(v.x), "=f"(v.y) : "l"(p));
    return v;
}

// 16 bytes global → shared without registers (cp.async, sm_80 on); bytes = 0 writes zeros (and reads
// nothing). Complete for the issuing thread after cp_async_wait_all(), for the others after a barrier too.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int bytes) {
    uint32_t d = (uint32_t) __cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" :: "r"(d), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}


// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread gets it.
__device__ float block_sum(float v) {
    __shared__ float partial[32];
    __shared__ float total;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float s = lane < (int) (blockDim.x >> 5) ? partial[lane] : 0.f;
        s = warp_sum(s);
        if (lane == 0) total = s;
    }
    __syncthreads();
    return total;
}

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

// Eight consecutive weights as floats from a 16-byte (or two 16-byte for fp32) aligned load.
__device__ __forceinline__ void load8(const float* p, float* w) {
    float4 a = *reinterpret_cast<const float4*>(p);
    float4 b = *reinterpret_cast<const float4*>(p + 4);
    w[0] = a.x; w[1] = a.y; w[2] = a.z; w[3] = a.w; w[4] = b.x; w[5] = b.y; w[6] = b.z; w[7] = b.w;
}
__device__ __forceinline__ void load8(const __nv_bfloat16* p, float* w) {
    uint4 u = *reinterpret_cast<const uint4*>(p);
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
    for (int i = 0; i < 4; i++) { float2 f = __bfloat1622float2(h[i]); w[2 * i] = f.x; w[2 * i + 1] = f.y; }
}
__device__ __forceinline__ void load8(const __half* p, float* w) {
    uint4 u = *reinterpret_cast<const uint4*>(p);
    const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
    for (int i = 0; i < 4; i++) { float2 f = __half22float2(h[i]); w[2 * i] = f.x; w[2 * i + 1] = f.y; }
}

// y[t][r] (+)= sum_c W[r][c] * x[t][c] for t < n. One warp owns ROWS weight rows and applies them
// to up to TILE tokens at once: decode (n small) reads each weight byte once from memory, each
// activation load from L1 serves ROWS rows, and a batch re-reads a row only every TILE tokens (from
// L2). 16-byte loads of W. accumulate = 1 fuses the residual add (y += W x).
template <typename W, int ROWS, int TILE>
__device__ void matmul_rows(const W* __restrict__ w, const float* __restrict__ x, float* __restrict__ y,
                            int rows, int cols, int n, int accumulate) {
    int lane = threadIdx.x & 31;
    int row0 = (blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5)) * ROWS;
    if (row0 >= rows) return;
    const W* wr[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) wr[r] = w + (size_t) min(row0 + r, rows - 1) * cols;  // a tail row repeats the last (not stored)
    bool vec = (cols % 8) == 0;
    int chunks = vec ? cols / 8 : 0;
    for (int t0 = 0; t0 < n; t0 += TILE) {
        int tn = min(TILE, n - t0);
        float acc[ROWS][TILE];
#pragma unroll
        for (int r = 0; r < ROWS; r++)
#pragma unroll
            for (int t = 0; t < TILE; t++) acc[r][t] = 0.f;
        for (int ch = lane; ch < chunks; ch += 32) {
            float wv[ROWS][8];
#pragma unroll
            for (int r = 0; r < ROWS; r++) load8(wr[r] + ch * 8, wv[r]);
#pragma unroll
            for (int t = 0; t < TILE; t++) {
                if (t < tn) {
                    const float* xp = x + (size_t) (t0 + t) * cols + ch * 8;
                    float4 a = load_after_wait(reinterpret_cast<const float4*>(xp));
                    float4 b = load_after_wait(reinterpret_cast<const float4*>(xp + 4));
#pragma unroll
                    for (int r = 0; r < ROWS; r++) {
                        acc[r][t] += wv[r][0] * a.x + wv[r][1] * a.y + wv[r][2] * a.z + wv[r][3] * a.w
                                   + wv[r][4] * b.x + wv[r][5] * b.y + wv[r][6] * b.z + wv[r][7] * b.w;
                    }
                }
            }
        }
        for (int c = chunks * 8 + lane; c < cols; c += 32) {
#pragma unroll
            for (int r = 0; r < ROWS; r++) {
                float wv = to_float(wr[r][c]);
#pragma unroll
                for (int t = 0; t < TILE; t++) if (t < tn) acc[r][t] += wv * x[(size_t) (t0 + t) * cols + c];
            }
        }
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
#pragma unroll
            for (int t = 0; t < TILE; t++) {
                float s = warp_sum(acc[r][t]);
                if (lane == 0 && t < tn && row0 + r < rows) {
                    float* out = y + (size_t) (t0 + t) * rows + row0 + r;
                    *out = accumulate ? *out + s : s;
                }
            }
        }
    }
}

// 16 raw bytes of weights as floats: 8 for 16-bit types, 4 for fp32.
__device__ __forceinline__ void unpack16(uint4 u, const __nv_bfloat16*, float* w) {
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
    for (int i = 0; i < 4; i++) { float2 f = __bfloat1622float2(h[i]); w[2 * i] = f.x; w[2 * i + 1] = f.y; }
}
__device__ __forceinline__ void unpack16(uint4 u, const __half*, float* w) {
    const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
    for (int i = 0; i < 4; i++) { float2 f = __half22float2(h[i]); w[2 * i] = f.x; w[2 * i + 1] = f.y; }
}
__device__ __forceinline__ void unpack16(uint4 u, const float*, float* w) {
    w[0] = __uint_as_float(u.x); w[1] = __uint_as_float(u.y); w[2] = __uint_as_float(u.z); w[3] = __uint_as_float(u.w);
}


// One thread's share of R decode GEMV rows: the 16-byte chunks first, first + stride, ... of rows
// wr[0..R), U raw loads per row issued before any is used, each converted and multiplied into
// acc[r][t] for the n ≤ T activation rows; then the columns past the last whole chunk. Shared by
// the warp-per-row and block-per-row kernels (stride 32 or the block size). The first round of
// weight loads is issued before grid_wait(): under a programmatic launch the matrix starts streaming
// while the kernel before (the norm, the attention) still runs.
template <typename W, int T, int U, int R>
__device__ __forceinline__ void gemv_rows_share(const W* const (&wr)[R], const float* __restrict__ x, int cols, int n,
                                                int first, int stride, float (&acc)[R][T]) {
    constexpr int VEC = 16 / sizeof(W);
    int chunks = (cols % VEC) == 0 ? cols / VEC : 0;
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int t = 0; t < T; t++) acc[r][t] = 0.f;
    bool waiting = true;
    for (int base = first; base < chunks; base += stride * U) {
        uint4 raw[R][U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            int ch = base + stride * u;
#pragma unroll
            for (int r = 0; r < R; r++) raw[r][u] = ch < chunks ? __ldg(reinterpret_cast<const uint4*>(wr[r]) + ch) : make_uint4(0, 0, 0, 0);
        }
        if (waiting) grid_wait();  // the first round of weights is on its way; activations only now
        waiting = false;
#pragma unroll
        for (int u = 0; u < U; u++) {
            int ch = base + stride * u;
            if (ch < chunks) {
#pragma unroll
                for (int r = 0; r < R; r++) {
                    float wv[VEC];
                    unpack16(raw[r][u], wr[r], wv);
#pragma unroll
                    for (int t = 0; t < T; t++) {
                        if (t < n) {
                            const float4* xp = reinterpret_cast<const float4*>(x + (size_t) t * cols + ch * VEC);
#pragma unroll
                            for (int q = 0; q < VEC / 4; q++) {
                                float4 a = load_after_wait(xp + q);
                                acc[r][t] += wv[4 * q] * a.x + wv[4 * q + 1] * a.y + wv[4 * q + 2] * a.z + wv[4 * q + 3] * a.w;
                            }
                        }
                    }
                }
            }
        }
    }
    grid_wait();  // lanes without a whole chunk
    for (int c = chunks * VEC + first; c < cols; c += stride) {
#pragma unroll
        for (int r = 0; r < R; r++) {
            float wv = to_float(wr[r][c]);
#pragma unroll
            for (int t = 0; t < T; t++) if (t < n) acc[r][t] += wv * load_after_wait(x + (size_t) t * cols + c);
        }
    }
}

// Decode GEMV (n <= T tokens), one warp per weight row: each lane first issues U raw 16-byte loads
// (U = 16: a whole 4096-wide bf16 row per warp at once), then converts and multiplies, so a row
// streams without one load's latency after another. The logits matrix takes U = 16 (the wide
// kernels); the warp kernels (U = 4, 64 bytes a lane) are there for comparisons
// (-Dkvasir.gpu.gemv=warp). x (a few KB per token) stays in L1.
template <typename W, int T, int U>
__device__ void gemv_rows_warp(const W* __restrict__ w, const float* __restrict__ x, float* __restrict__ y,
                          int rows, int cols, int n, int accumulate) {
    int lane = threadIdx.x & 31;
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const W* wr[1] = {w + (size_t) row * cols};
    float acc[1][T];
    gemv_rows_share<W, T, U, 1>(wr, x, cols, n, lane, 32, acc);
#pragma unroll
    for (int t = 0; t < T; t++) {
        float s = warp_sum(acc[0][t]);
        if (lane == 0 && t < n) {
            float* out = y + (size_t) t * rows + row;
            *out = accumulate ? *out + s : s;
        }
    }
}

// Decode GEMV with a whole block per R weight rows: the 4 warps split the rows' columns, each lane
// issuing all of its U 16-byte loads of every row before using any, so a 4096-wide bf16 row (8 KB)
// is in flight in one round trip instead of the four a single warp needs; the warps' sums meet in
// shared memory. Meant for the short matrices (q/k/v, o, down) whose one wave a warp per row leaves
// latency-bound. grid = ceil(rows / R), block = 128 (or 256).
template <typename W, int T, int U, int R>
__device__ void gemv_rows_block(const W* __restrict__ w, const float* __restrict__ x, float* __restrict__ y,
                                int rows, int cols, int n, int accumulate) {
    int row0 = blockIdx.x * R;
    const W* wr[R];
#pragma unroll
    for (int r = 0; r < R; r++) wr[r] = w + (size_t) min(row0 + r, rows - 1) * cols;  // past the end: the last row again, never stored
    float acc[R][T];
    gemv_rows_share<W, T, U, R>(wr, x, cols, n, threadIdx.x, blockDim.x, acc);
    __shared__ float partial[R][T][32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int r = 0; r < R; r++) {
#pragma unroll
        for (int t = 0; t < T; t++) {
            float s = warp_sum(acc[r][t]);
            if (lane == 0) partial[r][t][warp] = s;
        }
    }
    __syncthreads();
    if (threadIdx.x < R * T) {
        int r = threadIdx.x / T, t = threadIdx.x % T;
        if (t >= n || row0 + r >= rows) return;
        float s = 0.f;
        for (int i = 0; i < (int) (blockDim.x >> 5); i++) s += partial[r][t][i];
        float* out = y + (size_t) t * rows + row0 + r;
        *out = accumulate ? *out + s : s;
    }
}

// Eight 16-bit weights (one uint4) as tf32 operand bits. bf16 and fp16 values are exact in tf32.
__device__ __forceinline__ void tf32x8(uint4 u, const __nv_bfloat16*, uint32_t* o) {
    uint32_t v[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; i++) { o[2 * i] = v[i] << 16; o[2 * i + 1] = v[i] & 0xffff0000u; }
}
__device__ __forceinline__ void tf32x8(uint4 u, const __half*, uint32_t* o) {
    const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
    for (int i = 0; i < 4; i++) { float2 f = __half22float2(h[i]); o[2 * i] = __float_as_uint(f.x); o[2 * i + 1] = __float_as_uint(f.y); }
}
__device__ __forceinline__ uint32_t to_tf32(float f) {
    uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(f));
    return r;
}

// The weight side of matmul_tc: eight consecutive weights of a row from column c (a multiple of 8)
// as tf32 operand bits. Dense 16-bit weights enter exactly; quantized ones are dequantized in
// registers (w = s·q, or s·q + b for INT4, as the GEMV and dequant kernels compute them) and rounded
// to tf32 — no bf16 copy of the matrix is written or read.
template <typename W>
struct DenseRows {
    const W* w;
    int cols;
    __device__ __forceinline__ void load8(int row, int c, uint32_t* o) const {
        tf32x8(__ldg(reinterpret_cast<const uint4*>(w + (size_t) row * cols + c)), w, o);
    }
};
// INT8 (quant.cuh's layout): eight bytes of the row, one fp16 scale per groupSize columns.
struct Int8Rows {
    const int8_t* w;
    const __half* scales;
    int cols, groupSize;
    __device__ __forceinline__ void load8(int row, int c, uint32_t* o) const {
        uint2 raw = __ldg(reinterpret_cast<const uint2*>(w + (size_t) row * cols + c));
        float s = __half2float(scales[(size_t) row * (cols / groupSize) + c / groupSize]);
        const int8_t* q = reinterpret_cast<const int8_t*>(&raw);
#pragma unroll
        for (int e = 0; e < 8; e++) o[e] = to_tf32(s * (float) q[e]);
    }
};
// INT4 (quant.cuh's layout): per 32 columns 16 bytes, byte i holding column i (low nibble) and i + 16
// (high nibble), so columns 8p..8p+7 of a block are the low (p < 2) or high nibbles of bytes
// 8(p & 1)..8(p & 1)+7; an fp16 (scale, bias) pair per groupSize columns.
struct Int4Rows {
    const uint8_t* w;
    const __half2* scales;
    int cols, groupSize;
    __device__ __forceinline__ void load8(int row, int c, uint32_t* o) const {
        int part = (c >> 3) & 3;
        uint2 raw = __ldg(reinterpret_cast<const uint2*>(w + (size_t) row * (cols >> 1) + (c >> 5) * 16 + (part & 1) * 8));
        float2 sb = __half22float2(scales[(size_t) row * (cols / groupSize) + c / groupSize]);
        const uint8_t* q = reinterpret_cast<const uint8_t*>(&raw);
        int shift = part >= 2 ? 4 : 0;
#pragma unroll
        for (int e = 0; e < 8; e++) o[e] = to_tf32(fmaf(sb.x, (float) ((q[e] >> shift) & 15), sb.y));
    }
};

// Batched GEMM on the tensor cores (mma.sync m16n8k8, tf32 operands, fp32 accumulation), for
// prefill and batched decode with 16-bit (or, through the Rows loader, INT8/INT4) weights: y[t][r] (+)= sum_c W[r][c] x[t][c]. A warp owns
// MT×16 weight rows and NT×8 tokens. Per 32 columns each lane loads 16 contiguous bytes of its
// rows and 32 of its token's activations, fully coalesced; the four k-steps then take the columns
// in the order the lanes hold them (a permutation of k applied to both operands, so the sum is the
// same). Activations are rounded to tf32 (10-bit mantissa); weights enter exactly.
// Small matrices split K over grid.z so the card fills: split z covers columns [z*kPer, (z+1)*kPer)
// and writes its partial sums to ws[z] (n × rows), which splitk_reduce then adds up in a fixed order
// (deterministic, unlike atomics). With one split the kernel writes y directly.
// Requires cols % 32 == 0, kPer % 32 == 0. blockDim = 128 (4 warps); grid = (ceil(rows / (4*MT*16)), ceil(n / (NT*8)), splits).
template <typename Rows, int MT, int NT>
__device__ void matmul_tc(Rows w, const float* __restrict__ x, float* __restrict__ y,
                          int rows, int cols, int n, int accumulate, float* __restrict__ ws, int kPer) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int kBegin = blockIdx.z * kPer, kEnd = min(cols, kBegin + kPer);
    int g = lane >> 2, t = lane & 3;
    int rowBase = (blockIdx.x * 4 + warp) * MT * 16;
    int tokBase = blockIdx.y * NT * 8;
    if (rowBase >= rows) return;
    float acc[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;
    int wr[MT][2];
#pragma unroll
    for (int i = 0; i < MT; i++) {
        wr[i][0] = min(rowBase + i * 16 + g, rows - 1);
        wr[i][1] = min(rowBase + i * 16 + g + 8, rows - 1);
    }
    const float* xp[NT];
    bool live[NT];
#pragma unroll
    for (int j = 0; j < NT; j++) {
        int tok = tokBase + j * 8 + g;
        live[j] = tok < n;
        xp[j] = x + (size_t) min(tok, n - 1) * cols + 8 * t;
    }
    for (int c0 = kBegin; c0 < kEnd; c0 += 32) {
        uint32_t a[MT][2][8];
#pragma unroll
        for (int i = 0; i < MT; i++)
#pragma unroll
            for (int h = 0; h < 2; h++) w.load8(wr[i][h], c0 + 8 * t, a[i][h]);
        uint32_t b[NT][8];
#pragma unroll
        for (int j = 0; j < NT; j++) {
            float4 lo = load_after_wait(reinterpret_cast<const float4*>(xp[j] + c0));
            float4 hi = load_after_wait(reinterpret_cast<const float4*>(xp[j] + c0 + 4));
            float v[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
            for (int e = 0; e < 8; e++) b[j][e] = live[j] ? to_tf32(v[e]) : 0u;
        }
#pragma unroll
        for (int k = 0; k < 4; k++) {
#pragma unroll
            for (int i = 0; i < MT; i++) {
#pragma unroll
                for (int j = 0; j < NT; j++) {
                    asm volatile(
                        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                        : "+f"(acc[i][j][0]), "+f"(acc[i][j][1]), "+f"(acc[i][j][2]), "+f"(acc[i][j][3])
                        : "r"(a[i][0][2 * k]), "r"(a[i][1][2 * k]), "r"(a[i][0][2 * k + 1]), "r"(a[i][1][2 * k + 1]),
                          "r"(b[j][2 * k]), "r"(b[j][2 * k + 1]));
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < MT; i++) {
#pragma unroll
        for (int j = 0; j < NT; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int row = rowBase + i * 16 + g + (e >= 2 ? 8 : 0);
                int tok = tokBase + j * 8 + 2 * t + (e & 1);
                if (row < rows && tok < n) {
                    if (gridDim.z > 1) {
                        ws[((size_t) blockIdx.z * n + tok) * rows + row] = acc[i][j][e];
                    } else {
                        float* out = y + (size_t) tok * rows + row;
                        *out = accumulate ? *out + acc[i][j][e] : acc[i][j][e];
                    }
                }
            }
        }
    }
}

// Batched decode products (2–16 tokens; Matmuls.skinnyKernel) on 16-bit weights, written for
// bandwidth: at these batch sizes the product is bound by reading the weights once (a bf16 weight
// feeds 16 tokens with 32 flops, far under the tensor cores' rate), and cuBLAS read Llama 3 8B's
// shapes at 2.0–2.7 TB/s on an H100 against 3.0 for a copy (docs/PERFORMANCE.md, S6-2). mma.sync
// m16n8k16 with 16-bit operands and fp32 accumulation, as cuBLAS computes it: activations rounded to
// the weights' type (round_* or a producer that writes that form), weights exact.
// A block of KS warps owns MT×16 rows and all of the ≤ NT×8 tokens; its warps split the columns
// (chunk c of 32 columns goes to warp c % KS) and meet in shared memory, so even a 4096-row matrix
// spreads over the card without a split-K pass. Per chunk each lane loads 16 contiguous bytes of each
// of its rows (g and g + 8 of an m-tile) and of its token's activations; the two k-steps take the
// columns in the order the lanes hold them (the same permutation of k for both operands, as in
// matmul_tc). Each lane issues U chunks of weight loads before it waits on any, the first round before
// grid_wait(). The weights are read past L1 (L1::no_allocate) so that L1 keeps the activations, which
// every block re-reads. Requires cols % 32 == 0. blockDim = 32·KS; grid = ceil(rows / (MT·16)).
__device__ __forceinline__ uint4 load_stream(const uint4* p) {
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}
// mma.sync m16n8k16 with 16-bit operands (T: __half or __nv_bfloat16) and fp32 accumulators, and
// the packing of two floats into one 16-bit A-fragment register (matmul_skinny, flash_prefill.cuh).
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

template <typename W, int MT, int NT, int KS, int U>
__device__ void matmul_skinny(const W* __restrict__ w, const W* __restrict__ x, float* __restrict__ y,
                              int rows, int cols, int n, int accumulate) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int g = lane >> 2, t = lane & 3;
    int rowBase = blockIdx.x * MT * 16;
    int chunks = cols >> 5;
    // 16-byte units: chunk c of a row starts at unit 4c; this lane's part of it is unit 4c + t
    const uint4* wr[MT][2];
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int h = 0; h < 2; h++) wr[i][h] = reinterpret_cast<const uint4*>(w + (size_t) min(rowBase + i * 16 + 8 * h + g, rows - 1) * cols) + t;
    const uint4* xr[NT];
#pragma unroll
    for (int j = 0; j < NT; j++) xr[j] = reinterpret_cast<const uint4*>(x + (size_t) min(j * 8 + g, n - 1) * cols) + t;
    float acc[MT][NT][4] = {};
    bool waiting = true;
    for (int base = warp; base < chunks; base += KS * U) {
        uint4 a[U][MT][2];
#pragma unroll
        for (int u = 0; u < U; u++) {
            int c = min(base + KS * u, chunks - 1);  // past the end: a repeated chunk, never used
#pragma unroll
            for (int i = 0; i < MT; i++)
#pragma unroll
                for (int h = 0; h < 2; h++) a[u][i][h] = load_stream(wr[i][h] + 4 * c);
        }
        if (waiting) grid_wait();  // the first round of weights is on its way; activations only now
        waiting = false;
        uint4 b[U][NT];
#pragma unroll
        for (int u = 0; u < U; u++) {
            int c = min(base + KS * u, chunks - 1);
#pragma unroll
            for (int j = 0; j < NT; j++) b[u][j] = load_after_wait(xr[j] + 4 * c);
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            if (base + KS * u >= chunks) break;
#pragma unroll
            for (int i = 0; i < MT; i++) {
#pragma unroll
                for (int j = 0; j < NT; j++) {
                    // k-step 0: columns 8t..8t+3 of the chunk as k = 2t, 2t+1, 2t+8, 2t+9; k-step 1: 8t+4..8t+7
                    const uint32_t k0[4] = {a[u][i][0].x, a[u][i][1].x, a[u][i][0].y, a[u][i][1].y};
                    const uint32_t k1[4] = {a[u][i][0].z, a[u][i][1].z, a[u][i][0].w, a[u][i][1].w};
                    Mma16<W>::mma(acc[i][j], k0, b[u][j].x, b[u][j].y);
                    Mma16<W>::mma(acc[i][j], k1, b[u][j].z, b[u][j].w);
                }
            }
        }
    }
    grid_wait();  // warps without a chunk
    // the KS warps' partial sums meet in shared memory, an m-tile at a time (less shared memory
    // than all MT at once), then each output is summed in warp order
    constexpr int T = NT * 8;
    __shared__ float partial[KS][16][T + 1];
#pragma unroll
    for (int i = 0; i < MT; i++) {
        if (i > 0) __syncthreads();
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) partial[warp][g + (e >> 1) * 8][j * 8 + 2 * t + (e & 1)] = acc[i][j][e];
        __syncthreads();
        for (int o = threadIdx.x; o < 16 * T; o += KS * 32) {
            int r = o % 16, tok = o / 16, row = rowBase + i * 16 + r;
            if (tok >= n || row >= rows) continue;
            float s = 0.f;
#pragma unroll
            for (int k = 0; k < KS; k++) s += partial[k][r][tok];
            float* out = y + (size_t) tok * rows + row;
            *out = accumulate ? *out + s : s;
        }
    }
}

// Gathers rows of an embedding table (or any row-major matrix) into fp32.
template <typename W>
__device__ void gather_rows(const W* __restrict__ table, const int* __restrict__ ids, float* __restrict__ out, int cols) {
    const W* src = table + (size_t) ids[blockIdx.x] * cols;
    float* dst = out + (size_t) blockIdx.x * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = to_float(src[c]);
}

// Activations rounded to the weights' 16-bit type for cuBLAS (round to nearest even), four per
// thread from a float4 load (x is an allocation's start, so 16-byte aligned). grid = count / 1024 + 1.
template <typename H>
__device__ void round_activations(const float* __restrict__ x, H* __restrict__ y, size_t count) {
    size_t i = 4 * ((size_t) blockIdx.x * blockDim.x + threadIdx.x);
    if (i + 3 < count) {
        float4 v = *reinterpret_cast<const float4*>(x + i);
        y[i] = H(v.x); y[i + 1] = H(v.y); y[i + 2] = H(v.z); y[i + 3] = H(v.w);
    } else {
        for (; i < count; i++) y[i] = H(x[i]);
    }
}

// Four floats rounded to a 16-bit type, stored at out[0..4).
template <typename H>
__device__ __forceinline__ void store4(H* out, float4 v) {
    out[0] = H(v.x); out[1] = H(v.y); out[2] = H(v.z); out[3] = H(v.w);
}

// Block blockIdx.x's RMSNorm row, x[rowIndex[r]] * rsqrt(mean(x^2) + eps) * weight in fp32, handed
// to its writer: emit4(i, v, live) per float4 i when dim % 4 == 0, with every thread of the block
// calling it equally often (dead lanes with live = false) so that writers may shuffle across the
// warp; emit1(i, v) per element otherwise. The products are rounded exactly as the fp32 kernel
// always did, so every form holds the same values.
template <typename Emit1, typename Emit4>
__device__ void rmsnorm_row(const float* x, const int* rowIndex, const float* weight, int dim, float eps, Emit1 emit1, Emit4 emit4) {
    int src = rowIndex ? rowIndex[blockIdx.x] : blockIdx.x;
    const float* in = x + (size_t) src * dim;
    float ss = 0.f;
    if ((dim & 3) == 0) {
        const float4* in4 = reinterpret_cast<const float4*>(in);
        for (int i = threadIdx.x; i < dim / 4; i += blockDim.x) {
            float4 v = in4[i];
            ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        }
        ss = block_sum(ss);
        float scale = rsqrtf(ss / dim + eps);
        const float4* w4 = reinterpret_cast<const float4*>(weight);
        for (int base = 0; base < dim / 4; base += blockDim.x) {
            int i = base + threadIdx.x;
            bool live = i < dim / 4;
            float4 o = make_float4(0.f, 0.f, 0.f, 0.f);
            if (live) {
                float4 v = in4[i], w = w4[i];
                o = make_float4(v.x * scale * w.x, v.y * scale * w.y, v.z * scale * w.z, v.w * scale * w.w);
            }
            emit4(i, o, live);
        }
        return;
    }
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += in[i] * in[i];
    ss = block_sum(ss);
    float scale = rsqrtf(ss / dim + eps);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) emit1(i, in[i] * scale * weight[i]);
}

// silu(g) · u: the one expression of every SwiGLU path, so that the launch of its own (swiglu_each)
// and the gate/up GEMV that carries it (quant.cuh) give the same bits.
__device__ __forceinline__ float silu_mul(float g, float u) { return g / (1.f + expf(-g)) * u; }

// SwiGLU, silu(gate) · up, of each of the n · hidden outputs (a thread each), handed to emit(i, v).
// Whole warps return together when n · hidden % 32 == 0, so writers may shuffle across the warp.
template <typename Emit>
__device__ __forceinline__ void swiglu_each(const float* gu, int n, int hidden, Emit emit) {
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t) n * hidden) return;
    size_t t = i / hidden, j = i % hidden;
    emit(i, silu_mul(gu[t * 2 * hidden + j], gu[t * 2 * hidden + hidden + j]));
}

// The rotation (cos, sin) of pair i (i < ropeDim / 2) at position pos. It comes from a table of
// float2 [position][i] made on the host in double, exactly as the CPU engine computes them
// (double-precision sincos on the device cost ~18 µs a layer at decode); positions past the table
// (or no table) compute the angle pos * invFreq[i] in double here. invFreq[i] already holds
// theta^(-2i/ropeDim) divided by Llama 3's factor.
__device__ __forceinline__ float2 rope_angle(int pos, int i, const float* invFreq, const float2* table, int tablePositions, int half) {
    if (table != nullptr && pos < tablePositions) return table[(size_t) pos * half + i];
    double angle = (double) pos * (double) invFreq[i];
    return make_float2((float) cos(angle), (float) sin(angle));
}

// The two dims that pair i rotates: (2i, 2i + 1) interleaved (GGUF), else (i, i + half) (NeoX/HF).
__device__ __forceinline__ int2 rope_pair(int i, int half, int interleaved) {
    int a = interleaved ? 2 * i : i;
    return make_int2(a, interleaved ? a + 1 : a + half);
}

// x0, x1 rotated by the angle (cos, sin) = cs: every RoPE in the kernels goes through here, so
// that the folded forms compute the same bits as rope_kv.
__device__ __forceinline__ float2 rotate_pair(float x0, float x1, float2 cs) {
    return make_float2(x0 * cs.x - x1 * cs.y, x0 * cs.y + x1 * cs.x);
}

// Rotates the first ropeDim dims of one head (hp) by position pos, the block's threads taking the
// pairs in turn.
__device__ void rotate_head(float* hp, int pos, const float* invFreq, const float2* table, int tablePositions,
                            int ropeDim, int interleaved) {
    int half = ropeDim / 2;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        float2 cs = rope_angle(pos, i, invFreq, table, tablePositions, half);
        int2 ab = rope_pair(i, half, interleaved);
        float2 y = rotate_pair(hp[ab.x], hp[ab.y], cs);
        hp[ab.x] = y.x;
        hp[ab.y] = y.y;
    }
}

}  // namespace

extern "C" {

// ---- weights ---------------------------------------------------------------------------------
// blockDim = 32 * warps; grid = ceil(rows / (warps * MATMUL_ROWS)).
#define MATMUL_ROWS 4
__global__ void matmul_f32(const float* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_enter(); matmul_rows<float, MATMUL_ROWS, 8>(w, x, y, rows, cols, n, acc); }
__global__ void matmul_bf16(const __nv_bfloat16* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_enter(); matmul_rows<__nv_bfloat16, MATMUL_ROWS, 8>(w, x, y, rows, cols, n, acc); }
__global__ void matmul_f16(const __half* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_enter(); matmul_rows<__half, MATMUL_ROWS, 8>(w, x, y, rows, cols, n, acc); }

// Decode: n <= 4 tokens. blockDim = 128; grid = ceil(rows / 4).
__global__ void gemv_f32(const float* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_release(); gemv_rows_warp<float, 4, 8>(w, x, y, rows, cols, n, acc); }
__global__ void gemv_bf16(const __nv_bfloat16* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_release(); gemv_rows_warp<__nv_bfloat16, 4, 4>(w, x, y, rows, cols, n, acc); }
__global__ void gemv_f16(const __half* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_release(); gemv_rows_warp<__half, 4, 4>(w, x, y, rows, cols, n, acc); }
__global__ void gemv_wide_f32(const float* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_release(); gemv_rows_warp<float, 4, 8>(w, x, y, rows, cols, n, acc); }
__global__ void gemv_wide_bf16(const __nv_bfloat16* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_release(); gemv_rows_warp<__nv_bfloat16, 4, 16>(w, x, y, rows, cols, n, acc); }
__global__ void gemv_wide_f16(const __half* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_release(); gemv_rows_warp<__half, 4, 16>(w, x, y, rows, cols, n, acc); }

// Decode, a block per row: blockDim = 128; grid = rows.
__global__ void gemv_block_f32(const float* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_release(); gemv_rows_block<float, 4, 8, 1>(w, x, y, rows, cols, n, acc); }
__global__ void gemv_block_bf16(const __nv_bfloat16* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_release(); gemv_rows_block<__nv_bfloat16, 4, 4, 1>(w, x, y, rows, cols, n, acc); }
__global__ void gemv_block_f16(const __half* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_release(); gemv_rows_block<__half, 4, 4, 1>(w, x, y, rows, cols, n, acc); }
// two rows a block: twice the bytes in flight per thread and half the blocks to schedule
__global__ void gemv_block2_bf16(const __nv_bfloat16* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_release(); gemv_rows_block<__nv_bfloat16, 4, 4, 2>(w, x, y, rows, cols, n, acc); }
__global__ void gemv_block2_f16(const __half* w, const float* x, float* y, int rows, int cols, int n, int acc) { grid_release(); gemv_rows_block<__half, 4, 4, 2>(w, x, y, rows, cols, n, acc); }

// Tensor cores, 16-bit weights, cols % 32 == 0. blockDim = 128; grid = (ceil(rows / 128), ceil(n / 32), splits).
// (MT = 4, 256 rows a block, measured 10% slower at batch 32 on Llama 3 8B's shapes than MT = 2.)
__global__ void matmul_tc_bf16(const __nv_bfloat16* w, const float* x, float* y, int rows, int cols, int n, int acc, float* ws, int kPer) { grid_enter();
    matmul_tc<DenseRows<__nv_bfloat16>, 2, 4>({w, cols}, x, y, rows, cols, n, acc, ws, kPer);
}
__global__ void matmul_tc_f16(const __half* w, const float* x, float* y, int rows, int cols, int n, int acc, float* ws, int kPer) { grid_enter();
    matmul_tc<DenseRows<__half>, 2, 4>({w, cols}, x, y, rows, cols, n, acc, ws, kPer);
}
// INT8 / INT4 weights (quant.cuh's layouts) dequantized in registers: batches up to a few dozen
// tokens, where writing and reading a bf16 copy of the matrix for cuBLAS costs more than the product.
__global__ void matmul_tc_q8(const int8_t* w, const __half* scales, const float* x, float* y, int rows, int cols, int n, int acc,
                             float* ws, int kPer, int groupSize) { grid_enter();
    matmul_tc<Int8Rows, 2, 4>({w, scales, cols, groupSize}, x, y, rows, cols, n, acc, ws, kPer);
}
__global__ void matmul_tc_q4(const uint8_t* w, const __half2* scales, const float* x, float* y, int rows, int cols, int n, int acc,
                             float* ws, int kPer, int groupSize) { grid_enter();
    matmul_tc<Int4Rows, 2, 4>({w, scales, cols, groupSize}, x, y, rows, cols, n, acc, ws, kPer);
}

// Batched decode products of 2–16 tokens over 16-bit activations (matmul_skinny): _skinny_{type}_{NT}
// for up to NT×8 tokens, 32 rows a block (MT = 2), 8 warps splitting the columns, 2 chunks in flight
// a lane. (NT = 3, 4 serve 17–32 tokens for comparisons: there cuBLAS is faster, S6-3.)
// blockDim = 256; grid = ceil(rows / 32).
#define SKINNY(NAME, W, NT) \
    __global__ void __launch_bounds__(256, 2) NAME(const W* w, const W* x, float* y, int rows, int cols, int n, int acc) { grid_release(); \
        matmul_skinny<W, 2, NT, 8, 2>(w, x, y, rows, cols, n, acc); \
    }
#define SKINNY_NT(NT) SKINNY(matmul_skinny_bf16_##NT, __nv_bfloat16, NT) SKINNY(matmul_skinny_f16_##NT, __half, NT)
SKINNY_NT(1)
SKINNY_NT(2)
SKINNY_NT(3)
SKINNY_NT(4)

// y (+)= sum over z of ws[z], in order z = 0, 1, ... (count = n × rows).
__global__ void splitk_reduce(const float* ws, float* y, size_t count, int splits, int accumulate) { grid_enter();
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    float s = 0.f;
    for (int z = 0; z < splits; z++) s += ws[(size_t) z * count + i];
    y[i] = accumulate ? y[i] + s : s;
}

__global__ void round_bf16(const float* x, __nv_bfloat16* y, size_t count) { grid_enter(); round_activations(x, y, count); }
__global__ void round_f16(const float* x, __half* y, size_t count) { grid_enter(); round_activations(x, y, count); }

// The ids of decode tokens that are what their sequence sampled in the step before, still on the
// device (SequenceWork.continuing): the host writes -1 - row for them, row being the sequence's row
// of that step's argmax output. grid = ceil(n / 256), block = 256.
__global__ void take_sampled_ids(int* ids, const int* sampled, int n) { grid_enter();
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t < n && ids[t] < 0) ids[t] = sampled[-1 - ids[t]];
}

// grid = n tokens.
__global__ void embed_f32(const float* table, const int* ids, float* out, int cols) { grid_enter(); gather_rows(table, ids, out, cols); }
__global__ void embed_bf16(const __nv_bfloat16* table, const int* ids, float* out, int cols) { grid_enter(); gather_rows(table, ids, out, cols); }
__global__ void embed_f16(const __half* table, const int* ids, float* out, int cols) { grid_enter(); gather_rows(table, ids, out, cols); }

// ---- elementwise -----------------------------------------------------------------------------
// out[r] = x[rowIndex[r]] * rsqrt(mean(x^2) + eps) * weight, in fp32. rowIndex null = identity.
// grid = rows, block = 32..1024 (a float4 per thread per pass: a 4096-wide row is one round of
// loads for 1024 threads). The _bf16 / _f16 forms write the row rounded to 16 bits (what cuBLAS
// reads: no separate rounding launch); rmsnorm_q8 (quant.cuh) writes it quantized to int8.
__global__ void rmsnorm(const float* x, const int* rowIndex, const float* weight, float* out, int dim, float eps) { grid_enter();
    rmsnorm_row(x, rowIndex, weight, dim, eps, [&](int i, float v) { out[(size_t) blockIdx.x * dim + i] = v; },
                [&](int i, float4 v, bool live) { if (live) reinterpret_cast<float4*>(out + (size_t) blockIdx.x * dim)[i] = v; });
}
__global__ void rmsnorm_bf16(const float* x, const int* rowIndex, const float* weight, __nv_bfloat16* out, int dim, float eps) { grid_enter();
    rmsnorm_row(x, rowIndex, weight, dim, eps, [&](int i, float v) { out[(size_t) blockIdx.x * dim + i] = __nv_bfloat16(v); },
                [&](int i, float4 v, bool live) { if (live) store4(out + (size_t) blockIdx.x * dim + 4 * i, v); });
}
__global__ void rmsnorm_f16(const float* x, const int* rowIndex, const float* weight, __half* out, int dim, float eps) { grid_enter();
    rmsnorm_row(x, rowIndex, weight, dim, eps, [&](int i, float v) { out[(size_t) blockIdx.x * dim + i] = __half(v); },
                [&](int i, float4 v, bool live) { if (live) store4(out + (size_t) blockIdx.x * dim + 4 * i, v); });
}

// x[t][i] += bias[i] for n rows of width d (Qwen2's q/k/v biases).
__global__ void add_bias(float* x, const float* bias, int n, int d) { grid_enter();
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < (size_t) n * d) x[i] += bias[i % d];
}

// out[t][i] = silu(gu[t][i]) * gu[t][hidden + i]: SwiGLU over the stacked gate/up output, a thread
// per output. The _bf16 / _f16 forms write it rounded to 16 bits for cuBLAS, swiglu_q8 (quant.cuh)
// quantized to int8. grid = ceil(n · hidden / 256), block = 256.
__global__ void swiglu(const float* gu, float* out, int n, int hidden) { grid_enter();
    swiglu_each(gu, n, hidden, [&](size_t i, float v) { out[i] = v; });
}
__global__ void swiglu_bf16(const float* gu, __nv_bfloat16* out, int n, int hidden) { grid_enter();
    swiglu_each(gu, n, hidden, [&](size_t i, float v) { out[i] = __nv_bfloat16(v); });
}
__global__ void swiglu_f16(const float* gu, __half* out, int n, int hidden) { grid_enter();
    swiglu_each(gu, n, hidden, [&](size_t i, float v) { out[i] = __half(v); });
}

// Rotates the first ropeDim dims of every head of each token's vector (stride floats apart) by its
// position. A block per (token, head): one block walking every head in turn was latency-bound
// (~10 µs a layer at decode). The forward pass uses rope_kv_* (attention.cuh), which also stores the
// keys and values in the cache; this one is the plain rotation. grid = (n tokens, heads), block = 64.
__global__ void rope(float* vec, const int* positions, const float* invFreq, const float2* table, int tablePositions,
                     int headDim, int ropeDim, int interleaved, int stride) { grid_enter();
    int t = blockIdx.x;
    rotate_head(vec + (size_t) t * stride + (size_t) blockIdx.y * headDim, positions[t], invFreq, table, tablePositions, ropeDim, interleaved);
}

// ---- sampling ----------------------------------------------------------------------------------
// Greedy: the highest logit of each row, lowest id among exact ties, in two launches: the block
// (row, part) of argmax_partial reduces its slice of the row to a (value, id) pair, argmax_finish a
// row's pairs. One block per row took ~50 µs a decode step for a 128K vocabulary (a 1024-thread walk
// of 125 loads each); 32 blocks a row still took 8.5 µs of an 8B decode step (16 loads a thread, one
// after another; H100, nsys in the graph, docs/PERFORMANCE.md S5-3), so a row is cut into 128 parts.
#define ARGMAX_PARTS 128
__device__ __forceinline__ void argmax_keep(float& best, int& bestId, float v, int i) {
    if (v > best || (v == best && i < bestId)) { best = v; bestId = i; }
}
__device__ __forceinline__ void argmax_warp(float& best, int& bestId) {
    for (int o = 16; o > 0; o >>= 1) argmax_keep(best, bestId, __shfl_xor_sync(0xffffffffu, best, o), __shfl_xor_sync(0xffffffffu, bestId, o));
}

// The block's best (value, id) from each thread's, valid in thread 0. blockDim a multiple of 32.
__device__ __forceinline__ void argmax_block(float& best, int& bestId) {
    argmax_warp(best, bestId);
    __shared__ float sv[32];
    __shared__ int si[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) { sv[warp] = best; si[warp] = bestId; }
    __syncthreads();
    if (warp == 0) {
        best = lane < (int) (blockDim.x >> 5) ? sv[lane] : -INFINITY;
        bestId = lane < (int) (blockDim.x >> 5) ? si[lane] : 0x7fffffff;
        argmax_warp(best, bestId);
    }
}

// grid = (rows, ARGMAX_PARTS), block = 256; partials: rows × ARGMAX_PARTS pairs (value, id as float bits).
__global__ void argmax_partial(const float* logits, int vocab, float2* partials) { grid_enter();
    int per = (vocab + gridDim.y - 1) / gridDim.y;
    int begin = blockIdx.y * per, end = min(vocab, begin + per);
    const float* row = logits + (size_t) blockIdx.x * vocab;
    float best = -INFINITY;
    int bestId = 0x7fffffff;
    for (int i = begin + threadIdx.x; i < end; i += blockDim.x) argmax_keep(best, bestId, row[i], i);
    argmax_block(best, bestId);
    if (threadIdx.x == 0) partials[(size_t) blockIdx.x * gridDim.y + blockIdx.y] = make_float2(best, __int_as_float(bestId));
}

// grid = rows, block = ARGMAX_PARTS (a pair a thread): out[row] = the best of the row's `parts` pairs
// (0 for a row of NaNs).
__global__ void argmax_finish(const float2* partials, int parts, int* out) { grid_enter();
    float best = -INFINITY;
    int bestId = 0x7fffffff;
    for (int i = threadIdx.x; i < parts; i += blockDim.x) {
        float2 p = partials[(size_t) blockIdx.x * parts + i];
        argmax_keep(best, bestId, p.x, __float_as_int(p.y));
    }
    argmax_block(best, bestId);
    if (threadIdx.x == 0) out[blockIdx.x] = bestId == 0x7fffffff ? 0 : bestId;
}

// Fills count floats with a value (poisoning outputs before checks, zeroing buffers).
__global__ void fill_f32(float* p, float value, size_t count) { grid_enter();
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) p[i] = value;
}

}  // extern "C"

// Sampling (temperature, top-k, top-p, min-p, penalties, log-probabilities), the paged KV cache
// with its decode attention, the tiled prefill attention and the weight-only quantized (INT8/INT4)
// matrix kernels live in their own files.
#include "sampling.cuh"
#include "quant.cuh"
#include "attention.cuh"
#include "flash_prefill.cuh"
