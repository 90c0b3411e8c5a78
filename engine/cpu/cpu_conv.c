/*
 * cpu_conv.c — 2-D convolution on the CPU: im2col + blocked OpenBLAS sgemm
 * over chunks of samples, for the forward pass and both backward passes.
 *
 * What it is: the conv2d_* entries of the backend table (NCHW input, OIHW
 * weights, no bias — bias_add does that). What it is not: batch norm and
 * pooling (cpu_norm_pool.c), or a direct/Winograd convolution — im2col
 * turns every convolution into a large matrix product, which OpenBLAS runs
 * near the machine's peak, and keeps the code small enough to check.
 *
 * Layout of the scratch ("column") matrix for a chunk of nb samples:
 *   col[(c*R + r)*S + s][i*P*Q + p*Q + q] = x[i][c][p*sh - ph + r*dh][q*sw - pw + s*dw]
 * so that for the whole chunk
 *   forward:          Y'[K, nb*PQ]  = W[K, CRS] · col
 *   backward data:    col           = W^T · dY'      then col2im (scatter-add)
 *   backward filter:  dW           += dY' · col^T
 * where Y' is the output with the sample and channel axes swapped ([K, nb,
 * PQ]); a block copy moves it to and from NCHW. One product over many
 * samples gives the threads large, even blocks where per-sample products
 * (M = K, N = PQ, often 64 × 196) would be dominated by call overhead.
 * 1×1 stride-1 unpadded convolutions skip im2col in the forward and
 * backward-data passes (the input is its own column matrix).
 *
 * Determinism: every output element of im2col, col2im and the copies is
 * written by one thread in a fixed order; the chunk size, the GEMM blocks
 * and the partial sums of the filter gradient depend only on the shape, and
 * each block is a single-threaded sgemm. So results are bit-identical for
 * any thread count (test_conv.c checks 1 against 2 threads).
 *
 * Threads: called from the training thread; OpenMP fans out inside each
 * call (OpenBLAS runs single-threaded inside those regions) and joins
 * before it returns.
 */
#include <cblas.h>
#include <string.h>

#include "cpu_internal.h"
#include "tb.h"

/* Column-matrix floats per chunk: large enough for GEMMs with thousands of
 * columns, small enough (16 MB) that every conv layer can own its scratch. */
#ifndef CONV_COL_CAP
#define CONV_COL_CAP ((int64_t)1 << 22)
#endif

/* A filter gradient of at most this many floats (early layers: few channels,
 * a reduction over every output pixel of the batch) is computed as
 * FILTER_PARTS partial products over fixed slices of the reduction, run in
 * parallel and summed in a fixed order; larger ones split their columns. */
#define FILTER_SPLIT_MAX ((int64_t)1 << 18)
#define FILTER_PARTS 4

struct conv_plan {
	int64_t crs;  /* rows of the column matrix: C*R*S */
	int64_t pq;   /* output pixels per sample */
	int64_t chw;  /* input floats per sample */
	int64_t kpq;  /* output floats per sample */
	int chunk;    /* samples per GEMM */
	bool direct;  /* 1×1, stride 1, no padding: the input already is the column matrix */
	bool split_filter; /* backward filter sums FILTER_PARTS partial products (small dW, long reduction) */
};

static struct conv_plan conv_plan_make(const struct conv_shape *cs)
{
	TB_ASSERT(cs->p > 0 && cs->q > 0 && cs->n > 0);
	struct conv_plan pl;
	pl.crs = (int64_t)cs->c * cs->r * cs->s;
	pl.pq = (int64_t)cs->p * cs->q;
	pl.chw = (int64_t)cs->c * cs->h * cs->w;
	pl.kpq = (int64_t)cs->k * pl.pq;
	pl.direct = cs->r == 1 && cs->s == 1 && cs->stride_h == 1 && cs->stride_w == 1 && cs->pad_h == 0 &&
		    cs->pad_w == 0;
	int64_t per_sample = pl.crs * pl.pq;
	int64_t chunk = CONV_COL_CAP / per_sample;
	pl.chunk = (int)TB_MAX(1, TB_MIN(chunk, (int64_t)cs->n));
	pl.split_filter = (int64_t)cs->k * pl.crs <= FILTER_SPLIT_MAX;
	return pl;
}

/* The scratch: the column matrix, the swapped output/gradient, and the
 * partial filter gradients when the backward filter pass is split. */
static size_t conv_plan_floats(const struct conv_plan *pl, int k)
{
	size_t floats = (size_t)pl->chunk * (size_t)(pl->crs * pl->pq + pl->kpq);
	if (pl->split_filter)
		floats += (size_t)FILTER_PARTS * (size_t)k * (size_t)pl->crs;
	return floats;
}

static size_t cpu_conv2d_workspace(struct backend *be, const struct conv_shape *cs)
{
	(void)be;
	struct conv_plan pl = conv_plan_make(cs);
	return conv_plan_floats(&pl, cs->k) * sizeof(float);
}

/* Fill the column matrix for samples x[0..nb) (x points at the chunk's first sample). */
static void im2col(const struct conv_shape *cs, const struct conv_plan *pl, const float *x, int nb, float *col,
		   int threads)
{
	const int H = cs->h, W = cs->w, R = cs->r, S = cs->s, P = cs->p, Q = cs->q;
	const int64_t ld = (int64_t)nb * pl->pq;
#pragma omp parallel for num_threads(threads) if (pl->crs * ld > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t row = 0; row < pl->crs; row++) {
		int c = (int)(row / (R * S)), r = (int)(row / S % R), s = (int)(row % S);
		int w0 = s * cs->dil_w - cs->pad_w;
		/* Output columns q whose input column w0 + q*sw lies inside [0, W). */
		int q_lo = 0, q_hi = Q;
		while (q_lo < Q && w0 + q_lo * cs->stride_w < 0)
			q_lo++;
		while (q_hi > q_lo && w0 + (q_hi - 1) * cs->stride_w >= W)
			q_hi--;
		for (int i = 0; i < nb; i++) {
			const float *plane = x + i * pl->chw + (int64_t)c * H * W;
			float *dst = col + row * ld + i * pl->pq;
			for (int p = 0; p < P; p++, dst += Q) {
				int h = p * cs->stride_h - cs->pad_h + r * cs->dil_h;
				if (h < 0 || h >= H) {
					memset(dst, 0, sizeof(float) * (size_t)Q);
					continue;
				}
				const float *src = plane + (int64_t)h * W + w0;
				for (int q = 0; q < q_lo; q++)
					dst[q] = 0;
				if (cs->stride_w == 1) {
					memcpy(dst + q_lo, src + q_lo, sizeof(float) * (size_t)(q_hi - q_lo));
				} else {
					for (int q = q_lo; q < q_hi; q++)
						dst[q] = src[q * cs->stride_w];
				}
				for (int q = q_hi; q < Q; q++)
					dst[q] = 0;
			}
		}
	}
}

/* dx[0..nb) = the scatter-add of the column matrix: each input plane is summed
 * by one thread in (r, s, p, q) order, so the result is thread-count free. */
static void col2im(const struct conv_shape *cs, const struct conv_plan *pl, const float *col, int nb, float *dx,
		   int threads)
{
	const int C = cs->c, H = cs->h, W = cs->w, R = cs->r, S = cs->s, P = cs->p, Q = cs->q;
	const int64_t ld = (int64_t)nb * pl->pq;
	const int64_t planes = (int64_t)nb * C;
#pragma omp parallel for num_threads(threads) if (pl->crs * ld > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t ic = 0; ic < planes; ic++) {
		int i = (int)(ic / C), c = (int)(ic % C);
		float *plane = dx + ic * H * W;
		memset(plane, 0, sizeof(float) * (size_t)H * W);
		for (int r = 0; r < R; r++) {
			for (int s = 0; s < S; s++) {
				int64_t row = ((int64_t)c * R + r) * S + s;
				const float *src = col + row * ld + i * pl->pq;
				int w0 = s * cs->dil_w - cs->pad_w;
				int q_lo = 0, q_hi = Q;
				while (q_lo < Q && w0 + q_lo * cs->stride_w < 0)
					q_lo++;
				while (q_hi > q_lo && w0 + (q_hi - 1) * cs->stride_w >= W)
					q_hi--;
				for (int p = 0; p < P; p++, src += Q) {
					int h = p * cs->stride_h - cs->pad_h + r * cs->dil_h;
					if (h < 0 || h >= H)
						continue;
					float *dst = plane + (int64_t)h * W + w0;
					if (cs->stride_w == 1) {
						for (int q = q_lo; q < q_hi; q++)
							dst[q] += src[q];
					} else {
						for (int q = q_lo; q < q_hi; q++)
							dst[q * cs->stride_w] += src[q];
					}
				}
			}
		}
	}
}

/* Swapped[k][i][:] <-> nchw[i][k][:], blocks of PQ floats. */
static void swap_to_nchw(const struct conv_shape *cs, const struct conv_plan *pl, const float *swapped,
			 float *nchw, int nb, int threads)
{
	const int64_t blocks = (int64_t)nb * cs->k;
#pragma omp parallel for num_threads(threads) if (blocks * pl->pq > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t b = 0; b < blocks; b++) {
		int64_t k = b / nb, i = b % nb;
		memcpy(nchw + i * pl->kpq + k * pl->pq, swapped + b * pl->pq, sizeof(float) * (size_t)pl->pq);
	}
}

static void swap_from_nchw(const struct conv_shape *cs, const struct conv_plan *pl, const float *nchw,
			   float *swapped, int nb, int threads)
{
	const int64_t blocks = (int64_t)nb * cs->k;
#pragma omp parallel for num_threads(threads) if (blocks * pl->pq > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t b = 0; b < blocks; b++) {
		int64_t k = b / nb, i = b % nb;
		memcpy(swapped + b * pl->pq, nchw + i * pl->kpq + k * pl->pq, sizeof(float) * (size_t)pl->pq);
	}
}

static int conv_threads(struct backend *be)
{
	const struct cpu_backend *cpu = be->impl;
	return cpu->threads > 0 ? cpu->threads : 1;
}

/*
 * C = op(A)·op(B) + beta·C (row-major, alpha 1), with the larger of C's two
 * dimensions cut into fixed-size blocks shared out among the threads, each
 * block one single-threaded sgemm (OpenBLAS runs on one thread inside a
 * parallel region). The blocks depend only on the shape, so every element
 * is computed by the same call whatever the thread count: results are
 * bit-identical across thread counts, which OpenBLAS's own threading (and
 * its size-dependent kernel choice) does not promise. Blocks are small
 * enough that the conv shapes of LeNet to ResNet-18 all yield several.
 */
#define GEMM_BLOCK_COLS 256
#define GEMM_BLOCK_ROWS 64

static void conv_gemm(int threads, bool ta, bool tb, int m, int n, int k, const float *a, int lda,
		      const float *b, int ldb, float beta, float *c, int ldc)
{
	const enum CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
	bool split_n = n >= m;
	int extent = split_n ? n : m, block = split_n ? GEMM_BLOCK_COLS : GEMM_BLOCK_ROWS;
	int nblocks = (extent + block - 1) / block;
#pragma omp parallel for num_threads(threads) schedule(static)
	for (int t = 0; t < nblocks; t++) {
		int lo = t * block, len = TB_MIN(block, extent - lo);
		if (split_n)
			cblas_sgemm(CblasRowMajor, opa, opb, m, len, k, 1.0f, a, lda,
				    tb ? b + (int64_t)lo * ldb : b + lo, ldb, beta, c + lo, ldc);
		else
			cblas_sgemm(CblasRowMajor, opa, opb, len, n, k, 1.0f, ta ? a + lo : a + (int64_t)lo * lda, lda,
				    b, ldb, beta, c + (int64_t)lo * ldc, ldc);
	}
}

/*
 * dW (+)= dY'[K, cols] · col[CRS, cols]^T for one chunk. Small dW: the
 * reduction is cut into FILTER_PARTS fixed slices, one single-threaded GEMM
 * each into `parts`, then summed pairwise in a fixed order — parallel
 * without the result depending on the thread count.
 */
static void filter_gemm(int threads, const struct conv_shape *cs, const struct conv_plan *pl, const float *g,
			const float *col, int64_t cols, bool first, float *dw, float *parts)
{
	const int K = cs->k;
	if (!pl->split_filter) {
		conv_gemm(threads, false, true, K, (int)pl->crs, (int)cols, g, (int)cols, col, (int)cols,
			  first ? 0.0f : 1.0f, dw, (int)pl->crs);
		return;
	}
	const int64_t n = (int64_t)K * pl->crs, span = (cols + FILTER_PARTS - 1) / FILTER_PARTS;
#pragma omp parallel for num_threads(threads) schedule(static)
	for (int p = 0; p < FILTER_PARTS; p++) {
		int64_t lo = p * span, len = TB_MIN(span, cols - lo);
		float *out = parts + p * n;
		if (len <= 0)
			memset(out, 0, sizeof(float) * (size_t)n);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, (int)pl->crs, (int)len, 1.0f, g + lo,
				    (int)cols, col + lo, (int)cols, 0.0f, out, (int)pl->crs);
	}
	_Static_assert(FILTER_PARTS == 4, "the sum below is written for four parts");
#pragma omp parallel for num_threads(threads) if (n > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t e = 0; e < n; e++) {
		float v = (parts[e] + parts[n + e]) + (parts[2 * n + e] + parts[3 * n + e]);
		dw[e] = first ? v : dw[e] + v;
	}
}

static void cpu_conv2d_forward(struct backend *be, const struct conv_shape *cs, const float *x, const float *w,
			       float *y, void *workspace)
{
	struct conv_plan pl = conv_plan_make(cs);
	int threads = conv_threads(be);
	const int K = cs->k;
	if (pl.direct) {
		/* Y_n[K, HW] = W[K, C] · X_n[C, HW]: the input is its own column matrix. */
		for (int i = 0; i < cs->n; i++)
			conv_gemm(threads, false, false, K, (int)pl.pq, cs->c, w, cs->c, x + i * pl.chw, (int)pl.pq,
				  0.0f, y + i * pl.kpq, (int)pl.pq);
		return;
	}
	float *col = workspace;
	float *swapped = col + (size_t)pl.chunk * pl.crs * pl.pq;
	for (int n0 = 0; n0 < cs->n; n0 += pl.chunk) {
		int nb = TB_MIN(pl.chunk, cs->n - n0);
		int64_t cols = nb * pl.pq;
		im2col(cs, &pl, x + n0 * pl.chw, nb, col, threads);
		/* One sample: Y' is already NCHW, write it in place. */
		float *dst = nb == 1 ? y + n0 * pl.kpq : swapped;
		conv_gemm(threads, false, false, K, (int)cols, (int)pl.crs, w, (int)pl.crs, col, (int)cols, 0.0f, dst,
			  (int)cols);
		if (nb > 1)
			swap_to_nchw(cs, &pl, swapped, y + n0 * pl.kpq, nb, threads);
	}
}

static void cpu_conv2d_backward_data(struct backend *be, const struct conv_shape *cs, const float *dy,
				     const float *w, float *dx, void *workspace)
{
	struct conv_plan pl = conv_plan_make(cs);
	int threads = conv_threads(be);
	const int K = cs->k;
	if (pl.direct) {
		for (int i = 0; i < cs->n; i++)
			conv_gemm(threads, true, false, cs->c, (int)pl.pq, K, w, cs->c, dy + i * pl.kpq, (int)pl.pq, 0.0f,
				  dx + i * pl.chw, (int)pl.pq);
		return;
	}
	float *col = workspace;
	float *swapped = col + (size_t)pl.chunk * pl.crs * pl.pq;
	for (int n0 = 0; n0 < cs->n; n0 += pl.chunk) {
		int nb = TB_MIN(pl.chunk, cs->n - n0);
		int64_t cols = nb * pl.pq;
		const float *g = dy + n0 * pl.kpq;
		if (nb > 1) {
			swap_from_nchw(cs, &pl, g, swapped, nb, threads);
			g = swapped;
		}
		conv_gemm(threads, true, false, (int)pl.crs, (int)cols, K, w, (int)pl.crs, g, (int)cols, 0.0f, col,
			  (int)cols);
		col2im(cs, &pl, col, nb, dx + n0 * pl.chw, threads);
	}
}

static void cpu_conv2d_backward_filter(struct backend *be, const struct conv_shape *cs, const float *x,
				       const float *dy, float *dw, void *workspace)
{
	struct conv_plan pl = conv_plan_make(cs);
	int threads = conv_threads(be);
	/* The direct 1×1 case goes through im2col too: there it is a layout copy
	 * that turns a sum of per-sample products into one long reduction. */
	float *col = workspace;
	float *swapped = col + (size_t)pl.chunk * pl.crs * pl.pq;
	float *parts = swapped + (size_t)pl.chunk * pl.kpq;
	for (int n0 = 0; n0 < cs->n; n0 += pl.chunk) {
		int nb = TB_MIN(pl.chunk, cs->n - n0);
		im2col(cs, &pl, x + n0 * pl.chw, nb, col, threads);
		const float *g = dy + n0 * pl.kpq;
		if (nb > 1) {
			swap_from_nchw(cs, &pl, g, swapped, nb, threads);
			g = swapped;
		}
		filter_gemm(threads, cs, &pl, g, col, nb * pl.pq, n0 == 0, dw, parts);
	}
}

void cpu_conv_install(struct backend *be)
{
	be->conv2d_forward = cpu_conv2d_forward;
	be->conv2d_backward_data = cpu_conv2d_backward_data;
	be->conv2d_backward_filter = cpu_conv2d_backward_filter;
	be->conv2d_workspace = cpu_conv2d_workspace;
	cpu_norm_pool_install(be);
}
