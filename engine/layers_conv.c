/*
 * layers_conv.c — the convolution and pooling layers (conv2d, maxpool2d,
 * avgpool2d, global_avgpool / adaptive_avgpool), written once against the
 * backend table, and the table of every convolutional kind (batch norm in
 * layers_norm.c, basic_block in layers_block.c).
 *
 * Shapes, parameter names and initialisation follow torch.nn (Conv2d
 * weight [out, in, k, k], bias [out]; kaiming_uniform(a=√5)). Pooling is
 * floor mode, as PyTorch's default. What it is not: the arithmetic, which
 * lives in the backends (engine/cpu/cpu_conv.c, cpu_norm_pool.c).
 *
 * Threads: building on any thread (check runs in the server); running on
 * the replica's training thread.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers_conv.h"
#include "model.h"
#include "onnx_graph.h"
#include "rng.h"
#include "tb.h"

int layer_need_image(struct layer *l, struct spec_errors *errs)
{
	if (l->in.ndim == 3)
		return 0;
	char buf[48];
	spec_error_add(errs, l->pos, "%s needs an image input [C, H, W] but gets %s", l->kind->name,
		       shape_str(l->in, buf, sizeof(buf)));
	return -1;
}

/* ---- conv2d ---------------------------------------------------------------- */

enum { CONV_OUT, CONV_KERNEL, CONV_STRIDE, CONV_PADDING, CONV_DILATION, CONV_BIAS };

struct conv2d_state {
	int weight, bias;        /* parameter indices; bias -1 when off */
	struct conv_shape cs;    /* geometry; n is set per call */
	void *workspace;         /* backend memory, conv2d_workspace() bytes for the reserved batch */
};

static int conv2d_build(struct layer *l, struct model *m, struct spec_errors *errs)
{
	if (layer_need_image(l, errs) < 0)
		return -1;
	if (m->be && !m->be->conv2d_forward) {
		spec_error_add(errs, l->pos, "conv2d: the %s backend has no convolution", m->be->name);
		return -1;
	}
	int out = (int)l->arg[CONV_OUT], k = (int)l->arg[CONV_KERNEL], stride = (int)l->arg[CONV_STRIDE];
	int pad = (int)l->arg[CONV_PADDING], dil = (int)l->arg[CONV_DILATION];
	int c = l->in.d[0], h = l->in.d[1], w = l->in.d[2];
	int span = dil * (k - 1) + 1;
	if (span > h + 2 * pad || span > w + 2 * pad) {
		spec_error_add(errs, l->pos, "conv2d: kernel %d (dilated %d) is larger than the padded input %d×%d", k,
			       span, h + 2 * pad, w + 2 * pad);
		return -1;
	}
	struct conv2d_state *st = tb_xcalloc(1, sizeof(*st));
	l->state = st;
	st->cs = (struct conv_shape){
		.c = c, .h = h, .w = w, .k = out, .r = k, .s = k,
		.stride_h = stride, .stride_w = stride, .pad_h = pad, .pad_w = pad, .dil_h = dil, .dil_w = dil,
		.p = (h + 2 * pad - span) / stride + 1, .q = (w + 2 * pad - span) / stride + 1,
	};
	st->weight = model_param_add(m, l, "weight", 4, (int64_t[]){out, c, k, k}, true);
	st->bias = l->arg[CONV_BIAS] != 0 ? model_param_add(m, l, "bias", 1, (int64_t[]){out}, true) : -1;
	l->out = shape_chw(out, st->cs.p, st->cs.q);
	return 0;
}

/* torch.nn.Conv2d: kaiming_uniform_(a=sqrt(5)) is U(±1/sqrt(fan_in)), fan_in = in·k·k; bias the same. */
static void conv2d_init(struct layer *l, struct model *m, struct rng *rng)
{
	struct conv2d_state *st = l->state;
	float bound = 1.0f / sqrtf((float)(st->cs.c * st->cs.r * st->cs.s));
	layer_init_uniform(m, st->weight, bound, rng);
	if (st->bias >= 0)
		layer_init_uniform(m, st->bias, bound, rng);
}

static void conv2d_reserve(struct layer *l, struct model *m, int batch)
{
	struct conv2d_state *st = l->state;
	struct backend *be = m->be;
	if (st->workspace)
		be->free(be, st->workspace);
	st->cs.n = batch;
	size_t bytes = be->conv2d_workspace(be, &st->cs);
	st->workspace = bytes ? be->alloc(be, bytes) : NULL;
}

static void conv2d_memory(const struct layer *l, bool need_dx, const struct backend_target *t, int batch,
			  struct layer_memory *out)
{
	(void)need_dx; /* reserve sizes the scratch for all three passes */
	struct conv_shape cs = ((const struct conv2d_state *)l->state)->cs;
	cs.n = batch;
	out->scratch = TB_MAX(out->scratch, (int64_t)backend_conv2d_scratch(t, &cs));
}

static void conv2d_forward(struct layer *l, struct model *m, const float *x, int batch, bool training)
{
	(void)training;
	struct conv2d_state *st = l->state;
	struct backend *be = m->be;
	st->cs.n = batch;
	be->conv2d_forward(be, &st->cs, x, model_param_data(m, st->weight), l->y, st->workspace);
	if (st->bias >= 0)
		be->bias_add(be, l->y, model_param_data(m, st->bias), batch, st->cs.k, st->cs.p * st->cs.q);
}

static void conv2d_backward(struct layer *l, struct model *m, const float *x, const float *dy, int batch)
{
	struct conv2d_state *st = l->state;
	struct backend *be = m->be;
	st->cs.n = batch;
	if (st->bias >= 0)
		be->bias_grad(be, model_param_grad(m, st->bias), dy, batch, st->cs.k, st->cs.p * st->cs.q, false);
	be->conv2d_backward_filter(be, &st->cs, x, dy, model_param_grad(m, st->weight), st->workspace);
	if (l->need_dx)
		be->conv2d_backward_data(be, &st->cs, dy, model_param_data(m, st->weight), l->dx, st->workspace);
}

static void conv2d_destroy(struct layer *l, struct model *m)
{
	struct conv2d_state *st = l->state;
	if (st && st->workspace && m->be)
		m->be->free(m->be, st->workspace);
	free(st);
}

static const char *conv2d_onnx(const struct layer *l, struct onnx_graph *g, const char *x)
{
	const struct conv2d_state *st = l->state;
	const char *in[3] = {x, onnx_param(g, l, "weight"), st->bias >= 0 ? onnx_param(g, l, "bias") : NULL};
	const struct onnx_attr attrs[] = {
		ONNX_INTS2("kernel_shape", st->cs.r), ONNX_INTS2("strides", st->cs.stride_h),
		ONNX_PADS("pads", st->cs.pad_h), ONNX_INTS2("dilations", st->cs.dil_h), ONNX_INT("group", 1),
	};
	return onnx_node(g, "Conv", l->name, in, st->bias >= 0 ? 3 : 2, attrs, (int)TB_ARRAY_LEN(attrs));
}

static const struct layer_kind conv2d_kind = {
	.name = "conv2d",
	.summary = "2-D convolution (torch.nn.Conv2d); {conv2d: OUT} or {conv2d: {out: 32, kernel: 3, padding: 1}}",
	.args = {{"out", 0, 1, 1 << 16, true, true},
		 {"kernel", 3, 1, 64, true, false},
		 {"stride", 1, 1, 64, true, false},
		 {"padding", 0, 0, 64, true, false},
		 {"dilation", 1, 1, 64, true, false},
		 {"bias", 1, 0, 1, true, false}},
	.build = conv2d_build,
	.init = conv2d_init,
	.reserve = conv2d_reserve,
	.memory = conv2d_memory,
	.forward = conv2d_forward,
	.backward = conv2d_backward,
	.destroy = conv2d_destroy,
	.onnx = conv2d_onnx,
};

/* ---- pooling ----------------------------------------------------------------- */

enum { POOL_KERNEL, POOL_STRIDE, POOL_PADDING };

struct pool_state {
	struct pool_shape ps;    /* n is set per call */
	int32_t *argmax;         /* maxpool: backend memory, one per output of the reserved batch */
};

static bool pool_backend_ok(struct layer *l, struct model *m, struct spec_errors *errs)
{
	if (m->be && !m->be->avgpool_forward) {
		spec_error_add(errs, l->pos, "%s: the %s backend has no pooling", l->kind->name, m->be->name);
		return false;
	}
	return true;
}

/* Square window `k`, stride (0 = k) and padding, floor mode, as torch.nn.MaxPool2d/AvgPool2d. */
static int pool_build_window(struct layer *l, struct model *m, struct spec_errors *errs, int k, int stride,
			     int pad, bool include_pad)
{
	if (layer_need_image(l, errs) < 0 || !pool_backend_ok(l, m, errs))
		return -1;
	int c = l->in.d[0], h = l->in.d[1], w = l->in.d[2];
	if (stride == 0)
		stride = k;
	if (2 * pad > k) {
		spec_error_add(errs, l->pos, "%s: padding %d must be at most half the kernel %d", l->kind->name, pad, k);
		return -1;
	}
	if (k > h + 2 * pad || k > w + 2 * pad) {
		spec_error_add(errs, l->pos, "%s: kernel %d is larger than the padded input %d×%d", l->kind->name, k,
			       h + 2 * pad, w + 2 * pad);
		return -1;
	}
	struct pool_state *st = tb_xcalloc(1, sizeof(*st));
	l->state = st;
	st->ps = (struct pool_shape){
		.c = c, .h = h, .w = w, .kh = k, .kw = k, .stride_h = stride, .stride_w = stride,
		.pad_h = pad, .pad_w = pad, .p = (h + 2 * pad - k) / stride + 1, .q = (w + 2 * pad - k) / stride + 1,
		.count_include_pad = include_pad,
	};
	l->out = shape_chw(c, st->ps.p, st->ps.q);
	return 0;
}

static int pool2d_build(struct layer *l, struct model *m, struct spec_errors *errs)
{
	return pool_build_window(l, m, errs, (int)l->arg[POOL_KERNEL], (int)l->arg[POOL_STRIDE],
				 (int)l->arg[POOL_PADDING], true);
}

/* The whole image is one window: [C, H, W] -> [C, 1, 1], so a following flatten gives [C]. */
static int global_avgpool_build(struct layer *l, struct model *m, struct spec_errors *errs)
{
	if (layer_need_image(l, errs) < 0 || !pool_backend_ok(l, m, errs))
		return -1;
	struct pool_state *st = tb_xcalloc(1, sizeof(*st));
	l->state = st;
	int c = l->in.d[0], h = l->in.d[1], w = l->in.d[2];
	st->ps = (struct pool_shape){
		.c = c, .h = h, .w = w, .kh = h, .kw = w, .stride_h = h, .stride_w = w, .p = 1, .q = 1,
		.count_include_pad = true,
	};
	l->out = shape_chw(c, 1, 1);
	return 0;
}

static int adaptive_avgpool_build(struct layer *l, struct model *m, struct spec_errors *errs)
{
	if (l->arg[0] != 1) {
		spec_error_add(errs, l->pos,
			       "adaptive_avgpool: only output 1 is supported (got %g); use avgpool2d for other sizes",
			       l->arg[0]);
		return -1;
	}
	return global_avgpool_build(l, m, errs);
}

static void maxpool_reserve(struct layer *l, struct model *m, int batch)
{
	struct pool_state *st = l->state;
	if (st->argmax)
		m->be->free(m->be, st->argmax);
	st->argmax = m->be->alloc(m->be, (size_t)batch * shape_numel(l->out) * sizeof(int32_t));
}

static void maxpool_memory(const struct layer *l, bool need_dx, const struct backend_target *t, int batch,
			   struct layer_memory *out)
{
	(void)need_dx;
	(void)t;
	out->kept += (int64_t)batch * shape_numel(l->out) * (int64_t)sizeof(int32_t);
}

static void maxpool_forward(struct layer *l, struct model *m, const float *x, int batch, bool training)
{
	(void)training;
	struct pool_state *st = l->state;
	st->ps.n = batch;
	m->be->maxpool_forward(m->be, &st->ps, x, l->y, st->argmax);
}

static void maxpool_backward(struct layer *l, struct model *m, const float *x, const float *dy, int batch)
{
	(void)x;
	struct pool_state *st = l->state;
	if (!l->need_dx)
		return;
	st->ps.n = batch;
	m->be->maxpool_backward(m->be, &st->ps, dy, st->argmax, l->dx);
}

static void avgpool_forward(struct layer *l, struct model *m, const float *x, int batch, bool training)
{
	(void)training;
	struct pool_state *st = l->state;
	st->ps.n = batch;
	m->be->avgpool_forward(m->be, &st->ps, x, l->y);
}

static void avgpool_backward(struct layer *l, struct model *m, const float *x, const float *dy, int batch)
{
	(void)x;
	struct pool_state *st = l->state;
	if (!l->need_dx)
		return;
	st->ps.n = batch;
	m->be->avgpool_backward(m->be, &st->ps, dy, l->dx);
}

static void pool_destroy(struct layer *l, struct model *m)
{
	struct pool_state *st = l->state;
	if (st && st->argmax && m->be)
		m->be->free(m->be, st->argmax);
	free(st);
}

/* The window as built (stride already resolved); floor mode is ONNX's default ceil_mode 0. */
static const char *pool_onnx(const struct layer *l, struct onnx_graph *g, const char *x, const char *op)
{
	const struct pool_state *st = l->state;
	const struct onnx_attr attrs[] = {
		ONNX_INTS2("kernel_shape", st->ps.kh), ONNX_INTS2("strides", st->ps.stride_h),
		ONNX_PADS("pads", st->ps.pad_h), ONNX_INT("count_include_pad", 1),
	};
	/* count_include_pad is AveragePool's alone (MaxPool would reject it). */
	int nattrs = strcmp(op, "AveragePool") == 0 ? 4 : 3;
	return onnx_node(g, op, l->name, &x, 1, attrs, nattrs);
}

static const char *maxpool_onnx(const struct layer *l, struct onnx_graph *g, const char *x)
{
	return pool_onnx(l, g, x, "MaxPool");
}

static const char *avgpool_onnx(const struct layer *l, struct onnx_graph *g, const char *x)
{
	return pool_onnx(l, g, x, "AveragePool");
}

static const char *global_avgpool_onnx(const struct layer *l, struct onnx_graph *g, const char *x)
{
	return onnx_node(g, "GlobalAveragePool", l->name, &x, 1, NULL, 0);
}

/* Shared by maxpool2d and avgpool2d; stride 0 means "the kernel size", as PyTorch's stride=None. */
#define POOL_ARGS {"kernel", 2, 1, 64, true, false}, {"stride", 0, 0, 64, true, false}, {"padding", 0, 0, 32, true, false}

static const struct layer_kind maxpool2d_kind = {
	.name = "maxpool2d",
	.summary = "max over k×k windows (torch.nn.MaxPool2d); {maxpool2d: 2}, stride defaults to the kernel",
	.args = {POOL_ARGS},
	.build = pool2d_build,
	.reserve = maxpool_reserve,
	.memory = maxpool_memory,
	.forward = maxpool_forward,
	.backward = maxpool_backward,
	.destroy = pool_destroy,
	.onnx = maxpool_onnx,
};

static const struct layer_kind avgpool2d_kind = {
	.name = "avgpool2d",
	.summary = "mean over k×k windows, padding counted (torch.nn.AvgPool2d); {avgpool2d: 2}",
	.args = {POOL_ARGS},
	.build = pool2d_build,
	.forward = avgpool_forward,
	.backward = avgpool_backward,
	.destroy = pool_destroy,
	.onnx = avgpool_onnx,
};

static const struct layer_kind global_avgpool_kind = {
	.name = "global_avgpool",
	.summary = "mean over each channel's image: [C, H, W] -> [C, 1, 1] (torch.nn.AdaptiveAvgPool2d(1))",
	.build = global_avgpool_build,
	.forward = avgpool_forward,
	.backward = avgpool_backward,
	.destroy = pool_destroy,
	.onnx = global_avgpool_onnx,
};

static const struct layer_kind adaptive_avgpool_kind = {
	.name = "adaptive_avgpool",
	.summary = "torch.nn.AdaptiveAvgPool2d with output 1 only (same as global_avgpool)",
	.args = {{"output", 1, 1, 1024, true, false}},
	.build = adaptive_avgpool_build,
	.forward = avgpool_forward,
	.backward = avgpool_backward,
	.destroy = pool_destroy,
	.onnx = global_avgpool_onnx,
};

const struct layer_kind *const layer_kinds_conv[] = {
	&conv2d_kind,           &layer_kind_batchnorm2d,  &layer_kind_batchnorm1d,
	&layer_kind_batchnorm,  &maxpool2d_kind,          &avgpool2d_kind,
	&global_avgpool_kind,   &adaptive_avgpool_kind,   &layer_kind_basic_block,
	NULL,
};
