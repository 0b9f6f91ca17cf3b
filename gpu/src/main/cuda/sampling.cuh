// Sampling on the device: the CPU Sampler's rules, row by row, so that logits never leave the card.
// Included by kernels.cu (inside its extern "C" block's neighbourhood, see there).
//
// Per sampled row, 16 ints of metadata (SamplingBatch on the host packs them):
//   0 flags (1 greedy, 2 penalties, 4 logprobs)  1 1/temperature (float bits)  2 top_k (0 = off)
//   3 top_p (float)  4 min_p (float)  5 repetition penalty (float)  6 presence (float)  7 frequency (float)
//   8 offset of the row's history slice  9 repetition window start  10 generated start  11 slice length
//   (9..11 relative to the slice)  12 top-logprobs wanted
// and one double per row: the uniform u, drawn on the host exactly as the CPU Sampler draws it.
//
// Arithmetic follows the CPU Sampler operation by operation (float products and differences with
// explicit round-to-nearest intrinsics so nvcc does not fuse them into FMAs, exp in double rounded
// to float, sums in double). Sums over many candidates are done as chunked prefix sums, so they
// may differ from the CPU's sequential sums in the last bits of a double: a draw can differ only
// when u lands within about 1e-15 of a boundary between two tokens.

namespace {

#define SAMPLE_META 16
#define SAMPLE_THREADS 1024
#define SAMPLE_SHARED_KEYS 4096
#define SAMPLE_BINS 2048  // = 2 × SAMPLE_THREADS (two bins a thread in the scan)
// Candidates whose scaled logit is more than this below the best have p < 1e-20 (relative to the
// best): they are left out of the sort. Their total mass is below double resolution of the sum.
#define SAMPLE_CUTOFF -46.0f

// (logit, id) as one unsigned key: descending key order = descending logit, lowest id first among
// equal logits (the CPU Sampler's candidate order and Logprobs.top's). Never 0, so 0 pads.
__device__ __forceinline__ unsigned long long sample_key(float v, int id) {
    unsigned int b = __float_as_uint(v);
    unsigned int o = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return ((unsigned long long) o << 32) | (unsigned int) (0xFFFFFFFFu - (unsigned int) id);
}
__device__ __forceinline__ int key_id(unsigned long long k) { return (int) (0xFFFFFFFFu - (unsigned int) k); }
__device__ __forceinline__ float key_logit(unsigned long long k) {
    unsigned int o = (unsigned int) (k >> 32);
    return __uint_as_float((o & 0x80000000u) ? (o & 0x7FFFFFFFu) : ~o);
}

__device__ unsigned long long block_max_u64(unsigned long long v) {
    __shared__ unsigned long long part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) { unsigned long long w = __shfl_xor_sync(0xffffffffu, v, o); v = w > v ? w : v; }
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    unsigned long long r = 0;
    for (int w = 0; w < (int) (blockDim.x >> 5); w++) r = part[w] > r ? part[w] : r;
    return r;
}

__device__ float block_max_f(float v) {
    __shared__ float part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    float r = -INFINITY;
    for (int w = 0; w < (int) (blockDim.x >> 5); w++) r = fmaxf(r, part[w]);
    return r;
}

__device__ double block_sum_d(double v) {
    __shared__ double part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    double r = 0;
    for (int w = 0; w < (int) (blockDim.x >> 5); w++) r += part[w];
    return r;
}

// Exclusive prefix sum over the block's threads, in thread order.
__device__ double block_exclusive_scan_d(double v) {
    __shared__ double warpTotal[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    double x = v;
    for (int o = 1; o < 32; o <<= 1) {
        double y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= o) x += y;
    }
    __syncthreads();
    if (lane == 31) warpTotal[warp] = x;
    __syncthreads();
    double before = 0;
    for (int w = 0; w < warp; w++) before += warpTotal[w];
    return before + x - v;
}

// Sorts n (a power of two) keys descending: bitonic network, one block, barriers between passes.
__device__ void bitonic_desc(unsigned long long* keys, int n) {
    for (int k = 2; k <= n; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = threadIdx.x; i < n; i += blockDim.x) {
                int ixj = i ^ j;
                if (ixj > i) {
                    unsigned long long a = keys[i], b = keys[ixj];
                    bool desc = (i & k) == 0;
                    if (desc ? a < b : a > b) { keys[i] = b; keys[ixj] = a; }
                }
            }
            __syncthreads();
        }
    }
}

// The CPU Sampler's probability of a candidate: (float) exp(l * invT - max), in float then double.
__device__ __forceinline__ float cand_prob(unsigned long long key, float invT, float mx) {
    return (float) exp((double) __fsub_rn(__fmul_rn(key_logit(key), invT), mx));
}


struct SampleRow {
    float invT, mx, topP, minP;
    int topK, n;      // n: candidates within the cutoff
    double total, u;  // total: their summed probabilities (any order)
};

// The CPU Sampler's top-k → top-p → min-p → draw over the first m candidates in sorted order
// (keys[0..m), all n when m == n). Returns the chosen index, or -1 when the answer depends on
// candidates past m (then the caller sorts them all). Prefix sums go to cum[0..min(count, m)).
__device__ int sample_decide(const unsigned long long* keys, int m, const SampleRow& row, double* cum, int* hit) {
    int count = row.topK > 0 ? min(row.topK, row.n) : row.n;
    bool complete = count <= m;
    // top-k cutting inside the unsorted rest: the candidates' mass is unknown
    if (!complete && count < row.n) return -1;
    int lim = min(count, m);
    int per = (lim + blockDim.x - 1) / blockDim.x;
    int j0 = min(lim, (int) threadIdx.x * per), j1 = min(lim, j0 + per);
    double local = 0;
    for (int j = j0; j < j1; j++) { local += cand_prob(keys[j], row.invT, row.mx); cum[j] = local; }
    double before = block_exclusive_scan_d(local);
    for (int j = j0; j < j1; j++) cum[j] += before;
    __syncthreads();
    double sum = complete ? cum[lim - 1] : row.total;
    int keep = count;
    if (row.topP < 1.f) {
        // the smallest prefix whose share of the mass reaches top_p
        if (threadIdx.x == 0) *hit = 0x7fffffff;
        __syncthreads();
        for (int j = j0; j < j1; j++) if (cum[j] / sum >= (double) row.topP) { atomicMin(hit, j); break; }
        __syncthreads();
        int h = *hit;
        __syncthreads();
        if (h != 0x7fffffff) keep = h + 1;
        else if (!complete) return -1;
    }
    if (row.minP > 0.f) {
        // candidates are in descending probability: keep those at least min_p × the best (>= 1 kept)
        float threshold = __fmul_rn(row.minP, cand_prob(keys[0], row.invT, row.mx));
        int lk = min(keep, m);
        if (threadIdx.x == 0) *hit = 0x7fffffff;
        __syncthreads();
        for (int j = max(j0, 1); j < min(j1, lk); j++) if (cand_prob(keys[j], row.invT, row.mx) < threshold) { atomicMin(hit, j); break; }
        __syncthreads();
        int h = *hit;
        __syncthreads();
        if (h != 0x7fffffff) keep = h;
        else if (keep > m) return -1;
    }
    // keep > m only when nothing was cut: every candidate is kept and their mass is the total
    double kept = keep <= m ? cum[keep - 1] : row.total;
    double target = row.u * kept;
    if (threadIdx.x == 0) *hit = 0x7fffffff;
    __syncthreads();
    for (int j = j0; j < min(j1, keep); j++) if (cum[j] > target) { atomicMin(hit, j); break; }
    __syncthreads();
    int h = *hit;
    __syncthreads();
    if (h != 0x7fffffff) return h;
    return keep <= m ? keep - 1 : -1;
}

}  // namespace

extern "C" {

// Repetition, presence and frequency penalties applied in place to a copy of each row's logits,
// as the CPU Sampler applies them: repetition once per distinct id of the window, then
// presence + frequency * count once per distinct generated id. grid = rows, block = 256.
__global__ void penalize_rows(float* logits, int vocab, const int* meta, const int* history) { grid_enter();
    const int* m = meta + (size_t) blockIdx.x * SAMPLE_META;
    if (!(m[0] & 2)) return;
    float* l = logits + (size_t) blockIdx.x * vocab;
    const int* h = history + m[8];
    int win = m[9], gen = m[10], len = m[11];
    float rep = __int_as_float(m[5]), pres = __int_as_float(m[6]), freq = __int_as_float(m[7]);
    if (rep != 1.f) {
        for (int i = win + threadIdx.x; i < len; i += blockDim.x) {
            int id = h[i];
            if (id < 0 || id >= vocab) continue;
            bool first = true;
            for (int j = win; j < i && first; j++) first = h[j] != id;
            if (first) { float v = l[id]; l[id] = v > 0 ? v / rep : __fmul_rn(v, rep); }
        }
    }
    __syncthreads();
    if (pres != 0.f || freq != 0.f) {
        for (int i = gen + threadIdx.x; i < len; i += blockDim.x) {
            int id = h[i];
            if (id < 0 || id >= vocab) continue;
            bool first = true;
            for (int j = gen; j < i && first; j++) first = h[j] != id;
            if (!first) continue;
            int count = 0;
            for (int j = i; j < len; j++) count += h[j] == id;
            l[id] = __fsub_rn(l[id], __fadd_rn(pres, __fmul_rn(freq, (float) count)));
        }
    }
}

// One token per row: greedy rows take the best logit (lowest id among ties); the others go through
// temperature → top-k → top-p → min-p → the draw u × kept mass over candidates in descending order.
//
// Sorting a whole vocabulary (128K) takes one block milliseconds, so a row first builds a histogram
// of its candidates' scaled logits (SAMPLE_BINS bins over [SAMPLE_CUTOFF, 0]) with their total
// mass, takes the top bins holding at most SAMPLE_SHARED_KEYS candidates — a prefix of the sorted
// order, since a bin is a range of logits — and sorts only those, in shared memory. That prefix
// decides the token whenever the candidates end inside it (top-k), or the top-p or min-p cut and
// the draw fall inside it: with real models' peaked distributions, nearly always. Otherwise (flat
// logits, a draw deep in the tail) the row takes the slow path: every candidate sorted in the
// block's global workspace. Both paths decide with the same code (sample_decide).
// Each block handles rows blockIdx.x, blockIdx.x + gridDim.x, ... with its own workspace of
// wsStride keys (u64) and wsStride prefix sums (double), wsStride a power of two >= vocab.
// block = 1024.
__global__ void __launch_bounds__(SAMPLE_THREADS) sample_rows(const float* logits, int vocab, const int* meta, const double* uniform, int rows,
                            unsigned long long* keysWs, double* cumWs, int wsStride, int* out) { grid_enter();
    __shared__ unsigned long long sk[SAMPLE_SHARED_KEYS];
    __shared__ int hist[SAMPLE_BINS];
    __shared__ int counter, hit, prefixBins, prefixCount, survivors;
    unsigned long long* keys = keysWs + (size_t) blockIdx.x * wsStride;
    double* cum = cumWs + (size_t) blockIdx.x * wsStride;
    const float binScale = SAMPLE_BINS / -SAMPLE_CUTOFF;
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const int* m = meta + (size_t) r * SAMPLE_META;
        const float* l = logits + (size_t) r * vocab;
        if (m[0] & 1) {
            unsigned long long best = 0;
            for (int i = threadIdx.x; i < vocab; i += blockDim.x) { unsigned long long k = sample_key(l[i], i); best = k > best ? k : best; }
            best = block_max_u64(best);
            if (threadIdx.x == 0) out[r] = key_id(best);
            __syncthreads();
            continue;
        }
        SampleRow row;
        row.invT = __int_as_float(m[1]);
        row.topK = m[2];
        row.topP = __int_as_float(m[3]);
        row.minP = __int_as_float(m[4]);
        row.u = uniform[r];
        // the CPU's max is the best raw logit times 1/T (a positive factor keeps the order)
        float best = -INFINITY;
        for (int i = threadIdx.x; i < vocab; i += blockDim.x) best = fmaxf(best, l[i]);
        row.mx = __fmul_rn(block_max_f(best), row.invT);
        for (int b = threadIdx.x; b < SAMPLE_BINS; b += blockDim.x) hist[b] = 0;
        if (threadIdx.x == 0) { prefixBins = 0; prefixCount = 0; }
        __syncthreads();
        double mass = 0;
        for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
            float sc = __fsub_rn(__fmul_rn(l[i], row.invT), row.mx);
            if (sc >= SAMPLE_CUTOFF) {
                atomicAdd(&hist[min(SAMPLE_BINS - 1, (int) (-sc * binScale))], 1);
                mass += (double) (float) exp((double) sc);
            }
        }
        row.total = block_sum_d(mass);  // its barriers also complete the histogram
        // the longest run of top bins holding at most SAMPLE_SHARED_KEYS candidates (2 bins a thread)
        int h0 = hist[2 * threadIdx.x], h1 = hist[2 * threadIdx.x + 1];
        int before = (int) block_exclusive_scan_d((double) (h0 + h1));
        int in0 = before + h0, in1 = in0 + h1;
        if (in0 <= SAMPLE_SHARED_KEYS) atomicMax(&prefixBins, 2 * threadIdx.x + 1);
        if (in1 <= SAMPLE_SHARED_KEYS) atomicMax(&prefixBins, 2 * threadIdx.x + 2);
        if (threadIdx.x == blockDim.x - 1) survivors = in1;
        __syncthreads();
        if (2 * (int) threadIdx.x + 1 == prefixBins) prefixCount = in0;
        if (2 * (int) threadIdx.x + 2 == prefixBins) prefixCount = in1;
        __syncthreads();
        row.n = survivors;
        int chosen = -1;
        int mPrefix = prefixCount, bins = prefixBins;
        if (mPrefix > 0) {
            if (threadIdx.x == 0) counter = 0;
            __syncthreads();
            for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
                float v = l[i];
                float sc = __fsub_rn(__fmul_rn(v, row.invT), row.mx);
                if (sc >= SAMPLE_CUTOFF && (int) min(SAMPLE_BINS - 1, (int) (-sc * binScale)) < bins) sk[atomicAdd(&counter, 1)] = sample_key(v, i);
            }
            __syncthreads();
            int p2 = 1;
            while (p2 < mPrefix) p2 <<= 1;
            for (int i = mPrefix + threadIdx.x; i < p2; i += blockDim.x) sk[i] = 0ull;
            __syncthreads();
            bitonic_desc(sk, p2);
            int j = sample_decide(sk, mPrefix, row, cum, &hit);
            if (j >= 0) chosen = key_id(sk[j]);
        }
        if (chosen < 0) {
            // slow path: every candidate, sorted in global memory
            if (threadIdx.x == 0) counter = 0;
            __syncthreads();
            for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
                float v = l[i];
                if (__fsub_rn(__fmul_rn(v, row.invT), row.mx) >= SAMPLE_CUTOFF) keys[atomicAdd(&counter, 1)] = sample_key(v, i);
            }
            __syncthreads();
            int p2 = 1;
            while (p2 < row.n) p2 <<= 1;
            for (int i = row.n + threadIdx.x; i < p2; i += blockDim.x) keys[i] = 0ull;
            __syncthreads();
            bitonic_desc(keys, p2);
            chosen = key_id(keys[sample_decide(keys, row.n, row, cum, &hit)]);
        }
        if (threadIdx.x == 0) out[r] = chosen;
        __syncthreads();
    }
}

// Log-probabilities under the raw distribution (no penalties, temperature 1), as the CPU Logprobs:
// the chosen token's, and the best m[12] (descending, lowest id among ties) with theirs.
// grid = rows, block = 1024. Rows whose flags lack 4 are skipped.
__global__ void __launch_bounds__(SAMPLE_THREADS) logprob_rows(const float* logits, int vocab, const int* meta, const int* chosen,
                             float* outLogprob, int* topIds, float* topLogprobs, int maxTop) { grid_enter();
    const int* m = meta + (size_t) blockIdx.x * SAMPLE_META;
    if (!(m[0] & 4)) return;
    const float* l = logits + (size_t) blockIdx.x * vocab;
    float best = -INFINITY;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) best = fmaxf(best, l[i]);
    float mx = block_max_f(best);
    double s = 0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) s += exp((double) __fsub_rn(l[i], mx));
    double lse = (double) mx + log(block_sum_d(s));
    if (threadIdx.x == 0) outLogprob[blockIdx.x] = (float) ((double) l[chosen[blockIdx.x]] - lse);
    unsigned long long last = ~0ull;
    int wanted = min(m[12], maxTop);
    for (int t = 0; t < wanted; t++) {
        unsigned long long k = 0;
        for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
            unsigned long long c = sample_key(l[i], i);
            if (c < last && c > k) k = c;
        }
        k = block_max_u64(k);
        if (threadIdx.x == 0) {
            int id = key_id(k);
            topIds[(size_t) blockIdx.x * maxTop + t] = id;
            topLogprobs[(size_t) blockIdx.x * maxTop + t] = (float) ((double) l[id] - lse);
        }
        last = k;
    }
}

}  // extern "C"
