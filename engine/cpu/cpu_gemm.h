/*
 * cpu_gemm.h — the matrix products of the CPU convolutions and linear layers (cpu_gemm.c):
 * C[m, n] (+)= A[m, k] · op(B)[k, n], row-major, single-threaded per call,
 * with the left operand packed once and reused by every block of a pass.
 * Threads: cpu_gemm_pack_a_team shares its work out among the threads of
 * the enclosing OpenMP region; the others run on the calling thread.
 */
#ifndef TB_CPU_GEMM_H
#define TB_CPU_GEMM_H

#include <stdbool.h>
#include <stdint.h>

/* The left operand of many products: op(a) is [m, k]. */
struct cpu_gemm_a {
	const float *a;       /* the matrix as given (read by the OpenBLAS path) */
	int64_t lda;
	bool trans;           /* op(a) = aᵀ */
	int64_t m, k;
	float *packed;        /* cpu_gemm_a_floats(m, k) floats in the kernel's layout, or NULL */
};

/* True when products run on the AVX-512 kernel (else on OpenBLAS). */
bool cpu_gemm_avx512(void);
/* Tests only: run every product on OpenBLAS, as on a CPU without AVX-512.
 * Not thread-safe; call between operations, and size scratch afterwards. */
void cpu_gemm_disable_kernel(bool disable);

/* Floats of packing space for an m × k left operand (0 on the OpenBLAS path). */
int64_t cpu_gemm_a_floats(int64_t m, int64_t k);
/* Floats of per-call scratch cpu_gemm needs for a k × n right operand. */
int64_t cpu_gemm_b_floats(int64_t k, int64_t n);

/* Whether a product n columns wide runs on the AVX-512 kernel: narrower
 * ones (a filter gradient of 9 taps) waste most of its 32-column tile and
 * go to OpenBLAS, which then needs no packed copy of A. */
bool cpu_gemm_kernel_fits(int64_t n);

/* Describe op(a) [m, k]; `pack` (cpu_gemm_a_floats floats, or NULL when it
 * will never be packed) receives the packed copy. */
void cpu_gemm_a_init(struct cpu_gemm_a *ga, bool trans, int64_t m, int64_t k, const float *a, int64_t lda,
		     float *pack);
/* Pack ga into its `packed` space: on the calling thread, or shared out among
 * the team of the enclosing parallel region (every thread of it must call;
 * returns after all have packed). */
void cpu_gemm_pack_a(const struct cpu_gemm_a *ga);
void cpu_gemm_pack_a_team(const struct cpu_gemm_a *ga);
/* Rows [lo, lo+len) of op(A), lo a multiple of 8 (the kernel's row panel). */
struct cpu_gemm_a cpu_gemm_a_rows(const struct cpu_gemm_a *ga, int64_t lo, int64_t len);

/*
 * C[m, n] = A · op(B), or C += A · op(B) when `accumulate`; op(B) = b (tb
 * false: [k, n], row stride ldb) or bᵀ (b is [n, k]). Every element of C is
 * a sum in a fixed order that depends only on (m, n, k), never on the
 * thread that runs the call. `scratch` holds cpu_gemm_b_floats(k, n).
 */
void cpu_gemm(const struct cpu_gemm_a *ga, bool tb, int64_t n, const float *b, int64_t ldb, bool accumulate,
	      float *c, int64_t ldc, float *scratch);

#endif
