#!/bin/bash
# tests/gpu/run.sh — everything the CUDA backend must show, in one command,
# on a machine with an NVIDIA GPU and CUDA 13 (no network needed):
#
#   1. build build/libtrainbook-cuda.so (and build/trainbook-engine when the
#      CPU libraries exist), finding cuDNN/NCCL in pip wheels if need be;
#   2. CPU-vs-CUDA parity of every backend.h op (tests/gpu/parity_ops),
#      fp32 / tf32 / bf16 / fp16, fresh random inputs each run;
#   3. 20-step MLP and ResNet-18 trajectories, CPU vs CUDA, through the CLI
#      (with and without the step graph, fp32/bf16/fp16), and the
#      Fashion-MNIST CNN's test accuracy on the GPU against the CPU's;
#      data parallel over NCCL: world size 1 against the plain CUDA step,
#      and 2 GPUs against 1 where nvidia-smi -L lists two;
#   4. the benchmark: trainbook vs PyTorch eager / torch.compile, plus the
#      bf16 GEMM ceiling (tests/bench/gpu_bench.py);
#   5. one table, also written to tests/bench/results/gpu-<device>-<date>.md.
#
# Prints `PASS name` / `FAIL name: why` per check and exits 1 if any failed.
# A step whose prerequisite is missing FAILs with the reason, never skips.
# A GPU box without OpenBLAS/libyaml/libpng (and without the data set):
# run tests/gpu/pack.sh on the Debian development machine first and carry
# build/gpu-pack.tar.xz; this script unpacks it when the engine does not
# build here.
# Environment: PYTHON (default python3), JOBS (make -j, default nproc),
# BENCH_BUDGET (seconds for the PyTorch side, default 300), SKIP_BENCH=1,
# STAGES (default "parity train cnn nccl bench"; the build always runs and
# is incremental), STEP_TIMEOUT (seconds any one engine run may take,
# default 300: a hung GPU fails its check instead of the whole script),
# COPY_TO (a folder that gets run.log, the result table and a tarball of
# build/gpu at exit, e.g. the device tool's $OUT).
# A 10-minute limit per command fits two calls: STAGES="parity train cnn
# nccl" first, then STAGES=bench on the same (warm) machine.
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
PY=${PYTHON:-python3}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
LOGS=build/gpu
mkdir -p "$LOGS"
START=$(date +%s)
failures=0
STAGES=" ${STAGES:-parity train cnn nccl bench} "
[ "${SKIP_BENCH:-0}" = 1 ] && STAGES=${STAGES/ bench / }
want() { case "$STAGES" in *" $1 "*) return 0 ;; esac; return 1; }
STEP_TIMEOUT=${STEP_TIMEOUT:-300}
limited() { timeout -k 10 "$STEP_TIMEOUT" "$@"; }
RESULT=""
TMP=$(mktemp -d)
finish() {
	if [ -n "${COPY_TO:-}" ] && mkdir -p "$COPY_TO"; then
		cp "$LOGS/run.log" "$COPY_TO/" 2>/dev/null
		[ -n "$RESULT" ] && [ -f "$RESULT" ] && cp "$RESULT" "$COPY_TO/"
		tar -czf "$COPY_TO/gpu-logs.tar.gz" --exclude gpu/links -C build gpu 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap finish EXIT
exec > >(tee "$LOGS/run.log") 2>&1
echo "stages:$STAGES(step timeout $STEP_TIMEOUT s)"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failures=$((failures + 1)); }
elapsed() { echo $(($(date +%s) - START)); }

# ---- 0. toolchain and libraries -------------------------------------------------
NVCC=$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; })
if [ -z "$NVCC" ]; then
	fail build "nvcc not found (install the CUDA 13 toolkit or put it on PATH)"
	exit 1
fi
CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$NVCC")")}
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

# Directories of pip-wheel NVIDIA libraries (nvidia-cudnn-cu13, nvidia-nccl-cu13, ...),
# where PyTorch's wheels put them.
SITE_DIRS=$("$PY" - <<'EOF' 2>/dev/null
import site, sys
dirs = list(site.getsitepackages()) + [site.getusersitepackages()]
print(" ".join(d for d in dirs if d))
EOF
)
EXTRA_INC=""
EXTRA_LIB=""
LIBDIRS=""
# Wheels ship only versioned sonames (libcudnn.so.9); the linker wants libcudnn.so.
LINKS="$ROOT/$LOGS/links"
mkdir -p "$LINKS"
find_lib() { # $1 = library stem (libcudnn), $2 = header (cudnn.h)
	local so hdr
	if [ -e "$CUDA_HOME/lib64/$1.so" ] || ldconfig -p 2>/dev/null | grep -q "$1\.so "; then
		[ -e "$CUDA_HOME/include/$2" ] || [ -e "/usr/include/$2" ] && return 0
	fi
	for d in $SITE_DIRS; do
		[ -d "$d/nvidia" ] || continue
		so=$(find "$d/nvidia" -name "$1.so*" 2>/dev/null | sort | head -1)
		hdr=$(find "$d/nvidia" -name "$2" 2>/dev/null | head -1)
		if [ -n "$so" ]; then
			ln -sf "$so" "$LINKS/$1.so"
			LIBDIRS="$LIBDIRS:$(dirname "$so")"
			[ -n "$hdr" ] && EXTRA_INC="$EXTRA_INC -I$(dirname "$hdr")"
			echo "using $so${hdr:+ and $hdr}"
			return 0
		fi
	done
	echo "note: $1 not found in the toolkit or in pip wheels under: $SITE_DIRS"
	return 1
}
for pair in "libcudnn cudnn.h" "libcublasLt cublasLt.h" "libcublas cublas_v2.h"; do
	find_lib $pair
done
# NCCL is never linked: engine/cuda/cuda_nccl.cu dlopens libnccl.so.2 when a run has more
# than one rank. The build wants nccl.h (without it the module has no NCCL collective and the
# NCCL checks below fail); the checks want libnccl.so.2, from the system or PyTorch's wheel
# (nvidia/nccl/lib), handed to the engine as TRAINBOOK_NCCL_LIB.
NCCL_LIB=""
if ldconfig -p 2>/dev/null | grep -q 'libnccl\.so\.2 '; then
	NCCL_LIB=libnccl.so.2
elif [ -e "$CUDA_HOME/lib64/libnccl.so.2" ]; then
	NCCL_LIB="$CUDA_HOME/lib64/libnccl.so.2"
fi
NCCL_HEADER=""
for h in "$CUDA_HOME/include/nccl.h" /usr/include/nccl.h; do
	[ -e "$h" ] && NCCL_HEADER=$h && break
done
for d in $SITE_DIRS; do
	[ -d "$d/nvidia" ] || continue
	[ -z "$NCCL_LIB" ] && NCCL_LIB=$(find "$d/nvidia" -name 'libnccl.so.2' 2>/dev/null | sort | head -1)
	if [ -z "$NCCL_HEADER" ]; then
		NCCL_HEADER=$(find "$d/nvidia" -name 'nccl.h' 2>/dev/null | head -1)
		[ -n "$NCCL_HEADER" ] && EXTRA_INC="$EXTRA_INC -I$(dirname "$NCCL_HEADER")"
	fi
done
echo "NCCL: library ${NCCL_LIB:-not found}, header ${NCCL_HEADER:-not found}"
[ -n "$NCCL_LIB" ] && export TRAINBOOK_NCCL_LIB="$NCCL_LIB"
EXTRA_LIB="-L$LINKS"
export LD_LIBRARY_PATH="$CUDA_HOME/lib64${LIBDIRS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# ---- 1. build ---------------------------------------------------------------------
if make -j"$JOBS" CUDA_EXTRA_INC="$EXTRA_INC" CUDA_EXTRA_LIB="$EXTRA_LIB" build/libtrainbook-cuda.so \
	>"$LOGS/build-cuda.log" 2>&1; then
	warnings=$(grep -ci "warning" "$LOGS/build-cuda.log")
	if [ "$warnings" -eq 0 ]; then
		pass "build libtrainbook-cuda.so (no warnings)"
	else
		fail "build libtrainbook-cuda.so" "$warnings warning lines (see $LOGS/build-cuda.log)"
	fi
else
	fail "build libtrainbook-cuda.so" "$(grep -m3 -i 'error' "$LOGS/build-cuda.log" | tr '\n' ' ')"
	exit 1
fi
ENGINE=""
PACKED="" # set when the engine came from build/gpu-pack.tar.xz (tests/gpu/pack.sh)
if make -j"$JOBS" build/trainbook-engine >"$LOGS/build-engine.log" 2>&1; then
	ENGINE=build/trainbook-engine
	pass "build trainbook-engine"
elif [ -f build/gpu-pack.tar.xz ] && tar -C build -xJf build/gpu-pack.tar.xz; then
	# No OpenBLAS/libyaml/libpng here: the engine built on the development machine, with its libraries.
	PACKED=build/gpu-pack
	ENGINE=$PACKED/bin/trainbook-engine
	export LD_LIBRARY_PATH="$ROOT/$PACKED/lib:$LD_LIBRARY_PATH"
	export TRAINBOOK_CUDA_LIB="$ROOT/build/libtrainbook-cuda.so"
	if "$ENGINE" --help >/dev/null 2>&1; then
		pass "trainbook-engine from build/gpu-pack.tar.xz (it does not build here: $(grep -m1 -iE 'error|cannot find' "$LOGS/build-engine.log"))"
	else
		fail "trainbook-engine from build/gpu-pack.tar.xz" "$("$ENGINE" --help 2>&1 | head -1)"
		ENGINE=""
	fi
else
	fail "build trainbook-engine" "$(grep -m2 -iE 'error|cannot find' "$LOGS/build-engine.log" | tr '\n' ' ') (trajectories and the trainbook column need it; run tests/gpu/pack.sh on a Debian machine and carry build/gpu-pack.tar.xz)"
fi

# The parity program: engine/cpu + rng + tb as the reference, the .so by dlopen.
CBLAS_FLAGS="-I/usr/include/x86_64-linux-gnu/openblas-pthread"
CBLAS_SRC=""
CBLAS_LIB="-lopenblas"
if ! echo 'int main(void){return 0;}' | cc -x c - $CBLAS_FLAGS -lopenblas -o "$LOGS/cblas-probe" 2>/dev/null ||
	! echo '#include <cblas.h>' | cc -E -x c - $CBLAS_FLAGS >/dev/null 2>&1; then
	echo "note: OpenBLAS missing, the CPU reference uses tests/gpu/cblas_naive.c"
	CBLAS_FLAGS="-Itests/gpu/fallback"
	CBLAS_SRC="tests/gpu/cblas_naive.c"
	CBLAS_LIB=""
fi
if cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -fopenmp -I. -Iengine $CBLAS_FLAGS -o "$LOGS/parity_ops" \
	tests/gpu/parity_*.c $CBLAS_SRC engine/cpu/*.c engine/optim.c engine/precision.c engine/rng.c engine/tb.c $CBLAS_LIB -lm -ldl \
	>"$LOGS/build-parity.log" 2>&1; then
	pass "build parity_ops"
else
	fail "build parity_ops" "$(head -3 "$LOGS/build-parity.log" | tr '\n' ' ')"
fi

# ---- 2. op parity -------------------------------------------------------------------
want parity && echo "== op parity (CPU reference vs CUDA), $(elapsed) s"
PARITY="$LOGS/parity_ops"
[ -n "$PACKED" ] && PARITY="$PACKED/bin/parity_ops" # the OpenBLAS reference rather than the naive fallback
if ! want parity; then
	echo "(stage parity not selected)"
elif [ -x "$PARITY" ]; then
	"$PARITY" --lib build/libtrainbook-cuda.so fp32 tf32 bf16 fp16 | tee "$LOGS/parity.log"
	if [ "${PIPESTATUS[0]}" -eq 0 ]; then
		pass "op parity ($(grep -c '^PASS' "$LOGS/parity.log") checks)"
	else
		fail "op parity" "$(grep -c '^FAIL' "$LOGS/parity.log") failing checks (see $LOGS/parity.log)"
	fi
fi

# GPU batches against the real CPU loader (needs the engine objects and their libraries).
if ! want parity; then
	:
elif [ -n "$PACKED" ]; then
	"$PACKED/bin/data_check" build/libtrainbook-cuda.so || failures=$((failures + 1))
elif [ -n "$ENGINE" ]; then
	# The engine's objects include its ONNX export: protoc-c's messages and libprotobuf-c with them.
	OBJS="$(for f in engine/*.c engine/cpu/*.c; do echo "build/obj/${f%.c}.o"; done) build/obj/gen/onnx/onnx.pb-c.o"
	if cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -fopenmp -I. -Iengine $CBLAS_FLAGS -o "$LOGS/data_check" \
		tests/gpu/data_check.c $OBJS -lopenblas -lyaml -lz -lpng -ljpeg -l:libprotobuf-c.a -lm -ldl -pthread >"$LOGS/data-build.log" 2>&1; then
		"$LOGS/data_check" build/libtrainbook-cuda.so || failures=$((failures + 1))
	else
		fail "data_check build" "$(head -2 "$LOGS/data-build.log" | tr '\n' ' ')"
	fi
else
	fail "data_check" "build/trainbook-engine did not build"
fi

# ---- 3. training trajectories, CPU vs CUDA ------------------------------------------
trajectory() { # name spec precision tol [VAR=VALUE...]; the CPU run of a spec is made once and reused
	local name=$1 spec=$2 prec=$3 tol=$4 base
	local envs=("${@:5}")
	base=$(basename "$spec" .yaml)
	if [ ! -f "$TMP/$base-cpu.jsonl" ]; then
		limited "$ENGINE" train "$spec" --json --out "$TMP/$base-cpu" --set train.device=cpu \
			>"$TMP/$base-cpu.jsonl" 2>"$TMP/$base-cpu.err"
	fi
	limited env "${envs[@]}" "$ENGINE" train "$spec" --json --out "$TMP/$name-cuda" --set train.device=cuda \
		--set train.precision="$prec" >"$TMP/$name-cuda.jsonl" 2>"$TMP/$name-cuda.err"
	if grep -q "without graphs" "$TMP/$name-cuda.err"; then
		fail "trajectory $name" "$(grep -m1 "without graphs" "$TMP/$name-cuda.err")"
		return
	fi
	if ! "$PY" tests/gpu/compare_losses.py "trajectory $name" "$TMP/$base-cpu.jsonl" "$TMP/$name-cuda.jsonl" "$tol"; then
		failures=$((failures + 1))
		tail -n 2 "$TMP/$name-cuda.err" "$TMP/$name-cuda.jsonl" 2>/dev/null
	fi
}
if ! want train; then
	echo "(stage train not selected)"
elif [ -n "$ENGINE" ]; then
	echo "== trajectories (20 steps, CPU vs CUDA), $(elapsed) s"
	# fp32 runs may differ only by summation order; bf16 rounds every operand to 8 bits.
	# By default a GPU run replays a captured step graph and keeps the data set on the GPU; -eager turns both off.
	trajectory mlp-fp32 tests/gpu/specs/mlp.yaml fp32 1e-3
	trajectory mlp-fp32-eager tests/gpu/specs/mlp.yaml fp32 1e-3 TRAINBOOK_CUDA_GRAPH=0 TRAINBOOK_GPU_DATA=0
	trajectory mlp-bf16 tests/gpu/specs/mlp.yaml bf16 5e-2
	trajectory mlp-fp16 tests/gpu/specs/mlp.yaml fp16 5e-2
	trajectory resnet18-fp32 tests/gpu/specs/resnet18.yaml fp32 5e-3
	trajectory resnet18-bf16 tests/gpu/specs/resnet18.yaml bf16 1e-1
else
	fail "trajectories" "build/trainbook-engine did not build"
fi

# ---- 3b. the Fashion-MNIST CNN reaches the CPU's test accuracy --------------------
# examples/fashion-cnn.yaml reaches 0.928 on the CPU (its header); the GPU run must land within 0.5 points.
FASHION=${TRAINBOOK_FASHION_DIR:-}
for d in /usr/share/datasets/fashion-mnist build/gpu-pack/fashion-mnist; do
	[ -z "$FASHION" ] && [ -f "$d/train-images-idx3-ubyte.gz" ] && FASHION=$d
done
if ! want cnn; then
	echo "(stage cnn not selected)"
elif [ -z "$ENGINE" ]; then
	fail "fashion-cnn accuracy" "no trainbook-engine"
elif [ -z "$FASHION" ]; then
	fail "fashion-cnn accuracy" "Fashion-MNIST not found (set TRAINBOOK_FASHION_DIR, or carry build/gpu-pack.tar.xz)"
else
	echo "== fashion-cnn on the GPU, $(elapsed) s"
	cnn_start=$(date +%s)
	limited "$ENGINE" train examples/fashion-cnn.yaml --json --out "$TMP/fashion-cnn" --set train.device=cuda \
		--set data.path="$FASHION" >"$TMP/fashion-cnn.jsonl" 2>"$TMP/fashion-cnn.err"
	if ! "$PY" - "$TMP/fashion-cnn.jsonl" $(($(date +%s) - cnn_start)) <<'EOF'; then
import json, sys
acc, ref = None, 0.928
for line in open(sys.argv[1]):
    if line.startswith("{"):
        ev = json.loads(line)
        if ev.get("type") == "summary":
            acc = ev.get("final", {}).get("test.accuracy")
ok = acc is not None and abs(acc - ref) <= 0.005
print("%s fashion-cnn accuracy: %s on the GPU vs %.4f on the CPU (tolerance 0.005), %s s" % (
    "PASS" if ok else "FAIL", "%.4f" % acc if acc is not None else "no summary", ref, sys.argv[2]))
sys.exit(0 if ok else 1)
EOF
		failures=$((failures + 1))
		tail -n 2 "$TMP/fashion-cnn.err" "$TMP/fashion-cnn.jsonl"
	fi
fi

# ---- 3c. data parallel over NCCL ----------------------------------------------------
# nccl_run NAME DEVICES [VAR=VALUE...]: tests/gpu/specs/dp_mlp.yaml into $TMP/nccl-NAME, the
# replicas compared after every step (the run aborts if they drift apart).
nccl_run() {
	local name=$1 devices=$2
	shift 2
	limited env TRAINBOOK_CHECK_REPLICAS=1 "$@" "$ENGINE" train tests/gpu/specs/dp_mlp.yaml --json --out "$TMP/nccl-$name" \
		--set train.device=cuda --set train.devices="$devices" >"$TMP/nccl-$name.jsonl" 2>"$TMP/nccl-$name.err"
	local rc=$?
	if [ $rc -ne 0 ] || ! grep -q '"status":"completed"' "$TMP/nccl-$name.jsonl"; then
		fail "nccl run $name" "exit $rc: $(tail -c 300 "$TMP/nccl-$name.err" | tr '\n' ' ') $(grep -o '"reason":"[^"]*"' "$TMP/nccl-$name.jsonl")"
		return 1
	fi
}
# nccl_compare NAME GOT WANT TOL: step-10 parameters; WANT must have moved since its step 5.
nccl_compare() {
	"$PY" tests/gpu/compare_params.py "$1" "$TMP/nccl-$2/step-000000010.safetensors" \
		"$TMP/nccl-$3/step-000000010.safetensors" "$4" --moved-from "$TMP/nccl-$3/step-000000005.safetensors" ||
		failures=$((failures + 1))
}
GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
if ! want nccl; then
	echo "(stage nccl not selected)"
elif [ -z "$ENGINE" ]; then
	fail "nccl" "no trainbook-engine"
elif ! nm -D build/libtrainbook-cuda.so 2>/dev/null | grep -q ' tb_cuda_nccl_open$'; then
	fail "nccl" "libtrainbook-cuda.so was built without nccl.h (pip install nvidia-nccl-cu13, or NCCL's dev package)"
elif [ -z "$NCCL_LIB" ]; then
	fail "nccl" "libnccl.so.2 not found in the system or in pip wheels under: $SITE_DIRS"
else
	echo "== data parallel over NCCL ($GPUS GPUs), $(elapsed) s"
	# World size 1: every gradient bucket goes through an ncclAllReduce of one rank, which must
	# leave every bit of the plain step's result. The plain run must not need NCCL at all.
	if nccl_run plain 1 TRAINBOOK_NCCL_LIB=/nonexistent/libnccl.so.2 && nccl_run world1 1 TRAINBOOK_COLLECTIVE=1; then
		nccl_compare "nccl world 1 == plain CUDA (10 steps)" world1 plain 0
	fi
	if [ "$GPUS" -ge 2 ]; then
		# Two half-batch gradients summed by NCCL vs one whole-batch gradient, fp32 without TF32:
		# the summation order differs (cuBLASLt may also pick other kernels for the half batch),
		# a few ulps per step over 10 steps — the CPU collective's tolerance (tests/cli).
		if nccl_run 2gpu 2; then
			nccl_compare "nccl 2 GPUs == 1 GPU at batch 64 (10 steps)" 2gpu plain 1e-5
		fi
	else
		echo "note: nvidia-smi -L lists $GPUS GPU(s); the 2-GPU vs 1-GPU NCCL check needs two"
	fi
fi

# ---- 4. benchmark -------------------------------------------------------------------
if ! want bench; then
	echo "(stage bench not selected)"
	echo "total $(elapsed) s; $failures failed"
	[ "$failures" -eq 0 ]
	exit
fi
echo "== benchmark, $(elapsed) s"
TB_JSON="$LOGS/trainbook-bench.json"
bench_trainbook() { # key spec batch [VAR=VALUE...]
	local key=$1 spec=$2 batch=$3
	local envs=("${@:4}")
	if [ -z "$ENGINE" ]; then
		echo "\"$key\": {\"error\": \"trainbook-engine not built\"}"
		return
	fi
	limited env "${envs[@]}" "$ENGINE" train "$spec" --json --out "$TMP/bench-$key" --set train.device=cuda \
		--set data.batch_size="$batch" >"$TMP/bench-$key.jsonl" 2>"$TMP/bench-$key.err"
	"$PY" - "$key" "$TMP/bench-$key.jsonl" <<'EOF'
import json, statistics, sys
key, path = sys.argv[1], sys.argv[2]
rates, reason = [], None
for line in open(path):
    if not line.startswith("{"):
        continue
    ev = json.loads(line)
    if ev.get("type") == "metric" and ev.get("split") == "train":
        rates.append(ev["values"].get("images_per_sec", 0))
    if ev.get("type") == "status" and ev.get("status") == "failed":
        reason = ev.get("reason")
# The first intervals hold cuDNN's algorithm search and allocation: drop them.
steady = rates[len(rates) // 3:] if len(rates) >= 3 else rates
if reason or not steady:
    print('"%s": %s' % (key, json.dumps({"error": reason or "no metric events"})))
else:
    print('"%s": %s' % (key, json.dumps({"images_per_sec": statistics.median(steady)})))
EOF
}
{
	echo "{"
	bench_trainbook resnet18_b128 tests/gpu/specs/bench_resnet18.yaml 128
	echo ","
	bench_trainbook resnet18_b512 tests/gpu/specs/bench_resnet18.yaml 512
	echo ","
	bench_trainbook mlp_b64 tests/gpu/specs/bench_mlp.yaml 64
	echo ","
	# What the step graph and GPU-resident data are worth: the same runs without them.
	bench_trainbook mlp_b64_eager tests/gpu/specs/bench_mlp.yaml 64 TRAINBOOK_CUDA_GRAPH=0 TRAINBOOK_GPU_DATA=0
	echo ","
	bench_trainbook resnet18_b128_eager tests/gpu/specs/bench_resnet18.yaml 128 TRAINBOOK_CUDA_GRAPH=0 TRAINBOOK_GPU_DATA=0
	echo "}"
} >"$TB_JSON"
cat "$TB_JSON"
# Where a step's time goes, per layer kind (eager steps timed by CUDA events): what the next
# optimisation should aim at. Printed, and kept as build/gpu/profile-*.txt.
if [ -n "$ENGINE" ]; then
	while read -r name spec batch; do
		echo "== profile $name, batch $batch"
		limited env TRAINBOOK_PROFILE=1 "$ENGINE" train "$spec" --out "$TMP/profile-$name" --set train.device=cuda \
			--set data.batch_size="$batch" --set train.max_steps=40 2>&1 >/dev/null |
			sed -n '/^profile:/,$p' | tee "$LOGS/profile-$name.txt"
	done <<'EOF'
resnet18 tests/gpu/specs/bench_resnet18.yaml 128
mlp tests/gpu/specs/bench_mlp.yaml 64
EOF
fi
DEVICE_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr -c 'A-Za-z0-9\n' '-' | tr -s '-')
RESULT="tests/bench/results/gpu-${DEVICE_NAME:-unknown}-$(date +%Y-%m-%d).md"
if "$PY" tests/bench/gpu_bench.py --trainbook "$TB_JSON" --out "$RESULT" --budget "${BENCH_BUDGET:-300}"; then
	pass "benchmark (table in $RESULT)"
else
	fail "benchmark" "tests/bench/gpu_bench.py failed"
fi
echo "total $(elapsed) s; $failures failed"
[ "$failures" -eq 0 ]
