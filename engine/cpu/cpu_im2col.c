/*
 * cpu_im2col.c — the tiling of a convolution pass into blocks of output
 * pixels and the copies around a block's column matrix: im2col (gather the
 * input windows), col2im (scatter-add them back) and the moves between NCHW
 * and a block's [channel][column] layout.
 *
 * What it is: the memory side of cpu_conv.c's passes. What it is not: any
 * arithmetic beyond col2im's sums (cpu_conv.c calls OpenBLAS).
 *
 * Determinism: every element is written by one thread; col2im sums each
 * input plane in (r, s, p, q) order.
 *
 * Threads: the *_team functions share their work out among the threads of
 * the enclosing OpenMP region (all must call; they return together); the
 * others run on the calling thread (one block is one thread's work).
 */
#include "cpu_im2col.h"

#include <string.h>

#include "cpu_internal.h"
#include "tb.h"

struct conv_tiling conv_tiling_make(const struct conv_shape *cs, int64_t cols_min, int64_t cols_max,
				    int64_t block_floats, bool slices)
{
	TB_ASSERT(cs->p > 0 && cs->q > 0 && cs->n > 0);
	struct conv_tiling t;
	t.crs = (int64_t)cs->c * cs->r * cs->s;
	t.pq = (int64_t)cs->p * cs->q;
	t.chw = (int64_t)cs->c * cs->h * cs->w;
	t.kpq = (int64_t)cs->k * t.pq;
	t.direct = cs->r == 1 && cs->s == 1 && cs->stride_h == 1 && cs->stride_w == 1 && cs->pad_h == 0 &&
		   cs->pad_w == 0;
	int64_t target = TB_MAX(cols_min, TB_MIN(cols_max, block_floats / t.crs));
	if (slices && t.pq > target) {
		/* Even slices, a multiple of 16 pixels (OpenBLAS's register block) where that fits. */
		int64_t count = (t.pq + target - 1) / target;
		int64_t slice = (t.pq + count - 1) / count;
		slice = (slice + 15) / 16 * 16;
		t.slice = TB_MIN(slice, t.pq);
		t.slices = (t.pq + t.slice - 1) / t.slice;
		t.group = 1;
		t.nblocks = (int64_t)cs->n * t.slices;
	} else {
		t.slice = t.pq;
		t.slices = 1;
		t.group = (int)TB_MAX(1, TB_MIN(target / t.pq, (int64_t)cs->n));
		t.nblocks = (cs->n + t.group - 1) / t.group;
	}
	t.cols = t.group * t.slice;
	return t;
}

struct conv_block conv_block_at(const struct conv_tiling *t, int n, int64_t b)
{
	struct conv_block bl;
	if (t->group == 1) {
		bl.i0 = b / t->slices;
		bl.j0 = b % t->slices * t->slice;
		bl.len = TB_MIN(t->slice, t->pq - bl.j0);
		bl.g = 1;
	} else {
		bl.i0 = b * t->group;
		bl.g = (int)TB_MIN((int64_t)t->group, n - bl.i0);
		bl.j0 = 0;
		bl.len = t->pq;
	}
	return bl;
}

/* Output columns q whose input column w0 + q*stride lies inside [0, W). */
static void valid_columns(const struct conv_shape *cs, int w0, int *q_lo, int *q_hi)
{
	const int sw = cs->stride_w, Q = cs->q;
	int lo = w0 >= 0 ? 0 : (-w0 + sw - 1) / sw;
	int hi = cs->w - 1 - w0 < 0 ? 0 : (cs->w - 1 - w0) / sw + 1;
	lo = TB_MIN(lo, Q);
	hi = TB_MIN(hi, Q);
	*q_lo = lo;
	*q_hi = TB_MAX(hi, lo);
}

/*
 * Rows of a small image are a dozen floats: as calls to memcpy/memset (what
 * GCC turns these loops into) the calls cost more than the copying, so the
 * loops stay loops.
 */
#if defined(__GNUC__) && !defined(__clang__)
#define INLINE_COPIES __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define INLINE_COPIES
#endif

/* dst[0..len) ← tap (r, s) of `plane` for output pixels j0..j0+len, one output row at a time. */
INLINE_COPIES static void im2col_pixels(const struct conv_shape *cs, const float *restrict plane, int r, int s,
					int64_t j0, int64_t len, float *restrict dst)
{
	const int H = cs->h, W = cs->w, Q = cs->q, sw = cs->stride_w;
	const int w0 = s * cs->dil_w - cs->pad_w;
	int q_lo, q_hi;
	valid_columns(cs, w0, &q_lo, &q_hi);
	int p = (int)(j0 / Q), q = (int)(j0 % Q);
	for (int64_t left = len; left > 0; p++, q = 0) {
		int qe = (int)TB_MIN((int64_t)Q, q + left);
		int h = p * cs->stride_h - cs->pad_h + r * cs->dil_h;
		float *d = dst - q; /* d[k] is pixel (p, k) */
		dst += qe - q;
		left -= qe - q;
		if (h < 0 || h >= H) {
			for (int k = q; k < qe; k++)
				d[k] = 0;
			continue;
		}
		int a = TB_MAX(q, q_lo), z = TB_MIN(qe, q_hi);
		if (z < a)
			a = z = qe;
		const float *row = plane + (int64_t)h * W;
		for (int k = q; k < a; k++)
			d[k] = 0;
		if (sw == 1) {
			for (int k = a; k < z; k++)
				d[k] = row[w0 + k];
		} else {
			for (int k = a; k < z; k++)
				d[k] = row[w0 + k * sw];
		}
		for (int k = z; k < qe; k++)
			d[k] = 0;
	}
}

/*
 * The same for a stride-1 convolution whose output has the input's size
 * (3×3 padding 1 and kin): tap (r, s) is the image shifted by (dr, ds), so
 * pixels j0..j0+len are one contiguous run of the plane at offset dr·W + ds,
 * after which the |ds| columns that wrapped around a row edge are zeroed.
 * (A pixel whose row falls outside the image lands outside the plane or in
 * such a column.) One long copy instead of a dozen-float copy per row; the
 * block's g samples (planes `stride` apart) share the bounds.
 */
INLINE_COPIES static void im2col_shifted(const struct conv_shape *cs, const float *restrict plane, int64_t stride,
					 int g, int r, int s, int64_t j0, int64_t len, float *restrict dst)
{
	const int W = cs->w;
	const int dr = r * cs->dil_h - cs->pad_h, ds = s * cs->dil_w - cs->pad_w;
	const int64_t hw = (int64_t)cs->h * W, off = (int64_t)dr * W + ds;
	int64_t lo = TB_MAX(j0, -off) - j0, hi = TB_MIN(j0 + len, hw - off) - j0;
	if (hi < lo)
		lo = hi = len;
	/* Columns [c0, c1) of every row read across the row's edge. */
	const int c0 = TB_MAX(ds > 0 ? W - ds : 0, 0), c1 = TB_MIN(ds > 0 ? W : -ds, W);
	for (int i = 0; i < g; i++, dst += len) {
		const float *src = plane + i * stride + j0 + off;
		for (int64_t j = 0; j < lo; j++)
			dst[j] = 0;
		for (int64_t j = lo; j < hi; j++)
			dst[j] = src[j];
		for (int64_t j = hi; j < len; j++)
			dst[j] = 0;
		if (ds == 0)
			continue;
		for (int64_t rowstart = -(j0 % W); rowstart < len; rowstart += W) {
			int64_t a = TB_MAX(rowstart + c0, 0), z = TB_MIN(rowstart + c1, len);
			for (int64_t j = a; j < z; j++)
				dst[j] = 0;
		}
	}
}

static bool conv_is_same_stride1(const struct conv_shape *cs)
{
	return cs->stride_h == 1 && cs->stride_w == 1 && cs->p == cs->h && cs->q == cs->w;
}

static void im2col_rows(const struct conv_shape *cs, const struct conv_tiling *t, const float *x,
			struct conv_block bl, float *col, int64_t row)
{
	const int RS = cs->r * cs->s;
	const int64_t ld = bl.g * bl.len, hw = (int64_t)cs->h * cs->w;
	int c = (int)(row / RS), r = (int)(row % RS / cs->s), s = (int)(row % cs->s);
	if (conv_is_same_stride1(cs)) {
		im2col_shifted(cs, x + bl.i0 * t->chw + c * hw, t->chw, bl.g, r, s, bl.j0, bl.len, col + row * ld);
		return;
	}
	for (int g = 0; g < bl.g; g++)
		im2col_pixels(cs, x + (bl.i0 + g) * t->chw + c * hw, r, s, bl.j0, bl.len, col + row * ld + g * bl.len);
}

void im2col_block(const struct conv_shape *cs, const struct conv_tiling *t, const float *x, struct conv_block bl,
		  float *col)
{
	for (int64_t row = 0; row < t->crs; row++)
		im2col_rows(cs, t, x, bl, col, row);
}

void im2col_block_team(const struct conv_shape *cs, const struct conv_tiling *t, const float *x,
		       struct conv_block bl, float *col)
{
#pragma omp for schedule(static)
	for (int64_t row = 0; row < t->crs; row++)
		im2col_rows(cs, t, x, bl, col, row);
}

void col2im_block(const struct conv_shape *cs, const struct conv_tiling *t, const float *col, float *dx,
		  struct conv_block bl)
{
	const int C = cs->c, H = cs->h, W = cs->w, R = cs->r, S = cs->s, P = cs->p, Q = cs->q, sw = cs->stride_w;
	const int64_t ld = bl.g * bl.len;
	TB_ASSERT(bl.j0 == 0 && bl.len == t->pq);
	for (int g = 0; g < bl.g; g++) {
		for (int c = 0; c < C; c++) {
			float *plane = dx + (bl.i0 + g) * t->chw + (int64_t)c * H * W;
			memset(plane, 0, sizeof(float) * (size_t)H * W);
			for (int r = 0; r < R; r++) {
				for (int s = 0; s < S; s++) {
					const float *src = col + (((int64_t)c * R + r) * S + s) * ld + g * t->pq;
					const int w0 = s * cs->dil_w - cs->pad_w;
					int q_lo, q_hi;
					valid_columns(cs, w0, &q_lo, &q_hi);
					for (int p = 0; p < P; p++, src += Q) {
						int h = p * cs->stride_h - cs->pad_h + r * cs->dil_h;
						if (h < 0 || h >= H)
							continue;
						float *dst = plane + (int64_t)h * W + w0;
						if (sw == 1) {
							for (int q = q_lo; q < q_hi; q++)
								dst[q] += src[q];
						} else {
							for (int q = q_lo; q < q_hi; q++)
								dst[q * sw] += src[q];
						}
					}
				}
			}
		}
	}
}

void block_to_nchw(const struct conv_tiling *t, int k, const float *blk, float *nchw, struct conv_block bl)
{
	const int64_t pq = t->pq, ld = bl.g * bl.len;
	for (int ch = 0; ch < k; ch++)
		for (int g = 0; g < bl.g; g++)
			memcpy(nchw + (bl.i0 + g) * k * pq + ch * pq + bl.j0, blk + ch * ld + g * bl.len,
			       sizeof(float) * (size_t)bl.len);
}

void block_from_nchw(const struct conv_tiling *t, int k, const float *nchw, float *blk, struct conv_block bl)
{
	const int64_t pq = t->pq, ld = bl.g * bl.len;
	for (int ch = 0; ch < k; ch++)
		for (int g = 0; g < bl.g; g++)
			memcpy(blk + ch * ld + g * bl.len, nchw + (bl.i0 + g) * k * pq + ch * pq + bl.j0,
			       sizeof(float) * (size_t)bl.len);
}

void layout_from_nchw_team(const struct conv_tiling *t, int k, const float *nchw, float *blk, struct conv_block bl)
{
	const int64_t pq = t->pq, ld = bl.g * bl.len, pieces = (int64_t)k * bl.g;
#pragma omp for schedule(static)
	for (int64_t e = 0; e < pieces; e++) {
		int64_t ch = e / bl.g, g = e % bl.g;
		memcpy(blk + ch * ld + g * bl.len, nchw + (bl.i0 + g) * k * pq + ch * pq + bl.j0,
		       sizeof(float) * (size_t)bl.len);
	}
}
