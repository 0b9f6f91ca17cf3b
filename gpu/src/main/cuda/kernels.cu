// Kvasir's GPU kernels: the Llama forward pass over fp32 activations, weights in fp32, bf16 or fp16
// (fp32 accumulation everywhere), a paged fp32 KV pool, and greedy sampling on the device.
// Every entry point is extern "C" so the Java side finds it by name in the fatbin.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace {

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
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
                    float4 a = __ldg(reinterpret_cast<const float4*>(xp));
                    float4 b = __ldg(reinterpret_cast<const float4*>(xp + 4));
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

// Gathers rows of an embedding table (or any row-major matrix) into fp32.
template <typename W>
__device__ void gather_rows(const W* __restrict__ table, const int* __restrict__ ids, float* __restrict__ out, int cols) {
    const W* src = table + (size_t) ids[blockIdx.x] * cols;
    float* dst = out + (size_t) blockIdx.x * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = to_float(src[c]);
}

}  // namespace

extern "C" {

// ---- weights ---------------------------------------------------------------------------------
// blockDim = 32 * warps; grid = ceil(rows / (warps * MATMUL_ROWS)).
#define MATMUL_ROWS 4
__global__ void matmul_f32(const float* w, const float* x, float* y, int rows, int cols, int n, int acc) { matmul_rows<float, MATMUL_ROWS, 8>(w, x, y, rows, cols, n, acc); }
__global__ void matmul_bf16(const __nv_bfloat16* w, const float* x, float* y, int rows, int cols, int n, int acc) { matmul_rows<__nv_bfloat16, MATMUL_ROWS, 8>(w, x, y, rows, cols, n, acc); }
__global__ void matmul_f16(const __half* w, const float* x, float* y, int rows, int cols, int n, int acc) { matmul_rows<__half, MATMUL_ROWS, 8>(w, x, y, rows, cols, n, acc); }

// grid = n tokens.
__global__ void embed_f32(const float* table, const int* ids, float* out, int cols) { gather_rows(table, ids, out, cols); }
__global__ void embed_bf16(const __nv_bfloat16* table, const int* ids, float* out, int cols) { gather_rows(table, ids, out, cols); }
__global__ void embed_f16(const __half* table, const int* ids, float* out, int cols) { gather_rows(table, ids, out, cols); }

// ---- elementwise -----------------------------------------------------------------------------
// out[r] = x[rowIndex[r]] * rsqrt(mean(x^2) + eps) * weight, in fp32. rowIndex null = identity.
// grid = rows, block = 256.
__global__ void rmsnorm(const float* x, const int* rowIndex, const float* weight, float* out, int dim, float eps) {
    int src = rowIndex ? rowIndex[blockIdx.x] : blockIdx.x;
    const float* in = x + (size_t) src * dim;
    float ss = 0.f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += in[i] * in[i];
    ss = block_sum(ss);
    float scale = rsqrtf(ss / dim + eps);
    float* o = out + (size_t) blockIdx.x * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = in[i] * scale * weight[i];
}

// x[t][i] += bias[i] for n rows of width d (Qwen2's q/k/v biases).
__global__ void add_bias(float* x, const float* bias, int n, int d) {
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < (size_t) n * d) x[i] += bias[i % d];
}

// gate = silu(gate) * up, in place.
__global__ void silu_mul(float* gate, const float* up, size_t count) {
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) {
        float g = gate[i];
        gate[i] = g / (1.f + expf(-g)) * up[i];
    }
}

// Rotates the first ropeDim dims of every head of each token's vector (stride floats apart) by its
// position. invFreq[i] already holds theta^(-2i/ropeDim) divided by Llama 3's factor. interleaved:
// pairs (2i, 2i+1) (GGUF); otherwise (i, i+half) (NeoX/HF). Angles in double, like the CPU engine.
// grid = n tokens, block = 128.
__global__ void rope(float* vec, const int* positions, const float* invFreq, int heads, int headDim, int ropeDim,
                     int interleaved, int stride) {
    int t = blockIdx.x;
    int half = ropeDim / 2;
    double pos = positions[t];
    float* base = vec + (size_t) t * stride;
    for (int j = threadIdx.x; j < heads * half; j += blockDim.x) {
        int h = j / half, i = j % half;
        double angle = pos * (double) invFreq[i];
        float c = (float) cos(angle), s = (float) sin(angle);
        float* hp = base + h * headDim;
        int a = interleaved ? 2 * i : i;
        int b = interleaved ? a + 1 : a + half;
        float x0 = hp[a], x1 = hp[b];
        hp[a] = x0 * c - x1 * s;
        hp[b] = x0 * s + x1 * c;
    }
}

// ---- paged KV ----------------------------------------------------------------------------------
// Writes each token's key and value rows (kvDim floats) into the layer's pool at slot[t]
// (= block * blockSize + offset). grid = n tokens.
__global__ void kv_write(const float* k, const float* v, float* keys, float* values, const int* slot, int kvDim) {
    size_t dst = (size_t) slot[blockIdx.x] * kvDim;
    size_t src = (size_t) blockIdx.x * kvDim;
    for (int i = threadIdx.x; i < kvDim; i += blockDim.x) {
        keys[dst + i] = k[src + i];
        values[dst + i] = v[src + i];
    }
}

// Copies whole blocks (copy-on-write): blockFloats floats from block src to block dst in each
// layer's key and value pools. grid = (copies, layers), pools laid out [layer][K|V][slots][kvDim].
__global__ void kv_copy_blocks(float* pool, const int* pairs, size_t layerFloats, size_t blockFloats) {
    int src = pairs[2 * blockIdx.x], dst = pairs[2 * blockIdx.x + 1];
    float* layer = pool + (size_t) blockIdx.y * layerFloats;
    for (int kv = 0; kv < 2; kv++) {
        float* p = layer + kv * (layerFloats / 2);
        for (size_t i = threadIdx.x; i < blockFloats; i += blockDim.x) p[(size_t) dst * blockFloats + i] = p[(size_t) src * blockFloats + i];
    }
}

// Causal attention of each query token over its sequence's cached positions [0, pos], read through
// the block table (paged attention). Serves decode and (un-tiled) prefill. One block of 4 warps per
// (token, head); each warp runs an online softmax over every 4th position, lanes splitting the head
// dims; the warps' partial states are merged at the end. Nothing of size N×N is ever stored.
// grid = (n tokens, heads), block = 128. headDim <= 256.
#define ATT_WARPS 4
#define ATT_MAXD 8
__global__ void attention(const float* q, const float* keys, const float* values, float* out,
                          const int* positions, const int* seqOf, const int* tables, int tableStride,
                          int heads, int kvHeads, int headDim, int blockSize, float scale) {
    int t = blockIdx.x, h = blockIdx.y;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int kvDim = kvHeads * headDim;
    int kvh = h / (heads / kvHeads);
    int len = positions[t] + 1;
    const int* table = tables + (size_t) seqOf[t] * tableStride;
    const float* qh = q + (size_t) t * heads * headDim + h * headDim;
    float qv[ATT_MAXD], acc[ATT_MAXD];
#pragma unroll
    for (int j = 0; j < ATT_MAXD; j++) {
        int d = lane + 32 * j;
        qv[j] = d < headDim ? qh[d] * scale : 0.f;
        acc[j] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (int s = warp; s < len; s += ATT_WARPS) {
        size_t off = ((size_t) table[s / blockSize] * blockSize + s % blockSize) * kvDim + kvh * headDim;
        float dot = 0.f;
#pragma unroll
        for (int j = 0; j < ATT_MAXD; j++) {
            int d = lane + 32 * j;
            if (d < headDim) dot += qv[j] * keys[off + d];
        }
        dot = warp_sum(dot);
        float mNew = fmaxf(m, dot);
        float correction = expf(m - mNew);
        float p = expf(dot - mNew);
        l = l * correction + p;
#pragma unroll
        for (int j = 0; j < ATT_MAXD; j++) {
            int d = lane + 32 * j;
            if (d < headDim) acc[j] = acc[j] * correction + p * values[off + d];
        }
        m = mNew;
    }
    __shared__ float sm[ATT_WARPS], sl[ATT_WARPS];
    __shared__ float sacc[ATT_WARPS][32 * ATT_MAXD];
    if (lane == 0) { sm[warp] = m; sl[warp] = l; }
#pragma unroll
    for (int j = 0; j < ATT_MAXD; j++) sacc[warp][lane + 32 * j] = acc[j];
    __syncthreads();
    float gm = -INFINITY;
    for (int w = 0; w < ATT_WARPS; w++) gm = fmaxf(gm, sm[w]);
    float gl = 0.f;
    for (int w = 0; w < ATT_WARPS; w++) if (sm[w] != -INFINITY) gl += sl[w] * expf(sm[w] - gm);
    float* o = out + (size_t) t * heads * headDim + h * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float s = 0.f;
        for (int w = 0; w < ATT_WARPS; w++) if (sm[w] != -INFINITY) s += sacc[w][d] * expf(sm[w] - gm);
        o[d] = s / gl;
    }
}

// ---- sampling ----------------------------------------------------------------------------------
// Greedy: the highest logit of each row, lowest id among exact ties. grid = rows, block = 1024.
__global__ void argmax_rows(const float* logits, int vocab, int* out) {
    const float* row = logits + (size_t) blockIdx.x * vocab;
    float best = -INFINITY;
    int bestId = 0x7fffffff;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        float v = row[i];
        if (v > best || (v == best && i < bestId)) { best = v; bestId = i; }
    }
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, best, o);
        int oi = __shfl_xor_sync(0xffffffffu, bestId, o);
        if (ov > best || (ov == best && oi < bestId)) { best = ov; bestId = oi; }
    }
    __shared__ float sv[32];
    __shared__ int si[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) { sv[warp] = best; si[warp] = bestId; }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < (int) (blockDim.x >> 5); w++) {
            if (sv[w] > best || (sv[w] == best && si[w] < bestId)) { best = sv[w]; bestId = si[w]; }
        }
        out[blockIdx.x] = bestId == 0x7fffffff ? 0 : bestId;
    }
}

// Fills count floats with a value (poisoning outputs before checks, zeroing buffers).
__global__ void fill_f32(float* p, float value, size_t count) {
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) p[i] = value;
}

}  // extern "C"
