/*
 * layers_dense.c — the layers of fully connected networks: flatten,
 * linear, the activations (relu, gelu, tanh, sigmoid, leaky_relu) and
 * dropout, each written once against the backend table.
 *
 * Shapes and parameter names follow torch.nn (Linear weight [out, in],
 * bias [out]); initialisation follows torch.nn.Linear.reset_parameters.
 * Threads: the replica's training thread.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layer.h"
#include "model.h"
#include "onnx_graph.h"
#include "rng.h"
#include "tb.h"

/* ---- flatten: [C, H, W] -> [C*H*W], a view ---------------------------- */

static int flatten_build(struct layer *l, struct model *m, struct spec_errors *errs)
{
	(void)m;
	(void)errs;
	l->out = shape_vec((int)shape_numel(l->in));
	return 0;
}

static void flatten_forward(struct layer *l, struct model *m, const float *x, int batch, bool training)
{
	(void)m;
	(void)batch;
	(void)training;
	l->y = (float *)x;
}

static void flatten_backward(struct layer *l, struct model *m, const float *x, const float *dy, int batch)
{
	(void)m;
	(void)x;
	(void)batch;
	l->dx = (float *)dy;
}

static const char *flatten_onnx(const struct layer *l, struct onnx_graph *g, const char *x)
{
	const struct onnx_attr axis = ONNX_INT("axis", 1);
	return onnx_node(g, "Flatten", l->name, &x, 1, &axis, 1);
}

static const struct layer_kind flatten_kind = {
	.name = "flatten",
	.summary = "reshape [C, H, W] to [C*H*W] (torch.nn.Flatten)",
	.is_view = true,
	.build = flatten_build,
	.forward = flatten_forward,
	.backward = flatten_backward,
	.onnx = flatten_onnx,
};

/* ---- linear: y = x W^T + b ---------------------------------------------- */

struct linear_state {
	int weight, bias;    /* parameter indices; bias -1 when off */
	enum activation act; /* applied in the same call when the next layer was absorbed (ACT_RELU) */
};

static int linear_build(struct layer *l, struct model *m, struct spec_errors *errs)
{
	if (l->in.ndim != 1) {
		char buf[48];
		spec_error_add(errs, l->pos, "linear needs a flat input but gets %s; put 'flatten' before it",
			       shape_str(l->in, buf, sizeof(buf)));
		return -1;
	}
	int in = l->in.d[0], out = (int)l->arg[0];
	struct linear_state *st = tb_xcalloc(1, sizeof(*st));
	l->state = st;
	st->weight = model_param_add(m, l, "weight", 2, (int64_t[]){out, in}, true);
	st->bias = l->arg[1] != 0 ? model_param_add(m, l, "bias", 1, (int64_t[]){out}, true) : -1;
	l->out = shape_vec(out);
	return 0;
}

/* torch.nn.Linear: kaiming_uniform_(a=sqrt(5)) reduces to U(±1/sqrt(fan_in)), bias the same. */
static void linear_init(struct layer *l, struct model *m, struct rng *rng)
{
	struct linear_state *st = l->state;
	float bound = 1.0f / sqrtf((float)l->in.d[0]);
	layer_init_uniform(m, st->weight, bound, rng);
	if (st->bias >= 0)
		layer_init_uniform(m, st->bias, bound, rng);
}

static void linear_forward(struct layer *l, struct model *m, const float *x, int batch, bool training)
{
	(void)training;
	struct linear_state *st = l->state;
	struct backend *be = m->be;
	int in = l->in.d[0], out = l->out.d[0];
	const float *bias = st->bias >= 0 ? model_param_data(m, st->bias) : NULL;
	if (be->linear_forward) {
		be->linear_forward(be, batch, out, in, x, model_param_data(m, st->weight), bias, st->act, l->y);
		return;
	}
	be->gemm(be, false, true, batch, out, in, 1.0f, x, in, model_param_data(m, st->weight), in, 0.0f, l->y,
		 out);
	if (bias)
		be->bias_add(be, l->y, bias, batch, out, 1);
}

static bool linear_absorb_next(struct layer *l, struct layer *next, struct model *m); /* after the activations */

static void linear_backward(struct layer *l, struct model *m, const float *x, const float *dy, int batch)
{
	struct linear_state *st = l->state;
	struct backend *be = m->be;
	int in = l->in.d[0], out = l->out.d[0];
	be->gemm(be, true, false, out, in, batch, 1.0f, dy, out, x, in, 0.0f, model_param_grad(m, st->weight), in);
	if (st->bias >= 0)
		be->bias_grad(be, model_param_grad(m, st->bias), dy, batch, out, 1, false);
	if (l->need_dx)
		be->gemm(be, false, false, batch, in, out, 1.0f, dy, out, model_param_data(m, st->weight), in, 0.0f,
			 l->dx, in);
}

/* Gemm with the weight transposed: the [out, in] layout of torch.nn.Linear, as stored. */
static const char *linear_onnx(const struct layer *l, struct onnx_graph *g, const char *x)
{
	const struct linear_state *st = l->state;
	const char *in[3] = {x, onnx_param(g, l, "weight"), st->bias >= 0 ? onnx_param(g, l, "bias") : NULL};
	const struct onnx_attr trans = ONNX_INT("transB", 1);
	return onnx_node(g, "Gemm", l->name, in, st->bias >= 0 ? 3 : 2, &trans, 1);
}

static void linear_memory(const struct layer *l, bool need_dx, const struct backend_target *t, int batch,
			  struct layer_memory *out)
{
	size_t scratch = backend_linear_scratch(t, batch, l->in.d[0], l->out.d[0], need_dx);
	out->scratch = TB_MAX(out->scratch, (int64_t)scratch);
}

static const struct layer_kind linear_kind = {
	.name = "linear",
	.summary = "fully connected layer (torch.nn.Linear); {linear: OUT} or {linear: {out: N, bias: false}}",
	.args = {{"out", 0, 1, 1 << 24, true, true}, {"bias", 1, 0, 1, true, false}},
	.build = linear_build,
	.init = linear_init,
	.forward = linear_forward,
	.backward = linear_backward,
	.absorb_next = linear_absorb_next,
	.onnx = linear_onnx,
	.memory = linear_memory,
};

/* ---- activations ---------------------------------------------------------- */

/* An activation kind is a layer kind plus which function it applies, and
 * the opset-17 operator that computes it (NULL: spelled out in act_onnx). */
struct act_kind {
	struct layer_kind base;
	enum activation act;
	const char *onnx_op;
};

static int act_build(struct layer *l, struct model *m, struct spec_errors *errs)
{
	(void)m;
	(void)errs;
	l->out = l->in;
	return 0;
}

static void act_forward(struct layer *l, struct model *m, const float *x, int batch, bool training)
{
	(void)training;
	const struct act_kind *k = (const struct act_kind *)l->kind;
	float param = k->base.args[0].name ? (float)l->arg[0] : 0.0f;
	m->be->act_forward(m->be, k->act, param, l->y, x, batch * shape_numel(l->in));
}

static void act_backward(struct layer *l, struct model *m, const float *x, const float *dy, int batch)
{
	if (!l->need_dx)
		return;
	const struct act_kind *k = (const struct act_kind *)l->kind;
	float param = k->base.args[0].name ? (float)l->arg[0] : 0.0f;
	m->be->act_backward(m->be, k->act, param, l->dx, dy, x, l->y, batch * shape_numel(l->in));
}

/*
 * One operator, with the slope as LeakyRelu's alpha. GELU has no operator
 * before opset 20: x * 0.5 * (1 + erf(x / sqrt(2))), the exact form the
 * backends compute (torch.nn.GELU's default).
 */
static const char *act_onnx(const struct layer *l, struct onnx_graph *g, const char *x)
{
	const struct act_kind *k = (const struct act_kind *)l->kind;
	if (k->onnx_op) {
		const struct onnx_attr alpha = ONNX_FLOAT("alpha", l->arg[0]);
		return onnx_node(g, k->onnx_op, l->name, &x, 1, &alpha, k->base.args[0].name ? 1 : 0);
	}
	char name[sizeof(l->name) + 16];
	const float sqrt2 = 1.41421356237309504880f, half = 0.5f, one = 1.0f;
	snprintf(name, sizeof(name), "%s.sqrt2", l->name);
	const char *div_in[2] = {x, onnx_constant(g, name, &sqrt2, 0, NULL)};
	snprintf(name, sizeof(name), "%s.div", l->name);
	const char *erf_in = onnx_node(g, "Div", name, div_in, 2, NULL, 0);
	snprintf(name, sizeof(name), "%s.erf", l->name);
	const char *e = onnx_node(g, "Erf", name, &erf_in, 1, NULL, 0);
	snprintf(name, sizeof(name), "%s.one", l->name);
	const char *add_in[2] = {e, onnx_constant(g, name, &one, 0, NULL)};
	snprintf(name, sizeof(name), "%s.add", l->name);
	const char *mul_in[2] = {x, onnx_node(g, "Add", name, add_in, 2, NULL, 0)};
	snprintf(name, sizeof(name), "%s.mul", l->name);
	const char *m = onnx_node(g, "Mul", name, mul_in, 2, NULL, 0);
	snprintf(name, sizeof(name), "%s.half", l->name);
	const char *half_in[2] = {m, onnx_constant(g, name, &half, 0, NULL)};
	return onnx_node(g, "Mul", l->name, half_in, 2, NULL, 0);
}

#define ACT_KIND(ident, kname, ksummary, kact, op, ...)                                                 \
	static const struct act_kind ident = {                                                          \
		.base = {.name = kname,                                                                 \
			 .summary = ksummary,                                                           \
			 .args = {__VA_ARGS__},                                                         \
			 .build = act_build,                                                            \
			 .forward = act_forward,                                                        \
			 .backward = act_backward,                                                      \
			 .onnx = act_onnx},                                                             \
		.act = kact,                                                                            \
		.onnx_op = op,                                                                          \
	}

ACT_KIND(relu_kind, "relu", "max(x, 0) (torch.nn.ReLU)", ACT_RELU, "Relu", {0});
bool layer_is_relu(const struct layer *l)
{
	return l->kind == &relu_kind.base;
}

ACT_KIND(gelu_kind, "gelu", "Gaussian error linear unit, exact erf form (torch.nn.GELU)", ACT_GELU, NULL, {0});
ACT_KIND(tanh_kind, "tanh", "hyperbolic tangent (torch.nn.Tanh)", ACT_TANH, "Tanh", {0});
ACT_KIND(sigmoid_kind, "sigmoid", "logistic function (torch.nn.Sigmoid)", ACT_SIGMOID, "Sigmoid", {0});
ACT_KIND(leaky_relu_kind, "leaky_relu", "x or slope*x below 0 (torch.nn.LeakyReLU); {leaky_relu: 0.01}",
	 ACT_LEAKY_RELU, "LeakyRelu", {"slope", 0.01, 0, 1e6, false, false});

/*
 * A ReLU after a linear layer becomes the epilogue of its matrix product
 * where the backend has one. The ReLU's backward then sees the rectified
 * values as its input; their sign is the pre-activation's (max(x, 0) > 0
 * exactly when x > 0), so its gradient is unchanged.
 */
static bool linear_absorb_next(struct layer *l, struct layer *next, struct model *m)
{
	struct linear_state *st = l->state;
	if (!m->be->linear_forward || !layer_is_relu(next))
		return false;
	st->act = ACT_RELU;
	return true;
}

/* ---- dropout ---------------------------------------------------------------- */

struct dropout_state {
	uint8_t *mask; /* backend memory, [batch, in] */
	bool masked;   /* the last forward applied a mask (training with p > 0) */
};

static int dropout_build(struct layer *l, struct model *m, struct spec_errors *errs)
{
	(void)m;
	(void)errs;
	l->out = l->in;
	l->state = tb_xcalloc(1, sizeof(struct dropout_state));
	return 0;
}

static void dropout_reserve(struct layer *l, struct model *m, int batch)
{
	struct dropout_state *st = l->state;
	if (st->mask)
		m->be->free(m->be, st->mask);
	st->mask = m->be->alloc(m->be, (size_t)batch * shape_numel(l->in));
}

/* The mask: one byte per value. */
static void dropout_memory(const struct layer *l, bool need_dx, const struct backend_target *t, int batch,
			   struct layer_memory *out)
{
	(void)need_dx;
	(void)t;
	out->kept += (int64_t)batch * shape_numel(l->in);
}

static void dropout_forward(struct layer *l, struct model *m, const float *x, int batch, bool training)
{
	struct dropout_state *st = l->state;
	int64_t n = batch * shape_numel(l->in);
	float p = (float)l->arg[0];
	st->masked = training && p > 0;
	if (!st->masked) {
		m->be->copy(m->be, l->y, x, (size_t)n * sizeof(float));
		return;
	}
	/* One stream of draws per (run seed, layer); the step number is the counter. */
	m->be->dropout_forward(m->be, p, rng_hash(m->seed, 0x64726f70ULL, (uint64_t)l->index), m->step, l->y,
			       st->mask, x, n);
}

static void dropout_backward(struct layer *l, struct model *m, const float *x, const float *dy, int batch)
{
	(void)x;
	struct dropout_state *st = l->state;
	if (!l->need_dx)
		return;
	int64_t n = batch * shape_numel(l->in);
	float p = (float)l->arg[0];
	if (!st->masked)
		m->be->copy(m->be, l->dx, dy, (size_t)n * sizeof(float));
	else
		m->be->dropout_backward(m->be, p, l->dx, dy, st->mask, n);
}

static void dropout_destroy(struct layer *l, struct model *m)
{
	struct dropout_state *st = l->state;
	if (st && st->mask && m->be)
		m->be->free(m->be, st->mask);
	free(st);
}

/* Evaluation mode: the identity (what a PyTorch export of model.eval() writes too). */
static const char *dropout_onnx(const struct layer *l, struct onnx_graph *g, const char *x)
{
	return onnx_node(g, "Identity", l->name, &x, 1, NULL, 0);
}

static const struct layer_kind dropout_kind = {
	.name = "dropout",
	.summary = "zero each value with probability p in training, scale the rest by 1/(1-p); {dropout: 0.5}",
	.args = {{"p", 0.5, 0, 0.999, false, false}},
	.build = dropout_build,
	.reserve = dropout_reserve,
	.memory = dropout_memory,
	.forward = dropout_forward,
	.backward = dropout_backward,
	.destroy = dropout_destroy,
	.onnx = dropout_onnx,
};

const struct layer_kind *const layer_kinds_dense[] = {
	&flatten_kind,       &linear_kind,          &relu_kind.base,    &gelu_kind.base, &tanh_kind.base,
	&sigmoid_kind.base,  &leaky_relu_kind.base, &dropout_kind,      NULL,
};
