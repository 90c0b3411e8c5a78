/*
 * cpu_internal.h — what the CPU backend's files share: the private state
 * and the installers that fill the operation table by group.
 * Threads: see backend.h (one thread uses a backend at a time).
 */
#ifndef TB_CPU_INTERNAL_H
#define TB_CPU_INTERNAL_H

#include <stdint.h>

#include "backend.h"

struct cpu_backend {
	int threads;          /* OpenBLAS and OpenMP threads */
	float *scratch;       /* convolution scratch shared by every layer (operations run one at a time) */
	size_t scratch_floats;
};

/*
 * Hot loops compiled for AVX-512 and AVX2 besides the baseline, picked at
 * run time. Without -ffast-math, and with -ffp-contract=off (GCC's default
 * under the Makefile's -std=c11), the compiler neither reassociates nor
 * fuses a multiply-add, so every version rounds alike: only the vector
 * width differs.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CPU_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CPU_VECTOR_CLONES
#endif

/* Scratch layouts: the offset of a piece of `floats` at *cursor, which
 * moves past it rounded to 16 floats, so every piece is 64-byte aligned. */
static inline int64_t cpu_take(int64_t *cursor, int64_t floats)
{
	int64_t at = *cursor;
	*cursor += (floats + 15) / 16 * 16;
	return at;
}

/* Element counts below this run on one thread: spawning costs more than it saves. */
#define CPU_PARALLEL_MIN 32768

/* Fill the convolution, batch-norm and pooling entries (cpu_conv.c; it calls
 * cpu_norm_pool_install from cpu_norm_pool.c for the last two). */
void cpu_conv_install(struct backend *be);
/* The backend's scratch, grown to at least `floats` (64-byte aligned; contents not kept across growth). */
float *cpu_scratch(struct backend *be, size_t floats);
void cpu_norm_pool_install(struct backend *be);
/* The optimizer kernels, one per optim.h kind (cpu_optim.c). */
void cpu_optim_install(struct backend *be);

#endif
