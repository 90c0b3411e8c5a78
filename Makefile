# trainbook — one Makefile for the engine, the server, the page and the tests.
#
#   make            build/trainbook (+ build/libtrainbook-cuda.so when nvcc is found; CUDA=0 skips)
#   make run        install what running needs, build, serve the bundled example
#   make install    the binaries, the CUDA module, the page, the examples, the server config and
#                   the systemd unit under $(DESTDIR)$(PREFIX) (PREFIX=/usr/local) and /etc
#   make test       install test packages, run every suite, end with "N passed, N failed"
#   make check      the fast suites only (CHECK_SUITES), for the edit-test loop
#   make bench      benchmarks beside PyTorch (tests/bench/)
#   make fuzz       build the libFuzzer targets (tests/fuzz/) and run each FUZZ_SECONDS (default 60),
#                   or to FUZZ_RUNS executions within that
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
INCLUDES = -I. -Iengine -I$(BUILD)/gen/onnx -I/usr/include/x86_64-linux-gnu/openblas-openmp
CFLAGS  += $(CSTD) $(WARN) $(OPT) $(INCLUDES) -pthread -fopenmp -fno-strict-aliasing
DEPFLAGS = -MMD -MP

# libprotobuf-c (ONNX export) is linked statically: ~60 KiB, and the engine-only
# binary keeps the runtime libraries it had, for GPU boxes without apt.
ENGINE_LIBS = -fopenmp -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas -lyaml -lz -lpng -ljpeg \
              -l:libprotobuf-c.a -lm -ldl -pthread
SERVER_LIBS = -lmicrohttpd -lwebsockets -ljansson -lsqlite3 -lcrypto -largon2

ENGINE_SRC := $(wildcard engine/*.c engine/cpu/*.c)
SERVER_SRC := $(wildcard server/*.c)
CLI_SRC    := $(wildcard engine/cli/*.c)

# ONNX's message types, compiled from its schema by protoc-c (never committed).
ONNX_PROTO := third_party/onnx/onnx.proto
ONNX_GEN   := $(BUILD)/gen/onnx/onnx.pb-c.c
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/onnx/onnx.pb-c.o
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

.PHONY: all run test check bench soak deps deps-run deps-test clean engine-cli unit web format format-check install uninstall fuzz fuzz-build fuzz-replay
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

$(BUILD)/gen/onnx/onnx.pb-c.c $(BUILD)/gen/onnx/onnx.pb-c.h &: $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen/onnx
	protoc-c --c_out=$(BUILD)/gen/onnx -Ithird_party/onnx $(ONNX_PROTO)

$(BUILD)/obj/gen/onnx/onnx.pb-c.o: $(ONNX_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Before the first build no .d file says who includes the generated header.
$(BUILD)/obj/engine/onnx_export.o $(BUILD)/asan/engine/onnx_export.o: $(BUILD)/gen/onnx/onnx.pb-c.h

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
ENGINE_ASAN_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/asan/%.o) $(BUILD)/asan/gen/onnx/onnx.pb-c.o
# The three mains (the binary's, serve's and users') stay out of the test links.
SERVER_ASAN_OBJ := $(filter-out $(BUILD)/asan/server/serve_main.o $(BUILD)/asan/server/users_main.o $(BUILD)/asan/server/main.o,$(SERVER_SRC:%.c=$(BUILD)/asan/%.o))
UNIT_ENGINE_SRC := $(wildcard tests/unit/test_*.c)
UNIT_SERVER_SRC := $(wildcard tests/unit/server/test_*.c)
UNIT_BIN := $(UNIT_ENGINE_SRC:tests/unit/%.c=$(BUILD)/tests/%) \
            $(UNIT_SERVER_SRC:tests/unit/server/%.c=$(BUILD)/tests/server/%)

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/asan/gen/onnx/onnx.pb-c.o: $(ONNX_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) -c $< -o $@

$(BUILD)/tests/test_%: tests/unit/test_%.c $(ENGINE_ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) -o $@ $^ -lcmocka $(ENGINE_LIBS)

$(BUILD)/tests/server/test_%: tests/unit/server/test_%.c $(SERVER_ASAN_OBJ) $(ENGINE_ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) -o $@ $^ -lcmocka $(SERVER_LIBS) $(ENGINE_LIBS)

unit: $(UNIT_BIN)

# Keep the ASan objects: as intermediates of the pattern rules make would delete
# them after each link, and every `make unit` would rebuild the whole tree.
.SECONDARY: $(ENGINE_ASAN_OBJ) $(SERVER_ASAN_OBJ)

# The spec parser alone, for tests/specs/run.sh (it reads the engine's registries, so it links the engine).
$(BUILD)/specs/parse_driver: tests/specs/parse_driver.c $(ENGINE_ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(ENGINE_LIBS)

# ---- fuzz targets (tests/fuzz/<target>/fuzz_<target>.c) ---------------------
# Each target is built twice: with clang's libFuzzer for `make fuzz`, and
# with the unit tests' gcc ASan+UBSan and a plain main() (replay_main.c)
# that `make test` uses to replay every corpus and crash file once.
FUZZ_TARGETS := $(notdir $(patsubst %/,%,$(dir $(wildcard tests/fuzz/*/fuzz_*.c))))
FUZZ_COMMON  := tests/fuzz/fuzz.c tests/fuzz/fuzz_data.c
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
# clang knows no -Wformat-truncation; -O1 keeps the fuzzer fast and the stacks readable.
FUZZ_CFLAGS   = $(CSTD) $(filter-out -Wno-format-truncation,$(WARN)) -O1 -g $(INCLUDES) -Itests/fuzz \
                -pthread -fopenmp -fno-strict-aliasing -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJ     := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(ENGINE_SRC) $(filter-out server/serve_main.c server/main.c,$(SERVER_SRC)) $(FUZZ_COMMON)) \
                $(BUILD)/fuzz/obj/gen/onnx/onnx.pb-c.o
FUZZ_ASAN_COMMON := $(FUZZ_COMMON:%.c=$(BUILD)/asan/%.o)

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) -c $< -o $@

$(BUILD)/fuzz/obj/gen/onnx/onnx.pb-c.o: $(ONNX_GEN)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(BUILD)/fuzz/obj/engine/onnx_export.o: $(BUILD)/gen/onnx/onnx.pb-c.h

define FUZZ_TARGET_RULES
$(BUILD)/fuzz/bin/$(1): tests/fuzz/$(1)/fuzz_$(1).c $(FUZZ_OBJ)
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$^ $(SERVER_LIBS) $(ENGINE_LIBS)
$(BUILD)/fuzz/replay/$(1): tests/fuzz/$(1)/fuzz_$(1).c tests/fuzz/replay_main.c $(FUZZ_ASAN_COMMON) $(SERVER_ASAN_OBJ) $(ENGINE_ASAN_OBJ)
	@mkdir -p $$(dir $$@)
	$(CC) $(ASAN_FLAGS) -Itests/fuzz -o $$@ $$^ $(SERVER_LIBS) $(ENGINE_LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_TARGET_RULES,$(t))))

fuzz-build: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/bin/%)
fuzz-replay: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay/%)
fuzz: deps-test fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) sh tests/fuzz/fuzz.sh $(FUZZ_TARGETS)

# ---- the page (web/ → static/app/) -----------------------------------------
web:
	@if [ -f web/build.sh ]; then sh web/build.sh; fi

# ---- install -----------------------------------------------------------------
# The layout the binaries look for beside themselves (tb_find_beside_exe):
# bin/trainbook finds ../lib/trainbook/libtrainbook-cuda.so and
# ../share/trainbook/{static,examples}, as build/trainbook finds its
# neighbours in the repository. The unit's ExecStart follows PREFIX; an
# edited /etc/trainbook/trainbook.conf is kept (the new one lands beside it
# as trainbook.conf.new). docs/server.md walks through a whole set-up.
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SHAREDIR    = $(DESTDIR)$(PREFIX)/share/trainbook
CONFDIR     = $(DESTDIR)$(SYSCONFDIR)/trainbook
# Not `install: all`: under `sudo make install` that would run npm as root.
install: $(BUILD)/trainbook $(BUILD)/trainbook-engine $(CUDA_LIB)
	@test -f static/app/app.js || { echo "make install: static/app/app.js is missing: run make first"; exit 1; }
	install -d $(DESTDIR)$(PREFIX)/bin $(SHAREDIR) $(CONFDIR) $(DESTDIR)$(UNITDIR)
	install -m 755 $(BUILD)/trainbook $(BUILD)/trainbook-engine $(DESTDIR)$(PREFIX)/bin/
	$(if $(CUDA_LIB),install -d $(DESTDIR)$(PREFIX)/lib/trainbook && install -m 755 $(CUDA_LIB) $(DESTDIR)$(PREFIX)/lib/trainbook/)
	rm -rf $(SHAREDIR)/static $(SHAREDIR)/examples
	cp -R static $(SHAREDIR)/static
	cp -R examples $(SHAREDIR)/examples
	if [ -f $(CONFDIR)/trainbook.conf ] && ! cmp -s config/trainbook-server.conf $(CONFDIR)/trainbook.conf; then \
		install -m 644 config/trainbook-server.conf $(CONFDIR)/trainbook.conf.new; \
		echo "make install: kept $(CONFDIR)/trainbook.conf; the shipped one is trainbook.conf.new"; \
	else install -m 644 config/trainbook-server.conf $(CONFDIR)/trainbook.conf; fi
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|; s|/etc/trainbook/|$(SYSCONFDIR)/trainbook/|' config/trainbook.service \
		>$(DESTDIR)$(UNITDIR)/trainbook.service
	chmod 644 $(DESTDIR)$(UNITDIR)/trainbook.service

# Leaves /etc/trainbook (settings, the token) and every workspace alone.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/trainbook $(DESTDIR)$(PREFIX)/bin/trainbook-engine
	rm -f $(DESTDIR)$(UNITDIR)/trainbook.service
	rm -rf $(DESTDIR)$(PREFIX)/lib/trainbook $(SHAREDIR)

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
	$(MAKE) all unit fuzz-replay
	sh tests/run.sh

# The suites that finish in minutes on a 2-core machine (230 s here with the
# load at 12), for the edit-test loop; `make test` runs them all. Left out:
# cli (trains Fashion-MNIST to its accuracy targets, most of make test's time)
# and emu (the CUDA code on the CPU emulator, ~4 min). tests/run.sh prints
# each suite's time. style (formatting, ~25 s) is in: a drifted file should fail before a push.
CHECK_SUITES ?= unit specs style fuzz integration web parity e2e
check: deps-test
	$(MAKE) all unit fuzz-replay
	TB_SUITES="$(CHECK_SUITES)" sh tests/run.sh

bench: deps-test all
	sh tests/bench/run.sh

# A server left running under load for SOAK_SECONDS (600): RSS, descriptors, WAL and
# /api/status p99 per minute must stay flat; results in tests/bench/results/soak-<date>.md.
soak: all
	@sh tests/deps.sh bench
	node tests/bench/soak.mjs --seconds $${SOAK_SECONDS:-600}

# Format with the repository's .clang-format; `make format-check` is what tests/style/run.sh checks.
format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cu')
format-check:
	sh tests/style/run.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
