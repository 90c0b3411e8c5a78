/*
 * cpu_conv.c — 2-D convolution on the CPU: im2col + matrix products over
 * cache-sized column blocks, for the forward pass and both backward passes.
 *
 * What it is: the conv2d_* entries of the backend table (NCHW input, OIHW
 * weights, no bias — bias_add does that). What it is not: batch norm and
 * pooling (cpu_norm_pool.c), the column-matrix copies (cpu_im2col.c), the
 * products themselves (cpu_gemm.c: an AVX-512 kernel, or OpenBLAS). The
 * forward pass of a 3×3 stride-1 "same" convolution where Winograd pays
 * (winograd_fits) is handed to cpu_winograd.c; every other pass, and every
 * backward pass, is im2col + matrix products that run near the machine's
 * peak.
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
 * product whose shape depends only on the convolution's shape, or by a
 * copy or a sum in a fixed order; which thread takes which block (handed
 * out dynamically, so a thread the OS parks holds up one block, not half a
 * pass) changes nothing. So results are bit-identical for any thread count
 * (test_conv.c checks 1 against 2 threads).
 *
 * Scratch: one buffer owned by the backend (cpu_scratch), shared by every
 * layer since operations run one at a time; conv2d_workspace grows it for
 * the shape and asks the caller for 0 bytes, so a model holds one
 * convolution scratch instead of one per layer (~290 MB for ResNet-18).
 *
 * Threads: called from the training thread; OpenMP fans out inside each
 * call and joins before it returns. With more than one thread every
 * product is issued inside a parallel region, even in a pass of one block:
 * there OpenBLAS runs single-threaded, where outside it would split the
 * product its own way and change the bits.
 */
#include <omp.h>
#include <string.h>

#include "cpu_gemm.h"
#include "cpu_im2col.h"
#include "cpu_internal.h"
#include "cpu_winograd.h"
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

/* ---- scratch layout -------------------------------------------------------------- */

/*
 * A pass's scratch: shared pieces (packed weights, partial sums), then one
 * area per thread (its column block, a group's [K, cols] output or
 * gradient, packing space). Offsets in floats, each piece 64-byte aligned;
 * the same function sizes the scratch and lays it out, so they agree.
 */
struct pass_layout {
	int64_t apack, extra;               /* shared: the packed left operand; partial sums */
	int64_t shared;                     /* floats of the shared pieces */
	int64_t col, blk, tapack, bpack;    /* offsets inside a thread's area */
	int64_t per_thread;
};

static struct pass_layout pass_layout_make(int64_t shared_a, int64_t extra, int64_t col, int64_t blk,
					   int64_t thread_a, int64_t b)
{
	struct pass_layout l;
	int64_t cur = 0;
	l.apack = cpu_take(&cur, shared_a);
	l.extra = cpu_take(&cur, extra);
	l.shared = cur;
	cur = 0;
	l.col = cpu_take(&cur, col);
	l.blk = cpu_take(&cur, blk);
	l.tapack = cpu_take(&cur, thread_a);
	l.bpack = cpu_take(&cur, b);
	l.per_thread = cur;
	return l;
}

static int64_t pass_floats(const struct pass_layout *l, int threads)
{
	return l->shared + threads * l->per_thread;
}

static float *thread_area(const struct pass_layout *l, float *scratch)
{
	return scratch + l->shared + omp_get_thread_num() * l->per_thread;
}

/* ---- forward (and stride-1 backward data, which is a forward) ------------------ */

static struct conv_tiling forward_tiling(const struct conv_shape *cs)
{
	return conv_tiling_make(cs, CONV_BLOCK_COLS, CONV_BLOCK_COLS_MAX, CONV_BLOCK_FLOATS, true);
}

static struct pass_layout forward_layout(const struct conv_shape *cs, const struct conv_tiling *t)
{
	return pass_layout_make(cpu_gemm_a_floats(cs->k, t->crs), 0, t->crs * t->cols,
				t->group > 1 ? (int64_t)cs->k * t->cols : 0, 0, cpu_gemm_b_floats(t->crs, t->cols));
}

/*
 * The column matrix of a block: the input itself where a direct (1×1,
 * stride 1, unpadded) convolution reads one sample, else im2col into the
 * thread's area. *ldcol receives its row stride.
 */
static const float *block_columns(const struct conv_shape *cs, const struct conv_tiling *t,
				  const struct pass_layout *l, const float *x, struct conv_block bl, float *area,
				  int64_t *ldcol)
{
	if (t->direct && bl.g == 1) {
		*ldcol = t->pq;
		return x + bl.i0 * t->chw + bl.j0;
	}
	*ldcol = bl.g * bl.len;
	im2col_block(cs, t, x, bl, area + l->col);
	return area + l->col;
}

/* Y[blk] = W · col[blk], written to NCHW (a group through the thread's [K, cols] buffer). */
static void forward_block(const struct conv_shape *cs, const struct conv_tiling *t, const struct pass_layout *l,
			  const struct cpu_gemm_a *w, const float *x, float *y, struct conv_block bl, float *area)
{
	const int64_t ncols = bl.g * bl.len;
	int64_t ldcol;
	const float *col = block_columns(cs, t, l, x, bl, area, &ldcol);
	if (bl.g == 1) {
		cpu_gemm(w, false, ncols, col, ldcol, false, y + bl.i0 * t->kpq + bl.j0, t->pq, area + l->bpack);
	} else {
		cpu_gemm(w, false, ncols, col, ldcol, false, area + l->blk, ncols, area + l->bpack);
		block_to_nchw(t, cs->k, area + l->blk, y, bl);
	}
}

/* One block of a pass whose weights are the packed gemm operand `a` (forward, backward-data). */
typedef void (*gemm_block_fn)(const struct conv_shape *cs, const struct conv_tiling *t, const struct pass_layout *l,
			      const struct cpu_gemm_a *a, const float *in, float *out, struct conv_block bl,
			      float *area);

/* The team packs `a` once, then takes output blocks as they come free (a busy core holds up no one). */
static void run_gemm_blocks(const struct conv_shape *cs, const struct conv_tiling *t, const struct pass_layout *l,
			    const struct cpu_gemm_a *a, const float *in, float *out, gemm_block_fn block, float *scratch,
			    int threads)
{
#pragma omp parallel num_threads(threads) if (threads > 1)
	{
		cpu_gemm_pack_a_team(a);
		float *area = thread_area(l, scratch);
#pragma omp for schedule(dynamic)
		for (int64_t b = 0; b < t->nblocks; b++)
			block(cs, t, l, a, in, out, conv_block_at(t, cs->n, b), area);
	}
}

static void forward_pass(const struct conv_shape *cs, const float *x, const float *w, float *y, float *scratch,
			 int threads)
{
	if (winograd_fits(cs)) {
		winograd_forward(cs, x, w, y, scratch, threads);
		return;
	}
	const struct conv_tiling t = forward_tiling(cs);
	const struct pass_layout l = forward_layout(cs, &t);
	struct cpu_gemm_a wa;
	cpu_gemm_a_init(&wa, false, cs->k, t.crs, w, t.crs, scratch + l.apack);
	run_gemm_blocks(cs, &t, &l, &wa, x, y, forward_block, scratch, threads);
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

static struct pass_layout scatter_layout(const struct conv_shape *cs, const struct conv_tiling *t)
{
	return pass_layout_make(cpu_gemm_a_floats(t->crs, cs->k), 0, t->crs * t->cols,
				t->group > 1 ? (int64_t)cs->k * t->cols : 0, 0, cpu_gemm_b_floats(cs->k, t->cols));
}

/* col[blk] = Wᵀ · dY[blk], then scattered into the block's samples of dx. */
static void backward_data_block(const struct conv_shape *cs, const struct conv_tiling *t,
				const struct pass_layout *l, const struct cpu_gemm_a *wt, const float *dy,
				float *dx, struct conv_block bl, float *area)
{
	const int64_t ncols = bl.g * bl.len;
	const float *g = dy + bl.i0 * t->kpq;
	int64_t ldg = t->pq;
	if (bl.g > 1) {
		block_from_nchw(t, cs->k, dy, area + l->blk, bl);
		g = area + l->blk;
		ldg = ncols;
	}
	cpu_gemm(wt, false, ncols, g, ldg, false, area + l->col, ncols, area + l->bpack);
	col2im_block(cs, t, area + l->col, dx, bl);
}

static void scatter_pass(const struct conv_shape *cs, const float *dy, const float *w, float *dx, float *scratch,
			 int threads)
{
	const struct conv_tiling t = scatter_tiling(cs);
	const struct pass_layout l = scatter_layout(cs, &t);
	struct cpu_gemm_a wt;
	cpu_gemm_a_init(&wt, true, t.crs, cs->k, w, t.crs, scratch + l.apack);
	run_gemm_blocks(cs, &t, &l, &wt, dy, dx, backward_data_block, scratch, threads);
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

static struct pass_layout filter_split_layout(const struct conv_shape *cs, const struct conv_tiling *t)
{
	return pass_layout_make(0, filter_parts(t) * (int64_t)cs->k * t->crs, t->crs * t->cols,
				t->group > 1 ? (int64_t)cs->k * t->cols : 0, cpu_gemm_a_floats(cs->k, t->cols),
				cpu_gemm_b_floats(t->cols, t->crs));
}

/* part (+)= dY[blk] · col[blk]ᵀ */
static void filter_block(const struct conv_shape *cs, const struct conv_tiling *t, const struct pass_layout *l,
			 const float *x, const float *dy, struct conv_block bl, bool first, float *part, float *area)
{
	const int64_t ncols = bl.g * bl.len;
	int64_t ldcol;
	const float *col = block_columns(cs, t, l, x, bl, area, &ldcol);
	const float *g = dy + bl.i0 * t->kpq + bl.j0;
	int64_t ldg = t->pq;
	if (bl.g > 1) {
		block_from_nchw(t, cs->k, dy, area + l->blk, bl);
		g = area + l->blk;
		ldg = ncols;
	}
	struct cpu_gemm_a ga;
	cpu_gemm_a_init(&ga, false, cs->k, ncols, g, ldg, cpu_gemm_kernel_fits(t->crs) ? area + l->tapack : NULL);
	cpu_gemm_pack_a(&ga);
	cpu_gemm(&ga, true, t->crs, col, ldcol, !first, part, t->crs, area + l->bpack);
}

/* Small dW: FILTER_PARTS fixed runs of blocks into partial sums, then their sum in part order. */
static void filter_pass_split(const struct conv_shape *cs, const struct conv_tiling *t, const float *x,
			      const float *dy, float *dw, float *scratch, int threads)
{
	const struct pass_layout l = filter_split_layout(cs, t);
	const int parts = filter_parts(t);
	const int64_t n = (int64_t)cs->k * t->crs;
	float *partial = scratch + l.extra;
#pragma omp parallel num_threads(threads) if (threads > 1)
	{
		float *area = thread_area(&l, scratch);
#pragma omp for schedule(dynamic)
		for (int p = 0; p < parts; p++) {
			int64_t lo = t->nblocks * p / parts, hi = t->nblocks * (p + 1) / parts;
			for (int64_t b = lo; b < hi; b++)
				filter_block(cs, t, &l, x, dy, conv_block_at(t, cs->n, b), b == lo, partial + p * n, area);
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

/* Samples per chunk of the large-dW path. */
static int filter_chunk(const struct conv_shape *cs, const struct conv_tiling *t)
{
	return (int)TB_MAX(1, TB_MIN(CONV_COL_CAP / (t->crs * t->pq), (int64_t)cs->n));
}

/* The chunk's column matrix and dY as [K, cols] (in `extra`) and packed dY shared; packing space per thread. */
static struct pass_layout filter_blocked_layout(const struct conv_shape *cs, const struct conv_tiling *t)
{
	const int64_t cols = (int64_t)filter_chunk(cs, t) * t->pq;
	return pass_layout_make(cpu_gemm_a_floats(cs->k, cols), (t->crs + cs->k) * cols, 0, 0, 0,
				cpu_gemm_b_floats(cols, t->crs));
}

/*
 * Large dW: per chunk of samples, the whole column matrix and dY as [K,
 * cols], then dW cut into fixed blocks of GEMM_BLOCK_COLS columns (or
 * GEMM_BLOCK_ROWS rows when it is taller than wide), each a full reduction
 * over the chunk by one thread.
 */
static void filter_pass_blocked(const struct conv_shape *cs, const struct conv_tiling *t, const float *x,
				const float *dy, float *dw, float *scratch, int threads)
{
	const struct pass_layout l = filter_blocked_layout(cs, t);
	const int chunk = filter_chunk(cs, t);
	const int64_t K = cs->k;
	float *col = scratch + l.extra;
	float *g = col + (int64_t)chunk * t->crs * t->pq;
	const bool split_n = t->crs >= K;
	const int64_t extent = split_n ? t->crs : K, block = split_n ? GEMM_BLOCK_COLS : GEMM_BLOCK_ROWS;
	const int64_t nblocks = (extent + block - 1) / block;
	for (int n0 = 0; n0 < cs->n; n0 += chunk) {
		const int nb = TB_MIN(chunk, cs->n - n0);
		const int64_t cols = nb * t->pq;
		const struct conv_block all = {.i0 = n0, .g = nb, .j0 = 0, .len = t->pq};
		struct cpu_gemm_a ga;
		cpu_gemm_a_init(&ga, false, K, cols, g, cols, scratch + l.apack);
#pragma omp parallel num_threads(threads) if (threads > 1)
		{
			im2col_block_team(cs, t, x, all, col);
			layout_from_nchw_team(t, cs->k, dy, g, all);
			cpu_gemm_pack_a_team(&ga);
			float *area = thread_area(&l, scratch);
#pragma omp for schedule(dynamic)
			for (int64_t b = 0; b < nblocks; b++) {
				const int64_t lo = b * block, len = TB_MIN(block, extent - lo);
				if (split_n) {
					cpu_gemm(&ga, true, len, col + lo * cols, cols, n0 > 0, dw + lo, t->crs,
						 area + l.bpack);
				} else {
					const struct cpu_gemm_a rows = cpu_gemm_a_rows(&ga, lo, len);
					cpu_gemm(&rows, true, t->crs, col, cols, n0 > 0, dw + lo * t->crs, t->crs,
						 area + l.bpack);
				}
			}
		}
	}
}

/* ---- scratch sizes and the table entries ------------------------------------------ */

static int64_t forward_floats(const struct conv_shape *cs, int threads)
{
	if (winograd_fits(cs))
		return winograd_floats(cs, threads);
	const struct conv_tiling t = forward_tiling(cs);
	const struct pass_layout l = forward_layout(cs, &t);
	return pass_floats(&l, threads);
}

static int64_t flipped_weight_floats(const struct conv_shape *cs)
{
	return ((int64_t)cs->k * cs->c * cs->r * cs->s + 15) / 16 * 16;
}

static int64_t backward_data_floats(const struct conv_shape *cs, int threads)
{
	if (backward_data_is_forward(cs)) {
		struct conv_shape ts = transposed_shape(cs);
		return flipped_weight_floats(cs) + forward_floats(&ts, threads);
	}
	const struct conv_tiling t = scatter_tiling(cs);
	const struct pass_layout l = scatter_layout(cs, &t);
	return pass_floats(&l, threads);
}

static int64_t filter_floats(const struct conv_shape *cs, int threads)
{
	const struct conv_tiling t = forward_tiling(cs);
	const struct pass_layout l = filter_is_split(cs, &t) ? filter_split_layout(cs, &t)
							     : filter_blocked_layout(cs, &t);
	return pass_floats(&l, threads);
}

static int64_t conv_scratch_floats(const struct conv_shape *cs, int threads)
{
	return TB_MAX(forward_floats(cs, threads), TB_MAX(backward_data_floats(cs, threads), filter_floats(cs, threads)));
}

size_t backend_cpu_conv2d_scratch(const struct conv_shape *cs, int threads)
{
	return (size_t)conv_scratch_floats(cs, TB_MAX(threads, 1)) * sizeof(float);
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
		flip_transpose_weights(cs, w, scratch, threads);
		forward_pass(&ts, dy, scratch, dx, scratch + flipped_weight_floats(cs), threads);
		return;
	}
	scatter_pass(cs, dy, w, dx, scratch, threads);
}

static void cpu_conv2d_backward_filter(struct backend *be, const struct conv_shape *cs, const float *x,
				       const float *dy, float *dw, void *workspace)
{
	(void)workspace;
	int threads = conv_threads(be);
	float *scratch = cpu_scratch(be, (size_t)filter_floats(cs, threads));
	const struct conv_tiling t = forward_tiling(cs);
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
