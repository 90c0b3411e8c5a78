#!/bin/bash
# tests/gpu/pack.sh — what tests/gpu/run.sh needs on a GPU box that has no
# package registry and none of the engine's CPU libraries (OpenBLAS,
# libyaml, libpng, libjpeg): run it HERE, on the Debian development
# machine, then carry build/gpu-pack.tar.xz with the working tree (the
# device tool's `carry`). run.sh unpacks it when the engine does not build
# there.
#
# The pack holds, built here against Debian 12's glibc 2.36 (the GPU
# image's is newer, so they run there):
#   bin/trainbook-engine   the engine CLI (dlopens the CUDA library run.sh builds there)
#   bin/parity_ops         the op parity program with the OpenBLAS CPU reference
#   bin/data_check         the GPU batch kernel against the real CPU loader
#   lib/                   every shared library they need beyond glibc
#   fashion-mnist/         the data set, for the CNN accuracy check
# xz keeps it near 40 MB (OpenBLAS alone is 36 MB raw), under the carry limit.
cd "$(dirname "$0")/../.." || exit 2
set -e
PACK=build/gpu-pack
rm -rf "$PACK" "$PACK.tar.xz"
mkdir -p "$PACK/bin" "$PACK/lib"
make -s build/trainbook-engine
cp build/trainbook-engine "$PACK/bin/"
CBLAS="-I/usr/include/x86_64-linux-gnu/openblas-openmp -L/usr/lib/x86_64-linux-gnu/openblas-openmp"
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -fopenmp -I. -Iengine $CBLAS -o "$PACK/bin/parity_ops" \
	tests/gpu/parity_*.c engine/cpu/*.c engine/rng.c engine/tb.c -lopenblas -lm -ldl
# The engine's objects include its ONNX export: protoc-c's messages and libprotobuf-c with them.
OBJS="$(for f in engine/*.c engine/cpu/*.c; do echo "build/obj/${f%.c}.o"; done) build/obj/gen/onnx/onnx.pb-c.o"
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -fopenmp -I. -Iengine $CBLAS -o "$PACK/bin/data_check" \
	tests/gpu/data_check.c $OBJS -lopenblas -lyaml -lz -lpng -ljpeg -l:libprotobuf-c.a -lm -ldl -pthread
# Everything ldd resolves except glibc's own pieces, which the box has (newer).
for bin in "$PACK"/bin/*; do
	ldd "$bin" | awk '$3 ~ /^\// {print $3}'
done | sort -u | grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' | while read -r lib; do
	cp -L "$lib" "$PACK/lib/"
done
FASHION=/usr/share/datasets/fashion-mnist
if [ -f "$FASHION/train-images-idx3-ubyte.gz" ]; then
	mkdir -p "$PACK/fashion-mnist"
	cp "$FASHION"/*.gz "$PACK/fashion-mnist/"
else
	echo "note: $FASHION missing (apt-get install dataset-fashion-mnist): the pack has no data set"
fi
tar -C build -cJf "$PACK.tar.xz" gpu-pack
echo "wrote $PACK.tar.xz ($(du -h "$PACK.tar.xz" | cut -f1)); carry it: build/gpu-pack.tar.xz"
