#!/usr/bin/env python3
"""Accuracy of quantized modes against a baseline run of the same weights: each DIR holds what
`gpu-bench logits` wrote (kvasir.json with prompts and greedy continuations, logits.bin with the
last-position logits of each prompt). Prints, per mode, the relative logit error ‖x − base‖/‖base‖
(worst and mean over prompts) and how many greedy steps agree with the baseline's, as JSON lines.
  compare_runs.py BASE_DIR NAME=DIR [NAME=DIR ...]
"""
import json
import sys

import numpy as np


def load(d):
    meta = json.load(open(f"{d}/kvasir.json"))
    logits = np.fromfile(f"{d}/logits.bin", dtype="<f4").reshape(-1, meta["vocab"]).astype(np.float64)
    return meta, logits


base_meta, base = load(sys.argv[1])
for arg in sys.argv[2:]:
    name, d = arg.split("=", 1)
    meta, logits = load(d)
    errs = [float(np.linalg.norm(logits[i] - base[i]) / np.linalg.norm(base[i])) for i in range(len(base))]
    agree, steps = 0, 0
    for mine, ref in zip(meta["greedy"], base_meta["greedy"]):
        same = 0
        while same < len(mine) and same < len(ref) and mine[same] == ref[same]:
            same += 1
        agree += same
        steps += len(ref)
    argmax = sum(int(np.argmax(logits[i]) == np.argmax(base[i])) for i in range(len(base)))
    print(json.dumps({"bench": "accuracy_vs_base", "mode": name, "worst_rel_logit_err": max(errs), "mean_rel_logit_err": sum(errs) / len(errs),
                      "greedy_steps_equal_before_first_difference": agree, "greedy_steps": steps, "argmax_equal": argmax, "prompts": len(base)}), flush=True)
