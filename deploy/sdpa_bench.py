#!/usr/bin/env python3
"""PyTorch's scaled_dot_product_attention on the shape `gpu-bench attention` times, for comparison.

One causal prefill of LENGTH tokens, batch 1, HEADS query heads over KV_HEADS key/value heads of
HEAD_DIM, in bf16 and fp16, with GQA both ways: enable_gqa=True, and K/V expanded to all heads
first (repeat_interleave, not timed), since which backend takes enable_gqa depends on the torch
version. Each repetition is timed with its own pair of CUDA events after warm-up; the median is
printed with TFLOP/s counted as gpu-bench counts them: 2*L^2*heads*head_dim (QK^T and PV,
2*L^2*d each per head, halved for the causal mask). One JSON line per (type, GQA way).

  sdpa_bench.py [--length 4096] [--heads 32] [--kv-heads 8] [--head-dim 128] [--reps 20] [--dtypes bf16,fp16]
                [--gqa enable_gqa,expanded]
"""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F


def bench(length, heads, kv_heads, head_dim, dtype, reps, expand):
    torch.manual_seed(0)
    dev = "cuda"
    q = torch.rand(1, heads, length, head_dim, device=dev, dtype=dtype) * 2 - 1
    k = torch.rand(1, kv_heads, length, head_dim, device=dev, dtype=dtype) * 2 - 1
    v = torch.rand(1, kv_heads, length, head_dim, device=dev, dtype=dtype) * 2 - 1
    if expand:
        k = k.repeat_interleave(heads // kv_heads, dim=1).contiguous()
        v = v.repeat_interleave(heads // kv_heads, dim=1).contiguous()

        def run():
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        def run():
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    for _ in range(3):
        run()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--length", type=int, default=4096)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--dtypes", default="bf16,fp16")
    ap.add_argument("--gqa", default="enable_gqa,expanded",
                    help="how K/V reach all query heads: enable_gqa (torch picks a backend that takes GQA), "
                         "expanded (repeat_interleave first; the flash backend always applies), or both")
    a = ap.parse_args()
    types = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    flops = 2.0 * a.length * a.length * a.heads * a.head_dim
    for name in a.dtypes.split(","):
        for gqa in a.gqa.split(","):
            try:
                ms = bench(a.length, a.heads, a.kv_heads, a.head_dim, types[name], a.reps, gqa == "expanded")
            except (TypeError, RuntimeError) as e:  # a torch without enable_gqa, or no backend for it
                print(json.dumps({"bench": "attention_prefill", "impl": "torch_sdpa", "dtype": name, "gqa": gqa, "error": str(e)[:200]}), flush=True)
                continue
            print(json.dumps({"bench": "attention_prefill", "impl": "torch_sdpa", "torch": torch.__version__,
                              "device": torch.cuda.get_device_name(), "dtype": name, "gqa": gqa,
                              "length": a.length, "heads": a.heads, "kv_heads": a.kv_heads, "head_dim": a.head_dim, "causal": True,
                              "reps": a.reps, "ms": round(ms, 4), "flops": flops, "flop_count": "2*L^2*heads*head_dim",
                              "tflops": round(flops / (ms / 1e3) / 1e12, 2)}), flush=True)


if __name__ == "__main__":
    main()
