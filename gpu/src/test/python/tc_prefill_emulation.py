#!/usr/bin/env python3
"""Lane-level emulation of attention_prefill_mma (flash_prefill.cuh), no GPU needed: one warp (one
query head, a tile of up to 16 queries) with mma.sync m16n8k16 emulated from the PTX ISA fragment
layouts (A: a0,a1 row g / a2,a3 row g+8 / a4..a7 the same rows 8 columns on; B: b0,b1 rows 2t,2t+1 /
b2,b3 rows 2t+8,2t+9, column g; C: c0,c1 row g / c2,c3 row g+8, columns 2t,2t+1). Each lane's loads,
packing, masking, quad shuffles and stores follow the kernel line by line, so a change to the
kernel's index logic can be checked here first against a float64 reference (expect ~2e-4 relative
error: Q and P rounded to fp16). Needs numpy: python3 gpu/src/test/python/tc_prefill_emulation.py
"""
import numpy as np
rng = np.random.default_rng(1)
def r16(x): return np.float16(x).astype(np.float64)

def mma(c, a, b):
    # a[lane] = 8 values (a0..a7), b[lane] = 4 values (b0..b3), c[lane] = 4 values
    A = np.zeros((16, 16)); B = np.zeros((16, 8))
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        for i in range(8):
            row = g + 8 * ((i >> 1) & 1)
            col = t * 2 + (i & 1) + 8 * (i >> 2)
            A[row, col] = a[lane][i]
        for i in range(4):
            k = t * 2 + (i & 1) + 8 * (i >> 1)
            B[k, g] = b[lane][i]
    D = A @ B
    out = []
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        out.append([c[lane][i] + D[g + 8 * (i >> 1), t * 2 + (i & 1)] for i in range(4)])
    return out

def kernel(Q, K, V, nq, pos0, D, BK=64):
    # Q: [16, D] (rows >= nq unused), K/V: [lastPos+1, D]; keys > lastPos are zero
    lastPos = pos0 + nq - 1
    ksteps, dtiles = D // 16, D // 8
    qa = [[None] * ksteps for _ in range(32)]
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        for k in range(ksteps):
            d = 16 * k + 2 * t
            q0 = Q[g] if g < nq else np.zeros(D); q8 = Q[g + 8] if g + 8 < nq else np.zeros(D)
            # regs: [0]=(q0[d],q0[d+1]) [1]=(q8[d],q8[d+1]) [2]=(q0[d+8],q0[d+9]) [3]=(q8[d+8],q8[d+9])
            qa[lane][k] = [r16(q0[d]), r16(q0[d + 1]), r16(q8[d]), r16(q8[d + 1]), r16(q0[d + 8]), r16(q0[d + 9]), r16(q8[d + 8]), r16(q8[d + 9])]
    o = [[[0.0] * 4 for _ in range(dtiles)] for _ in range(32)]
    m = [[-np.inf, -np.inf] for _ in range(32)]; l = [[0.0, 0.0] for _ in range(32)]
    kb = 0
    while kb <= lastPos:
        sK = np.zeros((BK, D)); sV = np.zeros((BK, D))
        for rr in range(BK):
            if kb + rr <= lastPos: sK[rr] = K[kb + rr]; sV[rr] = V[kb + rr]
        sc = [[[0.0] * 4 for _ in range(BK // 8)] for _ in range(32)]
        for j in range(BK // 8):
            c = [sc[lane][j] for lane in range(32)]
            for k in range(ksteps):
                b = []
                for lane in range(32):
                    g, t = lane >> 2, lane & 3
                    row = 8 * j + g; col = 16 * k + 2 * t
                    b.append([sK[row, col], sK[row, col + 1], sK[row, col + 8], sK[row, col + 9]])
                c = mma(c, [qa[lane][k] for lane in range(32)], b)
            for lane in range(32): sc[lane][j] = c[lane]
        mx = [[m[lane][0], m[lane][1]] for lane in range(32)]
        for lane in range(32):
            g, t = lane >> 2, lane & 3
            for j in range(BK // 8):
                for e in range(4):
                    row = g + 8 * (e >> 1); key = kb + 8 * j + 2 * t + (e & 1)
                    if row >= nq or key > pos0 + row: sc[lane][j][e] = -np.inf
                    mx[lane][e >> 1] = max(mx[lane][e >> 1], sc[lane][j][e])
        for x in (1, 2):
            mx = [[max(mx[lane][r], mx[lane ^ x][r]) for r in range(2)] for lane in range(32)]
        for lane in range(32):
            corr = [1.0 if mx[lane][r] == -np.inf else np.exp(m[lane][r] - mx[lane][r]) for r in range(2)]
            m[lane] = mx[lane][:]
            l[lane] = [l[lane][r] * corr[r] for r in range(2)]
            for j in range(BK // 8):
                for e in range(4):
                    p = 0.0 if sc[lane][j][e] == -np.inf else np.exp(sc[lane][j][e] - m[lane][e >> 1])
                    sc[lane][j][e] = p; l[lane][e >> 1] += p
            for j in range(dtiles):
                o[lane][j] = [o[lane][j][0] * corr[0], o[lane][j][1] * corr[0], o[lane][j][2] * corr[1], o[lane][j][3] * corr[1]]
        for kk in range(BK // 16):
            pa = []
            for lane in range(32):
                s0, s1 = sc[lane][2 * kk], sc[lane][2 * kk + 1]
                pa.append([r16(s0[0]), r16(s0[1]), r16(s0[2]), r16(s0[3]), r16(s1[0]), r16(s1[1]), r16(s1[2]), r16(s1[3])])
            for j in range(dtiles):
                b = []
                for lane in range(32):
                    g, t = lane >> 2, lane & 3
                    key = 16 * kk + 2 * t; d = 8 * j + g
                    b.append([sV[key, d], sV[key + 1, d], sV[key + 8, d], sV[key + 9, d]])
                c = mma([o[lane][j] for lane in range(32)], pa, b)
                for lane in range(32): o[lane][j] = c[lane]
        kb += BK
    for x in (1, 2):
        l = [[l[lane][r] + l[lane ^ x][r] for r in range(2)] for lane in range(32)]
    out = np.full((16, D), np.nan)
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        for j in range(dtiles):
            for e in range(4):
                row = g + 8 * (e >> 1)
                if row < nq: out[row, 8 * j + 2 * t + (e & 1)] = o[lane][j][e] / l[lane][e >> 1]
    return out

for (nq, pos0, D) in [(16, 0, 32), (5, 70, 16), (16, 100, 64), (1, 0, 16), (9, 130, 48)]:
    lastPos = pos0 + nq - 1
    Q = rng.uniform(-1, 1, (16, D)) / np.sqrt(D) * 3
    K = r16(rng.uniform(-1, 1, (lastPos + 1, D))); V = r16(rng.uniform(-1, 1, (lastPos + 1, D)))
    got = kernel(Q, K, V, nq, pos0, D)
    ref = np.zeros((nq, D))
    for i in range(nq):
        s = Q[i] @ K[:pos0 + i + 1].T
        p = np.exp(s - s.max()); ref[i] = p @ V[:pos0 + i + 1] / p.sum()
    err = np.linalg.norm(got[:nq] - ref) / np.linalg.norm(ref)
    print(nq, pos0, D, "rel err", err, "nan rows beyond nq:", np.isnan(got[nq:]).all())
