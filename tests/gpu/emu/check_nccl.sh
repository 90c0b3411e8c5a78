#!/bin/bash
# tests/gpu/emu/check_nccl.sh — the multi-GPU path (engine/cuda/cuda_nccl.cu
# under replica.c's gradient buckets) through the real engine CLI, on the
# CPU emulator with EMU_DEVICES emulated GPUs and the in-process NCCL
# (emu_nccl.cpp, loaded through TRAINBOOK_NCCL_LIB):
#
#   world 1          TRAINBOOK_COLLECTIVE=1 sends every bucket through NCCL with one rank;
#                    parameters after 10 steps equal the plain CUDA run's bit for bit (a sum
#                    over one rank changes nothing), and that plain run had no NCCL at all
#   2 (3) devices    devices: 2 (3, uneven shards) at batch 16 vs one device at batch 16,
#                    SGD and Adam, with TRAINBOOK_CHECK_REPLICAS=1 (replicas identical after
#                    every step, or the run aborts)
#   no NCCL          devices: 2 without the library: "NCCL not found: <dlerror>"
#   init failure     NCCL failing ncclCommInitRank: its message, not a crash
#
# What it proves: ranks are opened one per device in one group, every
# stream/event/kernel is on its rank's device on every thread (the
# emulator enforces CUDA's rules per thread), buckets reach NCCL with the
# same sizes in the same order on every rank, sums land before the
# optimizer, teardown and error paths work. What it cannot: NCCL's real
# ring order or timing, overlap with backward — tests/gpu/run.sh on GPUs.
# Prints PASS/FAIL lines; exit 1 on failure.
cd "$(dirname "$0")/../../.." || exit 2
ROOT=$PWD
LIB=$ROOT/build/emu/libtrainbook-cuda-emu.so
NCCL=$ROOT/build/emu/libnccl-emu.so.2
ENGINE=$ROOT/build/trainbook-engine
failures=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failures=$((failures + 1)); }

bash tests/gpu/emu/build.sh || exit 1
if ! make build/trainbook-engine >build/emu/engine-build.log 2>&1; then
	fail "emu nccl" "build/trainbook-engine does not build (see build/emu/engine-build.log)"
	exit 1
fi
PY=${PYTHON:-python3}
"$PY" -c 'import numpy' 2>/dev/null || PY=/usr/bin/python3
if ! "$PY" -c 'import numpy' 2>/dev/null; then
	fail "emu nccl" "no python3 with numpy (apt install python3-numpy) to read checkpoints"
	exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# A small MLP: 16 steps an epoch, 10 taken, checkpoints at 5 and 10.
spec() { # optimizer
	cat <<EOF
data:      {dataset: synthetic, shape: [1, 6, 6], classes: 4, train_size: 256, test_size: 16, batch_size: 16}
model:     [flatten, {linear: 16}, relu, {linear: 4}]
loss:      cross_entropy
optimizer: $1
train:     {epochs: 1, max_steps: 10, seed: 3, log_every: 5, eval_every: 0, device: cuda, threads: 1}
checkpoint: {every: 1, every_steps: 5, keep: 2, keep_best: false}
EOF
}
spec "{name: sgd, lr: 0.05, momentum: 0.9}" >"$TMP/sgd.yaml"
spec "{name: adam, lr: 0.003}" >"$TMP/adam.yaml"

# run NAME SPEC DEVICES [VAR=VALUE...]: trains into $TMP/NAME; 0 when it completed.
run() {
	local name=$1 spec=$2 devices=$3
	shift 3
	env TRAINBOOK_CUDA_LIB="$LIB" TRAINBOOK_NCCL_LIB="$NCCL" TRAINBOOK_CHECK_REPLICAS=1 EMU_NCCL_TIMEOUT=30 "$@" \
		"$ENGINE" train "$spec" --json --out "$TMP/$name" --set train.devices="$devices" \
		>"$TMP/$name.jsonl" 2>"$TMP/$name.err"
	local rc=$?
	if [ $rc -ne 0 ] || ! grep -q '"status":"completed"' "$TMP/$name.jsonl"; then
		fail "nccl run $name" "exit $rc: $(tail -c 400 "$TMP/$name.err" | tr '\n' ' ') $(grep -o '"reason":"[^"]*"' "$TMP/$name.jsonl")"
		return 1
	fi
}
params() { echo "$TMP/$1/step-000000010.safetensors"; }
# compare NAME GOT-RUN WANT-RUN TOL: step-10 parameters; WANT-RUN must have moved since its step 5.
compare() {
	"$PY" tests/gpu/compare_params.py "$1" "$(params "$2")" "$(params "$3")" "$4" \
		--moved-from "$TMP/$3/step-000000005.safetensors" || failures=$((failures + 1))
}

# The plain single-device runs have no NCCL to load: one GPU must not need it.
run sgd-plain "$TMP/sgd.yaml" 1 TRAINBOOK_NCCL_LIB=/nonexistent/libnccl.so.2
run adam-plain "$TMP/adam.yaml" 1 TRAINBOOK_NCCL_LIB=/nonexistent/libnccl.so.2
if run sgd-world1 "$TMP/sgd.yaml" 1 TRAINBOOK_COLLECTIVE=1; then
	compare "nccl world 1 == plain CUDA (SGD, 10 steps)" sgd-world1 sgd-plain 0
fi

# Two half-batch gradients summed by NCCL vs one whole-batch gradient: only the
# summation order differs, a few ulps per step compounding over 10 steps —
# the tolerances of the CPU collective's test (tests/cli). Adam divides by
# sqrt(v)+eps, which magnifies last-bit differences in small gradients.
if run sgd-2dev "$TMP/sgd.yaml" 2 EMU_DEVICES=2; then
	compare "nccl 2 devices == 1 device at batch 16 (SGD)" sgd-2dev sgd-plain 1e-5
fi
if run sgd-3dev "$TMP/sgd.yaml" 3 EMU_DEVICES=3; then
	compare "nccl 3 devices (shards 5, 5, 6) == 1 device (SGD)" sgd-3dev sgd-plain 1e-5
fi
if run adam-2dev "$TMP/adam.yaml" 2 EMU_DEVICES=2; then
	compare "nccl 2 devices == 1 device at batch 16 (Adam)" adam-2dev adam-plain 1e-4
fi

# expect_failure NAME WANT [VAR=VALUE...]: devices: 2 must fail cleanly (exit 2, a failed status whose reason holds WANT).
expect_failure() {
	local name=$1 want=$2
	shift 2
	env TRAINBOOK_CUDA_LIB="$LIB" TRAINBOOK_NCCL_LIB="$NCCL" EMU_DEVICES=2 "$@" "$ENGINE" train "$TMP/sgd.yaml" --json \
		--out "$TMP/$name" --set train.devices=2 >"$TMP/$name.jsonl" 2>"$TMP/$name.err"
	local rc=$? reason
	reason=$(grep -o '"reason":"[^"]*"' "$TMP/$name.jsonl" | tail -1)
	if [ $rc -eq 2 ] && grep -q '"status":"failed"' "$TMP/$name.jsonl" && echo "$reason" | grep -qF "$want"; then
		pass "$name: $reason"
	else
		fail "$name" "exit $rc, want 2 and a reason with '$want'; got $reason $(tail -c 300 "$TMP/$name.err" | tr '\n' ' ')"
	fi
}
expect_failure "nccl missing is a clear error" "NCCL not found: /nonexistent/libnccl.so.2: cannot open shared object" \
	TRAINBOOK_NCCL_LIB=/nonexistent/libnccl.so.2
expect_failure "nccl init failure is reported" "could not open ranks 0..1 of 2: unhandled system error: emulated failure" \
	EMU_NCCL_FAIL=init

echo "$failures failed"
[ "$failures" -eq 0 ]
