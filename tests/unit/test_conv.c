/*
 * test_conv.c — the CPU backend's convolution, batch-norm and pooling
 * operations against direct implementations written here in double
 * precision (forward, both backward passes, running statistics, padding,
 * stride, dilation, the 1×1 fast path, images cut into blocks, the gathered
 * and the scattered input gradient, the blocked filter gradient), plus
 * finite-difference checks that the direct backward passes are the true
 * gradients. Layers, models and ResNet-18 are in test_conv_layers.c.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "cpu/cpu_gemm.h"
#include "rng.h"
#include "tests/unit/cpu_fixture.h"

/* |got - want| ≤ rtol · max(|want|, max|want| / 10) for every element. */
static void assert_close(const float *got, const double *want, int64_t n, double rtol)
{
	double scale = 0;
	for (int64_t i = 0; i < n; i++)
		scale = fmax(scale, fabs(want[i]));
	for (int64_t i = 0; i < n; i++) {
		double tol = rtol * fmax(fabs(want[i]), scale / 10) + 1e-30;
		if (!(fabs(got[i] - want[i]) <= tol))
			fail_msg("element %lld: got %.9g, want %.9g (tol %.3g)", (long long)i, got[i], want[i], tol);
	}
}

/* ---- convolution ------------------------------------------------------------ */

static void conv_geometry(struct conv_shape *cs)
{
	cs->p = (cs->h + 2 * cs->pad_h - cs->dil_h * (cs->r - 1) - 1) / cs->stride_h + 1;
	cs->q = (cs->w + 2 * cs->pad_w - cs->dil_w * (cs->s - 1) - 1) / cs->stride_w + 1;
}

/* Input coordinate of output (p, q) under kernel tap (r, s), or -1 when in the padding. */
static int64_t conv_tap(const struct conv_shape *cs, int i, int c, int p, int q, int r, int s)
{
	int h = p * cs->stride_h - cs->pad_h + r * cs->dil_h, w = q * cs->stride_w - cs->pad_w + s * cs->dil_w;
	if (h < 0 || h >= cs->h || w < 0 || w >= cs->w)
		return -1;
	return (((int64_t)i * cs->c + c) * cs->h + h) * cs->w + w;
}

#define Y_AT(cs, i, k, p, q) ((((int64_t)(i) * (cs)->k + (k)) * (cs)->p + (p)) * (cs)->q + (q))
#define W_AT(cs, k, c, r, s) ((((int64_t)(k) * (cs)->c + (c)) * (cs)->r + (r)) * (cs)->s + (s))

static void naive_conv(const struct conv_shape *cs, const float *x, const float *w, const float *dy, double *y,
		       double *dx, double *dw)
{
	int64_t nx = (int64_t)cs->n * cs->c * cs->h * cs->w, nw = (int64_t)cs->k * cs->c * cs->r * cs->s;
	memset(dx, 0, sizeof(double) * (size_t)nx);
	memset(dw, 0, sizeof(double) * (size_t)nw);
	for (int i = 0; i < cs->n; i++)
		for (int k = 0; k < cs->k; k++)
			for (int p = 0; p < cs->p; p++)
				for (int q = 0; q < cs->q; q++) {
					double acc = 0, g = dy[Y_AT(cs, i, k, p, q)];
					for (int c = 0; c < cs->c; c++)
						for (int r = 0; r < cs->r; r++)
							for (int s = 0; s < cs->s; s++) {
								int64_t at = conv_tap(cs, i, c, p, q, r, s);
								if (at < 0)
									continue;
								int64_t wa = W_AT(cs, k, c, r, s);
								acc += (double)x[at] * w[wa];
								dx[at] += g * w[wa];
								dw[wa] += g * x[at];
							}
					y[Y_AT(cs, i, k, p, q)] = acc;
				}
}

static void check_conv(struct conv_shape cs, uint64_t seed)
{
	conv_geometry(&cs);
	int64_t nx = (int64_t)cs.n * cs.c * cs.h * cs.w, nw = (int64_t)cs.k * cs.c * cs.r * cs.s;
	int64_t ny = (int64_t)cs.n * cs.k * cs.p * cs.q;
	float *x = random_floats(nx, seed), *w = random_floats(nw, seed + 1), *dy = random_floats(ny, seed + 2);
	float *y = be->alloc(be, (size_t)ny * sizeof(float)), *dx = be->alloc(be, (size_t)nx * sizeof(float));
	float *dw = be->alloc(be, (size_t)nw * sizeof(float));
	size_t ws_bytes = be->conv2d_workspace(be, &cs);
	void *ws = ws_bytes ? be->alloc(be, ws_bytes) : NULL;
	double *ry = malloc(sizeof(double) * (size_t)ny), *rdx = malloc(sizeof(double) * (size_t)nx);
	double *rdw = malloc(sizeof(double) * (size_t)nw);
	naive_conv(&cs, x, w, dy, ry, rdx, rdw);
	/* Stale values must not leak into outputs that are written, not accumulated. */
	be->fill(be, dx, 7.0f, nx);
	be->fill(be, dw, 7.0f, nw);
	be->conv2d_forward(be, &cs, x, w, y, ws);
	be->conv2d_backward_data(be, &cs, dy, w, dx, ws);
	be->conv2d_backward_filter(be, &cs, x, dy, dw, ws);
	assert_close(y, ry, ny, 1e-5);
	assert_close(dx, rdx, nx, 1e-5);
	assert_close(dw, rdw, nw, 1e-5);
	/* Same inputs, same bits. */
	float *y2 = be->alloc(be, (size_t)ny * sizeof(float));
	be->conv2d_forward(be, &cs, x, w, y2, ws);
	assert_memory_equal(y, y2, (size_t)ny * sizeof(float));
	free(ry);
	free(rdx);
	free(rdw);
	be->free(be, y2);
	be->free(be, ws);
	be->free(be, x);
	be->free(be, w);
	be->free(be, dy);
	be->free(be, y);
	be->free(be, dx);
	be->free(be, dw);
}

#define CONV(N, C, H, W, K, R, S, SH, SW, PH, PW, DH, DW)                                                 \
	((struct conv_shape){.n = N, .c = C, .h = H, .w = W, .k = K, .r = R, .s = S, .stride_h = SH,      \
			     .stride_w = SW, .pad_h = PH, .pad_w = PW, .dil_h = DH, .dil_w = DW})

/* One convolution checked against the direct loops above: its shape and the seed of its inputs. */
struct conv_case {
	const char *name;
	struct conv_shape shape;
	uint64_t seed;
};

static const struct conv_case conv_cases[] = {
	{"conv_3x3_padded", CONV(2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1), 10},
	{"conv_strided", CONV(3, 2, 9, 8, 5, 3, 3, 2, 2, 0, 0, 1, 1), 20},
	{"conv_strided_uneven", CONV(2, 3, 10, 9, 4, 3, 3, 2, 3, 1, 2, 1, 1), 21},
	{"conv_dilated", CONV(2, 2, 9, 9, 3, 3, 3, 1, 1, 2, 2, 2, 2), 30},
	{"conv_dilated_uneven", CONV(1, 3, 11, 10, 2, 3, 2, 2, 1, 1, 0, 3, 2), 31},
	{"conv_1x1_direct", CONV(2, 4, 5, 5, 6, 1, 1, 1, 1, 0, 0, 1, 1), 40},   /* direct path, no im2col */
	{"conv_1x1_shortcut", CONV(2, 4, 6, 6, 3, 1, 1, 2, 2, 0, 0, 1, 1), 41}, /* ResNet shortcut */
	{"conv_1x1_padded", CONV(2, 4, 5, 5, 3, 1, 1, 1, 1, 1, 1, 1, 1), 42},   /* padded 1×1 goes through im2col */
	{"conv_kernel_covers_image", CONV(1, 1, 5, 5, 2, 5, 5, 1, 1, 0, 0, 1, 1), 50},
	{"conv_kernel_covers_padded_image", CONV(2, 2, 3, 4, 3, 5, 5, 1, 1, 2, 2, 1, 1), 51},
	/* Per-sample columns of 64·9·1024 floats are cut into several blocks per
	 * image (one GEMM each), and dW sums its partial products across them. */
	{"conv_multi_chunk", CONV(9, 64, 32, 32, 8, 3, 3, 1, 1, 1, 1, 1, 1), 60},
	/* A filter gradient above the split threshold takes the column-blocked path (dW 256 × 1152). */
	{"conv_wide_filter", CONV(2, 128, 5, 5, 256, 3, 3, 1, 1, 1, 1, 1, 1), 65},
	/* Stride-1 convolutions with no more output than input channels take their
	 * input gradient as a forward convolution with the flipped kernel: padded
	 * and dilated "same" shapes, unpadded, asymmetric, and padding larger than
	 * the kernel (a negative padding for the transposed pass). */
	{"conv_backward_data_as_forward_same", CONV(2, 4, 9, 9, 3, 3, 3, 1, 1, 2, 2, 2, 2), 66},
	{"conv_backward_data_as_forward_unpadded", CONV(2, 4, 7, 6, 3, 3, 3, 1, 1, 0, 0, 1, 1), 67},
	{"conv_backward_data_as_forward_asymmetric", CONV(2, 5, 7, 8, 4, 3, 2, 1, 1, 1, 0, 1, 1), 68},
	{"conv_backward_data_as_forward_wide_padding", CONV(1, 3, 5, 5, 2, 3, 3, 1, 1, 3, 3, 1, 1), 69},
	/* 3×3 padding-1 layers with 64+ input channels on 8×8+ images take
	 * Winograd's F(2×2, 3×3), forward and (no wider out than in) input
	 * gradient: odd and even sizes, blocks of tile rows across images. */
	{"conv_winograd_odd", CONV(2, 64, 9, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1), 70},
	{"conv_winograd_even", CONV(3, 64, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1), 71},
	{"conv_winograd_tile_rows", CONV(2, 64, 24, 33, 16, 3, 3, 1, 1, 1, 1, 1, 1), 72},
	/* An image with more output pixels than a block holds is cut mid-row. */
	{"conv_sliced_strided", CONV(2, 1, 70, 70, 2, 3, 3, 2, 2, 1, 1, 1, 1), 75},
	{"conv_sliced", CONV(2, 2, 40, 40, 3, 3, 3, 1, 1, 1, 1, 1, 1), 76},
	/* A filter gradient much larger than the batch's pixels takes the blocked
	 * path; a sample's column matrix over half the chunk cap makes it two chunks. */
	{"conv_filter_blocked_chunks", CONV(2, 14564, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1), 77},
};

static void test_conv_case(void **state)
{
	const struct conv_case *c = *state;
	check_conv(c->shape, c->seed);
}

/* One conv shape's three outputs on a backend with `threads` threads. */
static void conv_outputs(int threads, const struct conv_shape *cs, const float *x, const float *w, const float *dy,
			 float *y, float *dx, float *dw)
{
	struct backend *b = backend_cpu_new(threads);
	size_t ws_bytes = b->conv2d_workspace(b, cs);
	void *ws = ws_bytes ? b->alloc(b, ws_bytes) : NULL;
	b->conv2d_forward(b, cs, x, w, y, ws);
	b->conv2d_backward_data(b, cs, dy, w, dx, ws);
	b->conv2d_backward_filter(b, cs, x, dy, dw, ws);
	b->free(b, ws);
	b->destroy(b);
}

static void conv_thread_count_check(void)
{
	const struct conv_shape shapes[] = {
		CONV(16, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1), /* cnn conv2: split filter gradient */
		CONV(8, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1),   /* cnn conv1 */
		CONV(2, 128, 5, 5, 256, 3, 3, 1, 1, 1, 1, 1, 1),  /* wide: blocked filter gradient */
		CONV(4, 64, 8, 8, 48, 1, 1, 1, 1, 0, 0, 1, 1),    /* direct 1×1 */
		CONV(9, 64, 32, 32, 8, 3, 3, 1, 1, 1, 1, 1, 1),   /* sliced images, gathered input gradient */
		CONV(4, 16, 17, 17, 24, 3, 3, 2, 2, 1, 1, 1, 1),  /* strided: col2im over groups of samples */
		CONV(2, 14564, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1),  /* blocked filter gradient in two chunks */
		CONV(4, 64, 11, 9, 64, 3, 3, 1, 1, 1, 1, 1, 1),   /* Winograd forward and input gradient */
	};
	for (size_t t = 0; t < sizeof(shapes) / sizeof(shapes[0]); t++) {
		struct conv_shape cs = shapes[t];
		conv_geometry(&cs);
		int64_t nx = (int64_t)cs.n * cs.c * cs.h * cs.w, nw = (int64_t)cs.k * cs.c * cs.r * cs.s;
		int64_t ny = (int64_t)cs.n * cs.k * cs.p * cs.q;
		float *x = random_floats(nx, 80 + t), *w = random_floats(nw, 90 + t), *dy = random_floats(ny, 100 + t);
		float *out[2][3];
		for (int k = 0; k < 2; k++) {
			out[k][0] = malloc(sizeof(float) * (size_t)ny);
			out[k][1] = malloc(sizeof(float) * (size_t)nx);
			out[k][2] = malloc(sizeof(float) * (size_t)nw);
			conv_outputs(k + 1, &cs, x, w, dy, out[k][0], out[k][1], out[k][2]);
		}
		assert_memory_equal(out[0][0], out[1][0], sizeof(float) * (size_t)ny);
		assert_memory_equal(out[0][1], out[1][1], sizeof(float) * (size_t)nx);
		assert_memory_equal(out[0][2], out[1][2], sizeof(float) * (size_t)nw);
		for (int k = 0; k < 2; k++)
			for (int o = 0; o < 3; o++)
				free(out[k][o]);
		be->free(be, x);
		be->free(be, w);
		be->free(be, dy);
	}
}

/* The same bits with 1 and 2 threads: blocks and partial sums follow the
 * shape, not the thread count — with the AVX-512 products and with OpenBLAS's. */
static void test_conv_thread_count_independent(void **state)
{
	(void)state;
	for (int openblas = 0; openblas < 2; openblas++) {
		cpu_gemm_disable_kernel(openblas);
		conv_thread_count_check();
	}
	cpu_gemm_disable_kernel(false);
}

/* CPUs without AVX-512 run every product on OpenBLAS: the same checks there. */
static void test_conv_openblas_products(void **state)
{
	(void)state;
	cpu_gemm_disable_kernel(true);
	check_conv(CONV(2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1), 110);
	check_conv(CONV(3, 2, 9, 8, 5, 3, 3, 2, 2, 0, 0, 1, 1), 111);
	check_conv(CONV(2, 4, 9, 9, 3, 3, 3, 1, 1, 2, 2, 2, 2), 112);
	check_conv(CONV(2, 4, 5, 5, 6, 1, 1, 1, 1, 0, 0, 1, 1), 113);
	check_conv(CONV(9, 64, 32, 32, 8, 3, 3, 1, 1, 1, 1, 1, 1), 114);
	check_conv(CONV(2, 128, 5, 5, 256, 3, 3, 1, 1, 1, 1, 1, 1), 115);
	check_conv(CONV(2, 14564, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1), 116);
	cpu_gemm_disable_kernel(false);
}

/* The direct loops above are the true gradients: central differences of
 * L = Σ y·g in double agree with them (checks the reference, not the backend). */
static void test_conv_reference_matches_finite_differences(void **state)
{
	(void)state;
	struct conv_shape cs = CONV(2, 2, 5, 5, 3, 3, 3, 2, 2, 1, 1, 1, 1);
	conv_geometry(&cs);
	int64_t nx = (int64_t)cs.n * cs.c * cs.h * cs.w, nw = (int64_t)cs.k * cs.c * cs.r * cs.s;
	int64_t ny = (int64_t)cs.n * cs.k * cs.p * cs.q;
	float *x = random_floats(nx, 70), *w = random_floats(nw, 71), *g = random_floats(ny, 72);
	double *y = malloc(sizeof(double) * (size_t)ny), *dx = malloc(sizeof(double) * (size_t)nx);
	double *dw = malloc(sizeof(double) * (size_t)nw), *sx = malloc(sizeof(double) * (size_t)nx);
	double *sw = malloc(sizeof(double) * (size_t)nw);
	naive_conv(&cs, x, w, g, y, dx, dw);
	memcpy(sx, dx, sizeof(double) * (size_t)nx);
	memcpy(sw, dw, sizeof(double) * (size_t)nw);
	const float eps = 1.0f / 64; /* exact in float: x ± eps is representable without rounding noise */
	for (int t = 0; t < 2; t++) {
		float *v = t ? w : x;
		int64_t n = t ? nw : nx;
		for (int64_t i = 0; i < n; i += 3) {
			float keep = v[i];
			double l[2];
			for (int side = 0; side < 2; side++) {
				v[i] = keep + (side ? -eps : eps);
				naive_conv(&cs, x, w, g, y, dx, dw);
				l[side] = 0;
				for (int64_t j = 0; j < ny; j++)
					l[side] += y[j] * g[j];
			}
			v[i] = keep;
			double fd = (l[0] - l[1]) / (2.0 * eps);
			double an = t ? sw[i] : sx[i];
			assert_true(fabs(fd - an) <= 1e-4 * fmax(1.0, fabs(an)));
		}
	}
	free(y);
	free(dx);
	free(dw);
	free(sx);
	free(sw);
	be->free(be, x);
	be->free(be, w);
	be->free(be, g);
}

/* ---- batch normalisation ---------------------------------------------------------- */

struct bn_case {
	int n, c, spatial;
};

static void naive_bn_stats(struct bn_case bc, const float *x, int ch, double *mean, double *var)
{
	double s = 0, sq = 0;
	int64_t cnt = (int64_t)bc.n * bc.spatial;
	for (int i = 0; i < bc.n; i++)
		for (int k = 0; k < bc.spatial; k++)
			s += x[((int64_t)i * bc.c + ch) * bc.spatial + k];
	*mean = s / (double)cnt;
	for (int i = 0; i < bc.n; i++)
		for (int k = 0; k < bc.spatial; k++) {
			double d = x[((int64_t)i * bc.c + ch) * bc.spatial + k] - *mean;
			sq += d * d;
		}
	*var = sq / (double)cnt;
}

static void check_batchnorm(struct bn_case bc, uint64_t seed)
{
	int64_t nx = (int64_t)bc.n * bc.c * bc.spatial, cnt = (int64_t)bc.n * bc.spatial;
	float *x = random_floats(nx, seed), *dy = random_floats(nx, seed + 1);
	float *gamma = random_floats(bc.c, seed + 2), *beta = random_floats(bc.c, seed + 3);
	float *rm = random_floats(bc.c, seed + 4), *rv = random_floats(bc.c, seed + 5);
	for (int ch = 0; ch < bc.c; ch++)
		rv[ch] += 1.5f; /* a variance */
	float *rm0 = malloc(sizeof(float) * (size_t)bc.c), *rv0 = malloc(sizeof(float) * (size_t)bc.c);
	memcpy(rm0, rm, sizeof(float) * (size_t)bc.c);
	memcpy(rv0, rv, sizeof(float) * (size_t)bc.c);
	float *sm = be->alloc(be, sizeof(float) * (size_t)bc.c), *si = be->alloc(be, sizeof(float) * (size_t)bc.c);
	float *y = be->alloc(be, sizeof(float) * (size_t)nx), *dx = be->alloc(be, sizeof(float) * (size_t)nx);
	float *dg = be->alloc(be, sizeof(float) * (size_t)bc.c), *db = be->alloc(be, sizeof(float) * (size_t)bc.c);
	double *want = calloc((size_t)nx, sizeof(double)), *wdx = calloc((size_t)nx, sizeof(double));
	double *wdg = calloc((size_t)bc.c, sizeof(double)), *wdb = calloc((size_t)bc.c, sizeof(double));
	double *wrm = calloc((size_t)bc.c, sizeof(double)), *wrv = calloc((size_t)bc.c, sizeof(double));
	const float momentum = 0.1f, eps = 1e-5f;

	float batches = 2.0f; /* num_batches_tracked: training adds one */
	be->batchnorm_forward(be, true, bc.n, bc.c, bc.spatial, momentum, eps, x, gamma, beta, rm, rv, sm, si, y,
			      &batches);
	assert_true(batches == 3.0f);
	be->batchnorm_backward(be, bc.n, bc.c, bc.spatial, x, dy, gamma, sm, si, dx, dg, db);
	for (int ch = 0; ch < bc.c; ch++) {
		double mean, var;
		naive_bn_stats(bc, x, ch, &mean, &var);
		double invstd = 1.0 / sqrt(var + eps), sum_dy = 0, sum_dy_xhat = 0;
		assert_true(fabs(sm[ch] - mean) <= 1e-6 + 1e-5 * fabs(mean));
		assert_true(fabs(si[ch] - invstd) <= 1e-5 * invstd);
		wrm[ch] = (1 - momentum) * rm0[ch] + momentum * mean;
		wrv[ch] = (1 - momentum) * rv0[ch] + momentum * var * (double)cnt / (double)(cnt - 1);
		for (int i = 0; i < bc.n; i++)
			for (int k = 0; k < bc.spatial; k++) {
				int64_t at = ((int64_t)i * bc.c + ch) * bc.spatial + k;
				double xhat = (x[at] - mean) * invstd;
				want[at] = xhat * gamma[ch] + beta[ch];
				sum_dy += dy[at];
				sum_dy_xhat += dy[at] * xhat;
			}
		wdg[ch] = sum_dy_xhat;
		wdb[ch] = sum_dy;
		for (int i = 0; i < bc.n; i++)
			for (int k = 0; k < bc.spatial; k++) {
				int64_t at = ((int64_t)i * bc.c + ch) * bc.spatial + k;
				double xhat = (x[at] - mean) * invstd;
				wdx[at] = gamma[ch] * invstd / (double)cnt *
					  ((double)cnt * dy[at] - sum_dy - xhat * sum_dy_xhat);
			}
	}
	assert_close(y, want, nx, 1e-5);
	assert_close(dx, wdx, nx, 1e-4);
	assert_close(dg, wdg, bc.c, 1e-5);
	assert_close(db, wdb, bc.c, 1e-5);
	assert_close(rm, wrm, bc.c, 1e-5);
	assert_close(rv, wrv, bc.c, 1e-5);

	/* Evaluation normalises with the running statistics and leaves them alone. */
	be->batchnorm_forward(be, false, bc.n, bc.c, bc.spatial, momentum, eps, x, gamma, beta, rm, rv, sm, si, y,
			      &batches);
	assert_true(batches == 3.0f); /* evaluation does not count */
	for (int ch = 0; ch < bc.c; ch++)
		for (int i = 0; i < bc.n; i++)
			for (int k = 0; k < bc.spatial; k++) {
				int64_t at = ((int64_t)i * bc.c + ch) * bc.spatial + k;
				want[at] = (x[at] - wrm[ch]) / sqrt(wrv[ch] + eps) * gamma[ch] + beta[ch];
			}
	assert_close(y, want, nx, 1e-5);
	assert_close(rm, wrm, bc.c, 1e-5);
	assert_close(rv, wrv, bc.c, 1e-5);

	free(rm0);
	free(rv0);
	free(want);
	free(wdx);
	free(wdg);
	free(wdb);
	free(wrm);
	free(wrv);
	float *bufs[] = {x, dy, gamma, beta, rm, rv, sm, si, y, dx, dg, db};
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		be->free(be, bufs[i]);
}

static void test_batchnorm2d(void **state)
{
	(void)state;
	check_batchnorm((struct bn_case){4, 3, 25}, 100);
	check_batchnorm((struct bn_case){2, 5, 49}, 110);
}

static void test_batchnorm1d(void **state)
{
	(void)state;
	check_batchnorm((struct bn_case){8, 6, 1}, 120);
}

/* Large channels run in parallel: the result must still be the sequential one. */
static void test_batchnorm_parallel(void **state)
{
	(void)state;
	check_batchnorm((struct bn_case){16, 8, 784}, 130);
}

/* The closed-form backward is the derivative of the training forward. */
static void test_batchnorm_finite_differences(void **state)
{
	(void)state;
	const int n = 3, c = 2, spatial = 4;
	const int64_t nx = n * c * spatial;
	float *x = random_floats(nx, 140), *g = random_floats(nx, 141), *gamma = random_floats(c, 142);
	float *beta = random_floats(c, 143);
	float *rm = be->alloc(be, sizeof(float) * c), *rv = be->alloc(be, sizeof(float) * c);
	float *sm = be->alloc(be, sizeof(float) * c), *si = be->alloc(be, sizeof(float) * c);
	float *y = be->alloc(be, sizeof(float) * nx), *dx = be->alloc(be, sizeof(float) * nx);
	float *dg = be->alloc(be, sizeof(float) * c), *db = be->alloc(be, sizeof(float) * c);
	be->batchnorm_forward(be, true, n, c, spatial, 0.1f, 1e-5f, x, gamma, beta, rm, rv, sm, si, y, NULL);
	be->batchnorm_backward(be, n, c, spatial, x, g, gamma, sm, si, dx, dg, db);
	const float eps = 1.0f / 256;
	for (int t = 0; t < 2; t++) {
		float *v = t ? gamma : x;
		int64_t cnt = t ? c : nx;
		for (int64_t i = 0; i < cnt; i++) {
			float keep = v[i];
			double l[2];
			for (int side = 0; side < 2; side++) {
				v[i] = keep + (side ? -eps : eps);
				be->batchnorm_forward(be, true, n, c, spatial, 0.1f, 1e-5f, x, gamma, beta, rm, rv, sm, si,
						      y, NULL);
				l[side] = 0;
				for (int64_t j = 0; j < nx; j++)
					l[side] += (double)y[j] * g[j];
			}
			v[i] = keep;
			double fd = (l[0] - l[1]) / (2.0 * eps), an = t ? dg[i] : dx[i];
			if (fabs(fd - an) > 2e-3 * fmax(1.0, fabs(an)))
				fail_msg("%s[%lld]: finite difference %.6g, backward %.6g", t ? "gamma" : "x",
					 (long long)i, fd, an);
		}
	}
	float *bufs[] = {x, g, gamma, beta, rm, rv, sm, si, y, dx, dg, db};
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		be->free(be, bufs[i]);
}

/* ---- pooling ---------------------------------------------------------------------- */

static void pool_geometry(struct pool_shape *ps)
{
	ps->p = (ps->h + 2 * ps->pad_h - ps->kh) / ps->stride_h + 1;
	ps->q = (ps->w + 2 * ps->pad_w - ps->kw) / ps->stride_w + 1;
}

/* Direct max and average pooling with their backward passes (first maximum wins). */
static void naive_pool(const struct pool_shape *ps, const float *x, const float *dy, double *ymax, double *dxmax,
		       double *yavg, double *dxavg)
{
	int64_t hw = (int64_t)ps->h * ps->w, pq = (int64_t)ps->p * ps->q;
	memset(dxmax, 0, sizeof(double) * (size_t)(ps->n * ps->c * hw));
	memset(dxavg, 0, sizeof(double) * (size_t)(ps->n * ps->c * hw));
	for (int64_t pl = 0; pl < (int64_t)ps->n * ps->c; pl++)
		for (int p = 0; p < ps->p; p++)
			for (int q = 0; q < ps->q; q++) {
				double best = -INFINITY, sum = 0;
				int64_t at = -1;
				for (int a = 0; a < ps->kh; a++)
					for (int b = 0; b < ps->kw; b++) {
						int h = p * ps->stride_h - ps->pad_h + a, w = q * ps->stride_w - ps->pad_w + b;
						if (h < 0 || h >= ps->h || w < 0 || w >= ps->w)
							continue;
						double v = x[pl * hw + h * ps->w + w];
						sum += v;
						if (v > best) {
							best = v;
							at = pl * hw + h * ps->w + w;
						}
					}
				/* count_include_pad: the window clipped to the padded image. */
				int hs = p * ps->stride_h - ps->pad_h, ws = q * ps->stride_w - ps->pad_w;
				int he = hs + ps->kh < ps->h + ps->pad_h ? hs + ps->kh : ps->h + ps->pad_h;
				int we = ws + ps->kw < ps->w + ps->pad_w ? ws + ps->kw : ps->w + ps->pad_w;
				int div = (he - hs) * (we - ws);
				int64_t o = pl * pq + p * ps->q + q;
				ymax[o] = best;
				yavg[o] = sum / div;
				dxmax[at] += dy[o];
				for (int h = hs < 0 ? 0 : hs; h < he && h < ps->h; h++)
					for (int w = ws < 0 ? 0 : ws; w < we && w < ps->w; w++)
						dxavg[pl * hw + h * ps->w + w] += dy[o] / div;
			}
}

static void check_pool(struct pool_shape ps, uint64_t seed)
{
	ps.count_include_pad = true;
	pool_geometry(&ps);
	int64_t nx = (int64_t)ps.n * ps.c * ps.h * ps.w, ny = (int64_t)ps.n * ps.c * ps.p * ps.q;
	float *x = random_floats(nx, seed), *dy = random_floats(ny, seed + 1);
	float *y = be->alloc(be, sizeof(float) * (size_t)ny), *dx = be->alloc(be, sizeof(float) * (size_t)nx);
	int32_t *argmax = be->alloc(be, sizeof(int32_t) * (size_t)ny);
	double *ymax = malloc(sizeof(double) * (size_t)ny), *yavg = malloc(sizeof(double) * (size_t)ny);
	double *dxmax = malloc(sizeof(double) * (size_t)nx), *dxavg = malloc(sizeof(double) * (size_t)nx);
	naive_pool(&ps, x, dy, ymax, dxmax, yavg, dxavg);
	be->fill(be, dx, 3.0f, nx);
	be->maxpool_forward(be, &ps, x, y, argmax);
	assert_close(y, ymax, ny, 0);
	be->maxpool_backward(be, &ps, dy, argmax, dx);
	assert_close(dx, dxmax, nx, 1e-6);
	be->fill(be, dx, 3.0f, nx);
	be->avgpool_forward(be, &ps, x, y);
	assert_close(y, yavg, ny, 1e-6);
	be->avgpool_backward(be, &ps, dy, dx);
	assert_close(dx, dxavg, nx, 1e-6);
	free(ymax);
	free(yavg);
	free(dxmax);
	free(dxavg);
	be->free(be, x);
	be->free(be, dy);
	be->free(be, y);
	be->free(be, dx);
	be->free(be, argmax);
}

#define POOL(N, C, H, W, K, S, P)                                                                         \
	((struct pool_shape){.n = N, .c = C, .h = H, .w = W, .kh = K, .kw = K, .stride_h = S, .stride_w = S, \
			     .pad_h = P, .pad_w = P})

static void test_pool_2x2(void **state)
{
	(void)state;
	check_pool(POOL(2, 3, 8, 8, 2, 2, 0), 200);
	check_pool(POOL(2, 3, 7, 9, 2, 2, 0), 201); /* odd sizes drop the last row/column (floor mode) */
}

static void test_pool_padded_strided(void **state)
{
	(void)state;
	check_pool(POOL(2, 2, 7, 7, 3, 2, 1), 210);
	check_pool(POOL(1, 2, 6, 5, 3, 1, 1), 211); /* overlapping windows: gradients add up */
	check_pool(POOL(1, 1, 5, 5, 4, 3, 2), 212);
}

static void test_pool_global(void **state)
{
	(void)state;
	check_pool(POOL(3, 4, 5, 5, 5, 5, 0), 220);
}

static void test_pool_large_parallel(void **state)
{
	(void)state;
	check_pool(POOL(8, 32, 28, 28, 2, 2, 0), 230);
}

/* Ties go to the first position (PyTorch), and NaN propagates. */
static void test_maxpool_ties_and_nan(void **state)
{
	(void)state;
	struct pool_shape ps = POOL(1, 1, 2, 4, 2, 2, 0);
	pool_geometry(&ps);
	float *x = be->alloc(be, 8 * sizeof(float)), *y = be->alloc(be, 2 * sizeof(float));
	int32_t *argmax = be->alloc(be, 2 * sizeof(int32_t));
	const float in[8] = {1, 1, 2, NAN, 1, 1, 5, 2};
	memcpy(x, in, sizeof(in));
	be->maxpool_forward(be, &ps, x, y, argmax);
	assert_true(y[0] == 1.0f && argmax[0] == 0);
	assert_true(isnan(y[1]) && argmax[1] == 3);
	be->free(be, x);
	be->free(be, y);
	be->free(be, argmax);
}

int main(void)
{
	const struct CMUnitTest others[] = {
		cmocka_unit_test(test_conv_openblas_products),
		cmocka_unit_test(test_conv_reference_matches_finite_differences),
		cmocka_unit_test(test_conv_thread_count_independent),
		cmocka_unit_test(test_batchnorm2d),
		cmocka_unit_test(test_batchnorm1d),
		cmocka_unit_test(test_batchnorm_parallel),
		cmocka_unit_test(test_batchnorm_finite_differences),
		cmocka_unit_test(test_pool_2x2),
		cmocka_unit_test(test_pool_padded_strided),
		cmocka_unit_test(test_pool_global),
		cmocka_unit_test(test_pool_large_parallel),
		cmocka_unit_test(test_maxpool_ties_and_nan),
	};
	/* A test per row of conv_cases (its state is the row), then the others. */
	enum { NCASES = sizeof conv_cases / sizeof conv_cases[0], NOTHERS = sizeof others / sizeof others[0] };
	struct CMUnitTest tests[NCASES + NOTHERS];
	for (int i = 0; i < NCASES; i++)
		tests[i] = (struct CMUnitTest){.name = conv_cases[i].name,
					       .test_func = test_conv_case,
					       .initial_state = (void *)&conv_cases[i]};
	memcpy(tests + NCASES, others, sizeof others);
	return cmocka_run_group_tests_name("conv", tests, setup, teardown);
}
