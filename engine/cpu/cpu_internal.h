/*
 * cpu_internal.h — what the CPU backend's files share: the private state
 * and the installers that fill the operation table by group.
 * Threads: see backend.h (one thread uses a backend at a time).
 */
#ifndef TB_CPU_INTERNAL_H
#define TB_CPU_INTERNAL_H

#include "backend.h"

struct cpu_backend {
	int threads;   /* OpenBLAS and OpenMP threads */
};

/* Element counts below this run on one thread: spawning costs more than it saves. */
#define CPU_PARALLEL_MIN 32768

/* Fill the convolution, batch-norm and pooling entries (cpu_conv.c; it calls
 * cpu_norm_pool_install from cpu_norm_pool.c for the last two). */
void cpu_conv_install(struct backend *be);
void cpu_norm_pool_install(struct backend *be);

#endif
