/*
 * parity_ops.c — CPU-vs-CUDA parity of every backend.h operation.
 *
 *   parity_ops [--lib build/libtrainbook-cuda.so] [--device N] [--seed S]
 *              [precision ...]          (default: fp32 tf32 bf16)
 *
 * What it is: the harness (parity.h) and the memory, dense, element-wise,
 * loss, reduction and optimizer checks; parity_conv.c adds convolution,
 * batch norm and pooling, parity_ext.c the backend_ext.h extras. Every run
 * draws fresh inputs from a seed it prints, so a failure can be replayed
 * with --seed. Output: one "PASS|FAIL [precision] op: detail" line per
 * check, then a count; exit status 1 if anything failed (or no GPU).
 *
 * What it is not: a benchmark (tests/bench/) or a training test (run.sh
 * step 3). Threads: main thread only.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend_ext.h"
#include "optim.h"
#include "parity.h"
#include "precision.h"
#include "tb.h"

typedef struct backend *(*cuda_new_fn)(int, int, char *, size_t);

/* ---- harness ---------------------------------------------------------------- */

void parity_result(struct parity *pt, const char *op, bool ok, const char *fmt, ...)
{
	char detail[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	printf("%s [%s] %s: %s\n", ok ? "PASS" : "FAIL", pt->prec, op, detail);
	fflush(stdout);
	if (ok)
		pt->passed++;
	else
		pt->failed++;
}

double parity_err(const float *ref, const float *got, int64_t n)
{
	double scale = 0, worst = 0;
	for (int64_t i = 0; i < n; i++) {
		if (isnan(ref[i]) != isnan(got[i]) || isinf(ref[i]) != isinf(got[i]))
			return INFINITY;
		if (!isfinite(ref[i]))
			continue;
		double d = fabs((double)ref[i] - (double)got[i]);
		if (d > worst)
			worst = d;
		if (fabs(ref[i]) > scale)
			scale = fabs(ref[i]);
	}
	return worst == 0 ? 0 : worst / (scale > 1e-30 ? scale : 1e-30);
}

bool parity_check(struct parity *pt, const char *op, const float *ref, const float *got, int64_t n, double tol)
{
	double e = parity_err(ref, got, n);
	bool ok = e <= tol;
	parity_result(pt, op, ok, "max rel err %.3g (tol %.0e, n %lld)", e, tol, (long long)n);
	return ok;
}

float *parity_rand(struct parity *pt, int64_t n, float lo, float hi)
{
	float *p = tb_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(float));
	for (int64_t i = 0; i < n; i++)
		p[i] = lo + (hi - lo) * rng_uniform(&pt->rng);
	return p;
}

float *parity_copy(const float *src, int64_t n)
{
	float *p = tb_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(float));
	memcpy(p, src, (size_t)n * sizeof(float));
	return p;
}

void *parity_up(struct parity *pt, const void *host, size_t bytes)
{
	void *d = pt->gpu->alloc(pt->gpu, bytes);
	if (host && bytes)
		pt->gpu->upload(pt->gpu, d, host, bytes);
	return d;
}

float *parity_down(struct parity *pt, const void *dev, int64_t n)
{
	float *h = tb_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(float));
	pt->gpu->download(pt->gpu, h, dev, (size_t)n * sizeof(float));
	return h;
}

#define GPU_FREE(pt, p) (pt)->gpu->free((pt)->gpu, (p))

/* ---- memory ------------------------------------------------------------------- */

static void check_memory(struct parity *pt)
{
	struct backend *g = pt->gpu;
	int64_t n = 100003;
	float *d = g->alloc(g, (size_t)n * sizeof(float));
	float *h = parity_down(pt, d, n);
	int64_t nonzero = 0;
	for (int64_t i = 0; i < n; i++)
		nonzero += h[i] != 0;
	parity_result(pt, "alloc", nonzero == 0, "%lld of %lld floats not zero", (long long)nonzero, (long long)n);
	free(h);

	float *src = parity_rand(pt, n, -1, 1);
	g->upload(g, d, src, (size_t)n * sizeof(float));
	h = parity_down(pt, d, n);
	parity_result(pt, "upload/download", memcmp(src, h, (size_t)n * sizeof(float)) == 0, "round trip of %lld floats",
		      (long long)n);
	free(h);

	/* copy: plain, then overlapping both ways (memmove semantics). */
	float *d2 = g->alloc(g, (size_t)n * sizeof(float));
	g->copy(g, d2, d, (size_t)n * sizeof(float));
	float *ref = parity_copy(src, n);
	memmove(ref + 7, ref, (size_t)(n - 7) * sizeof(float));
	g->copy(g, d + 7, d, (size_t)(n - 7) * sizeof(float));
	memmove(ref, ref + 3, (size_t)(n - 3) * sizeof(float));
	g->copy(g, d, d + 3, (size_t)(n - 3) * sizeof(float));
	h = parity_down(pt, d, n);
	float *h2 = parity_down(pt, d2, n);
	bool ok = memcmp(ref, h, (size_t)n * sizeof(float)) == 0 && memcmp(src, h2, (size_t)n * sizeof(float)) == 0;
	parity_result(pt, "copy", ok, "plain and overlapping (memmove) copies");
	free(h);
	free(h2);

	g->fill(g, d, 2.5f, n - 1);
	h = parity_down(pt, d, n);
	int64_t bad = 0;
	for (int64_t i = 0; i < n - 1; i++)
		bad += h[i] != 2.5f;
	bad += h[n - 1] != ref[n - 1]; /* the element past n is untouched */
	parity_result(pt, "fill", bad == 0, "%lld wrong of %lld", (long long)bad, (long long)n);
	g->sync(g);
	parity_result(pt, "sync", true, "returned");
	free(h);
	free(ref);
	free(src);
	GPU_FREE(pt, d);
	GPU_FREE(pt, d2);
}

/* ---- gemm --------------------------------------------------------------------- */

static void check_gemm_case(struct parity *pt, bool ta, bool tb, int m, int n, int k, int pad, float alpha,
			    float beta)
{
	/* Stored shapes: A is [m,k] (or [k,m] when transposed), row stride = cols + pad. */
	int a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
	int lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
	int64_t na = (int64_t)a_rows * lda, nb = (int64_t)b_rows * ldb, nc = (int64_t)m * ldc;
	float *a = parity_rand(pt, na, -1, 1), *b = parity_rand(pt, nb, -1, 1), *c = parity_rand(pt, nc, -1, 1);
	float *da = parity_up(pt, a, (size_t)na * 4), *db = parity_up(pt, b, (size_t)nb * 4);
	float *dc = parity_up(pt, c, (size_t)nc * 4);
	pt->cpu->gemm(pt->cpu, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	pt->gpu->gemm(pt->gpu, ta, tb, m, n, k, alpha, da, lda, db, ldb, beta, dc, ldc);
	float *got = parity_down(pt, dc, nc);
	char op[96];
	snprintf(op, sizeof(op), "gemm %c%c %dx%dx%d ld+%d beta %g", ta ? 't' : 'n', tb ? 't' : 'n', m, n, k, pad,
		 beta);
	parity_check(pt, op, c, got, nc, pt->tol_dense);
	free(a);
	free(b);
	free(c);
	free(got);
	GPU_FREE(pt, da);
	GPU_FREE(pt, db);
	GPU_FREE(pt, dc);
}

static void check_gemm(struct parity *pt)
{
	for (int t = 0; t < 4; t++)
		check_gemm_case(pt, t & 1, t & 2, 37, 53, 71, t, 1.5f, 0.5f);
	check_gemm_case(pt, false, true, 64, 128, 784, 0, 1.0f, 0.0f); /* linear forward of the MLP */
	check_gemm_case(pt, true, false, 128, 784, 64, 0, 1.0f, 0.0f); /* its weight gradient */
	check_gemm_case(pt, false, false, 256, 512, 1024, 0, 1.0f, 0.0f);
	check_gemm_case(pt, false, false, 5, 3, 0, 1, 1.0f, 0.5f); /* empty product: C = beta C */
}

/*
 * linear_forward (gemm with the bias and ReLU epilogue) against the CPU's
 * three separate operations. `offset` shifts the bias by that many floats
 * so an unaligned bias (the fallback path) is covered as well.
 */
static void check_linear_case(struct parity *pt, int batch, int out, int in, bool bias, enum activation act,
			      int offset)
{
	if (!pt->gpu->linear_forward) {
		parity_result(pt, "linear_forward", false, "the CUDA backend does not offer it");
		return;
	}
	int64_t nx = (int64_t)batch * in, nw = (int64_t)out * in, ny = (int64_t)batch * out;
	float *x = parity_rand(pt, nx, -1, 1), *w = parity_rand(pt, nw, -1, 1), *b = parity_rand(pt, out + offset, -1, 1);
	float *y = parity_rand(pt, ny, -1, 1);
	float *dx = parity_up(pt, x, (size_t)nx * 4), *dw = parity_up(pt, w, (size_t)nw * 4);
	float *db = parity_up(pt, b, (size_t)(out + offset) * 4), *dy = parity_up(pt, y, (size_t)ny * 4);
	pt->cpu->gemm(pt->cpu, false, true, batch, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
	if (bias)
		pt->cpu->bias_add(pt->cpu, y, b + offset, batch, out, 1);
	if (act != ACT_IDENTITY)
		pt->cpu->act_forward(pt->cpu, act, 0.0f, y, y, ny);
	pt->gpu->linear_forward(pt->gpu, batch, out, in, dx, dw, bias ? db + offset : NULL, act, dy);
	float *got = parity_down(pt, dy, ny);
	char op[96];
	snprintf(op, sizeof(op), "linear_forward %dx%dx%d%s%s%s", batch, out, in, bias ? " +bias" : "",
		 act == ACT_RELU ? " relu" : "", offset ? " (unaligned bias)" : "");
	parity_check(pt, op, y, got, ny, pt->tol_dense);
	free(x);
	free(w);
	free(b);
	free(y);
	free(got);
	GPU_FREE(pt, dx);
	GPU_FREE(pt, dw);
	GPU_FREE(pt, db);
	GPU_FREE(pt, dy);
}

static void check_linear(struct parity *pt)
{
	check_linear_case(pt, 64, 128, 784, true, ACT_RELU, 0); /* the MLP's hidden layer */
	check_linear_case(pt, 64, 10, 128, true, ACT_IDENTITY, 0); /* its classifier */
	check_linear_case(pt, 37, 53, 71, false, ACT_RELU, 0);
	check_linear_case(pt, 37, 53, 71, true, ACT_RELU, 1);
}

/* ---- bias ------------------------------------------------------------------------- */

static void check_bias(struct parity *pt)
{
	const int shapes[2][3] = {{33, 70, 1}, {6, 19, 45}};
	for (int s = 0; s < 2; s++) {
		int rows = shapes[s][0], cols = shapes[s][1], sp = shapes[s][2];
		int64_t n = (int64_t)rows * cols * sp;
		float *y = parity_rand(pt, n, -1, 1), *bias = parity_rand(pt, cols, -1, 1);
		float *dy = parity_up(pt, y, (size_t)n * 4), *dbias = parity_up(pt, bias, (size_t)cols * 4);
		pt->cpu->bias_add(pt->cpu, y, bias, rows, cols, sp);
		pt->gpu->bias_add(pt->gpu, dy, dbias, rows, cols, sp);
		float *got = parity_down(pt, dy, n);
		char op[64];
		snprintf(op, sizeof(op), "bias_add spatial %d", sp);
		parity_check(pt, op, y, got, n, PARITY_TOL_FP32);
		free(got);
		for (int acc = 0; acc < 2; acc++) {
			float *db = parity_copy(bias, cols);
			float *ddb = parity_up(pt, db, (size_t)cols * 4);
			pt->cpu->bias_grad(pt->cpu, db, y, rows, cols, sp, acc);
			pt->gpu->bias_grad(pt->gpu, ddb, dy, rows, cols, sp, acc);
			got = parity_down(pt, ddb, cols);
			snprintf(op, sizeof(op), "bias_grad spatial %d%s", sp, acc ? " accumulate" : "");
			parity_check(pt, op, db, got, cols, PARITY_TOL_FP32);
			free(got);
			free(db);
			GPU_FREE(pt, ddb);
		}
		free(y);
		free(bias);
		GPU_FREE(pt, dy);
		GPU_FREE(pt, dbias);
	}
}

/* ---- activations, dropout, add/axpy/scale ----------------------------------------- */

static void check_activations(struct parity *pt)
{
	static const char *const names[] = {"identity", "relu", "gelu", "tanh", "sigmoid", "leaky_relu"};
	int64_t n = 65537;
	for (int act = ACT_IDENTITY; act <= ACT_LEAKY_RELU; act++) {
		float param = act == ACT_LEAKY_RELU ? 0.01f : 0.0f;
		float *x = parity_rand(pt, n, -6, 6), *dy = parity_rand(pt, n, -1, 1);
		float *y = tb_xmalloc((size_t)n * 4), *dx = tb_xmalloc((size_t)n * 4);
		float *gx = parity_up(pt, x, (size_t)n * 4), *gdy = parity_up(pt, dy, (size_t)n * 4);
		float *gy = parity_up(pt, NULL, (size_t)n * 4), *gdx = parity_up(pt, NULL, (size_t)n * 4);
		pt->cpu->act_forward(pt->cpu, act, param, y, x, n);
		pt->cpu->act_backward(pt->cpu, act, param, dx, dy, x, y, n);
		pt->gpu->act_forward(pt->gpu, act, param, gy, gx, n);
		pt->gpu->act_backward(pt->gpu, act, param, gdx, gdy, gx, gy, n);
		float *got_y = parity_down(pt, gy, n), *got_dx = parity_down(pt, gdx, n);
		char op[64];
		snprintf(op, sizeof(op), "act_forward %s", names[act]);
		parity_check(pt, op, y, got_y, n, PARITY_TOL_FP32);
		snprintf(op, sizeof(op), "act_backward %s", names[act]);
		parity_check(pt, op, dx, got_dx, n, PARITY_TOL_FP32);
		free(x);
		free(dy);
		free(y);
		free(dx);
		free(got_y);
		free(got_dx);
		GPU_FREE(pt, gx);
		GPU_FREE(pt, gdy);
		GPU_FREE(pt, gy);
		GPU_FREE(pt, gdx);
	}
}

static void check_dropout(struct parity *pt)
{
	int64_t n = 100003;
	float p = 0.3f;
	uint64_t seed = rng_next_u64(&pt->rng), counter = rng_next_u64(&pt->rng) % 100000;
	float *x = parity_rand(pt, n, -1, 1), *y = tb_xmalloc((size_t)n * 4), *dx = tb_xmalloc((size_t)n * 4);
	uint8_t *mask = tb_xmalloc((size_t)n);
	float *gx = parity_up(pt, x, (size_t)n * 4), *gy = parity_up(pt, NULL, (size_t)n * 4);
	float *gdx = parity_up(pt, NULL, (size_t)n * 4);
	uint8_t *gmask = parity_up(pt, NULL, (size_t)n);
	pt->cpu->dropout_forward(pt->cpu, p, seed, counter, y, mask, x, n);
	pt->gpu->dropout_forward(pt->gpu, p, seed, counter, gy, gmask, gx, n);
	uint8_t *got_mask = tb_xmalloc((size_t)n);
	pt->gpu->download(pt->gpu, got_mask, gmask, (size_t)n);
	int64_t differ = 0, kept = 0;
	for (int64_t i = 0; i < n; i++) {
		differ += mask[i] != got_mask[i];
		kept += mask[i];
	}
	parity_result(pt, "dropout mask", differ == 0, "%lld of %lld mask bits differ (kept %.3f, p %.2f)",
		      (long long)differ, (long long)n, (double)kept / (double)n, p);
	float *got = parity_down(pt, gy, n);
	parity_check(pt, "dropout_forward", y, got, n, PARITY_TOL_FP32);
	free(got);
	/* Backward from the CPU's mask on both sides, so this checks only the op. */
	pt->gpu->upload(pt->gpu, gmask, mask, (size_t)n);
	pt->cpu->dropout_backward(pt->cpu, p, dx, x, mask, n);
	pt->gpu->dropout_backward(pt->gpu, p, gdx, gx, gmask, n);
	got = parity_down(pt, gdx, n);
	parity_check(pt, "dropout_backward", dx, got, n, PARITY_TOL_FP32);
	free(got);
	free(got_mask);
	free(x);
	free(y);
	free(dx);
	free(mask);
	GPU_FREE(pt, gx);
	GPU_FREE(pt, gy);
	GPU_FREE(pt, gdx);
	GPU_FREE(pt, gmask);
}

static void check_add_axpy_scale(struct parity *pt)
{
	int64_t n = 77777;
	float *a = parity_rand(pt, n, -1, 1), *b = parity_rand(pt, n, -1, 1), *y = tb_xmalloc((size_t)n * 4);
	float *ga = parity_up(pt, a, (size_t)n * 4), *gb = parity_up(pt, b, (size_t)n * 4);
	float *gy = parity_up(pt, NULL, (size_t)n * 4);
	pt->cpu->add(pt->cpu, y, a, b, n);
	pt->gpu->add(pt->gpu, gy, ga, gb, n);
	float *got = parity_down(pt, gy, n);
	parity_check(pt, "add", y, got, n, PARITY_TOL_FP32);
	free(got);
	if (!pt->gpu->add_relu) {
		parity_result(pt, "add_relu", false, "the CUDA backend does not offer it");
	} else {
		/* The end of a residual block: the CPU's add, then its ReLU. */
		pt->gpu->add_relu(pt->gpu, gy, ga, gb, n);
		pt->cpu->act_forward(pt->cpu, ACT_RELU, 0.0f, y, y, n);
		got = parity_down(pt, gy, n);
		parity_check(pt, "add_relu", y, got, n, PARITY_TOL_FP32);
		free(got);
	}
	pt->cpu->add(pt->cpu, a, a, b, n); /* y aliases a */
	pt->gpu->add(pt->gpu, ga, ga, gb, n);
	got = parity_down(pt, ga, n);
	parity_check(pt, "add aliased", a, got, n, PARITY_TOL_FP32);
	free(got);
	pt->cpu->axpy(pt->cpu, -0.37f, b, a, n);
	pt->gpu->axpy(pt->gpu, -0.37f, gb, ga, n);
	got = parity_down(pt, ga, n);
	parity_check(pt, "axpy", a, got, n, PARITY_TOL_FP32);
	free(got);
	pt->cpu->scale(pt->cpu, a, 1.7f, n);
	pt->gpu->scale(pt->gpu, ga, 1.7f, n);
	got = parity_down(pt, ga, n);
	parity_check(pt, "scale", a, got, n, PARITY_TOL_FP32);
	free(got);
	free(a);
	free(b);
	free(y);
	GPU_FREE(pt, ga);
	GPU_FREE(pt, gb);
	GPU_FREE(pt, gy);
}

/* ---- losses ----------------------------------------------------------------------- */

static int32_t *rand_labels(struct parity *pt, int n, int classes)
{
	int32_t *l = tb_xmalloc((size_t)n * sizeof(int32_t));
	for (int i = 0; i < n; i++)
		l[i] = (int32_t)rng_below(&pt->rng, (uint64_t)classes);
	return l;
}

static void check_softmax_xent(struct parity *pt, int n, int classes, float smoothing, float grad_scale,
			       bool want_grad)
{
	int64_t total = (int64_t)n * classes;
	float *z = parity_rand(pt, total, -8, 8);
	int32_t *labels = rand_labels(pt, n, classes);
	float stats[2] = {1.25f, 3.0f}; /* accumulate onto what is there */
	float *dz = want_grad ? tb_xmalloc((size_t)total * 4) : NULL;
	int32_t *pred = tb_xmalloc((size_t)n * 4);
	float *gz = parity_up(pt, z, (size_t)total * 4), *gstats = parity_up(pt, stats, sizeof(stats));
	int32_t *glabels = parity_up(pt, labels, (size_t)n * 4), *gpred = parity_up(pt, NULL, (size_t)n * 4);
	float *gdz = want_grad ? parity_up(pt, NULL, (size_t)total * 4) : NULL;
	pt->cpu->softmax_xent(pt->cpu, z, labels, n, classes, smoothing, grad_scale, dz, stats, pred);
	pt->gpu->softmax_xent(pt->gpu, gz, glabels, n, classes, smoothing, grad_scale, gdz, gstats, gpred);
	float got_stats[2];
	int32_t *got_pred = tb_xmalloc((size_t)n * 4);
	pt->gpu->download(pt->gpu, got_stats, gstats, sizeof(got_stats));
	pt->gpu->download(pt->gpu, got_pred, gpred, (size_t)n * 4);
	double e_grad = 0;
	if (want_grad) {
		float *got = parity_down(pt, gdz, total);
		e_grad = parity_err(dz, got, total);
		free(got);
	}
	double e_loss = parity_err(&stats[0], &got_stats[0], 1);
	int pred_diff = 0;
	for (int i = 0; i < n; i++)
		pred_diff += pred[i] != got_pred[i];
	bool ok = e_grad <= PARITY_TOL_FP32 && e_loss <= PARITY_TOL_FP32 && got_stats[1] == stats[1] && pred_diff == 0;
	char op[96];
	snprintf(op, sizeof(op), "softmax_xent %dx%d smooth %g scale %g%s", n, classes, smoothing, grad_scale,
		 want_grad ? "" : " no-grad");
	parity_result(pt, op, ok, "dlogits err %.3g, loss %.6g vs %.6g, correct %g vs %g, %d predictions differ",
		      e_grad, stats[0], got_stats[0], stats[1], got_stats[1], pred_diff);
	free(z);
	free(labels);
	free(dz);
	free(pred);
	free(got_pred);
	GPU_FREE(pt, gz);
	GPU_FREE(pt, gstats);
	GPU_FREE(pt, glabels);
	GPU_FREE(pt, gpred);
	if (gdz)
		GPU_FREE(pt, gdz);
}

static void check_mse(struct parity *pt, int n, int classes, bool with_labels, bool with_target)
{
	int64_t total = (int64_t)n * classes;
	float *p = parity_rand(pt, total, -2, 2);
	float *target = with_target ? parity_rand(pt, total, -1, 1) : NULL;
	int32_t *labels = with_labels ? rand_labels(pt, n, classes) : NULL;
	float stats[2] = {0.5f, 1.0f};
	float *dp = tb_xmalloc((size_t)total * 4);
	float *gp = parity_up(pt, p, (size_t)total * 4), *gstats = parity_up(pt, stats, sizeof(stats));
	float *gt = target ? parity_up(pt, target, (size_t)total * 4) : NULL;
	int32_t *gl = labels ? parity_up(pt, labels, (size_t)n * 4) : NULL;
	float *gdp = parity_up(pt, NULL, (size_t)total * 4);
	pt->cpu->mse(pt->cpu, p, labels, target, n, classes, 0.5f, dp, stats);
	pt->gpu->mse(pt->gpu, gp, gl, gt, n, classes, 0.5f, gdp, gstats);
	float got_stats[2];
	pt->gpu->download(pt->gpu, got_stats, gstats, sizeof(got_stats));
	float *got = parity_down(pt, gdp, total);
	double e_grad = parity_err(dp, got, total), e_loss = parity_err(&stats[0], &got_stats[0], 1);
	bool ok = e_grad <= PARITY_TOL_FP32 && e_loss <= PARITY_TOL_FP32 && got_stats[1] == stats[1];
	char op[96];
	snprintf(op, sizeof(op), "mse %dx%d%s%s", n, classes, with_labels ? " labels" : "", with_target ? " target" : "");
	parity_result(pt, op, ok, "dpred err %.3g, loss %.6g vs %.6g, correct %g vs %g", e_grad, stats[0],
		      got_stats[0], stats[1], got_stats[1]);
	free(p);
	free(target);
	free(labels);
	free(dp);
	free(got);
	GPU_FREE(pt, gp);
	GPU_FREE(pt, gstats);
	GPU_FREE(pt, gdp);
	if (gt)
		GPU_FREE(pt, gt);
	if (gl)
		GPU_FREE(pt, gl);
}

static void check_sum_squares(struct parity *pt)
{
	const int64_t sizes[3] = {1, 1000, 3000017};
	for (int s = 0; s < 3; s++) {
		int64_t n = sizes[s];
		float *x = parity_rand(pt, n, -1, 1), out = 0;
		float *gx = parity_up(pt, x, (size_t)n * 4), *gout = parity_up(pt, NULL, 4);
		pt->cpu->sum_squares(pt->cpu, x, n, &out);
		pt->gpu->sum_squares(pt->gpu, gx, n, gout);
		float got[2];
		pt->gpu->download(pt->gpu, &got[0], gout, 4);
		pt->gpu->sum_squares(pt->gpu, gx, n, gout); /* deterministic: same bits twice */
		pt->gpu->download(pt->gpu, &got[1], gout, 4);
		char op[64];
		snprintf(op, sizeof(op), "sum_squares n %lld", (long long)n);
		double e = parity_err(&out, &got[0], 1);
		parity_result(pt, op, e <= PARITY_TOL_FP32 && got[0] == got[1], "%.9g vs %.9g (rerun %.9g), err %.3g",
			      out, got[0], got[1], e);
		free(x);
		GPU_FREE(pt, gx);
		GPU_FREE(pt, gout);
	}
}

/* ---- optimizers: three steps each, parameters and state compared ------------------- */

static void check_optim(struct parity *pt, const char *name, struct optim_hyper h, bool masked)
{
	int64_t n = 50021;
	const struct optim_kind *k = &optim_kinds[h.kind];
	int nstate = k->nstate(&h);
	double beta1 = k->bias_key[0] >= 0 ? h.arg[k->bias_key[0]] : 0;
	double beta2 = k->bias_key[1] >= 0 ? h.arg[k->bias_key[1]] : 0;
	float *p = parity_rand(pt, n, -1, 1), *state = tb_xmalloc((size_t)n * nstate * 4);
	memset(state, 0, (size_t)n * nstate * 4);
	uint8_t *mask = NULL;
	if (masked) {
		mask = tb_xmalloc((size_t)n);
		for (int64_t i = 0; i < n; i++)
			mask[i] = (uint8_t)(rng_next_u64(&pt->rng) & 1);
	}
	float *gp = parity_up(pt, p, (size_t)n * 4), *gstate = parity_up(pt, NULL, (size_t)n * nstate * 4);
	uint8_t *gmask = mask ? parity_up(pt, mask, (size_t)n) : NULL;
	float *gscalars = parity_up(pt, NULL, OPT_NSCALARS * 4), *ggrad = parity_up(pt, NULL, (size_t)n * 4);
	for (int64_t step = 1; step <= 3; step++) {
		float *g = parity_rand(pt, n, -1, 1);
		float scalars[OPT_NSCALARS] = {0};
		scalars[OPT_LR] = 0.01f * (float)step;
		scalars[OPT_BC1] = (float)(1.0 - pow(beta1, (double)step));
		scalars[OPT_BC2] = (float)(1.0 - pow(beta2, (double)step));
		scalars[OPT_CLIP] = step == 2 ? 0.5f : 1.0f;
		pt->gpu->upload(pt->gpu, gscalars, scalars, sizeof(scalars));
		pt->gpu->upload(pt->gpu, ggrad, g, (size_t)n * 4);
		pt->cpu->optim_step(pt->cpu, &h, step, scalars, p, g, state, mask, n);
		pt->gpu->optim_step(pt->gpu, &h, step, gscalars, gp, ggrad, gstate, gmask, n);
		free(g);
	}
	float *got_p = parity_down(pt, gp, n), *got_s = parity_down(pt, gstate, n * nstate);
	double ep = parity_err(p, got_p, n), es = parity_err(state, got_s, n * nstate);
	bool exact = memcmp(p, got_p, (size_t)n * 4) == 0;
	char op[96];
	snprintf(op, sizeof(op), "optim_step %s%s", name, masked ? " decay-mask" : "");
	parity_result(pt, op, ep <= PARITY_TOL_FP32 && es <= PARITY_TOL_FP32,
		      "3 steps: params err %.3g%s, state err %.3g", ep, exact ? " (bit-identical)" : "", es);
	free(p);
	free(state);
	free(mask);
	free(got_p);
	free(got_s);
	GPU_FREE(pt, gp);
	GPU_FREE(pt, gstate);
	GPU_FREE(pt, gscalars);
	GPU_FREE(pt, ggrad);
	if (gmask)
		GPU_FREE(pt, gmask);
}

void parity_dense_ops(struct parity *pt)
{
	check_memory(pt);
	check_gemm(pt);
	check_linear(pt);
	check_bias(pt);
	check_activations(pt);
	check_dropout(pt);
	check_add_axpy_scale(pt);
	check_softmax_xent(pt, 77, 10, 0.0f, 1.0f, true);
	check_softmax_xent(pt, 77, 10, 0.1f, 2.0f, true);
	check_softmax_xent(pt, 19, 1000, 0.0f, 1.0f, true);
	check_softmax_xent(pt, 33, 10, 0.0f, 1.0f, false);
	check_mse(pt, 41, 10, true, false);
	check_mse(pt, 41, 10, true, true);
	check_mse(pt, 41, 3, false, true);
	check_sum_squares(pt);
	struct optim_hyper sgd = {.kind = OPTIM_SGD, .weight_decay = 1e-3f,
				  .arg = {[SGD_MOMENTUM] = 0.9f, [SGD_DAMPENING] = 0.1f}};
	check_optim(pt, "sgd momentum dampening", sgd, true);
	sgd.arg[SGD_NESTEROV] = 1;
	sgd.arg[SGD_DAMPENING] = 0;
	check_optim(pt, "sgd nesterov", sgd, false);
	struct optim_hyper plain = {.kind = OPTIM_SGD};
	check_optim(pt, "sgd plain", plain, false);
	struct optim_hyper adam = {.kind = OPTIM_ADAM, .weight_decay = 1e-2f,
				   .arg = {[ADAM_BETA1] = 0.9f, [ADAM_BETA2] = 0.999f, [ADAM_EPS] = 1e-8f}};
	check_optim(pt, "adam", adam, true);
	adam.kind = OPTIM_ADAMW;
	check_optim(pt, "adamw", adam, true);
	struct optim_hyper rms = {.kind = OPTIM_RMSPROP, .arg = {[RMSPROP_ALPHA] = 0.99f, [RMSPROP_EPS] = 1e-8f}};
	check_optim(pt, "rmsprop", rms, false);
	rms.weight_decay = 1e-2f;
	rms.arg[RMSPROP_MOMENTUM] = 0.9f;
	rms.arg[RMSPROP_CENTERED] = 1;
	check_optim(pt, "rmsprop momentum centered", rms, true);
}

/* ---- main ---------------------------------------------------------------------------- */

static double dense_tolerance(const char *prec)
{
	if (strcmp(prec, "fp32") == 0)
		return 1e-4;
	if (strcmp(prec, "tf32") == 0)
		return 1e-3;
	return 1e-2;
}

/* Error paths of the entry point: a bad precision and a bad index are refused with a cause. */
static void check_entry_errors(struct parity *pt, cuda_new_fn backend_new)
{
	char err[256] = "";
	struct backend *be = backend_new(0, PRECISION_KINDS + 5, err, sizeof(err));
	bool ok = !be && strstr(err, "precision");
	parity_result(pt, "entry: bad precision", ok, "\"%s\"", err);
	err[0] = 0;
	be = backend_new(1 << 20, PRECISION_FP32, err, sizeof(err));
	ok = !be && strstr(err, "out of range");
	parity_result(pt, "entry: bad device index", ok, "\"%s\"", err);
}

int main(int argc, char **argv)
{
	const char *lib = "build/libtrainbook-cuda.so";
	int device = 0;
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
	const char *precs[8];
	int nprecs = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--lib") == 0 && i + 1 < argc)
			lib = argv[++i];
		else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc)
			device = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (nprecs < 8)
			precs[nprecs++] = argv[i];
	}
	if (nprecs == 0) {
		precs[nprecs++] = "fp32";
		precs[nprecs++] = "tf32";
		precs[nprecs++] = "bf16";
	}
	printf("parity_ops: seed %llu (replay with --seed %llu)\n", (unsigned long long)seed, (unsigned long long)seed);

	struct parity pt = {.prec = "-"};
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		parity_result(&pt, "load", false, "cannot load %s: %s", lib, dlerror());
		return 1;
	}
	cuda_new_fn backend_new = (cuda_new_fn)dlsym(h, "tb_cuda_backend_new");
	if (!backend_new) {
		parity_result(&pt, "load", false, "%s lacks tb_cuda_backend_new", lib);
		return 1;
	}
	pt.cpu = backend_cpu_new(0);
	check_entry_errors(&pt, backend_new);
	for (int i = 0; i < nprecs; i++) {
		char err[256] = "";
		pt.prec = precs[i];
		pt.tol_dense = dense_tolerance(precs[i]);
		rng_seed(&pt.rng, seed + (uint64_t)i);
		int precision = 0;
		while (precision < PRECISION_KINDS && strcmp(precision_kinds[precision].spec.name, precs[i]))
			precision++;
		pt.gpu = precision < PRECISION_KINDS ? backend_new(device, precision, err, sizeof(err)) : NULL;
		if (precision == PRECISION_KINDS)
			snprintf(err, sizeof(err), "unknown precision '%s'", precs[i]);
		if (!pt.gpu) {
			parity_result(&pt, "backend", false, "no CUDA backend: %s", err);
			continue;
		}
		parity_dense_ops(&pt);
		parity_conv_ops(&pt);
		parity_ext_ops(&pt);
		size_t peak_bytes = pt.gpu->ext && pt.gpu->ext->peak_memory ? pt.gpu->ext->peak_memory(pt.gpu) : 0;
		parity_result(&pt, "peak memory", peak_bytes > 0, "%.1f MiB", (double)peak_bytes / 1048576.0);
		pt.gpu->destroy(pt.gpu);
		pt.gpu = NULL;
	}
	pt.cpu->destroy(pt.cpu);
	printf("parity_ops: %d passed, %d failed\n", pt.passed, pt.failed);
	return pt.failed ? 1 : 0;
}
