/*
 * cblas_naive.c — cblas_sgemm by the definition, for tests/gpu/parity_ops
 * on machines without OpenBLAS (see fallback/cblas.h). Accumulates in
 * double, so as a reference it is at least as accurate as OpenBLAS.
 * OpenMP splits rows of C; each element is one thread's sum in a fixed
 * order. Threads: any (OpenMP inside).
 */
#include "cblas.h"

#include <stdint.h>

static int fallback_threads = 1;

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k,
		 float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
	/* A column-major product is the row-major product of the transposes with the roles swapped. */
	if (order == CblasColMajor) {
		cblas_sgemm(CblasRowMajor, tb, ta, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
		return;
	}
#pragma omp parallel for schedule(static)
	for (int i = 0; i < m; i++) {
		for (int j = 0; j < n; j++) {
			double acc = 0;
			for (int p = 0; p < k; p++) {
				float av = ta == CblasNoTrans ? a[(int64_t)i * lda + p] : a[(int64_t)p * lda + i];
				float bv = tb == CblasNoTrans ? b[(int64_t)p * ldb + j] : b[(int64_t)j * ldb + p];
				acc += (double)av * bv;
			}
			float *cp = &c[(int64_t)i * ldc + j];
			*cp = (float)(alpha * acc + (beta == 0 ? 0.0 : (double)beta * *cp));
		}
	}
}

void openblas_set_num_threads(int n)
{
	fallback_threads = n > 0 ? n : 1;
}

int openblas_get_num_threads(void)
{
	return fallback_threads;
}
