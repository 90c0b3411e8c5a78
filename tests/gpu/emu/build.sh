#!/bin/bash
# tests/gpu/emu/build.sh — build the CPU emulator's libraries when their
# sources changed (every emulator script calls it first):
#
#   build/emu/libtrainbook-cuda-emu.so  engine/cuda/*.cu translated and compiled by g++
#                                       with emu_runtime.cpp and emu_libs.cpp
#   build/emu/libnccl-emu.so.2          emu_nccl.cpp, linked against the library above
#                                       (it asks it for the current device and a stream's
#                                       device); what TRAINBOOK_NCCL_LIB points at
#
# The CUDA library carries the soname libtrainbook-cuda-emu.so, so when the
# engine has dlopen'ed it by path, the NCCL library's dependency on that
# name resolves to the same loaded copy (one emulated device state).
# Prints "FAIL emu build: …" and exits 1 when a compile fails; silent otherwise.
cd "$(dirname "$0")/../../.." || exit 2
OUT=build/emu
CXX=${CXX:-g++}
mkdir -p "$OUT/src"
CUDA_LIB="$OUT/libtrainbook-cuda-emu.so"
NCCL_LIB="$OUT/libnccl-emu.so.2"
SOURCES="engine/cuda engine/*.h tests/gpu/emu/*.cpp tests/gpu/emu/*.h tests/gpu/emu/include tests/gpu/emu/translate.py tests/gpu/emu/build.sh"

# Up to date when it exists and nothing it is built from is newer.
fresh() {
	[ -f "$1" ] && [ -z "$(find $SOURCES -newer "$1" -print -quit 2>/dev/null)" ]
}

if ! fresh "$CUDA_LIB"; then
	rm -f "$OUT"/src/*.cpp
	for f in engine/cuda/*.cu; do
		python3 tests/gpu/emu/translate.py "$f" "$OUT/src/$(basename "$f" .cu).cpp" || {
			echo "FAIL emu build: translate.py $f"
			exit 1
		}
	done
	if ! $CXX -std=c++17 -O1 -g -fPIC -shared -ffp-contract=off -Wall -Wextra -Wno-unused-parameter \
		-Wno-missing-field-initializers -include tests/gpu/emu/emu_cuda.h -Itests/gpu/emu/include -Iengine/cuda \
		-I. -Iengine -Wl,-soname,libtrainbook-cuda-emu.so -o "$CUDA_LIB.tmp" "$OUT"/src/*.cpp \
		tests/gpu/emu/emu_runtime.cpp tests/gpu/emu/emu_libs.cpp -ldl -pthread 2>"$OUT/build.log"; then
		echo "FAIL emu build: $(grep -m3 error "$OUT/build.log" | tr '\n' ' ')"
		exit 1
	fi
	mv "$CUDA_LIB.tmp" "$CUDA_LIB"
fi
if ! fresh "$NCCL_LIB" || [ "$CUDA_LIB" -nt "$NCCL_LIB" ]; then
	if ! $CXX -std=c++17 -O1 -g -fPIC -shared -Wall -Wextra -Itests/gpu/emu/include -o "$NCCL_LIB.tmp" \
		tests/gpu/emu/emu_nccl.cpp -L"$OUT" -ltrainbook-cuda-emu -Wl,-rpath,'$ORIGIN' -pthread \
		2>"$OUT/build-nccl.log"; then
		echo "FAIL emu NCCL build: $(grep -m3 error "$OUT/build-nccl.log" | tr '\n' ' ')"
		exit 1
	fi
	mv "$NCCL_LIB.tmp" "$NCCL_LIB"
fi
exit 0
