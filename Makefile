# trainbook — one Makefile for the engine, the server, the page and the tests.
#
#   make            build/trainbook (+ build/libtrainbook-cuda.so when nvcc is found; CUDA=0 skips)
#   make run        install what running needs, build, serve the bundled example
#   make test       install test packages, run every suite, end with "N passed, N failed"
#   make bench      benchmarks beside PyTorch (tests/bench/)
#   make deps       Debian packages for running (deps-test adds the test-only ones)
#
# Sources are picked up by wildcard so a new file in engine/, server/ or
# tests/unit/ needs no Makefile edit.

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
WARN     = -Wall -Wextra -Werror -Wno-format-truncation
CSTD     = -std=c11 -D_GNU_SOURCE
OPT     ?= -O3 -march=x86-64-v2 -g
OPENBLAS_DIR = /usr/lib/x86_64-linux-gnu/openblas-openmp
INCLUDES = -I. -Iengine -I/usr/include/x86_64-linux-gnu/openblas-openmp
CFLAGS  += $(CSTD) $(WARN) $(OPT) $(INCLUDES) -pthread -fopenmp -fno-strict-aliasing
DEPFLAGS = -MMD -MP

ENGINE_LIBS = -fopenmp -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas -lyaml -lz -lpng -ljpeg -lm -ldl -pthread
SERVER_LIBS = -lmicrohttpd -lwebsockets -ljansson -lsqlite3

ENGINE_SRC := $(wildcard engine/*.c engine/cpu/*.c)
SERVER_SRC := $(wildcard server/*.c)
CLI_SRC    := $(wildcard engine/cli/*.c)

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ    := $(filter-out $(BUILD)/obj/engine/cli/main.o,$(CLI_SRC:%.c=$(BUILD)/obj/%.o))

# ---- CUDA: auto-detected, CUDA=0 forces it off ----------------------------
NVCC ?= $(shell command -v nvcc 2>/dev/null || ( [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc ))
ifeq ($(CUDA),0)
NVCC :=
endif
CUDA_HOME ?= $(if $(NVCC),$(patsubst %/bin/nvcc,%,$(NVCC)),)
# Extra include/library dirs for cuDNN/NCCL living outside the toolkit (pip wheels on the GPU box).
CUDA_EXTRA_INC ?=
CUDA_EXTRA_LIB ?=
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
             -gencode arch=compute_90,code=compute_90
NVCCFLAGS ?= -O3 -std=c++17 -Xcompiler -fPIC,-Wall $(CUDA_ARCH) -I. -Iengine $(CUDA_EXTRA_INC)
CUDA_SRC := $(wildcard engine/cuda/*.cu)
CUDA_OBJ := $(CUDA_SRC:%.cu=$(BUILD)/obj/%.o)
CUDA_LIB := $(if $(and $(NVCC),$(CUDA_SRC)),$(BUILD)/libtrainbook-cuda.so,)

.PHONY: all run test bench deps deps-run deps-test clean engine-cli unit web format format-check
all: $(BUILD)/trainbook $(BUILD)/trainbook-engine $(CUDA_LIB) web

# The full binary: engine commands + `serve` (its main is server/main.c, among SERVER_OBJ).
$(BUILD)/trainbook: $(CLI_OBJ) $(ENGINE_OBJ) $(SERVER_OBJ)
	$(CC) $(CFLAGS) -rdynamic -o $@ $^ $(SERVER_LIBS) $(ENGINE_LIBS)

# The engine-only binary (train/check/worker/...): no web libraries, for GPU boxes without apt.
$(BUILD)/trainbook-engine: $(BUILD)/obj/engine/cli/main.o $(CLI_OBJ) $(ENGINE_OBJ)
	$(CC) $(CFLAGS) -rdynamic -o $@ $^ $(ENGINE_LIBS)
engine-cli: $(BUILD)/trainbook-engine $(CUDA_LIB)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@

# No -lnccl: engine/cuda/cuda_nccl.cu dlopens libnccl.so.2 when a run has more than one rank,
# so the module loads (and single-GPU runs work) on machines without NCCL.
$(BUILD)/libtrainbook-cuda.so: $(CUDA_OBJ)
	$(NVCC) -shared $(CUDA_ARCH) -o $@ $^ $(CUDA_EXTRA_LIB) -lcublasLt -lcublas -lcudnn -lcudart -ldl

# ---- unit tests under AddressSanitizer + UBSan -----------------------------
ASAN_FLAGS = $(CSTD) $(WARN) -O1 -g $(INCLUDES) -pthread -fsanitize=address,undefined \
             -fno-sanitize-recover=undefined -fno-omit-frame-pointer -fno-strict-aliasing -fopenmp
ENGINE_ASAN_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/asan/%.o)
SERVER_ASAN_OBJ := $(filter-out $(BUILD)/asan/server/serve_main.o $(BUILD)/asan/server/main.o,$(SERVER_SRC:%.c=$(BUILD)/asan/%.o))
UNIT_ENGINE_SRC := $(wildcard tests/unit/test_*.c)
UNIT_SERVER_SRC := $(wildcard tests/unit/server/test_*.c)
UNIT_BIN := $(UNIT_ENGINE_SRC:tests/unit/%.c=$(BUILD)/tests/%) \
            $(UNIT_SERVER_SRC:tests/unit/server/%.c=$(BUILD)/tests/server/%)

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/tests/test_%: tests/unit/test_%.c $(ENGINE_ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) -o $@ $^ -lcmocka $(ENGINE_LIBS)

$(BUILD)/tests/server/test_%: tests/unit/server/test_%.c $(SERVER_ASAN_OBJ) $(ENGINE_ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) -o $@ $^ -lcmocka $(SERVER_LIBS) $(ENGINE_LIBS)

unit: $(UNIT_BIN)

# The spec parser alone, for tests/specs/run.sh (it reads the engine's registries, so it links the engine).
$(BUILD)/specs/parse_driver: tests/specs/parse_driver.c $(ENGINE_ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(ENGINE_LIBS)

# ---- the page (web/ → static/app/) -----------------------------------------
web:
	@if [ -f web/build.sh ]; then sh web/build.sh; fi

# ---- packages ----------------------------------------------------------------
deps: deps-run
deps-run:
	@sh tests/deps.sh run
deps-test:
	@sh tests/deps.sh test

# ---- top-level commands -----------------------------------------------------
run: deps-run all
	sh examples/run-example.sh

test: deps-test
	$(MAKE) all unit
	sh tests/run.sh

bench: deps-test all
	sh tests/bench/run.sh

# Format with the repository's .clang-format; `make format-check` is what tests/style/run.sh checks.
format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cu')
format-check:
	sh tests/style/run.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
