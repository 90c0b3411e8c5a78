/*
 * cblas.h (fallback) — the part of the CBLAS interface the CPU backend
 * uses, for building tests/gpu/parity_ops on a GPU box without OpenBLAS
 * (tests/gpu/run.sh picks this directory only when <cblas.h> is missing).
 * Implemented naively in tests/gpu/cblas_naive.c: slow but exact enough to
 * be the reference. Threads: any.
 */
#ifndef TB_GPU_FALLBACK_CBLAS_H
#define TB_GPU_FALLBACK_CBLAS_H

enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112, CblasConjTrans = 113 };

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k,
		 float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

#endif
