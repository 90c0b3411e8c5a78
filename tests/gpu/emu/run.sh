#!/bin/bash
# tests/gpu/emu/run.sh — the CUDA backend's own logic checked on a machine
# without a GPU: engine/cuda/*.cu compiled by g++ against a CPU emulator
# of CUDA (emu_cuda.h, emu_runtime.cpp) and naive cuBLASLt/cuDNN stand-ins
# (emu_libs.cpp), built by build.sh, then tests/gpu/parity_ops run against
# that library. The NCCL path has its own checks (check_nccl.sh); the
# "emu" suite (tests/emu/run.sh) runs this script and every check_*.sh.
#
# What it proves: indexing, reductions (block and warp), the row-major to
# column-major gemm mapping, workspace layout, precision plumbing and the
# backend_ext.h extras compute what the CPU reference computes. What it cannot:
# anything about real GPUs (races, timing, how NVIDIA's libraries read their
# arguments). Precisions: the arguments, default fp32 and bf16 (the 16-bit
# operand path: conversions, scratch layout, the reuse of a converted dy).
# Prints the parity program's PASS/FAIL lines; exit 1 on failure.
cd "$(dirname "$0")/../../.." || exit 2
OUT=build/emu
bash tests/gpu/emu/build.sh || exit 1
echo "PASS emu build"
CBLAS_FLAGS="-I/usr/include/x86_64-linux-gnu/openblas-pthread"
CBLAS_SRC=""
CBLAS_LIB="-lopenblas"
if ! echo '#include <cblas.h>' | cc -E -x c - $CBLAS_FLAGS >/dev/null 2>&1; then
	CBLAS_FLAGS="-Itests/gpu/fallback"
	CBLAS_SRC="tests/gpu/cblas_naive.c"
	CBLAS_LIB=""
fi
if ! cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -fopenmp -I. -Iengine $CBLAS_FLAGS -o "$OUT/parity_ops" \
	tests/gpu/parity_*.c $CBLAS_SRC engine/cpu/*.c engine/optim.c engine/precision.c engine/rng.c engine/tb.c $CBLAS_LIB -lm -ldl 2>"$OUT/parity-build.log"; then
	echo "FAIL emu parity build: $(head -3 "$OUT/parity-build.log" | tr '\n' ' ')"
	exit 1
fi
precisions=("$@")
[ ${#precisions[@]} -gt 0 ] || precisions=(fp32 bf16)
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$OUT/parity_ops" --lib "$OUT/libtrainbook-cuda-emu.so" "${precisions[@]}"
status=$?
# The GPU batch kernel against the real CPU loader needs every engine object.
if make build/trainbook-engine >"$OUT/engine-build.log" 2>&1; then
	# The engine's objects include its ONNX export: protoc-c's messages and libprotobuf-c with them.
	OBJS="$(for f in engine/*.c engine/cpu/*.c; do echo "build/obj/${f%.c}.o"; done) build/obj/gen/onnx/onnx.pb-c.o"
	if cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -fopenmp -I. -Iengine $CBLAS_FLAGS -o "$OUT/data_check" \
		tests/gpu/data_check.c $OBJS -lopenblas -lyaml -lz -lpng -ljpeg -l:libprotobuf-c.a -lm -ldl -pthread 2>"$OUT/data-build.log"; then
		"$OUT/data_check" "$OUT/libtrainbook-cuda-emu.so" || status=1
	else
		echo "FAIL emu data_check build: $(head -2 "$OUT/data-build.log" | tr '\n' ' ')"
		status=1
	fi
else
	echo "FAIL emu data_check: build/trainbook-engine does not build (see $OUT/engine-build.log)"
	status=1
fi
exit $status
