/*
 * cpu_conv.c — 2-D convolution on the CPU: im2col + one OpenBLAS sgemm per
 * chunk of samples, for the forward pass and both backward passes.
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
 * PQ]); a block copy moves it to and from NCHW. One GEMM over many samples
 * keeps OpenBLAS's threads busy where per-sample products (M = K, N = PQ,
 * often 64 × 196) would be dominated by call overhead.
 *
 * Determinism: every output element of im2col, col2im and the copies is
 * written by one thread in a fixed order, the chunk size depends only on the
 * shape, and OpenBLAS splits GEMMs along M and N (never along the reduction),
 * so results do not depend on the thread count.
 *
 * Threads: called from the training thread; OpenMP and OpenBLAS fan out
 * inside each call and join before it returns.
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

struct conv_plan {
	int64_t crs;  /* rows of the column matrix: C*R*S */
	int64_t pq;   /* output pixels per sample */
	int64_t chw;  /* input floats per sample */
	int64_t kpq;  /* output floats per sample */
	int chunk;    /* samples per GEMM */
	bool direct;  /* 1×1, stride 1, no padding: the input already is the column matrix */
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
	return pl;
}

/* The scratch splits into the column matrix and the swapped output/gradient. */
static size_t conv_plan_floats(const struct conv_plan *pl)
{
	if (pl->direct)
		return 0;
	return (size_t)pl->chunk * (size_t)(pl->crs * pl->pq + pl->kpq);
}

static size_t cpu_conv2d_workspace(struct backend *be, const struct conv_shape *cs)
{
	(void)be;
	struct conv_plan pl = conv_plan_make(cs);
	return conv_plan_floats(&pl) * sizeof(float);
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

static void cpu_conv2d_forward(struct backend *be, const struct conv_shape *cs, const float *x, const float *w,
			       float *y, void *workspace)
{
	struct conv_plan pl = conv_plan_make(cs);
	int threads = conv_threads(be);
	const int K = cs->k;
	if (pl.direct) {
		/* Y_n[K, HW] = W[K, C] · X_n[C, HW]: the input is its own column matrix. */
		for (int i = 0; i < cs->n; i++)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, (int)pl.pq, cs->c, 1.0f, w, cs->c,
				    x + i * pl.chw, (int)pl.pq, 0.0f, y + i * pl.kpq, (int)pl.pq);
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
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, (int)cols, (int)pl.crs, 1.0f, w,
			    (int)pl.crs, col, (int)cols, 0.0f, dst, (int)cols);
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
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cs->c, (int)pl.pq, K, 1.0f, w, cs->c,
				    dy + i * pl.kpq, (int)pl.pq, 0.0f, dx + i * pl.chw, (int)pl.pq);
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
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)pl.crs, (int)cols, K, 1.0f, w, (int)pl.crs,
			    g, (int)cols, 0.0f, col, (int)cols);
		col2im(cs, &pl, col, nb, dx + n0 * pl.chw, threads);
	}
}

static void cpu_conv2d_backward_filter(struct backend *be, const struct conv_shape *cs, const float *x,
				       const float *dy, float *dw, void *workspace)
{
	struct conv_plan pl = conv_plan_make(cs);
	int threads = conv_threads(be);
	const int K = cs->k;
	if (pl.direct) {
		/* Samples are summed in order: dW = Σ_n dY_n · X_n^T. */
		for (int i = 0; i < cs->n; i++)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, cs->c, (int)pl.pq, 1.0f,
				    dy + i * pl.kpq, (int)pl.pq, x + i * pl.chw, (int)pl.pq, i ? 1.0f : 0.0f, dw,
				    cs->c);
		return;
	}
	float *col = workspace;
	float *swapped = col + (size_t)pl.chunk * pl.crs * pl.pq;
	for (int n0 = 0; n0 < cs->n; n0 += pl.chunk) {
		int nb = TB_MIN(pl.chunk, cs->n - n0);
		int64_t cols = nb * pl.pq;
		im2col(cs, &pl, x + n0 * pl.chw, nb, col, threads);
		const float *g = dy + n0 * pl.kpq;
		if (nb > 1) {
			swap_from_nchw(cs, &pl, g, swapped, nb, threads);
			g = swapped;
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, (int)pl.crs, (int)cols, 1.0f, g, (int)cols,
			    col, (int)cols, n0 ? 1.0f : 0.0f, dw, (int)pl.crs);
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
