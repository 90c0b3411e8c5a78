/*
 * cuda_gemm.cu — backend.h's gemm on cuBLASLt.
 *
 * What it is: the row-major → column-major mapping (a row-major C = A·B is
 * the column-major Cᵀ = Bᵀ·Aᵀ, so the operands swap and no data moves),
 * one cached plan per shape (descriptors + the heuristic's algorithm), and
 * the precision policy: fp32 uses CUBLAS_COMPUTE_32F (no TF32, so it
 * matches the CPU to ~1e-6), tf32 uses COMPUTE_32F_FAST_TF32, bf16/fp16 use
 * COMPUTE_32F_FAST_16BF/16F — cuBLASLt rounds the fp32 operands to 16 bits
 * inside the kernel and accumulates in fp32, so the fp32 interface of
 * backend.h needs no conversion pass. linear_forward uses the epilogue:
 * bias and ReLU are applied to the fp32 accumulator before the result is
 * stored, so a linear layer and the ReLU after it are one kernel.
 *
 * Threads: the backend's thread; the plan cache is per backend.
 */
#include <string.h>

#include "cuda_internal.h"

/* Everything that decides which algorithm is valid: layout and alignment. */
struct gemm_key {
	int trans_a, trans_b;
	int m, n, k;
	int lda, ldb, ldc;
	int align_a, align_b, align_c; /* bytes, power of two ≤ 256 */
	int epilogue;                  /* cublasLtEpilogue_t (CUBLASLT_EPILOGUE_DEFAULT: none) */
	int align_bias;                /* bytes, 0 without a bias */
};

struct gemm_plan {
	struct gemm_key key;
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t la, lb, lc; /* column-major views: la describes `b`, lb describes `a` */
	cublasLtMatmulAlgo_t algo;
	bool usable;                       /* false: no algorithm has this epilogue here (the caller falls back) */
};

struct cuda_gemm_cache {
	int count, cap;
	int last;                /* index of the last plan used: consecutive calls often repeat */
	struct gemm_plan *plans;
};

static int gemm_alignment(const void *p)
{
	uintptr_t v = (uintptr_t)p;
	int a = 256;
	while (a > 4 && (v & (uintptr_t)(a - 1)))
		a >>= 1;
	return a;
}

static cublasComputeType_t gemm_compute_type(enum precision p)
{
	switch (p) {
	case PRECISION_TF32:
		return CUBLAS_COMPUTE_32F_FAST_TF32;
	case PRECISION_BF16:
		return CUBLAS_COMPUTE_32F_FAST_16BF;
	case PRECISION_FP16:
		return CUBLAS_COMPUTE_32F_FAST_16F;
	case PRECISION_FP32:
	case PRECISION_KINDS: /* a count, not a precision: tb_cuda_backend_new refuses it */
		break;
	}
	return CUBLAS_COMPUTE_32F;
}

static void gemm_plan_destroy(struct gemm_plan *p)
{
	if (p->la)
		cublasLtMatrixLayoutDestroy(p->la);
	if (p->lb)
		cublasLtMatrixLayoutDestroy(p->lb);
	if (p->lc)
		cublasLtMatrixLayoutDestroy(p->lc);
	if (p->op)
		cublasLtMatmulDescDestroy(p->op);
}

void cuda_gemm_cache_free(struct cuda_gemm_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->count; i++)
		gemm_plan_destroy(&c->plans[i]);
	free(c->plans);
	free(c);
}

/* Ask the heuristic for the best algorithm of one compute type; false if none fits. */
static bool gemm_plan_try(struct cuda_backend *cb, struct gemm_plan *p, cublasComputeType_t compute, const void *bias)
{
	const struct gemm_key *k = &p->key;
	gemm_plan_destroy(p);
	p->op = NULL;
	p->la = p->lb = p->lc = NULL;
	CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->op, compute, CUDA_R_32F));
	/* Column-major call: D(n×m) = op'(b) · op'(a), op' flipping the row-major transposes. */
	cublasOperation_t ta = k->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
	cublasOperation_t tb = k->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
	CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
	CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
	if (k->epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
		cublasLtEpilogue_t epi = (cublasLtEpilogue_t)k->epilogue;
		CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
		/* The heuristic reads the pointer's alignment; each call sets the pointer again. */
		if (bias)
			CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
								    sizeof(bias)));
	}
	/* Stored shapes (rows × cols, column-major, before op'). */
	uint64_t a_rows = k->trans_b ? (uint64_t)k->k : (uint64_t)k->n;
	uint64_t a_cols = k->trans_b ? (uint64_t)k->n : (uint64_t)k->k;
	uint64_t b_rows = k->trans_a ? (uint64_t)k->m : (uint64_t)k->k;
	uint64_t b_cols = k->trans_a ? (uint64_t)k->k : (uint64_t)k->m;
	CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->la, CUDA_R_32F, a_rows, a_cols, k->ldb));
	CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->lb, CUDA_R_32F, b_rows, b_cols, k->lda));
	CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->lc, CUDA_R_32F, (uint64_t)k->n, (uint64_t)k->m, k->ldc));

	cublasLtMatmulPreference_t pref;
	CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
	uint64_t ws = cb->lt_workspace_bytes;
	uint32_t al_a = (uint32_t)k->align_b, al_b = (uint32_t)k->align_a, al_c = (uint32_t)k->align_c;
	CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
							  sizeof(ws)));
	CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a,
							  sizeof(al_a)));
	CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b,
							  sizeof(al_b)));
	CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c,
							  sizeof(al_c)));
	CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c,
							  sizeof(al_c)));
	cublasLtMatmulHeuristicResult_t result;
	int found = 0;
	cublasStatus_t s =
		cublasLtMatmulAlgoGetHeuristic(cb->lt, p->op, p->la, p->lb, p->lc, p->lc, pref, 1, &result, &found);
	cublasLtMatmulPreferenceDestroy(pref);
	if (s != CUBLAS_STATUS_SUCCESS || found == 0 || result.state != CUBLAS_STATUS_SUCCESS)
		return false;
	p->algo = result.algo;
	return true;
}

/* The plan for this key, made on first use (usable false when no algorithm has its epilogue). */
static struct gemm_plan *gemm_plan_get(struct cuda_backend *cb, const struct gemm_key *key, const void *bias)
{
	struct cuda_gemm_cache *c = cb->gemm;
	if (!c) {
		c = (struct cuda_gemm_cache *)calloc(1, sizeof(*c));
		CUDA_ASSERT(c);
		cb->gemm = c;
	}
	if (c->count && memcmp(&c->plans[c->last].key, key, sizeof(*key)) == 0)
		return &c->plans[c->last];
	for (int i = 0; i < c->count; i++) {
		if (memcmp(&c->plans[i].key, key, sizeof(*key)) == 0) {
			c->last = i;
			return &c->plans[i];
		}
	}
	if (c->count == c->cap) {
		int cap = c->cap ? c->cap * 2 : 32;
		struct gemm_plan *np = (struct gemm_plan *)realloc(c->plans, (size_t)cap * sizeof(*np));
		CUDA_ASSERT(np);
		c->plans = np;
		c->cap = cap;
	}
	struct gemm_plan *p = &c->plans[c->count];
	memset(p, 0, sizeof(*p));
	p->key = *key;
	/* Reduced precision may have no kernel for an odd shape or alignment;
	 * fp32 always has one, and is never less accurate. */
	p->usable = gemm_plan_try(cb, p, gemm_compute_type(cb->precision), bias) ||
		    gemm_plan_try(cb, p, CUBLAS_COMPUTE_32F, bias);
	if (!p->usable && key->epilogue == CUBLASLT_EPILOGUE_DEFAULT)
		cuda_fatal("cublasLtMatmulAlgoGetHeuristic", "no algorithm for this gemm shape", __FILE__, __LINE__);
	c->last = c->count++;
	return p;
}

static void gemm_key_init(struct gemm_key *key, bool trans_a, bool trans_b, int m, int n, int k, const float *a,
			  int lda, const float *b, int ldb, const float *c, int ldc)
{
	memset(key, 0, sizeof(*key));
	key->trans_a = trans_a;
	key->trans_b = trans_b;
	key->m = m;
	key->n = n;
	key->k = k;
	key->lda = lda;
	key->ldb = ldb;
	key->ldc = ldc;
	key->align_a = gemm_alignment(a);
	key->align_b = gemm_alignment(b);
	key->align_c = gemm_alignment(c);
	key->epilogue = CUBLASLT_EPILOGUE_DEFAULT;
}

static void cuda_gemm(struct backend *be, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
		      const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (m <= 0 || n <= 0)
		return;
	if (k <= 0) {
		/* An empty product: C = beta * C, row by row (ldc may exceed n). */
		for (int r = 0; r < m; r++) {
			if (beta == 0)
				cuda_fill_async(cb, c + (int64_t)r * ldc, 0.0f, n);
			else if (beta != 1)
				be->scale(be, c + (int64_t)r * ldc, beta, n);
		}
		return;
	}
	struct gemm_key key;
	gemm_key_init(&key, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
	struct gemm_plan *p = gemm_plan_get(cb, &key, NULL);
	CUBLAS_CHECK(cublasLtMatmul(cb->lt, p->op, &alpha, b, p->la, a, p->lb, &beta, c, p->lc, c, p->lc, &p->algo,
				    cb->lt_workspace, cb->lt_workspace_bytes, cb->stream));
}

/*
 * y[batch, out] = act(x · wᵀ + bias) as one cuBLASLt call. In the
 * column-major view y is D (out × batch), so the bias runs along D's rows,
 * as the epilogue wants. Where no algorithm offers the epilogue for this
 * shape and alignment, the three separate operations give the same result.
 */
static void cuda_linear_forward(struct backend *be, int batch, int out, int in, const float *x, const float *w,
				const float *bias, enum activation act, float *y)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (batch <= 0 || out <= 0)
		return;
	bool relu = act == ACT_RELU;
	struct gemm_key key;
	gemm_key_init(&key, false, true, batch, out, in, x, in, w, in, y, out);
	key.epilogue = bias ? (relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
			    : (relu ? CUBLASLT_EPILOGUE_RELU : CUBLASLT_EPILOGUE_DEFAULT);
	key.align_bias = bias ? gemm_alignment(bias) : 0;
	struct gemm_plan *p = in > 0 ? gemm_plan_get(cb, &key, bias) : NULL;
	if (!p || !p->usable) {
		cuda_gemm(be, false, true, batch, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
		if (bias)
			be->bias_add(be, y, bias, batch, out, 1);
		if (act != ACT_IDENTITY)
			be->act_forward(be, act, 0.0f, y, y, (int64_t)batch * out);
		return;
	}
	if (bias)
		CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
	float alpha = 1.0f, beta = 0.0f;
	CUBLAS_CHECK(cublasLtMatmul(cb->lt, p->op, &alpha, w, p->la, x, p->lb, &beta, y, p->lc, y, p->lc, &p->algo,
				    cb->lt_workspace, cb->lt_workspace_bytes, cb->stream));
}

void cuda_gemm_install(struct backend *be)
{
	be->gemm = cuda_gemm;
	be->linear_forward = cuda_linear_forward;
}
