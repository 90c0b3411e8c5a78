#!/bin/sh
# Build and run the data-loader benchmark (not a pass/fail test).
# It needs only the data layer, so it builds from those sources alone and
# works while the rest of the engine is mid-change.
set -e
cd "$(dirname "$0")/../.."
mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O3 -march=x86-64-v2 -g -Wall -Wextra -Werror -I. -Iengine -pthread \
	-o build/bench/loader_bench tests/bench/loader_bench.c \
	engine/data.c engine/data_idx.c engine/data_csv.c engine/data_cifar.c engine/data_images.c \
	engine/data_synthetic.c engine/loader.c engine/rng.c engine/tb.c \
	-lz -lpng -ljpeg -lm
exec build/bench/loader_bench "$@"
