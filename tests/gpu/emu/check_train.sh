#!/bin/bash
# tests/gpu/emu/check_train.sh — the GPU-only parts of the training loop
# (engine/gpu_step.c: whole-step CUDA graphs, training data on the GPU,
# device-side clipping and step counting, fp16 loss scaling) driven by the
# real engine CLI against the CUDA emulator, compared with the CPU backend.
#
# What it proves: the loop issues the same work in a graph as eagerly
# (replays after a capture, short last batches, evaluations and epoch
# boundaries in between), that GPU-assembled batches are the loader's, and
# that a resumed run continues the same trajectory. What it cannot: real
# GPU timing or races (tests/gpu/run.sh on a GPU box does that).
#
# Needs build/emu/libtrainbook-cuda-emu.so (tests/gpu/emu/run.sh builds it)
# and build/trainbook-engine. Prints PASS/FAIL lines; exit 1 on failure.
cd "$(dirname "$0")/../../.." || exit 2
LIB=$PWD/build/emu/libtrainbook-cuda-emu.so
ENGINE=$PWD/build/trainbook-engine
PY=${PY:-python3}
fail=0
if [ ! -f "$LIB" ] || [ ! -x "$ENGINE" ]; then
	echo "FAIL emu train: $LIB or $ENGINE missing (run tests/gpu/emu/run.sh and make first)"
	exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# An MLP with dropout on augmented 8x8 images: 200 samples at batch 64 leave
# a short last batch, two epochs with an evaluation after each, clipping on.
cat >"$TMP/mlp.yaml" <<'EOF'
data:      {dataset: synthetic, shape: [2, 8, 8], classes: 4, train_size: 200, test_size: 40, batch_size: 64,
            augment: [{random_crop: 2}, {hflip: 0.5}, {normalize: {mean: [0.5, 0.4], std: [0.3, 0.2]}}]}
model:     [flatten, {linear: 24}, relu, {dropout: 0.25}, {linear: 4}]
loss:      cross_entropy
optimizer: {name: adamw, lr: 3.0e-3, weight_decay: 0.01, grad_clip: 0.5}
train:     {epochs: 2, seed: 5, log_every: 1, eval_every: 1}
checkpoint: {every: 1, keep: 4, keep_best: false}
EOF
# A conv net with batch norm and max pooling, SGD with momentum (BN running statistics go through the graph).
cat >"$TMP/cnn.yaml" <<'EOF'
data:      {dataset: synthetic, shape: [3, 8, 8], classes: 3, train_size: 48, test_size: 16, batch_size: 16}
model:     [{conv2d: {out: 4, kernel: 3, padding: 1}}, batchnorm2d, relu, {maxpool2d: {kernel: 2}}, flatten, {linear: 3}]
loss:      cross_entropy
optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 5.0e-4}
train:     {epochs: 2, seed: 2, log_every: 1, eval_every: 1}
checkpoint: {every: 1, keep: 2, keep_best: false}
EOF
# Residual blocks, one with a projection shortcut: the fused bn+ReLU and add+ReLU inside them.
cat >"$TMP/blocks.yaml" <<'EOF'
data:      {dataset: synthetic, shape: [3, 8, 8], classes: 3, train_size: 48, test_size: 16, batch_size: 16}
model:     [{conv2d: {out: 4, kernel: 3, padding: 1, bias: false}}, batchnorm2d, relu, {basic_block: {out: 4}},
            {basic_block: {out: 8, stride: 2}}, flatten, {linear: 3}]
loss:      cross_entropy
optimizer: {name: sgd, lr: 0.01, momentum: 0.9}
train:     {epochs: 2, seed: 3, log_every: 1, eval_every: 1}
checkpoint: {every: 1, keep: 2, keep_best: false}
EOF

# run NAME SPEC DEVICE [VAR=VALUE...] [-- engine args]: events to $TMP/NAME.jsonl
run() {
	local name=$1 spec=$2 device=$3
	shift 3
	local envs=() args=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
	[ "$1" = "--" ] && shift
	args=("$@")
	env TRAINBOOK_CUDA_LIB="$LIB" "${envs[@]}" "$ENGINE" train "$spec" --json --out "$TMP/$name" \
		--set train.device="$device" "${args[@]}" >"$TMP/$name.jsonl" 2>"$TMP/$name.err"
}
compare() { # NAME REF GOT TOL; a graph the loop had to give up on is a failure too
	if grep -q "without graphs" "$TMP/$3.err"; then
		echo "FAIL $1: $(grep -m1 "without graphs" "$TMP/$3.err")"
		fail=1
	elif ! "$PY" tests/gpu/compare_losses.py "$1" "$TMP/$2.jsonl" "$TMP/$3.jsonl" "$4"; then
		fail=1
		tail -n 3 "$TMP/$3.err" "$TMP/$3.jsonl" 2>/dev/null | sed 's/^/    /'
	fi
}
# note NAME: the running event's note (which features were on)
note() { "$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l) if l.startswith("{") else {}
    if e.get("status") == "running": print(e.get("note", ""))' "$TMP/$1.jsonl"; }
expect_note() { # NAME TEXT
	if note "$1" | grep -q "$2"; then echo "PASS emu train $1 reports '$2'"; else
		echo "FAIL emu train $1: note '$(note "$1")' lacks '$2'"; fail=1; fi
}

# 1. Same losses, step by step, on the CPU and through every GPU path.
run mlp-cpu "$TMP/mlp.yaml" cpu
run mlp-gpu "$TMP/mlp.yaml" cuda
run mlp-eager "$TMP/mlp.yaml" cuda TRAINBOOK_CUDA_GRAPH=0 TRAINBOOK_GPU_DATA=0
expect_note mlp-gpu "CUDA graph, data on the GPU"
expect_note mlp-eager "no CUDA graph, data from the host loader"
# fp32 on both sides; the emulator sums in another order than OpenBLAS.
compare "emu train mlp: CUDA graph + GPU data vs CPU" mlp-cpu mlp-gpu 1e-5
compare "emu train mlp: eager + host data vs CPU" mlp-cpu mlp-eager 1e-5

run cnn-cpu "$TMP/cnn.yaml" cpu
run cnn-gpu "$TMP/cnn.yaml" cuda
compare "emu train cnn+bn: CUDA graph + GPU data vs CPU" cnn-cpu cnn-gpu 1e-4
run blocks-cpu "$TMP/blocks.yaml" cpu
run blocks-gpu "$TMP/blocks.yaml" cuda
compare "emu train residual blocks: CUDA graph + GPU data vs CPU" blocks-cpu blocks-gpu 1e-4
# bf16: every convolution through 16-bit copies (backward-data reusing backward-filter's dy), inside
# the graph. Measured 3e-3 from fp32 (8-bit operands, 6 steps); zeroing 32 values of the reused dy
# copy gave 2.3e-2, so 1e-2 tells a correct reuse from a wrong one.
run blocks-bf16 "$TMP/blocks.yaml" cuda -- --set train.precision=bf16
compare "emu train residual blocks: bf16 vs CPU fp32" blocks-cpu blocks-bf16 1e-2

# 2. Test accuracy after each evaluation (the graph is dropped and re-captured around them).
acc() { "$PY" -c 'import json,sys
print(" ".join("%.6f" % e["values"]["accuracy"] for e in map(json.loads, filter(lambda l: l.startswith("{"), open(sys.argv[1])))
               if e.get("type") == "metric" and e.get("split") == "test"))' "$TMP/$1.jsonl"; }
if [ -n "$(acc mlp-cpu)" ] && [ "$(acc mlp-cpu)" = "$(acc mlp-gpu)" ]; then
	echo "PASS emu train mlp: test accuracy per epoch equal ($(acc mlp-gpu))"
else
	echo "FAIL emu train mlp: test accuracy per epoch cpu '$(acc mlp-cpu)' vs gpu '$(acc mlp-gpu)'"
	fail=1
fi

# 3. Resume from the epoch-1 checkpoint: the rest of the run is the same as without stopping.
ckpt=$(ls "$TMP"/mlp-gpu/step-*.safetensors 2>/dev/null | head -1)
if [ -n "$ckpt" ]; then
	run mlp-resumed "$TMP/mlp.yaml" cuda -- --resume "$ckpt"
	if "$PY" - "$TMP/mlp-gpu.jsonl" "$TMP/mlp-resumed.jsonl" <<'EOF'; then
import json, sys
def losses(p):
    return {e["step"]: e["values"]["loss"] for e in map(json.loads, filter(lambda l: l.startswith("{"), open(p)))
            if e.get("type") == "metric" and e.get("split") == "train"}
full, resumed = losses(sys.argv[1]), losses(sys.argv[2])
bad = [s for s in resumed if abs(resumed[s] - full[s]) > 1e-6 * max(1.0, abs(full[s]))]
ok = resumed and not bad
print("%s emu train mlp: resumed at step %d, %d later steps equal the uninterrupted run's%s" % (
    "PASS" if ok else "FAIL", min(resumed) - 1 if resumed else -1, len(resumed) - len(bad),
    "" if ok else " (differ at %s)" % bad[:5]))
sys.exit(0 if ok else 1)
EOF
		:
	else
		fail=1
	fi
else
	echo "FAIL emu train mlp: no checkpoint written in $TMP/mlp-gpu"
	fail=1
fi

# 4. fp16: dynamic loss scaling reports its scale; the trajectory stays near fp32's.
run mlp-fp16 "$TMP/mlp.yaml" cuda -- --set train.precision=fp16
expect_note mlp-fp16 "dynamic loss scaling"
compare "emu train mlp: fp16 with loss scaling vs CPU fp32" mlp-cpu mlp-fp16 5e-2
if grep -q '"loss_scale":65536' "$TMP/mlp-fp16.jsonl" && grep -q '"skipped_steps":0' "$TMP/mlp-fp16.jsonl"; then
	echo "PASS emu train mlp fp16: summary reports loss scale 65536, 0 skipped steps"
else
	echo "FAIL emu train mlp fp16: summary lacks loss_scale/skipped_steps: $(grep '"summary"' "$TMP/mlp-fp16.jsonl")"
	fail=1
fi
# 5. TRAINBOOK_PROFILE: sections timed by CUDA events, eager steps, the same losses.
run cnn-profiled "$TMP/cnn.yaml" cuda TRAINBOOK_PROFILE=1
compare "emu train cnn+bn profiled (eager) vs CPU" cnn-cpu cnn-profiled 1e-4
if grep -q "^profile: [0-9]* steps after 2 warm-up, .* (device time between CUDA events, no CUDA graph)" \
	"$TMP/cnn-profiled.err" && grep -q "^  conv2d backward  *1.0 " "$TMP/cnn-profiled.err"; then
	echo "PASS emu train cnn profiled: per-section device time reported"
else
	echo "FAIL emu train cnn profiled: no profile table in: $(tail -n 5 "$TMP/cnn-profiled.err" | tr '\n' '|')"
	fail=1
fi
exit $fail
