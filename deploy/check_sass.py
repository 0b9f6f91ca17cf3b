#!/usr/bin/env python3
"""Checks the sm_90a machine code of the shipped kernels where the compiler's scheduling decides
whether a decode product is right and fast (programmatic dependent launch, kernels.cu):

- In every product that loads weights before griddepcontrol.wait (gemv_*, matmul_skinny_*), every
  global load above the wait (ACQBULK in SASS) is a non-coherent one (LDG...CONSTANT: the weights
  and their scales). A coherent load there would be an activation read before its producer is done.
  The sources read activations with plain loads (load_after_wait), which the wait orders; a
  non-coherent activation load could be hoisted above it (S8's race, found in S11).
- The one-token products of a decode step issue their whole first round of weight loads above the
  wait (R x U 16-byte loads and as many scale loads a lane), so that, started early, they stream
  while the kernel before them runs: ptxas may hoist the wait, which has no operands (S11).

  check_sass.py FATBIN_OR_JAR [--cuobjdump PATH]   exit 0: all checks pass, 1: a check failed
"""
import re
import subprocess
import sys
import tempfile
import zipfile

# one-token decode products: the loads a lane issues above its wait (weights + scales)
FIRST_ROUND = {
    "gemv_q4_k2r4_1": 32, "gemv_q8_k2r4_1": 32,  # 4 rows x 4 loads
    "gemv_q4_k2r8_1": 32, "gemv_q8_k2r8_1": 32,  # 8 rows x 2 loads
    "gemv_q4_glu32_1": 32, "gemv_q8_glu32_1": 32,  # 16 rows x 1 load
    "gemv_q4_k2r8l_1": 32, "gemv_q8_k2r8l_1": 32,  # the same with the weights through L1
    "gemv_q4_glu32l_1": 32, "gemv_q8_glu32l_1": 32,
}
STREAMING = re.compile(r"^(gemv_|matmul_skinny_)")


def sass(path, cuobjdump):
    if path.endswith(".jar"):
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if n.endswith("kernels.fatbin"))
            tmp = tempfile.NamedTemporaryFile(suffix=".fatbin", delete=False)
            tmp.write(z.read(name))
            tmp.close()
            path = tmp.name
    return subprocess.run([cuobjdump, "-sass", "-arch", "sm_90a", path], capture_output=True, text=True, check=True).stdout


def loads_before_wait(text):
    """kernel -> (global loads above its first ACQBULK, whether it has one)"""
    kernels, fn, waited = {}, None, False
    for line in text.splitlines():
        m = re.search(r"Function : (\S+)", line)
        if m:
            fn, waited = m.group(1), False
            kernels[fn] = ([], False)
            continue
        if fn is None:
            continue
        if "ACQBULK" in line and not waited:
            waited = True
            kernels[fn] = (kernels[fn][0], True)
        elif not waited:
            m = re.search(r"\b(LDG\.\S*)", line)
            if m:
                kernels[fn][0].append(m.group(1))
    return kernels


def main():
    args = sys.argv[1:]
    cuobjdump = "cuobjdump"
    if "--cuobjdump" in args:
        i = args.index("--cuobjdump")
        cuobjdump = args[i + 1]
        del args[i:i + 2]
    kernels = loads_before_wait(sass(args[0], cuobjdump))
    failures, checked = [], 0
    for name, (loads, waits) in sorted(kernels.items()):
        if not STREAMING.match(name):
            continue
        checked += 1
        coherent = [l for l in loads if "CONSTANT" not in l]
        if coherent:
            failures.append(f"{name}: {len(coherent)} coherent load(s) above its wait: {sorted(set(coherent))}")
        if name in FIRST_ROUND and len(loads) != FIRST_ROUND[name]:
            failures.append(f"{name}: {len(loads)} loads above its wait, expected its whole first round ({FIRST_ROUND[name]})")
    missing = sorted(set(FIRST_ROUND) - set(kernels))
    if missing:
        failures.append(f"kernels not found: {missing}")
    for name in sorted(FIRST_ROUND):
        if name in kernels:
            print(f"{name}: {len(kernels[name][0])} loads above the wait")
    print(f"check_sass: {checked} streaming products checked, {len(failures)} failure(s)")
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
