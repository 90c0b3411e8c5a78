/*
 * parity.h — the harness shared by tests/gpu/parity_*.c: a CPU backend (the
 * reference) and a CUDA backend side by side, fresh random inputs from a
 * printed seed, and one PASS/FAIL line per checked operation.
 *
 * What it is not: a unit-test framework; each check is "run the op on both
 * backends from the same inputs, compare with a tolerance that fits the
 * precision". Threads: the main thread only.
 */
#ifndef TB_GPU_PARITY_H
#define TB_GPU_PARITY_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "rng.h"

/* Element-wise work is fp32 in every precision: only rounding-order noise. */
#define PARITY_TOL_FP32 1e-5

struct parity {
	struct backend *cpu;
	struct backend *gpu;
	const char *prec;    /* "fp32", "tf32", "bf16", "fp16" */
	double tol_dense;    /* gemm/conv: 1e-4 fp32, 1e-3 tf32, 1e-2 bf16/fp16 */
	struct rng rng;
	int passed, failed;
};

/* Print "PASS [prec] op: detail" or "FAIL [prec] op: detail", count it. */
void parity_result(struct parity *pt, const char *op, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Compare and report: max|ref-got| / max|ref| against tol. Returns ok. */
bool parity_check(struct parity *pt, const char *op, const float *ref, const float *got, int64_t n, double tol);

/* The same comparison without reporting (for ops with several outputs). */
double parity_err(const float *ref, const float *got, int64_t n);

/* Host buffers (malloc'd; free with free()). */
float *parity_rand(struct parity *pt, int64_t n, float lo, float hi);
float *parity_copy(const float *src, int64_t n);

/* Device buffers of the GPU backend. */
void *parity_up(struct parity *pt, const void *host, size_t bytes);
/* Download n floats into a new host buffer. */
float *parity_down(struct parity *pt, const void *dev, int64_t n);

/* The groups of checks. */
void parity_dense_ops(struct parity *pt);     /* parity_ops.c */
void parity_conv_ops(struct parity *pt);      /* parity_conv.c */
void parity_ext_ops(struct parity *pt);       /* parity_ext.c */

#endif
