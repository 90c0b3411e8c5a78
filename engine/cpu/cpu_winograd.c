/*
 * cpu_winograd.c — 3×3 stride-1 convolutions with padding 1 (ResNet's and
 * most CNNs' main layer) by Winograd's minimal filtering F(2×2, 3×3): each
 * 2×2 block of output pixels takes 16 multiplications per channel pair
 * instead of 36, the rest being additions in the transforms.
 *
 * What it is: winograd_forward, used by cpu_conv.c for the forward pass
 * and — through the flipped, transposed kernel — the input gradient of the
 * shapes winograd_fits accepts. What it is not: the filter gradient (im2col
 * in cpu_conv.c: a Winograd version, summing 16 products per block of
 * tiles into partials, measured no faster on ResNet-18's shapes), or the
 * larger F(4×4, 3×3), whose transforms' constants (up to 8) cost accuracy
 * the parity tests do not allow.
 *
 * With d a 4×4 input tile, g a 3×3 kernel and
 *   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G  = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
 *   Aᵀ = [1 1 1 0; 0 1 -1 -1]
 * the 2×2 output is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A. Summed over input channels,
 * the 16 element-wise products become 16 matrix products
 *   M_ξ[K, tiles] = U_ξ[K, C] · V_ξ[C, tiles],  U = G g Gᵀ, V = Bᵀ d B,
 * which run on cpu_gemm like every other product of the convolution.
 *
 * Blocks: rows of tiles (2 output rows each) of consecutive images, a
 * fixed number per block from the shape alone; each block is one thread's
 * work from input transform to output transform, in the thread's scratch.
 * Determinism: every value is computed by the same operations in the same
 * order whichever thread takes the block, so the bits do not depend on
 * the thread count.
 *
 * Threads: winograd_forward fans out with OpenMP and joins before it returns.
 */
#include "cpu_winograd.h"

#include <omp.h>
#include <string.h>

#include "cpu_gemm.h"
#include "cpu_internal.h"
#include "tb.h"

enum { XI = 16 }; /* elements of a transformed tile */

/* Tiles a block aims at: V (16·C·tiles floats) stays around 1 MB, in L2. */
#define WINO_BLOCK_FLOATS ((int64_t)1 << 18)
#define WINO_TILES_MIN 32
#define WINO_TILES_MAX 512

/*
 * Where it pays (measured on ResNet-18 and the cnn preset against im2col on
 * the same kernel): with 64+ input channels the products are long enough
 * for the kernel, and with 8×8+ images there are enough tiles per image;
 * 32 channels (the cnn preset's second layer) broke even and 4×4 images
 * (ResNet's last stage) lost 10-20%.
 */
bool winograd_fits(const struct conv_shape *cs)
{
	return cs->r == 3 && cs->s == 3 && cs->stride_h == 1 && cs->stride_w == 1 && cs->dil_h == 1 &&
	       cs->dil_w == 1 && cs->pad_h == 1 && cs->pad_w == 1 && cs->p == cs->h && cs->q == cs->w && cs->c >= 64 &&
	       cs->k >= 16 && cs->p * cs->q >= 64;
}

struct wino_plan {
	int th, tw;          /* tile rows and columns per image */
	int rows_per_block;  /* tile rows per block */
	int64_t rows;        /* tile rows of the batch: n·th */
	int64_t nblocks;
	int64_t tiles;       /* the most tiles of a block */
	int row_floats;      /* a padded input row: W + 3 (one zero left, up to two right) */
	/* scratch, in floats: shared, then per thread */
	int64_t u, upack, upack_each, shared;
	int64_t v, m, rowbuf, bpack, per_thread;
};

static struct wino_plan wino_plan_make(const struct conv_shape *cs)
{
	struct wino_plan pl;
	pl.th = (cs->p + 1) / 2;
	pl.tw = (cs->q + 1) / 2;
	int64_t target = TB_MAX((int64_t)WINO_TILES_MIN, TB_MIN((int64_t)WINO_TILES_MAX, WINO_BLOCK_FLOATS / (XI * cs->c)));
	pl.rows_per_block = (int)TB_MAX(1, target / pl.tw);
	pl.rows = (int64_t)cs->n * pl.th;
	pl.nblocks = (pl.rows + pl.rows_per_block - 1) / pl.rows_per_block;
	pl.tiles = (int64_t)TB_MIN((int64_t)pl.rows_per_block, pl.rows) * pl.tw;
	pl.row_floats = cs->w + 3;
	int64_t cur = 0;
	pl.u = cpu_take(&cur, (int64_t)XI * cs->k * cs->c);
	pl.upack_each = (cpu_gemm_a_floats(cs->k, cs->c) + 15) / 16 * 16;
	pl.upack = cpu_take(&cur, XI * pl.upack_each);
	pl.shared = cur;
	cur = 0;
	pl.v = cpu_take(&cur, (int64_t)XI * cs->c * pl.tiles);
	pl.m = cpu_take(&cur, (int64_t)XI * cs->k * pl.tiles);
	/* input_transform's 10 padded rows, output_transform's 12 rows of tiles */
	pl.rowbuf = cpu_take(&cur, 14 * (int64_t)pl.row_floats);
	pl.bpack = cpu_take(&cur, cpu_gemm_b_floats(cs->c, pl.tiles));
	pl.per_thread = cur;
	return pl;
}

int64_t winograd_floats(const struct conv_shape *cs, int threads)
{
	struct wino_plan pl = wino_plan_make(cs);
	return pl.shared + threads * pl.per_thread;
}

/* U[ξ][k][c] = (G g Gᵀ)[ξ] for kernel w[k][c]. */
static void weight_transform(const struct conv_shape *cs, const float *w, float *u, int64_t k)
{
	const int64_t kc = (int64_t)cs->k * cs->c;
	for (int c = 0; c < cs->c; c++) {
		const float *g = w + (k * cs->c + c) * 9;
		float t[4][3]; /* G g: rows of the 4×3 */
		for (int j = 0; j < 3; j++) {
			float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
			t[0][j] = g0;
			t[1][j] = 0.5f * (g0 + g1 + g2);
			t[2][j] = 0.5f * (g0 - g1 + g2);
			t[3][j] = g2;
		}
		for (int i = 0; i < 4; i++) {
			float a = t[i][0], b = t[i][1], d = t[i][2];
			float row[4] = {a, 0.5f * (a + b + d), 0.5f * (a - b + d), d};
			for (int j = 0; j < 4; j++)
				u[(int64_t)(4 * i + j) * kc + k * cs->c + c] = row[j];
		}
	}
}

/*
 * The row transforms' innermost loops, with every stream `restrict` so
 * they vectorise (the compiler cannot tell 16 output planes apart).
 * bt_row: B along a row, tile j reading padded columns 2j..2j+3, that is
 * ev[j], od[j], ev[j+1], od[j+1].
 */
static inline void bt_row(int n, const float *restrict ev, const float *restrict od, float *restrict o0,
			  float *restrict o1, float *restrict o2, float *restrict o3)
{
	for (int j = 0; j < n; j++) {
		o0[j] = ev[j] - ev[j + 1];
		o1[j] = od[j] + ev[j + 1];
		o2[j] = ev[j + 1] - od[j];
		o3[j] = od[j] - od[j + 1];
	}
}

/* Bᵀ down the columns of four padded input rows. */
static inline void bt_col(int n, const float *restrict d0, const float *restrict d1, const float *restrict d2,
			  const float *restrict d3, float *restrict t0, float *restrict t1, float *restrict t2,
			  float *restrict t3)
{
	for (int e = 0; e < n; e++) {
		t0[e] = d0[e] - d2[e];
		t1[e] = d1[e] + d2[e];
		t2[e] = d2[e] - d1[e];
		t3[e] = d1[e] - d3[e];
	}
}

/* Aᵀ down one column of every tile of a row: s0 = e0 + e1 + e2, s1 = e1 - e2 - e3. */
static inline void at_col(int n, const float *restrict e0, const float *restrict e1, const float *restrict e2,
			  const float *restrict e3, float *restrict s0, float *restrict s1)
{
	for (int j = 0; j < n; j++) {
		s0[j] = e0[j] + e1[j] + e2[j];
		s1[j] = e1[j] - e2[j] - e3[j];
	}
}

/* A across: (s0 + s1 + s2, s1 - s2 - s3) from a row's four columns. */
static inline void at_row(int n, const float *restrict s0, const float *restrict s1, const float *restrict s2,
			  const float *restrict s3, float *restrict y0, float *restrict y1)
{
	for (int j = 0; j < n; j++) {
		y0[j] = s0[j] + s1[j] + s2[j];
		y1[j] = s1[j] - s2[j] - s3[j];
	}
}

/*
 * V[ξ][c][t] for the block's tiles: rows [row0, row0 + nrows) of the
 * batch's tile rows, all channels. One channel's tile row at a time: the
 * four input rows (zero outside the image) into `rb`, Bᵀ down the columns,
 * then B along the rows from the even and odd columns split apart, so
 * every loop runs over contiguous floats and vectorises.
 */
CPU_VECTOR_CLONES static void input_transform(const struct conv_shape *cs, const struct wino_plan *pl,
					      const float *x, int64_t row0, int nrows, float *v, float *rb)
{
	const int H = cs->h, W = cs->w, tw = pl->tw, rf = pl->row_floats;
	const int64_t hw = (int64_t)H * W, tiles = (int64_t)nrows * tw, plane_v = (int64_t)cs->c * tiles;
	/* 4 padded input rows, 4 transformed rows, their even and odd halves (tw + 1 each) */
	float *in = rb, *t = rb + 4 * rf, *ev = rb + 8 * rf, *od = ev + rf;
	for (int c = 0; c < cs->c; c++) {
		for (int r = 0; r < nrows; r++) {
			const int64_t gr = row0 + r;
			const int img = (int)(gr / pl->th), a = (int)(gr % pl->th);
			const float *plane = x + (int64_t)img * cs->c * hw + (int64_t)c * hw;
			for (int i = 0; i < 4; i++) {
				float *dst = in + i * rf;
				int h = 2 * a - 1 + i;
				memset(dst, 0, sizeof(float) * (size_t)rf);
				if (h >= 0 && h < H)
					memcpy(dst + 1, plane + (int64_t)h * W, sizeof(float) * (size_t)W);
			}
			bt_col(rf, in, in + rf, in + 2 * rf, in + 3 * rf, t, t + rf, t + 2 * rf, t + 3 * rf);
			for (int i = 0; i < 4; i++) {
				const float *s = t + i * rf;
				for (int j = 0; j <= tw; j++) {
					ev[j] = s[2 * j];
					od[j] = s[2 * j + 1];
				}
				float *o0 = v + (int64_t)(4 * i) * plane_v + (int64_t)c * tiles + (int64_t)r * tw;
				bt_row(tw, ev, od, o0, o0 + plane_v, o0 + 2 * plane_v, o0 + 3 * plane_v);
			}
		}
	}
}

/*
 * y for the block's tiles from M[ξ][k][t]: Aᵀ down, A across, over a row
 * of tiles at a time into the four corners' rows `q`, then interleaved into
 * the image; the last row/column is dropped when the image's is odd.
 */
CPU_VECTOR_CLONES static void output_transform(const struct conv_shape *cs, const struct wino_plan *pl,
					       const float *m, int64_t row0, int nrows, float *y, float *rb)
{
	const int P = cs->p, Q = cs->q, tw = pl->tw;
	const int64_t pq = (int64_t)P * Q, tiles = (int64_t)nrows * tw, kt = (int64_t)cs->k * tiles;
	float *q00 = rb, *q01 = q00 + tw, *q10 = q01 + tw, *q11 = q10 + tw;
	float *s0 = q11 + tw, *s1 = s0 + 4 * tw; /* Aᵀ M: two rows of four columns each */
	for (int k = 0; k < cs->k; k++) {
		for (int r = 0; r < nrows; r++) {
			const float *e = m + (int64_t)k * tiles + (int64_t)r * tw;
			for (int col = 0; col < 4; col++)
				at_col(tw, e + col * kt, e + (4 + col) * kt, e + (8 + col) * kt, e + (12 + col) * kt,
				       s0 + col * tw, s1 + col * tw);
			at_row(tw, s0, s0 + tw, s0 + 2 * tw, s0 + 3 * tw, q00, q01);
			at_row(tw, s1, s1 + tw, s1 + 2 * tw, s1 + 3 * tw, q10, q11);
			const int64_t gr = row0 + r;
			const int img = (int)(gr / pl->th), a = (int)(gr % pl->th);
			float *out = y + (int64_t)img * cs->k * pq + (int64_t)k * pq + (int64_t)(2 * a) * Q;
			const int pairs = Q / 2;
			for (int j = 0; j < pairs; j++) {
				out[2 * j] = q00[j];
				out[2 * j + 1] = q01[j];
			}
			if (Q % 2)
				out[Q - 1] = q00[tw - 1];
			if (2 * a + 1 >= P)
				continue;
			out += Q;
			for (int j = 0; j < pairs; j++) {
				out[2 * j] = q10[j];
				out[2 * j + 1] = q11[j];
			}
			if (Q % 2)
				out[Q - 1] = q10[tw - 1];
		}
	}
}

void winograd_forward(const struct conv_shape *cs, const float *x, const float *w, float *y, float *scratch,
		      int threads)
{
	TB_ASSERT(winograd_fits(cs));
	const struct wino_plan pl = wino_plan_make(cs);
	float *u = scratch + pl.u;
	struct cpu_gemm_a ua[XI];
	for (int xi = 0; xi < XI; xi++)
		cpu_gemm_a_init(&ua[xi], false, cs->k, cs->c, u + (int64_t)xi * cs->k * cs->c, cs->c,
				scratch + pl.upack + xi * pl.upack_each);
#pragma omp parallel num_threads(threads) if (threads > 1)
	{
#pragma omp for schedule(static)
		for (int64_t k = 0; k < cs->k; k++)
			weight_transform(cs, w, u, k);
#pragma omp for schedule(static)
		for (int xi = 0; xi < XI; xi++)
			cpu_gemm_pack_a(&ua[xi]);
		float *area = scratch + pl.shared + omp_get_thread_num() * pl.per_thread;
		float *v = area + pl.v, *m = area + pl.m;
#pragma omp for schedule(dynamic)
		for (int64_t b = 0; b < pl.nblocks; b++) {
			const int64_t row0 = b * pl.rows_per_block;
			const int nrows = (int)TB_MIN((int64_t)pl.rows_per_block, pl.rows - row0);
			const int64_t tiles = (int64_t)nrows * pl.tw;
			input_transform(cs, &pl, x, row0, nrows, v, area + pl.rowbuf);
			for (int xi = 0; xi < XI; xi++)
				cpu_gemm(&ua[xi], false, tiles, v + (int64_t)xi * cs->c * tiles, tiles, false,
					 m + (int64_t)xi * cs->k * tiles, tiles, area + pl.bpack);
			output_transform(cs, &pl, m, row0, nrows, y, area + pl.rowbuf);
		}
	}
}
