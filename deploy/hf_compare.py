#!/usr/bin/env python3
"""Kvasir's GPU engine against Hugging Face transformers on the same weights.

Reads a llama GGUF file (bf16/f16/f32 tensors, e.g. one written by `kvasir synth`), builds a
transformers LlamaForCausalLM with exactly those weights (q/k rows un-permuted from GGUF's
interleaved RoPE layout to Hugging Face's half-split layout), and compares with what
`gpu-bench logits` wrote: last-position logits (relative error) and greedy continuations
(with the reference's top-2 margin at each step). The reference runs in float32 on the bf16
weights -- the same function Kvasir computes (bf16 weights, fp32 activations and accumulation);
the distance of transformers' own bf16 run from it is printed as the bf16 noise level.
Optionally times transformers' generate() in bf16 at several batch sizes.

  hf_compare.py MODEL.gguf KVASIR_DIR [--out FILE.json] [--safetensors DIR]
                [--bench 1,32] [--bench-prompt 16] [--bench-steps 64]
  hf_compare.py MODEL.gguf --bench-only --bench 8,32,128 [...]   (transformers generate throughput alone)
"""
import argparse
import json
import struct
import sys
import time

import numpy as np
import torch

GGML_F32, GGML_F16, GGML_BF16 = 0, 1, 30


def read_gguf(path):
    data = np.memmap(path, dtype=np.uint8, mode="r")
    pos = 0

    def take(fmt):
        nonlocal pos
        size = struct.calcsize(fmt)
        v = struct.unpack_from(fmt, data, pos)
        pos += size
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal pos
        n = take("<Q")
        s = bytes(data[pos:pos + n]).decode("utf-8", "replace")
        pos += n
        return s

    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def value(t):
        nonlocal pos
        if t in scalar:
            return take(scalar[t])
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            if et in scalar:
                size = struct.calcsize(scalar[et])
                arr = np.frombuffer(data, dtype=np.dtype(scalar[et]), count=n, offset=pos) if et != 7 else None
                pos += size * n
                return arr
            return [value(et) for _ in range(n)]
        raise ValueError(f"gguf value type {t}")

    assert bytes(data[:4]) == b"GGUF", "not a GGUF file"
    pos = 4
    take("<I")
    n_tensors, n_kv = take("<Q"), take("<Q")
    meta = {}
    for _ in range(n_kv):
        k = string()
        meta[k] = value(take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = take("<I")
        dims = [take("<Q") for _ in range(nd)]
        infos.append((name, dims, take("<I"), take("<Q")))
    align = meta.get("general.alignment", 32)
    start = (pos + align - 1) // align * align
    tensors = {}
    for name, dims, t, off in infos:
        count = int(np.prod(dims))
        shape = tuple(reversed(dims))
        if t == GGML_F32:
            arr = np.frombuffer(data, dtype=np.float32, count=count, offset=start + off).reshape(shape)
            tensors[name] = torch.from_numpy(arr.copy())
        elif t in (GGML_F16, GGML_BF16):
            arr = np.frombuffer(data, dtype=np.int16, count=count, offset=start + off).reshape(shape)
            tensors[name] = torch.from_numpy(arr.copy()).view(torch.bfloat16 if t == GGML_BF16 else torch.float16)
        else:
            raise ValueError(f"{name}: ggml type {t} not supported here (bf16/f16/f32 only)")
    return meta, tensors


def unpermute(w, heads):
    """GGUF's interleaved RoPE rows back to Hugging Face's half-split order."""
    rows, cols = w.shape
    return w.reshape(heads, rows // heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def build(meta, tensors, dtype):
    from transformers import LlamaConfig, LlamaForCausalLM
    a = "llama."
    dim, heads = meta[a + "embedding_length"], meta[a + "attention.head_count"]
    kv_heads = meta.get(a + "attention.head_count_kv", heads)
    layers = meta[a + "block_count"]
    vocab = tensors["token_embd.weight"].shape[0]
    tied = "output.weight" not in tensors
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=dim, intermediate_size=meta[a + "feed_forward_length"],
                      num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                      max_position_embeddings=meta[a + "context_length"], rms_norm_eps=meta[a + "attention.layer_norm_rms_epsilon"],
                      rope_theta=meta.get(a + "rope.freq_base", 10000.0),
                      rope_parameters={"rope_type": "default", "rope_theta": meta.get(a + "rope.freq_base", 10000.0)},
                      tie_word_embeddings=tied,
                      bos_token_id=1, eos_token_id=2, pad_token_id=0)
    cfg._attn_implementation = "sdpa"
    torch.set_default_dtype(dtype)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
    model.eval()
    sd = {"model.embed_tokens.weight": tensors["token_embd.weight"], "model.norm.weight": tensors["output_norm.weight"]}
    if not tied:
        sd["lm_head.weight"] = tensors["output.weight"]
    for l in range(layers):
        p, m = f"blk.{l}.", f"model.layers.{l}."
        sd[m + "input_layernorm.weight"] = tensors[p + "attn_norm.weight"]
        sd[m + "post_attention_layernorm.weight"] = tensors[p + "ffn_norm.weight"]
        sd[m + "self_attn.q_proj.weight"] = unpermute(tensors[p + "attn_q.weight"], heads)
        sd[m + "self_attn.k_proj.weight"] = unpermute(tensors[p + "attn_k.weight"], kv_heads)
        sd[m + "self_attn.v_proj.weight"] = tensors[p + "attn_v.weight"]
        sd[m + "self_attn.o_proj.weight"] = tensors[p + "attn_output.weight"]
        sd[m + "mlp.gate_proj.weight"] = tensors[p + "ffn_gate.weight"]
        sd[m + "mlp.up_proj.weight"] = tensors[p + "ffn_up.weight"]
        sd[m + "mlp.down_proj.weight"] = tensors[p + "ffn_down.weight"]
    params = dict(model.named_parameters())
    with torch.no_grad():
        for k, v in sd.items():
            params[k].copy_(v.to(device="cuda", dtype=params[k].dtype))
    if tied:
        model.tie_weights()
    # RoPE frequencies straight from the file: theta^(-2i/d), divided by Llama 3's per-frequency
    # factors when the GGUF carries them (rope_freqs) -- the same numbers the engine uses
    head_dim = dim // heads
    base = meta.get(a + "rope.freq_base", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    if "rope_freqs.weight" in tensors:
        inv = inv / tensors["rope_freqs.weight"].double()
    inv = inv.float().cuda()
    model.model.rotary_emb.inv_freq = inv
    model.model.rotary_emb.original_inv_freq = inv
    assert getattr(model.model.rotary_emb, "attention_scaling", 1.0) == 1.0
    return model


def rel(a, b):
    return float(torch.linalg.vector_norm(a.double() - b.double()) / torch.linalg.vector_norm(b.double()))


def bench(args, model, vocab, report):
    """transformers generate() in bf16, greedy, min_new_tokens = max_new_tokens, prefill included."""
    if args.bench:
        report["hf_generate"] = []
        g = torch.Generator().manual_seed(3)
        for b in [int(x) for x in args.bench.split(",")]:
            ids = torch.randint(259, vocab, (b, args.bench_prompt), generator=g).cuda()
            ids[:, 0] = 1
            mask = torch.ones_like(ids)
            with torch.no_grad():
                model.generate(ids, attention_mask=mask, max_new_tokens=4, min_new_tokens=4, do_sample=False, pad_token_id=0)
                torch.cuda.synchronize()
                t = time.time()
                model.generate(ids, attention_mask=mask, max_new_tokens=args.bench_steps, min_new_tokens=args.bench_steps,
                               do_sample=False, pad_token_id=0)
                torch.cuda.synchronize()
                dt = time.time() - t
            tps = b * args.bench_steps / dt
            report["hf_generate"].append({"batch": b, "tokens_per_s": tps, "seconds": dt})
            print(f"transformers generate bf16: batch {b}: {tps:.1f} tok/s ({dt:.2f} s for {args.bench_steps} steps, prefill included)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("kvasir_dir", nargs="?")
    ap.add_argument("--bench-only", action="store_true", help="skip the comparison: time transformers generate in bf16 only")
    ap.add_argument("--out")
    ap.add_argument("--safetensors", help="also write the weights as safetensors here and load the reference from them")
    ap.add_argument("--bench", default="")
    ap.add_argument("--bench-prompt", type=int, default=16)
    ap.add_argument("--bench-steps", type=int, default=64)
    args = ap.parse_args()

    t0 = time.time()
    meta, tensors = read_gguf(args.gguf)
    if args.bench_only:
        model = build(meta, tensors, torch.bfloat16)
        report = {"model": args.gguf}
        bench(args, model, tensors["token_embd.weight"].shape[0], report)
        if args.out:
            json.dump(report, open(args.out, "w"), indent=1)
        return 0
    kv = json.load(open(f"{args.kvasir_dir}/kvasir.json"))
    vocab = kv["vocab"]
    ours = torch.from_numpy(np.fromfile(f"{args.kvasir_dir}/logits.bin", dtype="<f4").reshape(-1, vocab))
    report = {"model": args.gguf, "prompts": []}

    ref32 = build(meta, tensors, torch.float32)
    if args.safetensors:
        from transformers import LlamaForCausalLM
        # clone the fp32 RoPE frequencies first: Module.to(bf16) would round that buffer too
        inv = ref32.model.rotary_emb.inv_freq.clone()
        ref32.to(torch.bfloat16).save_pretrained(args.safetensors, safe_serialization=True)
        del ref32
        torch.cuda.empty_cache()
        ref32 = LlamaForCausalLM.from_pretrained(args.safetensors, torch_dtype=torch.float32).cuda().eval()
        ref32.model.rotary_emb.inv_freq = inv
        ref32.model.rotary_emb.original_inv_freq = inv
        report["loaded_from_safetensors"] = args.safetensors
    print(f"reference built in {time.time() - t0:.1f} s", flush=True)

    inv_freq = ref32.model.rotary_emb.inv_freq.clone()
    refs = []
    with torch.no_grad():
        for i, prompt in enumerate(kv["prompts"]):
            ids = torch.tensor([prompt], device="cuda")
            ref = ref32(ids).logits[0, -1].float().cpu()
            refs.append(ref)
            err = rel(ours[i], ref)
            max_abs = float((ours[i] - ref).abs().max())
            gen = ref32.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=len(kv["greedy"][i]), do_sample=False,
                                 output_scores=True, return_dict_in_generate=True, pad_token_id=0)
            hf_tokens = gen.sequences[0, len(prompt):].tolist()
            margins = []
            for s in gen.scores:
                top = torch.topk(s[0].float(), 2).values
                margins.append(float(top[0] - top[1]))
            mine = kv["greedy"][i]
            same = 0
            while same < len(mine) and same < len(hf_tokens) and mine[same] == hf_tokens[same]:
                same += 1
            first_diff_margin = margins[same] if same < len(mine) else None
            p = {"length": len(prompt), "rel_err_vs_fp32": err, "max_abs_logit_diff": max_abs,
                 "greedy_equal_prefix": same, "steps": len(mine), "first_diff_ref_margin": first_diff_margin,
                 "kvasir_greedy": mine, "hf_greedy": hf_tokens, "ref_margins": margins,
                 "argmax_equal": int(ours[i].argmax()) == int(ref.argmax())}
            report["prompts"].append(p)
            print(f"prompt len {len(prompt):4d}: rel err {err:.2e}, max |dlogit| {max_abs:.3e}, "
                  f"greedy equal for {same}/{len(mine)} steps" + (f" (reference top-2 margin at first difference {first_diff_margin:.3e})" if first_diff_margin is not None else ""),
                  flush=True)
        # transformers' own bf16 run, against the same fp32 reference: the bf16 noise level
        model = ref32.to(torch.bfloat16)
        model.model.rotary_emb.inv_freq = inv_freq
        model.model.rotary_emb.original_inv_freq = inv_freq
        torch.cuda.empty_cache()
        for i, prompt in enumerate(kv["prompts"]):
            bf = model(torch.tensor([prompt], device="cuda")).logits[0, -1].float().cpu()
            report["prompts"][i]["hf_bf16_rel_err_vs_fp32"] = rel(bf, refs[i])
            print(f"prompt len {len(prompt):4d}: transformers bf16 vs fp32 rel err {rel(bf, refs[i]):.2e}", flush=True)

    if args.bench:
        bench(args, model, vocab, report)
    if args.out:
        json.dump(report, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
