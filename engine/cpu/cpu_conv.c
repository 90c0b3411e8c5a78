/*
 * cpu_conv.c — 2-D convolution on the CPU: im2col + OpenBLAS sgemm over
 * cache-sized column blocks, for the forward pass and both backward passes.
 *
 * What it is: the conv2d_* entries of the backend table (NCHW input, OIHW
 * weights, no bias — bias_add does that). What it is not: batch norm and
 * pooling (cpu_norm_pool.c), the column-matrix copies (cpu_im2col.c), or a
 * Winograd convolution — im2col turns every convolution into matrix
 * products, which OpenBLAS runs near the machine's peak.
 *
 * Blocks. A pass is cut into blocks of output pixels that depend only on
 * the shape: a slice of one sample's pixels (large images) or a group of
 * whole samples side by side (small ones), about CONV_BLOCK_COLS columns.
 * Each block is one thread's work from start to end: it expands its own
 * column matrix (C·R·S rows × the block's columns, sized to stay in cache,
 * in the thread's slice of the backend scratch) and multiplies it at once,
 * where expanding a whole batch first (tens of MB for ResNet-18's first
 * stage) streamed the matrix through memory twice. A block of one sample
 * reads and writes NCHW in place; a group is copied to and from NCHW
 * through the thread's scratch. The layout of a block's column matrix:
 *   col[(c*R + r)*S + s][g*len + j] = x[i0+g][c][h(p_j, r)][w(q_j, s)]
 * for its samples g and pixels j (0 outside the image), so
 *   forward:          Y_blk[K, cols]   = W[K, CRS] · col
 *   backward data:    stride 1 — the forward of dY with the flipped,
 *                     transposed kernel W'[C, K·R·S] (a gather, no
 *                     scatter-add); otherwise col = Wᵀ · dY_blk per group
 *                     of whole samples, then col2im
 *   backward filter:  dW = Σ_blk dY_blk · colᵀ
 * 1×1 stride-1 unpadded convolutions skip im2col (the input is its own
 * column matrix).
 *
 * The filter gradient. Small dW (early layers: few channels, a reduction
 * over every output pixel of the batch): the blocks are cut into
 * FILTER_PARTS fixed runs, each summed by one thread into its own partial
 * dW, and the partials are added in a fixed order. Large dW (late layers:
 * many channels, few pixels): the whole batch's column matrix (in chunks of
 * samples) and dY are laid out once and dW is cut into fixed blocks of
 * rows or columns, each a full reduction.
 *
 * Determinism: every output element is computed by one single-threaded
 * sgemm call whose shape depends only on the convolution's shape, or by a
 * copy or a sum in a fixed order. So results are bit-identical for any
 * thread count (test_conv.c checks 1 against 2 threads).
 *
 * Scratch: one buffer owned by the backend (cpu_scratch), shared by every
 * layer since operations run one at a time; conv2d_workspace grows it for
 * the shape and asks the caller for 0 bytes, so a model holds one
 * convolution scratch instead of one per layer (~290 MB for ResNet-18).
 *
 * Threads: called from the training thread; OpenMP fans out inside each
 * call and joins before it returns. With more than one thread every sgemm
 * is issued inside a parallel region, even a pass of one block: there
 * OpenBLAS runs single-threaded, where outside it would split the product
 * its own way and change the bits.
 */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "cpu_im2col.h"
#include "cpu_internal.h"
#include "tb.h"

/* Columns a block aims at: at least this many, so each sgemm amortises
 * packing the weights, and more when the column matrix is short
 * (CONV_BLOCK_FLOATS per thread keeps it in the L2 cache). */
#ifndef CONV_BLOCK_COLS
#define CONV_BLOCK_COLS 256
#endif
#define CONV_BLOCK_COLS_MAX 1024
#define CONV_BLOCK_FLOATS ((int64_t)1 << 17)

/* Large-dW filter gradient: column-matrix floats per chunk of samples. */
#ifndef CONV_COL_CAP
#define CONV_COL_CAP ((int64_t)1 << 22)
#endif

/* Partial sums of a small filter gradient (a fixed count: it decides the
 * rounding). A filter gradient takes the blocked path when FILTER_PARTS
 * partial dW would outweigh a quarter of the batch's column matrix. */
#define FILTER_PARTS 8

/* Fixed GEMM blocks of the large-dW filter gradient. */
#define GEMM_BLOCK_COLS 256
#define GEMM_BLOCK_ROWS 64

static int conv_threads(struct backend *be)
{
	const struct cpu_backend *cpu = be->impl;
	return cpu->threads > 0 ? cpu->threads : 1;
}

static void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
		  int64_t ldb, float beta, float *c, int64_t ldc)
{
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
		    (int)k, 1.0f, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* ---- forward (and stride-1 backward data, which is a forward) ------------------ */

/* Per-thread floats of any pass: the column block, and a group's output or
 * gradient in [K, cols] (a single sample is read and written in place). */
static int64_t block_thread_floats(const struct conv_shape *cs, const struct conv_tiling *t)
{
	return t->crs * t->cols + (t->group > 1 ? (int64_t)cs->k * t->cols : 0);
}

/* Y[blk] = W · col[blk], written to NCHW. */
static void forward_block(const struct conv_shape *cs, const struct conv_tiling *t, const float *x, const float *w,
			  float *y, struct conv_block bl, float *scratch)
{
	const int64_t ncols = bl.g * bl.len;
	const float *col = scratch;
	int64_t ldcol = ncols;
	if (t->direct && bl.g == 1) {
		col = x + bl.i0 * t->chw + bl.j0;
		ldcol = t->pq;
	} else {
		im2col_block(cs, t, x, bl, scratch);
	}
	if (bl.g == 1) {
		sgemm(false, false, cs->k, ncols, t->crs, w, t->crs, col, ldcol, 0.0f, y + bl.i0 * t->kpq + bl.j0, t->pq);
	} else {
		float *out = scratch + t->crs * t->cols;
		sgemm(false, false, cs->k, ncols, t->crs, w, t->crs, col, ldcol, 0.0f, out, ncols);
		block_to_nchw(t, cs->k, out, y, bl);
	}
}

static void forward_pass(const struct conv_shape *cs, const float *x, const float *w, float *y, float *scratch,
			 int threads)
{
	struct conv_tiling t = conv_tiling_make(cs, CONV_BLOCK_COLS, CONV_BLOCK_COLS_MAX, CONV_BLOCK_FLOATS, true);
	const int64_t per_thread = block_thread_floats(cs, &t);
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
	for (int64_t b = 0; b < t.nblocks; b++)
		forward_block(cs, &t, x, w, y, conv_block_at(&t, cs->n, b), scratch + omp_get_thread_num() * per_thread);
}

/*
 * Stride-1 backward data as a forward convolution: dx[c][h][w] =
 * Σ_k,r,s dy[k][h - pad' + r·dil][w - pad' + s·dil] · W[k][c][R-1-r][S-1-s]
 * with pad' = dil·(R-1) - pad, the same geometry read the other way.
 */
static struct conv_shape transposed_shape(const struct conv_shape *cs)
{
	return (struct conv_shape){
		.n = cs->n, .c = cs->k, .h = cs->p, .w = cs->q, .k = cs->c, .r = cs->r, .s = cs->s,
		.stride_h = 1, .stride_w = 1, .dil_h = cs->dil_h, .dil_w = cs->dil_w,
		.pad_h = cs->dil_h * (cs->r - 1) - cs->pad_h, .pad_w = cs->dil_w * (cs->s - 1) - cs->pad_w,
		.p = cs->h, .q = cs->w,
	};
}

/* Stride 1, and no more output than input channels: the gather's column
 * matrix (K·R·S rows) is then no taller than col2im's (C·R·S rows). */
static bool backward_data_is_forward(const struct conv_shape *cs)
{
	return cs->stride_h == 1 && cs->stride_w == 1 && cs->k <= cs->c;
}

/* W'[c][k][r][s] = W[k][c][R-1-r][S-1-s]. */
static void flip_transpose_weights(const struct conv_shape *cs, const float *w, float *wt, int threads)
{
	const int C = cs->c, K = cs->k, RS = cs->r * cs->s;
	const int64_t n = (int64_t)C * K * RS;
#pragma omp parallel for num_threads(threads) if (threads > 1 && n > CPU_PARALLEL_MIN) schedule(static)
	for (int c = 0; c < C; c++)
		for (int k = 0; k < K; k++) {
			const float *src = w + ((int64_t)k * C + c) * RS;
			float *dst = wt + ((int64_t)c * K + k) * RS;
			for (int e = 0; e < RS; e++)
				dst[e] = src[RS - 1 - e];
		}
}

/* ---- backward data, strided: GEMM into whole samples' columns, then col2im ------ */

static struct conv_tiling scatter_tiling(const struct conv_shape *cs)
{
	/* col2im scatters into overlapping windows: blocks hold whole samples. */
	return conv_tiling_make(cs, CONV_BLOCK_COLS, CONV_BLOCK_COLS_MAX, CONV_BLOCK_FLOATS, false);
}

static void backward_data_block(const struct conv_shape *cs, const struct conv_tiling *t, const float *dy,
				const float *w, float *dx, struct conv_block bl, float *scratch)
{
	const int64_t ncols = bl.g * bl.len;
	float *col = scratch;
	const float *g = dy + bl.i0 * t->kpq;
	int64_t ldg = t->pq;
	if (bl.g > 1) {
		float *gb = scratch + t->crs * t->cols;
		block_from_nchw(t, cs->k, dy, gb, bl);
		g = gb;
		ldg = ncols;
	}
	sgemm(true, false, t->crs, ncols, cs->k, w, t->crs, g, ldg, 0.0f, col, ncols);
	col2im_block(cs, t, col, dx, bl);
}

/* ---- backward filter ---------------------------------------------------------- */

static bool filter_is_split(const struct conv_shape *cs, const struct conv_tiling *t)
{
	return (int64_t)cs->k * FILTER_PARTS * 4 <= (int64_t)cs->n * t->pq;
}

static int filter_parts(const struct conv_tiling *t)
{
	return (int)TB_MIN((int64_t)FILTER_PARTS, t->nblocks);
}

/* part (+)= dY[blk] · col[blk]ᵀ */
static void filter_block(const struct conv_shape *cs, const struct conv_tiling *t, const float *x, const float *dy,
			 struct conv_block bl, bool first, float *part, float *scratch)
{
	const int64_t ncols = bl.g * bl.len;
	const float *col = scratch;
	int64_t ldcol = ncols;
	if (t->direct && bl.g == 1) {
		col = x + bl.i0 * t->chw + bl.j0;
		ldcol = t->pq;
	} else {
		im2col_block(cs, t, x, bl, scratch);
	}
	const float *g = dy + bl.i0 * t->kpq + bl.j0;
	int64_t ldg = t->pq;
	if (bl.g > 1) {
		float *gb = scratch + t->crs * t->cols;
		block_from_nchw(t, cs->k, dy, gb, bl);
		g = gb;
		ldg = ncols;
	}
	sgemm(false, true, cs->k, t->crs, ncols, g, ldg, col, ldcol, first ? 0.0f : 1.0f, part, t->crs);
}

/* Small dW: FILTER_PARTS fixed runs of blocks into partial sums, then their sum in part order. */
static void filter_pass_split(const struct conv_shape *cs, const struct conv_tiling *t, const float *x,
			      const float *dy, float *dw, float *scratch, int threads)
{
	const int parts = filter_parts(t);
	const int64_t n = (int64_t)cs->k * t->crs;
	float *partial = scratch;
	float *thread_scratch = scratch + parts * n;
	const int64_t per_thread = block_thread_floats(cs, t);
#pragma omp parallel num_threads(threads) if (threads > 1)
	{
		float *mine = thread_scratch + omp_get_thread_num() * per_thread;
#pragma omp for schedule(static)
		for (int p = 0; p < parts; p++) {
			int64_t lo = t->nblocks * p / parts, hi = t->nblocks * (p + 1) / parts;
			for (int64_t b = lo; b < hi; b++)
				filter_block(cs, t, x, dy, conv_block_at(t, cs->n, b), b == lo, partial + p * n, mine);
		}
#pragma omp for schedule(static)
		for (int64_t e = 0; e < n; e++) {
			float v = partial[e];
			for (int p = 1; p < parts; p++)
				v += partial[p * n + e];
			dw[e] = v;
		}
	}
}

/*
 * C (+)= op(A)·op(B) with the larger of C's two dimensions cut into fixed
 * blocks shared out among the threads, each block one single-threaded sgemm.
 */
static void blocked_gemm(int threads, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a,
			 int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
	bool split_n = n >= m;
	int64_t extent = split_n ? n : m, block = split_n ? GEMM_BLOCK_COLS : GEMM_BLOCK_ROWS;
	int64_t nblocks = (extent + block - 1) / block;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
	for (int64_t t = 0; t < nblocks; t++) {
		int64_t lo = t * block, len = TB_MIN(block, extent - lo);
		if (split_n)
			sgemm(ta, tb, m, len, k, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc);
		else
			sgemm(ta, tb, len, n, k, ta ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * ldc, ldc);
	}
}

/* Samples per chunk of the large-dW path. */
static int filter_chunk(const struct conv_shape *cs, const struct conv_tiling *t)
{
	return (int)TB_MAX(1, TB_MIN(CONV_COL_CAP / (t->crs * t->pq), (int64_t)cs->n));
}

/* Large dW: per chunk of samples, the whole column matrix and dY as [K, cols], then dW blocks. */
static void filter_pass_blocked(const struct conv_shape *cs, const struct conv_tiling *t, const float *x,
				const float *dy, float *dw, float *scratch, int threads)
{
	const int chunk = filter_chunk(cs, t);
	float *col = scratch;
	float *g = col + (int64_t)chunk * t->crs * t->pq;
	for (int n0 = 0; n0 < cs->n; n0 += chunk) {
		int nb = TB_MIN(chunk, cs->n - n0);
		int64_t cols = nb * t->pq;
		struct conv_block all = {.i0 = n0, .g = nb, .j0 = 0, .len = t->pq};
		im2col_block_parallel(cs, t, x, all, col, threads);
		layout_from_nchw_parallel(t, cs->k, dy, g, all, threads);
		blocked_gemm(threads, false, true, cs->k, t->crs, cols, g, cols, col, cols, n0 == 0 ? 0.0f : 1.0f, dw,
			     t->crs);
	}
}

/* ---- scratch sizes and the table entries ------------------------------------------ */

static int64_t forward_floats(const struct conv_shape *cs, int threads)
{
	struct conv_tiling t = conv_tiling_make(cs, CONV_BLOCK_COLS, CONV_BLOCK_COLS_MAX, CONV_BLOCK_FLOATS, true);
	return threads * block_thread_floats(cs, &t);
}

static int64_t backward_data_floats(const struct conv_shape *cs, int threads)
{
	if (backward_data_is_forward(cs)) {
		struct conv_shape ts = transposed_shape(cs);
		return (int64_t)cs->k * cs->c * cs->r * cs->s + forward_floats(&ts, threads);
	}
	struct conv_tiling t = scatter_tiling(cs);
	return threads * block_thread_floats(cs, &t);
}

static int64_t filter_floats(const struct conv_shape *cs, int threads)
{
	struct conv_tiling t = conv_tiling_make(cs, CONV_BLOCK_COLS, CONV_BLOCK_COLS_MAX, CONV_BLOCK_FLOATS, true);
	if (filter_is_split(cs, &t))
		return filter_parts(&t) * (int64_t)cs->k * t.crs + threads * block_thread_floats(cs, &t);
	return (int64_t)filter_chunk(cs, &t) * (t.crs * t.pq + (int64_t)cs->k * t.pq);
}

static int64_t conv_scratch_floats(const struct conv_shape *cs, int threads)
{
	return TB_MAX(forward_floats(cs, threads), TB_MAX(backward_data_floats(cs, threads), filter_floats(cs, threads)));
}

/* Grows the backend's scratch for this shape now, so no call grows it later; the caller needs none. */
static size_t cpu_conv2d_workspace(struct backend *be, const struct conv_shape *cs)
{
	TB_ASSERT(cs->p > 0 && cs->q > 0 && cs->n > 0);
	cpu_scratch(be, (size_t)conv_scratch_floats(cs, conv_threads(be)));
	return 0;
}

/* A workspace passed by the caller is not used: see the file header. */
static void cpu_conv2d_forward(struct backend *be, const struct conv_shape *cs, const float *x, const float *w,
			       float *y, void *workspace)
{
	(void)workspace;
	int threads = conv_threads(be);
	forward_pass(cs, x, w, y, cpu_scratch(be, (size_t)forward_floats(cs, threads)), threads);
}

static void cpu_conv2d_backward_data(struct backend *be, const struct conv_shape *cs, const float *dy,
				     const float *w, float *dx, void *workspace)
{
	(void)workspace;
	int threads = conv_threads(be);
	float *scratch = cpu_scratch(be, (size_t)backward_data_floats(cs, threads));
	if (backward_data_is_forward(cs)) {
		struct conv_shape ts = transposed_shape(cs);
		float *wt = scratch;
		flip_transpose_weights(cs, w, wt, threads);
		forward_pass(&ts, dy, wt, dx, scratch + (int64_t)cs->k * cs->c * cs->r * cs->s, threads);
		return;
	}
	struct conv_tiling t = scatter_tiling(cs);
	const int64_t per_thread = block_thread_floats(cs, &t);
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
	for (int64_t b = 0; b < t.nblocks; b++)
		backward_data_block(cs, &t, dy, w, dx, conv_block_at(&t, cs->n, b),
				    scratch + omp_get_thread_num() * per_thread);
}

static void cpu_conv2d_backward_filter(struct backend *be, const struct conv_shape *cs, const float *x,
				       const float *dy, float *dw, void *workspace)
{
	(void)workspace;
	int threads = conv_threads(be);
	float *scratch = cpu_scratch(be, (size_t)filter_floats(cs, threads));
	struct conv_tiling t = conv_tiling_make(cs, CONV_BLOCK_COLS, CONV_BLOCK_COLS_MAX, CONV_BLOCK_FLOATS, true);
	if (filter_is_split(cs, &t))
		filter_pass_split(cs, &t, x, dy, dw, scratch, threads);
	else
		filter_pass_blocked(cs, &t, x, dy, dw, scratch, threads);
}

void cpu_conv_install(struct backend *be)
{
	be->conv2d_forward = cpu_conv2d_forward;
	be->conv2d_backward_data = cpu_conv2d_backward_data;
	be->conv2d_backward_filter = cpu_conv2d_backward_filter;
	be->conv2d_workspace = cpu_conv2d_workspace;
	cpu_norm_pool_install(be);
}
