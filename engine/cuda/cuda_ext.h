/*
 * cuda_ext.h — what libtrainbook-cuda.so offers beyond backend.h: plain C
 * declarations the engine may dlsym (a missing symbol means "not
 * available"), for mixed-precision loss scaling, CUDA-graph capture,
 * asynchronous metric read-back and GPU-resident data.
 *
 * What it is: a proposal the engine can adopt without changing backend.h.
 * What it is not: required — a run that uses none of it is a plain
 * backend.h run. Threads: the backend's thread, like every backend call.
 */
#ifndef TB_CUDA_EXT_H
#define TB_CUDA_EXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct backend;

/*
 * Two optimizer scalar slots beyond backend.h's enum optim_scalar (which
 * reserves 8). The engine's optim.c uploads zeros there, and zero keeps
 * backend.h's meaning, so the CUDA optimizer honours them unconditionally.
 */
enum cuda_optim_scalar {
	CUDA_OPT_SKIP = 4, /* ≠ 0: leave parameters and state untouched this step (fp16 overflow) */
	CUDA_OPT_STEP = 5, /* > 0: the 1-based step, read on the device instead of the host `step` argument */
};

#ifdef __cplusplus
}
#endif

#endif
