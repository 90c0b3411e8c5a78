#!/bin/sh
# Build and run op_profile (per-operation time of a training step; see op_profile.c).
#   sh tests/bench/op_profile.sh resnet18 3 32 32 32 2 10
#   sh tests/bench/op_profile.sh cnn 1 28 28 64 2 50
cd "$(dirname "$0")/../.." || exit 2
make -s build/trainbook-engine || exit 1
objs="$(ls build/obj/engine/*.o build/obj/engine/cpu/*.o) build/obj/gen/onnx/onnx.pb-c.o"
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -I. -Iengine -I/usr/include/x86_64-linux-gnu/openblas-openmp -fopenmp \
	-o build/op_profile tests/bench/op_profile.c $objs \
	-L/usr/lib/x86_64-linux-gnu/openblas-openmp -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp \
	-lopenblas -lyaml -lz -lpng -ljpeg -l:libprotobuf-c.a -lm -ldl -pthread || exit 1
exec build/op_profile "$@"
