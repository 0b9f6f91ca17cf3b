#!/usr/bin/env bash
# What one call on the GPU machine runs (device tool): unpack the bundle, GPU tests, checks against
# transformers and throughput. Everything it measures lands in $OUT.
#   device-check.sh CARRY_DIR PHASE      PHASE: small (tests, stories260K, 1B) | big (8B) | all
#                                        | serve (tests, stories260K generate and serve --backend gpu, 1B prefill and sampled decode)
#                                        | perf (GEMM vs torch.matmul, 8B decode, serving throughput vs transformers generate)
#                                        | quant (tests, 8B decode bf16/int8/int4, serving vs transformers)
#                                        | accuracy (ncu decode profiles; 1B: int8/int4 weights and int8/fp8 KV against bf16; prefill)
#                                        | ppl (stories260K perplexity per mode, GPU and CPU) | gemm (GEMM vs torch, attention vs SDPA)
#                                        | attprof (ncu sections of the decode attention) | attchoice (serving with each lane kernel)
#                                        | profile (tests, 8B batch-1 decode per quantization with ncu per-kernel times)
#                                        | tune (tests, every decode GEMV layout, 8B decode per quantization and at 2k context, serving vs transformers)
#                                        | qtc (tests, 8B decode per mode, serving with INT8 and INT4 weights)
#                                        | final (tests, 8B decode per quantization and at 2k, serving vs transformers, 1B accuracy and perplexity per mode)
#                                        | pdl (tests, 8B decode per quantization with and without programmatic dependent launch)
#                                        | pdlserve (serving with and without programmatic launch, transformers generate)
#                                        | decode (tests, 8B decode per quantization, and bf16 at a 2k context; modes: the same without tests)
#                                        | attn (tests, 8B batch-1 decode with each short-context attention kernel)
#                                        | attn2 (tests, per-head vs per-kv-head attention at batch 1/4/16 and 2k, serving vs transformers)
#                                        | batch (tests, 8B decode at 1–4 and 16 sequences, quantized GEMV vs tensor cores at 2–4)
#                                        | s4final (tests, 8B decode per quantization with and without the int8 attention output, at 2k,
#                                          serving vs transformers, stories260K perplexity per mode)
#                                        | ablate (8B batch-1 decode with each kind of kernel left out: its cost inside the graph)
#                                        | launches (kernel chains with and without programmatic launch; ncu per-kernel times of 8B batch-1 decode)
#                                        | timeline (nsys: every kernel of one 8B batch-1 decode step in the graph, per quantization)
#                                        | s5final (tests, 8B decode per quantization, serving vs transformers)
#                                        | k2r4 (tests, 8B batch-1 decode with the k2 and k2r4 quantized GEMV, every GEMV layout's time)
#                                        | s6ablate (tests, 8B decode with the small kernels left out: what each costs inside the graph;
#                                          a timeline of the 32-sequence bf16 step without programmatic launch)
#                                        | s6skinny (tests, bf16 products of 4–32 tokens through cuBLAS and the skinny kernels, 8B decode
#                                          at 4, 8, 16 and 32 sequences with each; SERVE=1: serving too)
#                                        | s6norm (tests, 8B decode with and without the RMSNorms carried by the quantized GEMVs)
#                                        | s6final (tests, 8B decode per quantization at 1 and 32, INT8/INT4 without the carried norms)
#                                        | s6serve (serving vs transformers generate; INT4 batch-1 decode without/with the carried norms, twice)
#                                        | s6check (tests, serving vs transformers generate, bf16 decode at 1, 4 and 8)
#                                        | s7rope (tests, 8B decode with RoPE/KV in its own launch and inside the per-head attention)
#                                        | s7quant (the same for INT4 and INT8 weights: own launch against the auto choice, alternating)
#                                        | s7fa (tests, tensor-core prefill attention at 4k tokens against SDPA, its ncu sections)
#                                        | s8glu (tests, the one-token feed-forward's kernels and chains, 8B batch-1 decode with the SwiGLU
#                                          in its own launch and carried by the GEMVs)
#                                        | s9host (INT8 batch-1 decode with the step timed on the stream, the loop on the caller's
#                                          thread and on the dispatcher's; HOST_QUANT lists the modes)
#                                        | s9spin (tests, 8B batch-1 decode per mode with the dispatcher polling and parked)
#                                        | s10serve (tests, serving 8B with steps queued ahead and without; SERVE_RUNS, SERVE_LEVELS)
#                                        | s10final (8B batch-1 decode per mode, bf16 with RoPE in the attention; HF=1: transformers at 32)
#                                        | s10pipe (tests, 8B batch-1 decode with each step queued before the last one's tokens are
#                                          back and one step at a time; PIPE_QUANT lists the modes, PIPE_RUNS the order)
#                                        | s11glu (the SASS checks, tests, the feed-forward chains, 8B batch-1 decode with the
#                                          SwiGLU-carrying GEMV streaming before its wait and waiting first; GLU_QUANT, GLU_RUNS,
#                                          GLU_INT8: INT8 with the SwiGLU carried, per glu-early value; MODES=1: every mode once)
#                                        | s11layout (the SASS checks, tests, 8B batch-1 decode per mode of LAYOUT_QUANT with the
#                                          one-token GEMVs in each layout of LAYOUT_RUNS; FUSE_RUNS: INT8 with each fuse-swiglu
#                                          value; KERNELS=1: every GEMV layout's time per shape)
#                                        | s11switch (the SASS checks, 8B batch-1 decode of SWITCH_QUANT once per value of SWITCH_RUNS
#                                          of the JVM switch -Dkvasir.gpu.$SWITCH)
#                                        | s11final (the SASS checks, tests, 8B batch-1 decode per mode; FINAL_INT4: INT4 again, times)
#                                        | s12att (ncu sections of the INT4 batch-1 attention and the products around it, 4-layer model)
#                                        | s14opts (GPU tests of TEST_CLASSES when set, the SASS checks, 8B batch-1 decode of
#                                          OPT_QUANT once per entry of OPT_RUNS: JVM option sets separated by ';', '-' for none)
#                                        | s13att (the SASS checks, tests, 8B batch-1 decode with the per-head attention's first sweep
#                                          loaded before its wait or read after it: ATT_RUNS (INT4), then ATT_OTHER modes ahead)
#   TIMELINE_Q lists the timeline's modes (default int8 none int4), TIMELINE_OPTS its JVM options.
#   TIMELINE_BATCH sets the timeline's batch (default 1).
#   SKIP_TESTS=1 skips the GPU tests in the quant phase.
set -uo pipefail
C="$(cd "$1" && pwd)"; PHASE="$2"
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0
B=/tmp/kvasir-bundle
[[ -x $B/bin/kvasir ]] || tar xJf "$C/kvasir-bundle.tar.xz" -C /tmp
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv | tee "$OUT/gpu.txt"
step() { echo "=== $* ($(date +%T))"; }
# GPU tests into $OUT/gpu-tests.log (only the classes named in TEST_CLASSES, when set); prints the
# summary and the INFO lines matching $1 (an ERE)
gpu_tests() {
  step gpu tests ${TEST_CLASSES:-}
  $B/bin/gpu-tests "$C/shared" ${TEST_CLASSES:-} 2>&1 | grep -v DEBUG > "$OUT/gpu-tests.log"
  grep -E "tests (successful|failed|skipped|aborted)|FAIL|Exception|MethodSource|=>" "$OUT/gpu-tests.log" | head -40
  [[ -n "${1:-}" ]] && grep -E "$1" "$OUT/gpu-tests.log" | sed 's/.*INFO *//' | head -30
  return 0
}
# the sm_90a machine code's loads above each streaming product's wait (deploy/check_sass.py) into $OUT/sass-check.txt
sass_check() {
  step sass check
  python3 "$(dirname "$0")/check_sass.py" $B/lib/kvasir-gpu-*-SNAPSHOT.jar 2>&1 | tee "$OUT/sass-check.txt" | tail -8
}
# copy bandwidth into $OUT/bandwidth.json and $BW (GB/s, read + written)
bandwidth() {
  step bandwidth
  $B/bin/gpu-bench bandwidth 2>&1 | grep bench | tee "$OUT/bandwidth.json"
  BW=$(grep -o '"gb_per_s":[0-9.]*' "$OUT/bandwidth.json" | cut -d: -f2)
}
# transformers generate on /tmp/l8b.gguf at the batch sizes $1, 128-token prompts and outputs
transformers_generate() {
  step transformers generate 8b
  python3 $B/python/hf_compare.py /tmp/l8b.gguf --bench-only --out "$OUT/hf_generate_8b.json" --bench "$1" --bench-prompt 128 --bench-steps 128 2>&1 | grep -v Warning | tail -5
}
# 1B logits per mode (bf16, int8/int4 weights, int8/fp8/fp16 KV) against fp32 compute on the same weights, into $OUT/accuracy_1b.json
logits_per_mode() {
  step logits per mode
  L="--lengths 7,33,100,250 --steps 48"; ARGS=""
  $B/bin/gpu-bench logits /tmp/l1b.gguf /tmp/a-base $L --dtype f32 --quantization none --kv-cache-dtype fp32 2>&1 | grep -E "wrote|Exception"
  for M in "bf16 --quantization none --kv-cache-dtype bf16" "int8 --quantization int8 --kv-cache-dtype bf16" "int4 --quantization int4 --kv-cache-dtype bf16" \
           "kv_int8 --quantization none --kv-cache-dtype int8" "kv_fp8 --quantization none --kv-cache-dtype fp8" "kv_fp16 --quantization none --kv-cache-dtype fp16"; do
    set -- $M; N=$1; shift
    $B/bin/gpu-bench logits /tmp/l1b.gguf /tmp/a-$N $L "$@" 2>&1 | grep -E "Exception" ; ARGS="$ARGS $N=/tmp/a-$N"
  done
  python3 $B/python/compare_runs.py /tmp/a-base $ARGS | tee "$OUT/accuracy_1b.json"
}
# stories260K perplexity per mode, GPU and CPU, on the shared eval text (logs in ${PPL_LOGS:-$OUT}/ppl-*.log)
perplexities() {
  local L="${PPL_LOGS:-$OUT}"; mkdir -p "$L"
  step perplexity stories260K per mode
  S="$C/shared/models/stories260K"; T="$C/shared/reference/tinystory-eval.txt"
  run_ppl() { local name=$1; shift; printf '%s ' "$name"; $B/bin/kvasir eval perplexity --file "$T" --json "$@" 2>"$L/ppl-$name.log" | grep -o '"perplexity":[0-9.]*' || tail -2 "$L/ppl-$name.log"; }
  run_ppl cpu_f32 --model $S/stories260K-f32.gguf
  run_ppl gpu_f32 --backend gpu --model $S/stories260K-f32.gguf
  run_ppl gpu_bf16 --backend gpu --model $S/stories260K-f32.gguf --dtype bf16
  run_ppl gpu_int8 --backend gpu --model $S/stories260K-f32.gguf --quantization int8
  run_ppl gpu_int4 --backend gpu --model $S/stories260K-f32.gguf --quantization int4
  run_ppl gpu_kv_fp16 --backend gpu --model $S/stories260K-f32.gguf --kv-cache-dtype fp16
  run_ppl gpu_kv_int8 --backend gpu --model $S/stories260K-f32.gguf --kv-cache-dtype int8
  run_ppl gpu_kv_fp8 --backend gpu --model $S/stories260K-f32.gguf --kv-cache-dtype fp8
  run_ppl cpu_q8_0 --model $S/stories260K-q8_0.gguf
  run_ppl gpu_q8_0 --backend gpu --model $S/stories260K-q8_0.gguf
  run_ppl cpu_q4_0 --model $S/stories260K-q4_0.gguf
  run_ppl gpu_q4_0 --backend gpu --model $S/stories260K-q4_0.gguf
  grep -h "quantization\|KV pool" "$L"/ppl-gpu_int*.log "$L"/ppl-gpu_q*.log | grep -v DEBUG | sed 's/.*INFO *//' | head -8
}
# the synthetic Llama 3 8B file at /tmp/l8b.gguf
synth_8b() {
  step synth 8b
  [[ -f /tmp/l8b.gguf ]] || $B/bin/kvasir synth --shape llama3-8b --type bf16 --out /tmp/l8b.gguf 2>&1 | tail -1
}
# 8B decode in bf16, int8 and int4 at the batch sizes $1, appended to $OUT/decode_8b.json
decode_modes() {
  for Q in none int8 int4; do
    step decode 8b $Q
    timeout 200 $B/bin/gpu-bench decode /tmp/l8b.gguf --quantization $Q --batch "$1" --graphs on --bandwidth "${BW:-0}" 2>&1 | grep -E '"bench"|Exception' | tee -a "$OUT/decode_8b.json"
  done
}
# 8B decode with one JVM switch -Dkvasir.gpu.NAME=VALUE, each JSON line tagged "NAME":"VALUE", into
# $OUT/decode_8b.json: switched_decode NAME VALUE GPU-BENCH-DECODE-ARGS...
switched_decode() {
  local name=$1 value=$2; shift 2
  step "decode 8b $* with $name=$value"
  KVASIR_JAVA_OPTS="-Dkvasir.gpu.$name=$value ${EXTRA_JAVA_OPTS:-}" timeout 200 $B/bin/gpu-bench decode /tmp/l8b.gguf --graphs on --bandwidth "${BW:-0}" "$@" 2>&1 \
    | grep -E '"bench"|Exception' | sed "s/^{/{\"$name\":\"$value\",/" | tee -a "$OUT/decode_8b.json"
}
# 8B batch-1 decode with the step timed on the stream, once per value of a gpu-bench decode option,
# appended to $OUT/decode_8b.json: timed_decode QUANT OPTION VALUE...
timed_decode() {
  local q=$1 option=$2; shift 2
  for value in "$@"; do
    step "decode 8b $q $option=$value"
    timeout 200 $B/bin/gpu-bench decode /tmp/l8b.gguf --quantization $q --batch 1 --graphs on --bandwidth "${BW:-0}" --step-timing true --$option $value 2>&1 \
      | grep -E '"bench"|Exception' | tee -a "$OUT/decode_8b.json"
  done
}
# per-kernel times (ncu, no graphs) of 8B batch-1 decode with quantization $1 into $OUT/ncu_decode_$1.txt
ncu_decode() {
  timeout 240 ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
    $B/bin/gpu-bench decode /tmp/l8b.gguf --quantization "$1" --batch 1 --graphs off --prompt 64 --steps 2 > "/tmp/ncu_$1.txt" 2>&1
  awk '/Device 0, CC/{name=$1" "$2$3$4} /gpu__time_duration.sum/{print name, $(NF-2), $(NF-1), $NF}' "/tmp/ncu_$1.txt" | tee "$OUT/ncu_decode_$1.txt"
}
# bf16 batch-1 decode at a 2k context into $OUT/decode_8b.json
decode_2k() {
  step decode 8b at a 2k context
  timeout 200 $B/bin/gpu-bench decode /tmp/l8b.gguf --batch 1 --prompt 2048 --steps 64 --graphs on --bandwidth "${BW:-0}" 2>&1 | grep -E '"bench"|Exception' | tee -a "$OUT/decode_8b.json"
}
# serving throughput at 8, 32 and 128 concurrent requests into $OUT/serving_8b.json, the log into $1
serving_8b() {
  step serving 8b
  $B/bin/kvasir bench --serving --backend gpu --model /tmp/l8b.gguf --concurrency 8,32,128 --prompt-tokens 128 --gen-tokens 128 --json 2>"$1" | tee "$OUT/serving_8b.json"
  grep -E "ERROR|Exception" "$1" | head -5
}
# copy bandwidth, the product kernels alone, then 8B decode (bf16, batch 1 and 32) against that bandwidth
bandwidth_kernels_decode_8b() {
  bandwidth
  step kernels
  $B/bin/gpu-bench kernels 2>&1 | grep '"bench"' | tee "$OUT/kernels.json"
  synth_8b
  step decode 8b
  $B/bin/gpu-bench decode /tmp/l8b.gguf --batch 1,32 --bandwidth "${BW:-0}" 2>&1 | grep '"bench"' | tee "$OUT/decode_8b.json"
}
# cuBLAS for the batched products: PyTorch's wheel carries one when no toolkit library is on the loader path
export KVASIR_CUBLAS="${KVASIR_CUBLAS:-$(find /opt /usr -name 'libcublas.so.1[23]' 2>/dev/null | head -1)}"
echo "cuBLAS: ${KVASIR_CUBLAS:-none}"
if [[ "$PHASE" == serve ]]; then
  M="$C/shared/models/stories260K/stories260K-f32.gguf"
  gpu_tests "relative error|equal the CPU|deviation"
  step generate greedy and sampled
  $B/bin/kvasir generate --backend gpu --model "$M" --prompt "Once upon a time" --max-tokens 40 --temperature 0 --json 2>&1 | tail -1
  $B/bin/kvasir generate --backend gpu --model "$M" --prompt "Once upon a time" --max-tokens 40 --temperature 0.8 --top-p 0.9 --seed 5 --json 2>&1 | tail -1
  $B/bin/kvasir generate --model "$M" --prompt "Once upon a time" --max-tokens 40 --temperature 0.8 --top-p 0.9 --seed 5 --json 2>&1 | tail -1
  for BK in gpu cpu; do
    step serve --backend $BK
    $B/bin/kvasir serve --backend $BK --model "$M" --port 18080 > "$OUT/serve-$BK.log" 2>&1 &
    SP=$!
    for i in $(seq 60); do curl -sf localhost:18080/health >/dev/null 2>&1 && break; sleep 1; done
    curl -s localhost:18080/health; echo
    curl -s localhost:18080/v1/completions -H 'Content-Type: application/json' -d '{"model":"stories260K-f32","prompt":"Once upon a time","max_tokens":24,"temperature":0}' | grep -o '"text":"[^"]*"'
    curl -s localhost:18080/v1/completions -H 'Content-Type: application/json' -d '{"model":"stories260K-f32","prompt":"Once upon a time","max_tokens":8,"temperature":0.9,"top_p":0.9,"seed":3,"logprobs":2}' | grep -o '"token_logprobs":[^]]*]'
    kill $SP; wait $SP 2>/dev/null
    grep -E "cuda:|ERROR" "$OUT/serve-$BK.log" | grep -v DEBUG | head -3
  done
  step synth 1b
  $B/bin/kvasir synth --shape llama3.2-1b --type bf16 --out /tmp/l1b.gguf 2>&1 | tail -1
  step prefill 1b
  $B/bin/gpu-bench prefill /tmp/l1b.gguf --lengths 128,512,2048 2>&1 | grep '"bench"' | tee "$OUT/prefill_1b.json"
  step decode 1b greedy vs sampled
  for S in false true; do $B/bin/gpu-bench decode /tmp/l1b.gguf --batch 1,32 --graphs on --sample $S 2>&1 | grep '"bench"'; done | tee "$OUT/decode_1b.json"
fi
if [[ "$PHASE" == small || "$PHASE" == all ]]; then
  gpu_tests
  step generate
  $B/bin/kvasir generate --backend gpu --model "$C/shared/models/stories260K/stories260K-f32.gguf" --prompt "Once upon a time" --max-tokens 40 --temperature 0 --json 2>&1 | tail -2
  bandwidth
  step synth 1b
  $B/bin/kvasir synth --shape llama3.2-1b --type bf16 --out /tmp/l1b.gguf 2>&1 | tail -1
  step kvasir logits 1b
  $B/bin/gpu-bench logits /tmp/l1b.gguf /tmp/k1b --lengths 7,33,100 --steps 24 2>&1 | grep -v DEBUG | tail -3
  step transformers 1b
  python3 $B/python/hf_compare.py /tmp/l1b.gguf /tmp/k1b --out "$OUT/hf_1b.json" --safetensors /tmp/l1b-hf --bench 1,32 2>&1 | grep -v Warning | tail -12
  step decode 1b
  $B/bin/gpu-bench decode /tmp/l1b.gguf --batch 1,32 --bandwidth "${BW:-0}" 2>&1 | grep '"bench"' | tee "$OUT/decode_1b.json"
fi
if [[ "$PHASE" == big || "$PHASE" == all ]]; then
  bandwidth_kernels_decode_8b
  step kvasir logits 8b
  $B/bin/gpu-bench logits /tmp/l8b.gguf /tmp/k8b --lengths 7,33,100 --steps 24 2>&1 | grep -v DEBUG | tail -2
  step transformers 8b
  python3 $B/python/hf_compare.py /tmp/l8b.gguf /tmp/k8b --out "$OUT/hf_8b.json" --bench 1,32 2>&1 | grep -v Warning | tail -12
fi
if [[ "$PHASE" == perf ]]; then
  gpu_tests "stories260K greedy|vs unquantized|tensor-core"
  step attention kvasir vs sdpa
  $B/bin/gpu-bench attention --kv-cache-dtype fp32,fp16,bf16,int8,fp8 2>&1 | grep '"bench"' | tee "$OUT/attention.json"
  python3 $B/python/sdpa_bench.py 2>&1 | grep -v Warning | tee -a "$OUT/attention.json"
  step gemm kvasir
  $B/bin/gpu-bench gemm --tokens 512,2048,8192 2>&1 | grep -E '"bench"|cuBLAS|Exception' | tee "$OUT/gemm.json"
  step gemm torch
  python3 $B/python/matmul_bench.py --tokens 512,2048,8192 2>&1 | tee "$OUT/torch_matmul.json"
  bandwidth_kernels_decode_8b
  serving_8b "$OUT/serving.log"
  transformers_generate 8,32,128
fi
if [[ "$PHASE" == quant ]]; then
  [[ -n "${SKIP_TESTS:-}" ]] || gpu_tests "grouped decode attention .attention_lp.*128|stories260K greedy|last-position|layouts|INT8/G32 ×|INT4/G32 ×"
  bandwidth
  synth_8b
  decode_modes 1,32
  serving_8b "$OUT/serving.log"
  transformers_generate 8,32,128
fi
if [[ "$PHASE" == accuracy ]]; then
  step profile 8b decode kernels
  $B/bin/kvasir synth --shape llama3-8b --type bf16 --out /tmp/l8b.gguf 2>&1 | tail -1
  for Q in none int4; do
    timeout 240 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
      $B/bin/gpu-bench decode /tmp/l8b.gguf --quantization $Q --batch 1 --graphs off --prompt 100 --steps 3 > "$OUT/ncu_decode_$Q.txt" 2>&1
    wc -l "$OUT/ncu_decode_$Q.txt"
  done
  step synth 1b
  $B/bin/kvasir synth --shape llama3.2-1b --type bf16 --out /tmp/l1b.gguf 2>&1 | tail -1
  logits_per_mode
  step prefill 1b and 8b-shaped attention
  $B/bin/gpu-bench prefill /tmp/l1b.gguf --lengths 128,512,2048,4096 2>&1 | grep '"bench"' | tee "$OUT/prefill_1b.json"
fi
if [[ "$PHASE" == gemm ]]; then
  step gemm kvasir
  $B/bin/gpu-bench gemm --tokens 512,2048,8192 2>&1 | grep -E '"bench"|Exception' | tee "$OUT/gemm.json"
  step gemm torch
  python3 $B/python/matmul_bench.py --tokens 512,2048,8192 2>&1 | tee "$OUT/torch_matmul.json"
  step attention kvasir vs sdpa
  $B/bin/gpu-bench attention --kv-cache-dtype bf16,fp16 2>&1 | grep '"bench"' | tee "$OUT/attention.json"
  python3 $B/python/sdpa_bench.py 2>&1 | grep -v Warning | tee -a "$OUT/attention.json"
fi
if [[ "$PHASE" == attprof ]]; then
  step profile decode attention
  $B/bin/kvasir synth --shape llama3-8b --type bf16 --out /tmp/l8b.gguf 2>&1 | tail -1
  for BATCH in 1 32; do
    timeout 200 ncu --clock-control none -k regex:attention_g4 -s 64 -c 2 --section SpeedOfLight --section WarpStateStats \
      --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
      $B/bin/gpu-bench decode /tmp/l8b.gguf --batch $BATCH --graphs off --prompt 200 --steps 3 > "$OUT/ncu_att_b$BATCH.txt" 2>&1
    grep -E "attention_g4|Duration|Stall|Warp Cycles Per Issued|Achieved Occupancy|Registers Per|Memory Throughput|Theoretical Occ|Block Limit" "$OUT/ncu_att_b$BATCH.txt" | head -40
  done
fi
if [[ "$PHASE" == attchoice ]]; then
  gpu_tests "attention_lp.* (bf16|int8) 32/8"
  synth_8b
  for A in lp lpw; do
    step serving 8b decode attention $A
    KVASIR_JAVA_OPTS="-Dkvasir.gpu.decode-attention=$A" $B/bin/kvasir bench --serving --backend gpu --model /tmp/l8b.gguf --concurrency 32,128 \
      --prompt-tokens 128 --gen-tokens 128 --json 2>"$OUT/serving-$A.log" | tee "$OUT/serving_8b_$A.json"
    grep -E "ERROR|Exception" "$OUT/serving-$A.log" | head -3
  done
  transformers_generate 32,128
fi
if [[ "$PHASE" == profile ]]; then
  gpu_tests "stories260K greedy|grouped decode attention"
  bandwidth
  synth_8b
  for Q in none int8 int4; do
    step decode 8b $Q
    timeout 200 $B/bin/gpu-bench decode /tmp/l8b.gguf --quantization $Q --batch 1 --bandwidth "${BW:-0}" 2>&1 | grep -E '"bench"|Exception' | grep -v '"graphs":false' | tee -a "$OUT/decode_8b.json"
    ncu_decode $Q
  done
fi
if [[ "$PHASE" == tune ]]; then
  gpu_tests "rope_kv|attention_g4s|attention_g8s|stories260K greedy"
  bandwidth
  step kernels: each decode GEMV layout
  $B/bin/gpu-bench kernels 2>&1 | grep -E '"bench"|Exception' > "$OUT/kernels.json"
  python3 - "$OUT/kernels.json" <<'PY'
import json, sys, collections
best = collections.defaultdict(list)
for line in open(sys.argv[1]):
    if not line.startswith('{'): print(line.strip()); continue
    r = json.loads(line)
    best[(r['bench'], r['rows'], r['cols'], r['n'])].append((r['ms'], r['layout'], r['weight_gb_per_s']))
for k, v in best.items():
    print(k, ' '.join(f"{l}={ms*1000:.1f}us/{gb}" for ms, l, gb in sorted(v)))
PY
  synth_8b
  decode_modes 1,32
  for A in g4w g4s; do switched_decode decode-attention $A --batch 1 --prompt 2048 --steps 64; done
  serving_8b "$OUT/serving.log"
  transformers_generate 8,32,128
fi
if [[ "$PHASE" == final ]]; then
  gpu_tests "producers|stories260K greedy|rope_kv"
  bandwidth
  synth_8b
  decode_modes 1,32
  decode_2k
  serving_8b /tmp/serving.log
  transformers_generate 8,32,128
  step synth 1b
  $B/bin/kvasir synth --shape llama3.2-1b --type bf16 --out /tmp/l1b.gguf 2>&1 | tail -1
  logits_per_mode
  PPL_LOGS=/tmp/ppl perplexities > "$OUT/ppl.txt"; cat "$OUT/ppl.txt"
fi
if [[ "$PHASE" == qtc ]]; then
  gpu_tests "on the tensor cores|stories260K greedy|last-position|Q4_0|Q8_0"
  bandwidth
  synth_8b
  decode_modes 1,32
  for Q in int8 int4; do
    step serving 8b $Q
    $B/bin/kvasir bench --serving --backend gpu --quantization $Q --model /tmp/l8b.gguf --concurrency 8,32,128 --prompt-tokens 128 --gen-tokens 128 --json 2>/tmp/serving-$Q.log | tee "$OUT/serving_8b_$Q.json"
    grep -E "ERROR|Exception" /tmp/serving-$Q.log | head -5
  done
fi
if [[ "$PHASE" == pdl ]]; then
  gpu_tests "programmatic|stories260K greedy|producers|rope_kv"
  bandwidth
  synth_8b
  for P in false true; do
    for Q in none int8 int4; do switched_decode pdl $P --quantization $Q --batch 1,32; done
  done
fi
# nsys's raw capture $1.qdstrm → $2_cuda_gpu_trace.csv. The nsys beside Nsight Compute leaves the
# capture unconverted, and its converter needs libdw.so.1 and libelf.so.1, which the GPU machine
# lacks: copy them into CARRY/lib from a machine that has them (elfutils).
timeline_csv() {
  local N; N=$(command -v nsys || find / -name nsys -type f -perm -u+x 2>/dev/null | head -1)
  if [[ ! -f $1.nsys-rep && -f $1.qdstrm ]]; then
    LD_LIBRARY_PATH="$C/lib:${LD_LIBRARY_PATH:-}" "$(find / -name QdstrmImporter -type f 2>/dev/null | head -1)" -i "$1.qdstrm" > /dev/null 2>&1
  fi
  timeout 120 "$N" stats --report cuda_gpu_trace --format csv --force-export=true --force-overwrite=true -o "$2" "$1.nsys-rep" 2>&1 | grep -iE "error|fail" | head -3
}
if [[ "$PHASE" == s5final ]]; then
  gpu_tests "k2r4. vs int8.*4096x4096 n=1 .k2r4|argmax|programmatic"
  bandwidth
  synth_8b
  decode_modes 1,32
  serving_8b /tmp/serving.log
  transformers_generate 8,32,128
fi
if [[ "$PHASE" == k2r4 ]]; then
  gpu_tests "k2r4. vs int8|argmax"
  bandwidth
  synth_8b
  for Q in int8 int4; do
    for L in auto k2r4; do switched_decode qgemv $L --quantization $Q --batch 1; done
  done
  step kernels: each decode GEMV layout
  timeout 240 $B/bin/gpu-bench kernels 2>&1 | grep -E '"bench"|Exception' > "$OUT/kernels.json"
  grep -E '"n":1,' "$OUT/kernels.json" | grep -E '"layout":"(k2|k2r4)"'
fi
if [[ "$PHASE" == timeline ]]; then
  # every kernel of one 8B batch-1 decode step as the graph ran it (nsys, graph nodes traced): its
  # duration and the gap before it, per kernel and summed per kind, into $OUT/timeline_$Q.txt
  synth_8b
  NSYS=$(command -v nsys || find / -name nsys -type f -perm -u+x 2>/dev/null | head -1)
  echo "nsys: ${NSYS:-none}"
  for Q in ${TIMELINE_Q:-int8 none int4}; do
    step timeline $Q
    rm -f /tmp/tl.nsys-rep /tmp/tl.sqlite /tmp/tl.qdstrm /tmp/tl-${Q}_cuda_gpu_trace.csv
    KVASIR_JAVA_OPTS="${TIMELINE_OPTS:-}" timeout 240 "$NSYS" profile --force-overwrite true --cuda-graph-trace=node -t cuda -o /tmp/tl \
      $B/bin/gpu-bench decode /tmp/l8b.gguf --quantization $Q --batch ${TIMELINE_BATCH:-1} --graphs on --steps 16 > /tmp/tl-$Q.log 2>&1
    grep '"bench"' /tmp/tl-$Q.log
    timeline_csv /tmp/tl "/tmp/tl-$Q"
    gzip -c /tmp/tl-${Q}_cuda_gpu_trace.csv > "$OUT/timeline_$Q.csv.gz"
    python3 - /tmp/tl-${Q}_cuda_gpu_trace.csv <<'PY' | tee "$OUT/timeline_$Q.txt"
import csv, sys, collections
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("Name") and not r["Name"].startswith("[")]
starts = [i for i, r in enumerate(rows) if r["Name"].startswith("embed_")]
a, b = starts[-2], starts[-1]  # the last whole step: from one embedding gather to the next
step = rows[a:b]
t0 = int(step[0]["Start (ns)"])
prev_end = t0
kinds = collections.defaultdict(lambda: [0, 0, 0])
for r in step:
    s, d = int(r["Start (ns)"]), int(r["Duration (ns)"])
    k = r["Name"].split("(")[0]
    kind = kinds[k]; kind[0] += 1; kind[1] += d; kind[2] += s - prev_end
    prev_end = s + d
total = int(rows[b]["Start (ns)"]) - t0
print(f"step {total/1e3:.1f} us, {len(step)} kernels; busy {sum(v[1] for v in kinds.values())/1e3:.1f} us, gaps {sum(v[2] for v in kinds.values())/1e3:.1f} us")
print("kernel count total_us mean_us gaps_before_us")
for k, v in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
    print(f"{k} {v[0]} {v[1]/1e3:.1f} {v[1]/v[0]/1e3:.2f} {v[2]/1e3:.1f}")
print("layer 5, kernel by kernel (start offset, duration, gap before; us):")
layer = [i for i, r in enumerate(step) if r["Name"].startswith("rmsnorm")]
if len(layer) > 12:
    lo, hi = layer[10], layer[12]
else:  # norms carried by the products: a layer from one attention to the next
    layer = [i for i, r in enumerate(step) if r["Name"].startswith("attention")]
    lo, hi = layer[5], layer[6]
if len(layer) > 6:
    pe = int(step[lo - 1]["Start (ns)"]) + int(step[lo - 1]["Duration (ns)"])
    for r in step[lo:hi]:
        s, d = int(r["Start (ns)"]), int(r["Duration (ns)"])
        print(f"  {r['Name'].split('(')[0]} {(s - t0)/1e3:.1f} {d/1e3:.2f} {(s - pe)/1e3:.2f}")
        pe = s + d
print("the step's last kernels and the next step's first (start offset, duration, gap before; us):")
pe = int(step[-5]["Start (ns)"]) + int(step[-5]["Duration (ns)"])
for r in step[-4:] + rows[b:b + 2]:
    s, d = int(r["Start (ns)"]), int(r["Duration (ns)"])
    print(f"  {r['Name'].split('(')[0]} {(s - t0)/1e3:.1f} {d/1e3:.2f} {(s - pe)/1e3:.2f}")
    pe = s + d
PY
  done
fi
if [[ "$PHASE" == s6ablate ]]; then
  gpu_tests "k2r4. vs int8|argmax"
  bandwidth
  synth_8b
  SMALL="rmsnorm,rope_kv,swiglu"
  for S in "" rmsnorm attention_ "$SMALL" "$SMALL,attention_"; do switched_decode skip-kernels "$S" --quantization none --batch 1,32; done
  for S in "" "$SMALL" "$SMALL,attention_"; do switched_decode skip-kernels "$S" --quantization int4 --batch 1; done
fi
if [[ "$PHASE" == s6skinny ]]; then
  gpu_tests "skinny.*(1000x4096|77x14336) n=(17|32)|FAIL"
  bandwidth
  step kernels
  timeout 300 $B/bin/gpu-bench kernels 2>&1 | grep -E '"bench"|Exception' > "$OUT/kernels.json"
  grep -E '"matmul_bf16"' "$OUT/kernels.json" | grep -vE '"n":1,'
  synth_8b
  for V in cublas skinny; do switched_decode batched $V --batch 4,8,16,32; done
  [[ -n "${SERVE:-}" ]] && serving_8b /tmp/serving.log
fi
if [[ "$PHASE" == s6norm ]]; then
  gpu_tests "rmsnorm carried|fusable|stories260K greedy|programmatic"
  bandwidth
  synth_8b
  for Q in int8 int4; do
    for F in false true; do switched_decode fuse-norms $F --quantization $Q --batch 1,4; done
  done
fi
if [[ "$PHASE" == s6final ]]; then
  gpu_tests "skinny.*77x14336 n=32|carried|stories260K greedy"
  bandwidth
  synth_8b
  decode_modes 1,32
  for Q in int8 int4; do switched_decode fuse-norms false --quantization $Q --batch 1; done
fi
if [[ "$PHASE" == s6serve ]]; then
  synth_8b
  serving_8b /tmp/serving.log
  transformers_generate 8,32,128
  bandwidth
  for F in false true false true; do switched_decode fuse-norms $F --quantization int4 --batch 1; done
fi
if [[ "$PHASE" == s6check ]]; then
  gpu_tests "skinny.*77x14336 n=(8|17)|carried"
  synth_8b
  serving_8b /tmp/serving.log
  transformers_generate 8,32,128
  bandwidth
  step decode 8b bf16
  timeout 200 $B/bin/gpu-bench decode /tmp/l8b.gguf --batch 1,4,8 --graphs on --bandwidth "${BW:-0}" 2>&1 | grep -E '"bench"|Exception' | tee -a "$OUT/decode_8b.json"
fi
if [[ "$PHASE" == pdlserve ]]; then
  synth_8b
  for P in true false; do
    step "serving 8b, programmatic launch $P"
    KVASIR_JAVA_OPTS="-Dkvasir.gpu.pdl=$P" $B/bin/kvasir bench --serving --backend gpu --model /tmp/l8b.gguf --concurrency 8,32,128 \
      --prompt-tokens 128 --gen-tokens 128 --json 2>/tmp/serving-$P.log | tee "$OUT/serving_8b_pdl_$P.json"
    grep -E "ERROR|Exception" /tmp/serving-$P.log | head -5
  done
  transformers_generate 8,32,128
fi
if [[ "$PHASE" == decode || "$PHASE" == modes ]]; then
  [[ "$PHASE" == modes ]] || gpu_tests "programmatic|stories260K greedy|grouped decode attention"
  bandwidth
  synth_8b
  decode_modes 1,32
  decode_2k
fi
if [[ "$PHASE" == attn ]]; then
  gpu_tests "attention_h16|programmatic|stories260K greedy"
  bandwidth
  synth_8b
  for Q in none int4 int8; do
    for A in g4w h16; do switched_decode decode-attention $A --quantization $Q --batch 1; done
  done
  for A in g4w h16; do switched_decode decode-attention $A --batch 1 --prompt 512 --steps 64; done
fi
if [[ "$PHASE" == attn2 ]]; then
  gpu_tests "attention_h16|programmatic|stories260K greedy"
  bandwidth
  synth_8b
  for A in g4w h16; do switched_decode decode-attention $A --batch 1,4,16; done
  for A in g4s h16; do
    for L in 1024 2048; do switched_decode decode-attention $A --batch 1 --prompt $L --steps 64; done
  done
  serving_8b /tmp/serving.log
  transformers_generate 8,32,128
fi
if [[ "$PHASE" == batch ]]; then
  gpu_tests "programmatic|stories260K greedy|INT8/G32 ×|INT4/G32 ×"
  bandwidth
  synth_8b
  step decode 8b bf16
  timeout 200 $B/bin/gpu-bench decode /tmp/l8b.gguf --batch 1,2,4,16 --graphs on --bandwidth "${BW:-0}" 2>&1 | grep -E '"bench"|Exception' | tee -a "$OUT/decode_8b.json"
  for Q in int4 int8; do
    for G in 4 1; do switched_decode quant-gemv-max $G --quantization $Q --batch 1,2,4; done
  done
fi
if [[ "$PHASE" == s4final ]]; then
  gpu_tests "programmatic|stories260K greedy|int8 form"
  bandwidth
  synth_8b
  decode_modes 1,32
  for Q in int4 int8; do switched_decode attention-int8 false --quantization $Q --batch 1; done
  decode_2k
  serving_8b /tmp/serving.log
  transformers_generate 8,32,128
  PPL_LOGS=/tmp/ppl perplexities > "$OUT/ppl.txt"; cat "$OUT/ppl.txt"
fi
if [[ "$PHASE" == ablate ]]; then
  synth_8b
  for S in "" attention_ rmsnorm rope_kv swiglu quantize_act,round_ argmax_ embed_ gemv_,matmul_; do switched_decode skip-kernels "$S" --batch 1; done
  for S in "" attention_ gemv_; do switched_decode skip-kernels "$S" --quantization int4 --batch 1; done
fi
if [[ "$PHASE" == launches ]]; then
  step launch chains
  $B/bin/gpu-bench launches 2>&1 | grep -E '"bench"|Exception' | tee "$OUT/launches.json"
  synth_8b
  for Q in int4 none; do
    step ncu 8b decode $Q
    ncu_decode $Q
  done
fi
if [[ "$PHASE" == ppl ]]; then
  perplexities
fi
step done
if [[ "$PHASE" == s7rope ]]; then
  gpu_tests "RoPE inside|stories260K greedy|carried"
  bandwidth
  synth_8b
  for R in false true false true; do switched_decode rope-in-attention $R --quantization none --batch 1,4; done
  for R in false true false true; do switched_decode rope-in-attention $R --quantization int8 --batch 1; done
  for R in false true; do switched_decode rope-in-attention $R --quantization int4 --batch 1; done
fi
if [[ "$PHASE" == s7quant ]]; then
  bandwidth
  synth_8b
  for R in false auto false auto; do switched_decode rope-in-attention $R --quantization int4 --batch 1; done
  for R in auto false; do switched_decode rope-in-attention $R --quantization int8 --batch 1; done
fi
if [[ "$PHASE" == s7fa ]]; then
  gpu_tests "tensor-core tiled prefill (bf16|fp16) (32/8 heads, head 128|6/3 heads, head 48|10/2 heads, head 80)"
  step attention kvasir vs sdpa
  $B/bin/gpu-bench attention --kv-cache-dtype bf16,fp16 2>&1 | grep -E '"bench"|Exception' | tee "$OUT/attention.json"
  python3 $B/python/sdpa_bench.py 2>&1 | grep -v Warning | tee -a "$OUT/attention.json"
  step ncu tensor-core prefill
  timeout 120 ncu --clock-control none -k regex:attention_prefill_tc -s 2 -c 1 --section SpeedOfLight --section WarpStateStats \
    --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
    $B/bin/gpu-bench attention --kv-cache-dtype bf16 > "$OUT/ncu_prefill_tc.txt" 2>&1
  grep -E "Duration|Stall|Warp Cycles Per Issued|Achieved Occupancy|Registers Per|Throughput|Theoretical Occ|Block Limit|Issued Ipc" "$OUT/ncu_prefill_tc.txt" | head -40
fi
# s9spin: the dispatcher's hand-offs polled (spin-wait-ms 20, the default) against parked (0)
if [[ "$PHASE" == s9spin ]]; then
  [[ -z "${SKIP_TESTS:-}" ]] && gpu_tests
  bandwidth
  synth_8b
  for S in 0 20 0 20; do switched_decode spin-wait-ms $S --quantization int8 --batch 1 --step-timing true; done
  for S in 0 20; do switched_decode spin-wait-ms $S --quantization int4 --batch 1 --step-timing true; done
  for S in 0 20; do switched_decode spin-wait-ms $S --quantization none --batch 1 --step-timing true; done
fi
# s9host: the time between decode steps (stream time per step against wall time, the loop on the
# dispatcher thread against the caller's)
if [[ "$PHASE" == s9host ]]; then
  bandwidth
  synth_8b
  for Q in ${HOST_QUANT:-int8}; do timed_decode $Q inline false true false true; done
fi
# s10pipe: batch-1 decode with each step queued before the last one's tokens are back (pipelined, the
# default) against one step at a time; PIPE_QUANT lists the modes, PIPE_RUNS the order
if [[ "$PHASE" == s10pipe ]]; then
  [[ -z "${SKIP_TESTS:-}" ]] && gpu_tests "queued|RoPE inside"
  bandwidth
  synth_8b
  for Q in ${PIPE_QUANT:-int8}; do timed_decode $Q pipelined ${PIPE_RUNS:-false true false true}; done
fi
# s10serve: serving throughput (8B bf16, 128 in / 128 out) with steps queued ahead and without, alternating
if [[ "$PHASE" == s10serve ]]; then
  [[ -z "${SKIP_TESTS:-}" ]] && gpu_tests "queued|RoPE inside"
  synth_8b
  for QA in ${SERVE_RUNS:-false true false true}; do
    step "serving 8b queue-ahead=$QA"
    $B/bin/kvasir bench --serving --backend gpu --model /tmp/l8b.gguf --concurrency ${SERVE_LEVELS:-1,8,32} --prompt-tokens 128 --gen-tokens 128 \
      --queue-ahead $QA --json 2>"$OUT/serving-$QA.log" | tee -a "$OUT/serving_8b.json"
    grep -E "ERROR|Exception" "$OUT/serving-$QA.log" | head -5
  done
fi
# s10final: batch-1 decode per mode, bf16 with RoPE inside the attention too, transformers generate at 32
if [[ "$PHASE" == s10final ]]; then
  bandwidth
  synth_8b
  decode_modes 1
  switched_decode rope-in-attention true --quantization none --batch 1 --step-timing true
  [[ -n "${HF:-}" ]] && transformers_generate 32
fi
# s11glu: the SASS checks, the GPU tests, the feed-forward chains, 8B batch-1 decode with the SwiGLU-carrying
# GEMV streaming its weights before its wait and waiting first, alternating (GLU_QUANT lists the modes)
if [[ "$PHASE" == s11glu ]]; then
  sass_check
  [[ -z "${SKIP_TESTS:-}" ]] && gpu_tests "SwiGLU carried|queued"
  step ffn kernels and chains
  $B/bin/gpu-bench ffn 2>&1 | grep -E '"bench"|Exception' | tee "$OUT/ffn.json"
  bandwidth
  synth_8b
  for Q in ${GLU_QUANT:-int4}; do
    for E in ${GLU_RUNS:-false true false true}; do switched_decode glu-early $E --quantization $Q --batch 1 --step-timing true; done
  done
  for E in ${GLU_INT8:-}; do EXTRA_JAVA_OPTS="-Dkvasir.gpu.fuse-swiglu=true" switched_decode glu-early $E --quantization int8 --batch 1 --step-timing true; done
  [[ -n "${MODES:-}" ]] && decode_modes 1
fi
# s11layout: the SASS checks, every decode GEMV layout's time per shape, 8B batch-1 decode per mode with the
# one-token products in each layout of LAYOUT_RUNS (alternating), INT8 with the SwiGLU carried and launched
if [[ "$PHASE" == s11layout ]]; then
  sass_check
  [[ -z "${SKIP_TESTS:-}" ]] && gpu_tests "SwiGLU carried|queued"
  bandwidth
  synth_8b
  for Q in ${LAYOUT_QUANT:-int4 int8}; do
    for L in ${LAYOUT_RUNS:-auto k2r8 auto k2r8}; do switched_decode qgemv $L --quantization $Q --batch 1 --step-timing true; done
  done
  for F in ${FUSE_RUNS:-}; do switched_decode fuse-swiglu $F --quantization int8 --batch 1 --step-timing true; done
  if [[ -n "${KERNELS:-}" ]]; then
    step kernels: each decode GEMV layout
    timeout 300 $B/bin/gpu-bench kernels 2>&1 | grep -E '"bench"|Exception' > "$OUT/kernels.json"
    grep -E '"n":1,' "$OUT/kernels.json" | grep -E '"layout":"(k2r4|k2r8)"'
  fi
fi
# s11switch: 8B batch-1 decode of SWITCH_QUANT (default int4) once per value of SWITCH_RUNS of the JVM switch
# -Dkvasir.gpu.$SWITCH, alternating as listed (the SASS checks first)
if [[ "$PHASE" == s11switch ]]; then
  sass_check
  bandwidth
  synth_8b
  for Q in ${SWITCH_QUANT:-int4}; do
    for V in $SWITCH_RUNS; do switched_decode "$SWITCH" "$V" --quantization $Q --batch 1 --step-timing true; done
  done
fi
# s14opts: GPU tests (TEST_CLASSES, when set), the SASS checks, 8B batch-1 decode of OPT_QUANT (default int4) once
# per entry of OPT_RUNS (JVM option sets separated by ';', '-' for none), alternating as listed
if [[ "$PHASE" == s14opts ]]; then
  [[ -n "${TEST_CLASSES:-}" ]] && gpu_tests "${TEST_GREP:-L2}"
  sass_check
  bandwidth
  synth_8b
  IFS=';' read -ra OPT_SETS <<< "$OPT_RUNS"
  for Q in ${OPT_QUANT:-int4}; do
    for O in "${OPT_SETS[@]}"; do
      [[ "$O" == - ]] && O=""
      step "decode 8b $Q with options '$O'"
      KVASIR_JAVA_OPTS="$O" timeout 200 $B/bin/gpu-bench decode /tmp/l8b.gguf --graphs on --bandwidth "${BW:-0}" --quantization $Q --batch 1 \
        --step-timing true 2>&1 | grep -E '"bench"|Exception' | sed "s/^{/{\"opts\":\"$O\",/" | tee -a "$OUT/decode_8b.json"
    done
  done
fi
# s11final: the SASS checks, the GPU tests, 8B batch-1 decode per mode (INT4 FINAL_INT4 more times)
if [[ "$PHASE" == s11final ]]; then
  sass_check
  gpu_tests "SwiGLU carried|queued"
  bandwidth
  synth_8b
  decode_modes 1
  for i in $(seq 1 ${FINAL_INT4:-0}); do switched_decode qgemv auto --quantization int4 --batch 1; done
fi
# s12att: ncu sections of the kernels around an INT4 batch-1 decode step's attention (each kernel alone,
# serialised: no programmatic overlap) on a 4-layer model of the 8B layer shape (the whole 8B file under ncu
# did not finish its load in 330 s, S12-4), into $OUT/ncu_s12att.txt
if [[ "$PHASE" == s12att ]]; then
  step synth 4-layer 8b-shaped
  $B/bin/kvasir synth --dim 4096 --hidden 14336 --layers 4 --heads 32 --kv-heads 8 --vocab 32000 --type bf16 --out /tmp/l8b4.gguf 2>&1 | tail -1
  step ncu attention and its neighbours, int4 batch 1
  timeout 300 ncu --clock-control none -k regex:"attention_h16rq|gemv_q4_k2r8_1|gemv_q4_glu32_1" -s 25 -c 10 --section SpeedOfLight \
    --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
    $B/bin/gpu-bench decode /tmp/l8b4.gguf --quantization int4 --batch 1 --graphs off --prompt 64 --steps 3 > "$OUT/ncu_s12att.txt" 2>&1
  grep -E "^  [a-z_0-9]+|Duration|Stall|Warp Cycles Per Issued|Achieved Occupancy|Registers Per|Memory Throughput|DRAM Throughput|Issued Warp|No Eligible" "$OUT/ncu_s12att.txt" | head -120
fi
# s13att: the SASS checks, the GPU tests (TEST_CLASSES), 8B batch-1 decode with -Dkvasir.gpu.attention-ahead per
# value of ATT_RUNS (INT4, alternating), then once ahead per mode of ATT_OTHER
if [[ "$PHASE" == s13att ]]; then
  sass_check
  [[ -z "${SKIP_TESTS:-}" ]] && TEST_CLASSES="${TEST_CLASSES:-KvCacheCheckTest QuantKernelCheckTest SwigluCarriedTest GpuStories260KTest GpuQuantizedStoriesTest ProgrammaticLaunchTest}" gpu_tests "RoPE inside|through L1"
  bandwidth
  synth_8b
  for V in ${ATT_RUNS:-true false true false}; do switched_decode attention-ahead $V --quantization int4 --batch 1 --step-timing true; done
  for Q in ${ATT_OTHER:-int8 none}; do switched_decode attention-ahead true --quantization $Q --batch 1 --step-timing true; done
fi
if [[ "$PHASE" == s8glu ]]; then
  gpu_tests "SwiGLU carried"
  step ffn kernels and chains
  $B/bin/gpu-bench ffn 2>&1 | grep -E '"bench"|Exception' | tee "$OUT/ffn.json"
  bandwidth
  synth_8b
  for F in false auto false auto; do switched_decode fuse-swiglu $F --quantization int4 --batch 1; done
  [[ -n "${INT8:-}" ]] && for F in true false; do switched_decode fuse-swiglu $F --quantization int8 --batch 1; done
fi
