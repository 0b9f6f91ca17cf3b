#!/usr/bin/env python3
"""torch.matmul at the prefill shapes `gpu-bench gemm` times (Llama 3 8B's weight matrices, bf16,
activations [n, cols] times weights [rows, cols] transposed), median of event-timed runs after a
warm-up. One JSON line per shape, for docs/PERFORMANCE.md next to Kvasir's figures from the same call.
  python3 matmul_bench.py [--tokens 512,2048,8192]
"""
import argparse, json
import torch

ap = argparse.ArgumentParser()
ap.add_argument("--tokens", default="512,2048,8192")
args = ap.parse_args()
shapes = [(6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336)]
torch.manual_seed(7)
for rows, cols in shapes:
    w = (torch.randn(rows, cols, device="cuda") * 0.02).to(torch.bfloat16)
    for n in [int(t) for t in args.tokens.split(",")]:
        x = torch.randn(n, cols, device="cuda").to(torch.bfloat16)
        for _ in range(3):
            torch.matmul(x, w.t())
        torch.cuda.synchronize()
        times = []
        for _ in range(10):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record(); torch.matmul(x, w.t()); e.record(); e.synchronize()
            times.append(s.elapsed_time(e))
        ms = sorted(times)[len(times) // 2]
        print(json.dumps({"bench": "torch_matmul_bf16", "rows": rows, "cols": cols, "n": n, "ms": round(ms, 4),
                          "tflops": round(2.0 * rows * cols * n / (ms / 1e3) / 1e12, 1)}), flush=True)
