/*
 * parity_conv.c — CPU-vs-CUDA parity of convolution (forward, backward
 * data, backward filter), batch normalisation (training with running
 * statistics, evaluation, backward) and max/average pooling.
 *
 * Shapes cover what the presets use (3x3 same-padding, 1x1 stride-2
 * downsampling, a 7x7 stem, global average pooling) and the corners
 * (odd sizes, asymmetric stride and padding, dilation, batchnorm1d).
 * Max-pool argmax encodings are backend-private, so only outputs and
 * gradients are compared. Threads: main thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parity.h"
#include "tb.h"

#define GPU_FREE(pt, p) (pt)->gpu->free((pt)->gpu, (p))

static struct conv_shape conv_make(int n, int c, int h, int w, int k, int r, int s, int sh, int sw, int ph, int pw,
				   int dil)
{
	struct conv_shape cs = {.n = n, .c = c, .h = h, .w = w, .k = k, .r = r, .s = s, .stride_h = sh,
				.stride_w = sw, .pad_h = ph, .pad_w = pw, .dil_h = dil, .dil_w = dil};
	cs.p = (h + 2 * ph - dil * (r - 1) - 1) / sh + 1;
	cs.q = (w + 2 * pw - dil * (s - 1) - 1) / sw + 1;
	return cs;
}

static void check_conv_case(struct parity *pt, const struct conv_shape *cs)
{
	int64_t nx = (int64_t)cs->n * cs->c * cs->h * cs->w, nw = (int64_t)cs->k * cs->c * cs->r * cs->s;
	int64_t ny = (int64_t)cs->n * cs->k * cs->p * cs->q;
	float *x = parity_rand(pt, nx, -1, 1), *w = parity_rand(pt, nw, -0.5f, 0.5f), *dy = parity_rand(pt, ny, -1, 1);
	float *y = tb_xmalloc((size_t)ny * 4), *dx = tb_xmalloc((size_t)nx * 4), *dw = tb_xmalloc((size_t)nw * 4);
	size_t cpu_ws_bytes = pt->cpu->conv2d_workspace(pt->cpu, cs);
	void *cpu_ws = cpu_ws_bytes ? pt->cpu->alloc(pt->cpu, cpu_ws_bytes) : NULL;
	size_t gpu_ws_bytes = pt->gpu->conv2d_workspace(pt->gpu, cs);
	void *gpu_ws = gpu_ws_bytes ? pt->gpu->alloc(pt->gpu, gpu_ws_bytes) : NULL;
	float *gx = parity_up(pt, x, (size_t)nx * 4), *gw = parity_up(pt, w, (size_t)nw * 4);
	float *gdy = parity_up(pt, dy, (size_t)ny * 4), *gy = parity_up(pt, NULL, (size_t)ny * 4);
	float *gdx = parity_up(pt, NULL, (size_t)nx * 4), *gdw = parity_up(pt, NULL, (size_t)nw * 4);

	pt->cpu->conv2d_forward(pt->cpu, cs, x, w, y, cpu_ws);
	pt->cpu->conv2d_backward_data(pt->cpu, cs, dy, w, dx, cpu_ws);
	pt->cpu->conv2d_backward_filter(pt->cpu, cs, x, dy, dw, cpu_ws);
	pt->gpu->conv2d_forward(pt->gpu, cs, gx, gw, gy, gpu_ws);
	pt->gpu->conv2d_backward_data(pt->gpu, cs, gdy, gw, gdx, gpu_ws);
	pt->gpu->conv2d_backward_filter(pt->gpu, cs, gx, gdy, gdw, gpu_ws);

	char shape[96], op[160];
	snprintf(shape, sizeof(shape), "n%d c%d %dx%d k%d %dx%d s%d,%d p%d,%d d%d", cs->n, cs->c, cs->h, cs->w, cs->k,
		 cs->r, cs->s, cs->stride_h, cs->stride_w, cs->pad_h, cs->pad_w, cs->dil_h);
	float *got = parity_down(pt, gy, ny);
	snprintf(op, sizeof(op), "conv2d_forward %s", shape);
	parity_check(pt, op, y, got, ny, pt->tol_dense);
	free(got);
	got = parity_down(pt, gdx, nx);
	snprintf(op, sizeof(op), "conv2d_backward_data %s", shape);
	parity_check(pt, op, dx, got, nx, pt->tol_dense);
	free(got);
	got = parity_down(pt, gdw, nw);
	snprintf(op, sizeof(op), "conv2d_backward_filter %s", shape);
	parity_check(pt, op, dw, got, nw, pt->tol_dense);
	free(got);
	/* A layer's order, filter then data: 16-bit precisions reuse the filter call's copy of dy. */
	pt->gpu->fill(pt->gpu, gdx, 0.0f, nx);
	pt->gpu->conv2d_backward_filter(pt->gpu, cs, gx, gdy, gdw, gpu_ws);
	pt->gpu->conv2d_backward_data(pt->gpu, cs, gdy, gw, gdx, gpu_ws);
	got = parity_down(pt, gdx, nx);
	snprintf(op, sizeof(op), "conv2d_backward_data after _filter %s", shape);
	parity_check(pt, op, dx, got, nx, pt->tol_dense);
	free(got);

	free(x);
	free(w);
	free(dy);
	free(y);
	free(dx);
	free(dw);
	if (cpu_ws)
		pt->cpu->free(pt->cpu, cpu_ws);
	if (gpu_ws)
		GPU_FREE(pt, gpu_ws);
	GPU_FREE(pt, gx);
	GPU_FREE(pt, gw);
	GPU_FREE(pt, gdy);
	GPU_FREE(pt, gy);
	GPU_FREE(pt, gdx);
	GPU_FREE(pt, gdw);
}

static void check_conv(struct parity *pt)
{
	struct conv_shape cases[] = {
		conv_make(4, 3, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1),    /* CIFAR stem */
		conv_make(2, 16, 15, 17, 8, 3, 5, 2, 1, 1, 2, 1),    /* odd, asymmetric */
		conv_make(2, 8, 16, 16, 8, 3, 3, 1, 1, 2, 2, 2),     /* dilation 2 */
		conv_make(8, 64, 8, 8, 128, 1, 1, 2, 2, 0, 0, 1),    /* ResNet downsample */
		conv_make(2, 3, 28, 28, 8, 7, 7, 2, 2, 3, 3, 1),     /* 7x7 stem */
		conv_make(32, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1),  /* a ResNet-18 block conv */
	};
	for (size_t i = 0; i < TB_ARRAY_LEN(cases); i++)
		check_conv_case(pt, &cases[i]);
}

/* ---- batch norm ------------------------------------------------------------------ */

static void check_batchnorm_case(struct parity *pt, int n, int c, int spatial)
{
	int64_t total = (int64_t)n * c * spatial;
	float *x = parity_rand(pt, total, 1, 5); /* mean far from zero: E[x²]-E[x]² must not cancel */
	float *dy = parity_rand(pt, total, -1, 1);
	float *gamma = parity_rand(pt, c, 0.5f, 1.5f), *beta = parity_rand(pt, c, -0.5f, 0.5f);
	float *rm = parity_rand(pt, c, -0.1f, 0.1f), *rv = parity_rand(pt, c, 0.9f, 1.1f);
	float *sm = tb_xmalloc((size_t)c * 4), *si = tb_xmalloc((size_t)c * 4);
	float *y = tb_xmalloc((size_t)total * 4), *dx = tb_xmalloc((size_t)total * 4);
	float *dg = tb_xmalloc((size_t)c * 4), *db = tb_xmalloc((size_t)c * 4);
	float *gx = parity_up(pt, x, (size_t)total * 4), *gdy = parity_up(pt, dy, (size_t)total * 4);
	float *ggamma = parity_up(pt, gamma, (size_t)c * 4), *gbeta = parity_up(pt, beta, (size_t)c * 4);
	float *grm = parity_up(pt, rm, (size_t)c * 4), *grv = parity_up(pt, rv, (size_t)c * 4);
	float *gsm = parity_up(pt, NULL, (size_t)c * 4), *gsi = parity_up(pt, NULL, (size_t)c * 4);
	float *gy = parity_up(pt, NULL, (size_t)total * 4), *gdx = parity_up(pt, NULL, (size_t)total * 4);
	float *gdg = parity_up(pt, NULL, (size_t)c * 4), *gdb = parity_up(pt, NULL, (size_t)c * 4);
	char op[96];

	/* num_batches_tracked goes up by one on both sides. */
	float batches = 7.0f, *gbatches = parity_up(pt, &batches, 4);
	pt->cpu->batchnorm_forward(pt->cpu, true, n, c, spatial, 0.1f, 1e-5f, x, gamma, beta, rm, rv, sm, si, y,
				   &batches);
	pt->gpu->batchnorm_forward(pt->gpu, true, n, c, spatial, 0.1f, 1e-5f, gx, ggamma, gbeta, grm, grv, gsm, gsi,
				   gy, gbatches);
	float *o_batches = parity_down(pt, gbatches, 1);
	snprintf(op, sizeof(op), "batchnorm_forward train counts the batch n%d c%d", n, c);
	parity_result(pt, op, batches == 8.0f && *o_batches == 8.0f, "num_batches_tracked 7 -> cpu %g, gpu %g",
		      batches, *o_batches);
	free(o_batches);
	GPU_FREE(pt, gbatches);
	float *o_y = parity_down(pt, gy, total), *o_rm = parity_down(pt, grm, c), *o_rv = parity_down(pt, grv, c);
	float *o_sm = parity_down(pt, gsm, c), *o_si = parity_down(pt, gsi, c);
	double e = parity_err(y, o_y, total), e1 = parity_err(sm, o_sm, c);
	double e2 = parity_err(si, o_si, c), e3 = parity_err(rm, o_rm, c), e4 = parity_err(rv, o_rv, c);
	snprintf(op, sizeof(op), "batchnorm_forward train n%d c%d spatial %d", n, c, spatial);
	parity_result(pt, op, e <= PARITY_TOL_FP32 && e1 <= PARITY_TOL_FP32 && e2 <= PARITY_TOL_FP32 &&
				      e3 <= PARITY_TOL_FP32 && e4 <= PARITY_TOL_FP32,
		      "err y %.3g, save_mean %.3g, save_invstd %.3g, running_mean %.3g, running_var %.3g", e, e1, e2,
		      e3, e4);
	free(o_y);

	pt->cpu->batchnorm_backward(pt->cpu, n, c, spatial, x, dy, gamma, sm, si, dx, dg, db);
	pt->gpu->batchnorm_backward(pt->gpu, n, c, spatial, gx, gdy, ggamma, gsm, gsi, gdx, gdg, gdb);
	float *o_dx = parity_down(pt, gdx, total), *o_dg = parity_down(pt, gdg, c), *o_db = parity_down(pt, gdb, c);
	e = parity_err(dx, o_dx, total);
	e2 = parity_err(dg, o_dg, c);
	e3 = parity_err(db, o_db, c);
	snprintf(op, sizeof(op), "batchnorm_backward n%d c%d spatial %d", n, c, spatial);
	parity_result(pt, op, e <= 1e-4 && e2 <= PARITY_TOL_FP32 && e3 <= PARITY_TOL_FP32,
		      "dx err %.3g, dgamma err %.3g, dbeta err %.3g", e, e2, e3);

	pt->cpu->batchnorm_forward(pt->cpu, false, n, c, spatial, 0.1f, 1e-5f, x, gamma, beta, rm, rv, sm, si, y,
				   NULL);
	pt->gpu->batchnorm_forward(pt->gpu, false, n, c, spatial, 0.1f, 1e-5f, gx, ggamma, gbeta, grm, grv, gsm,
				   gsi, gy, NULL);
	o_y = parity_down(pt, gy, total);
	snprintf(op, sizeof(op), "batchnorm_forward eval n%d c%d spatial %d", n, c, spatial);
	parity_check(pt, op, y, o_y, total, PARITY_TOL_FP32);
	free(o_y);

	/* The fused ReLU (conv-bn-relu): the CPU's normalised values, rectified. */
	if (!pt->gpu->batchnorm_relu_forward) {
		parity_result(pt, "batchnorm_relu_forward", false, "the CUDA backend does not offer it");
	} else {
		for (int training = 0; training <= 1; training++) {
			/* Train mode's y does not depend on the running statistics these calls update. */
			pt->cpu->batchnorm_forward(pt->cpu, training, n, c, spatial, 0.1f, 1e-5f, x, gamma, beta, rm, rv,
						   sm, si, y, NULL);
			for (int64_t i = 0; i < total; i++)
				y[i] = y[i] > 0 ? y[i] : 0;
			pt->gpu->batchnorm_relu_forward(pt->gpu, training, n, c, spatial, 0.1f, 1e-5f, gx, ggamma, gbeta,
							grm, grv, gsm, gsi, gy, NULL);
			o_y = parity_down(pt, gy, total);
			snprintf(op, sizeof(op), "batchnorm_relu_forward %s n%d c%d spatial %d", training ? "train" : "eval",
				 n, c, spatial);
			parity_check(pt, op, y, o_y, total, PARITY_TOL_FP32);
			free(o_y);
		}
	}

	free(o_rm);
	free(o_rv);
	free(o_sm);
	free(o_si);
	free(o_dx);
	free(o_dg);
	free(o_db);
	float *host[] = {x, dy, gamma, beta, rm, rv, sm, si, y, dx, dg, db};
	for (size_t i = 0; i < TB_ARRAY_LEN(host); i++)
		free(host[i]);
	float *dev[] = {gx, gdy, ggamma, gbeta, grm, grv, gsm, gsi, gy, gdx, gdg, gdb};
	for (size_t i = 0; i < TB_ARRAY_LEN(dev); i++)
		GPU_FREE(pt, dev[i]);
}

/* ---- pooling ------------------------------------------------------------------------ */

static struct pool_shape pool_make(int n, int c, int h, int w, int k, int stride, int pad, bool include_pad)
{
	struct pool_shape ps = {.n = n, .c = c, .h = h, .w = w, .kh = k, .kw = k, .stride_h = stride,
				.stride_w = stride, .pad_h = pad, .pad_w = pad, .count_include_pad = include_pad};
	ps.p = (h + 2 * pad - k) / stride + 1;
	ps.q = (w + 2 * pad - k) / stride + 1;
	return ps;
}

static void check_pool_case(struct parity *pt, const struct pool_shape *ps, bool is_max)
{
	int64_t nin = (int64_t)ps->n * ps->c * ps->h * ps->w, nout = (int64_t)ps->n * ps->c * ps->p * ps->q;
	float *x = parity_rand(pt, nin, -1, 1), *dy = parity_rand(pt, nout, -1, 1);
	float *y = tb_xmalloc((size_t)nout * 4), *dx = tb_xmalloc((size_t)nin * 4);
	int32_t *arg = tb_xmalloc((size_t)nout * 4);
	float *gx = parity_up(pt, x, (size_t)nin * 4), *gdy = parity_up(pt, dy, (size_t)nout * 4);
	float *gy = parity_up(pt, NULL, (size_t)nout * 4), *gdx = parity_up(pt, NULL, (size_t)nin * 4);
	int32_t *garg = parity_up(pt, NULL, (size_t)nout * 4);
	if (is_max) {
		pt->cpu->maxpool_forward(pt->cpu, ps, x, y, arg);
		pt->cpu->maxpool_backward(pt->cpu, ps, dy, arg, dx);
		pt->gpu->maxpool_forward(pt->gpu, ps, gx, gy, garg);
		pt->gpu->maxpool_backward(pt->gpu, ps, gdy, garg, gdx);
	} else {
		pt->cpu->avgpool_forward(pt->cpu, ps, x, y);
		pt->cpu->avgpool_backward(pt->cpu, ps, dy, dx);
		pt->gpu->avgpool_forward(pt->gpu, ps, gx, gy);
		pt->gpu->avgpool_backward(pt->gpu, ps, gdy, gdx);
	}
	char shape[96], op[128];
	snprintf(shape, sizeof(shape), "%dx%d k%d s%d p%d%s", ps->h, ps->w, ps->kh, ps->stride_h, ps->pad_h,
		 is_max ? "" : ps->count_include_pad ? " incl-pad" : " excl-pad");
	float *got = parity_down(pt, gy, nout);
	snprintf(op, sizeof(op), "%s_forward %s", is_max ? "maxpool" : "avgpool", shape);
	parity_check(pt, op, y, got, nout, PARITY_TOL_FP32);
	free(got);
	got = parity_down(pt, gdx, nin);
	snprintf(op, sizeof(op), "%s_backward %s", is_max ? "maxpool" : "avgpool", shape);
	parity_check(pt, op, dx, got, nin, PARITY_TOL_FP32);
	free(got);
	free(x);
	free(dy);
	free(y);
	free(dx);
	free(arg);
	GPU_FREE(pt, gx);
	GPU_FREE(pt, gdy);
	GPU_FREE(pt, gy);
	GPU_FREE(pt, gdx);
	GPU_FREE(pt, garg);
}

void parity_conv_ops(struct parity *pt)
{
	if (!pt->cpu->conv2d_forward || !pt->cpu->batchnorm_forward || !pt->cpu->maxpool_forward) {
		parity_result(pt, "conv/bn/pool", false, "the CPU backend lacks these ops: nothing to compare against");
		return;
	}
	check_conv(pt);
	check_batchnorm_case(pt, 8, 16, 49);
	check_batchnorm_case(pt, 32, 24, 1);
	check_batchnorm_case(pt, 128, 64, 256);
	struct pool_shape ps;
	ps = pool_make(2, 3, 16, 15, 3, 2, 1, true);
	check_pool_case(pt, &ps, true);
	ps = pool_make(2, 4, 8, 8, 2, 2, 0, true);
	check_pool_case(pt, &ps, true);
	ps = pool_make(2, 3, 16, 15, 3, 2, 1, true);
	check_pool_case(pt, &ps, false);
	ps = pool_make(2, 3, 16, 15, 3, 2, 1, false);
	check_pool_case(pt, &ps, false);
	ps = pool_make(4, 32, 4, 4, 4, 4, 0, true); /* global average pooling */
	check_pool_case(pt, &ps, false);
}
