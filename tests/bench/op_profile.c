/*
 * op_profile.c — where a training step's time goes, per backend operation.
 *
 * What it is: a bench tool, not a test. It builds a preset model on the CPU
 * backend, wraps every entry of the backend table with a timer (the engine
 * carries no instrumentation), runs training steps (forward, softmax
 * cross-entropy, backward, SGD with momentum) on random data and prints,
 * per operation and shape, the total milliseconds per step and the share of
 * the step. Build and run through tests/bench/op_profile.sh.
 *
 *   op_profile MODEL C H W BATCH THREADS STEPS     e.g. resnet18 3 32 32 32 2 10
 *
 * Threads: the main thread drives the model; the backend fans out inside.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "spec.h"
#include "tb.h"

#define PROF_MAX 512

struct prof_entry {
	char key[96];
	double seconds;
	long calls;
};

static struct prof_entry prof[PROF_MAX];
static int nprof;
static struct backend orig; /* the unwrapped table */
static bool counting;

static void prof_add(const char *key, double seconds)
{
	if (!counting)
		return;
	for (int i = 0; i < nprof; i++)
		if (strcmp(prof[i].key, key) == 0) {
			prof[i].seconds += seconds;
			prof[i].calls++;
			return;
		}
	if (nprof == PROF_MAX)
		return;
	snprintf(prof[nprof].key, sizeof(prof[nprof].key), "%s", key);
	prof[nprof].seconds = seconds;
	prof[nprof].calls = 1;
	nprof++;
}

#define TIMED(key, call)                          \
	do {                                      \
		double t0_ = tb_now();            \
		call;                             \
		prof_add(key, tb_now() - t0_);    \
	} while (0)

static void conv_key(char *buf, size_t len, const char *op, const struct conv_shape *cs)
{
	snprintf(buf, len, "%s %dx%dx%d k%d %dx%d s%d", op, cs->c, cs->h, cs->w, cs->k, cs->r, cs->s, cs->stride_h);
}

static void w_conv_fwd(struct backend *be, const struct conv_shape *cs, const float *x, const float *w, float *y,
		       void *ws)
{
	char k[96];
	conv_key(k, sizeof(k), "conv fwd", cs);
	TIMED(k, orig.conv2d_forward(be, cs, x, w, y, ws));
}

static void w_conv_bwd_data(struct backend *be, const struct conv_shape *cs, const float *dy, const float *w,
			    float *dx, void *ws)
{
	char k[96];
	conv_key(k, sizeof(k), "conv bwd-data", cs);
	TIMED(k, orig.conv2d_backward_data(be, cs, dy, w, dx, ws));
}

static void w_conv_bwd_filter(struct backend *be, const struct conv_shape *cs, const float *x, const float *dy,
			      float *dw, void *ws)
{
	char k[96];
	conv_key(k, sizeof(k), "conv bwd-filter", cs);
	TIMED(k, orig.conv2d_backward_filter(be, cs, x, dy, dw, ws));
}

static void w_bn_fwd(struct backend *be, bool training, int n, int c, int spatial, float momentum, float eps,
		     const float *x, const float *gamma, const float *beta, float *rm, float *rv, float *sm, float *si,
		     float *y, float *batches)
{
	char k[96];
	snprintf(k, sizeof(k), "bn fwd c%d hw%d", c, spatial);
	TIMED(k, orig.batchnorm_forward(be, training, n, c, spatial, momentum, eps, x, gamma, beta, rm, rv, sm, si, y,
					batches));
}

static void w_bn_bwd(struct backend *be, int n, int c, int spatial, const float *x, const float *dy,
		     const float *gamma, const float *sm, const float *si, float *dx, float *dg, float *db)
{
	char k[96];
	snprintf(k, sizeof(k), "bn bwd c%d hw%d", c, spatial);
	TIMED(k, orig.batchnorm_backward(be, n, c, spatial, x, dy, gamma, sm, si, dx, dg, db));
}

static void w_act_fwd(struct backend *be, enum activation act, float param, float *y, const float *x, int64_t n)
{
	char k[96];
	snprintf(k, sizeof(k), "act fwd %d n%lld", (int)act, (long long)n);
	TIMED(k, orig.act_forward(be, act, param, y, x, n));
}

static void w_act_bwd(struct backend *be, enum activation act, float param, float *dx, const float *dy,
		      const float *x, const float *y, int64_t n)
{
	char k[96];
	snprintf(k, sizeof(k), "act bwd %d n%lld", (int)act, (long long)n);
	TIMED(k, orig.act_backward(be, act, param, dx, dy, x, y, n));
}

static void w_add(struct backend *be, float *y, const float *a, const float *b, int64_t n)
{
	char k[96];
	snprintf(k, sizeof(k), "add n%lld", (long long)n);
	TIMED(k, orig.add(be, y, a, b, n));
}

static void w_maxpool_fwd(struct backend *be, const struct pool_shape *ps, const float *x, float *y, int32_t *am)
{
	char k[96];
	snprintf(k, sizeof(k), "maxpool fwd c%d %dx%d", ps->c, ps->h, ps->w);
	TIMED(k, orig.maxpool_forward(be, ps, x, y, am));
}

static void w_maxpool_bwd(struct backend *be, const struct pool_shape *ps, const float *dy, const int32_t *am,
			  float *dx)
{
	char k[96];
	snprintf(k, sizeof(k), "maxpool bwd c%d %dx%d", ps->c, ps->h, ps->w);
	TIMED(k, orig.maxpool_backward(be, ps, dy, am, dx));
}

static void w_avgpool_fwd(struct backend *be, const struct pool_shape *ps, const float *x, float *y)
{
	TIMED("avgpool fwd", orig.avgpool_forward(be, ps, x, y));
}

static void w_avgpool_bwd(struct backend *be, const struct pool_shape *ps, const float *dy, float *dx)
{
	TIMED("avgpool bwd", orig.avgpool_backward(be, ps, dy, dx));
}

static void w_gemm(struct backend *be, bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
		   const float *b, int ldb, float beta, float *c, int ldc)
{
	char key[96];
	snprintf(key, sizeof(key), "gemm %c%c %dx%dx%d", ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k);
	TIMED(key, orig.gemm(be, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
}

static void w_bias_add(struct backend *be, float *y, const float *bias, int rows, int cols, int spatial)
{
	TIMED("bias_add", orig.bias_add(be, y, bias, rows, cols, spatial));
}

static void w_bias_grad(struct backend *be, float *db, const float *dy, int rows, int cols, int spatial, bool acc)
{
	TIMED("bias_grad", orig.bias_grad(be, db, dy, rows, cols, spatial, acc));
}

static void w_optim(struct backend *be, const struct optim_hyper *h, int64_t step, const float *scalars, float *p,
		    const float *g, float *state, const uint8_t *mask, int64_t n)
{
	TIMED("optim_step", orig.optim_step(be, h, step, scalars, p, g, state, mask, n));
}

static void w_xent(struct backend *be, const float *logits, const int32_t *labels, int n, int classes, float ls,
		   float gs, float *dl, float *stats, int32_t *pred)
{
	TIMED("softmax_xent", orig.softmax_xent(be, logits, labels, n, classes, ls, gs, dl, stats, pred));
}

static void w_dropout_fwd(struct backend *be, float p, uint64_t seed, uint64_t counter, float *y, uint8_t *mask,
			  const float *x, int64_t n)
{
	TIMED("dropout fwd", orig.dropout_forward(be, p, seed, counter, y, mask, x, n));
}

static void w_dropout_bwd(struct backend *be, float p, float *dx, const float *dy, const uint8_t *mask, int64_t n)
{
	TIMED("dropout bwd", orig.dropout_backward(be, p, dx, dy, mask, n));
}

static void w_copy(struct backend *be, void *dst, const void *src, size_t bytes)
{
	TIMED("copy", orig.copy(be, dst, src, bytes));
}

static void w_axpy(struct backend *be, float alpha, const float *x, float *y, int64_t n)
{
	TIMED("axpy", orig.axpy(be, alpha, x, y, n));
}

static void w_sum_squares(struct backend *be, const float *x, int64_t n, float *out)
{
	TIMED("sum_squares", orig.sum_squares(be, x, n, out));
}

static void wrap(struct backend *be)
{
	orig = *be;
	be->conv2d_forward = w_conv_fwd;
	be->conv2d_backward_data = w_conv_bwd_data;
	be->conv2d_backward_filter = w_conv_bwd_filter;
	be->batchnorm_forward = w_bn_fwd;
	be->batchnorm_backward = w_bn_bwd;
	be->act_forward = w_act_fwd;
	be->act_backward = w_act_bwd;
	be->add = w_add;
	be->maxpool_forward = w_maxpool_fwd;
	be->maxpool_backward = w_maxpool_bwd;
	be->avgpool_forward = w_avgpool_fwd;
	be->avgpool_backward = w_avgpool_bwd;
	be->gemm = w_gemm;
	be->bias_add = w_bias_add;
	be->bias_grad = w_bias_grad;
	be->optim_step = w_optim;
	be->softmax_xent = w_xent;
	be->dropout_forward = w_dropout_fwd;
	be->dropout_backward = w_dropout_bwd;
	be->copy = w_copy;
	be->axpy = w_axpy;
	be->sum_squares = w_sum_squares;
}

static int by_time(const void *a, const void *b)
{
	double d = ((const struct prof_entry *)b)->seconds - ((const struct prof_entry *)a)->seconds;
	return d > 0 ? 1 : d < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: %s MODEL C H W BATCH THREADS STEPS\n", argv[0]);
		return 2;
	}
	const char *preset = argv[1];
	struct shape in = shape_chw(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	int batch = atoi(argv[5]), threads = atoi(argv[6]), steps = atoi(argv[7]);
	const int classes = 10;
	char text[256];
	snprintf(text, sizeof(text),
		 "model: %s\ndata: {dataset: synthetic}\noptimizer: {name: sgd, lr: 0.01, momentum: 0.9}\n", preset);
	struct spec *s = tb_xcalloc(1, sizeof(*s));
	struct spec_errors errs = {0};
	if (spec_parse(text, strlen(text), "p.yaml", NULL, 0, s, &errs) != 0) {
		spec_errors_print(&errs, stderr);
		return 1;
	}
	struct backend *be = backend_cpu_new(threads);
	wrap(be);
	struct model *m = model_build(&s->model, in, classes, be, &errs);
	if (!m) {
		spec_errors_print(&errs, stderr);
		return 1;
	}
	model_init(m, 1);
	model_reserve(m, batch);
	struct optim *o = optim_new(&s->optimizer, be, m->n_weights);
	int64_t nx = batch * shape_numel(in);
	float *x = be->alloc(be, (size_t)nx * sizeof(float));
	int32_t *y = be->alloc(be, (size_t)batch * sizeof(int32_t));
	float *dlogits = be->alloc(be, (size_t)batch * classes * sizeof(float));
	float *stats = be->alloc(be, 2 * sizeof(float));
	struct rng r;
	rng_seed(&r, 7);
	for (int64_t i = 0; i < nx; i++)
		x[i] = rng_uniform(&r) * 2 - 1;
	for (int i = 0; i < batch; i++)
		y[i] = (int32_t)(rng_uniform(&r) * classes) % classes;
	double total = 0, cpu_total = 0;
	for (int step = -2; step < steps; step++) {
		struct timespec c0, c1;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
		counting = step >= 0;
		double t0 = tb_now();
		const float *logits = model_forward(m, x, batch, true);
		be->softmax_xent(be, logits, y, batch, classes, 0.0f, 1.0f, dlogits, stats, NULL);
		model_backward(m, x, dlogits, batch);
		optim_step(o, m, 0.01);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
		if (counting) {
			total += tb_now() - t0;
			cpu_total += (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
		}
	}
	qsort(prof, (size_t)nprof, sizeof(prof[0]), by_time);
	double covered = 0;
	/* CPU time per step is the steadier number on a shared machine: a descheduled thread does not count. */
	printf("%s batch %d, %d threads: %.2f ms/step, %.0f img/s, %.2f CPU-ms/step\n", preset, batch, threads,
	       1e3 * total / steps, batch * steps / total, 1e3 * cpu_total / steps);
	for (int i = 0; i < nprof; i++) {
		covered += prof[i].seconds;
		printf("%8.3f ms %5.1f%%  x%-3ld %s\n", 1e3 * prof[i].seconds / steps, 100 * prof[i].seconds / total,
		       prof[i].calls / steps, prof[i].key);
	}
	printf("%8.3f ms %5.1f%%  (outside backend operations)\n", 1e3 * (total - covered) / steps,
	       100 * (total - covered) / total);
	optim_free(o);
	be->free(be, x);
	be->free(be, y);
	be->free(be, dlogits);
	be->free(be, stats);
	model_free(m);
	spec_free(s);
	free(s);
	be->destroy(be);
	return 0;
}
