/*
 * layers_norm.c — batch normalisation layers: batchnorm2d (per channel of
 * an image), batchnorm1d (per feature of a vector) and `batchnorm`, which
 * picks one of the two from its input's shape.
 *
 * Parameters and buffers follow torch.nn.BatchNorm*d's state_dict: weight,
 * bias (trainable), running_mean, running_var, num_batches_tracked (a
 * buffer kept as a float count and saved as I64 by the checkpoint code).
 * Training normalises with batch statistics and updates the running ones
 * with PyTorch's momentum rule; evaluation uses the running statistics.
 * What it is not: the arithmetic (backend batchnorm_forward/backward).
 *
 * Threads: building on any thread; running on the replica's training thread.
 */
#include <stdio.h>
#include <string.h>

#include "layers_conv.h"
#include "model.h"
#include "onnx_graph.h"
#include "tb.h"

enum { BN_MOMENTUM, BN_EPS };

struct bn_state {
	int weight, bias, running_mean, running_var, count; /* parameter indices */
	int channels, spatial;   /* C and H*W (1 for vectors) */
	float *save_mean;        /* backend memory [C]: batch statistics of the last training forward */
	float *save_invstd;      /* backend memory [C] */
	float *scratch_dx;       /* backend memory [batch, in] when need_dx is false (the backend always writes dx) */
	int batch_cap;           /* samples the per-batch buffers hold */
	bool last_eval;          /* the last forward used running statistics */
	bool relu;               /* the ReLU after it is absorbed: forward writes relu(y) */
	/* Evaluation-mode backward only (fine-tuning with frozen statistics, parity tests): */
	float *zeros, *ones;     /* backend memory [C] */
	float *xhat;             /* backend memory [batch, in] */
};

static int bn_build(struct layer *l, struct model *m, struct spec_errors *errs)
{
	const char *name = l->kind->name;
	char buf[48];
	if (l->kind == &layer_kind_batchnorm2d && l->in.ndim != 3) {
		spec_error_add(errs, l->pos, "batchnorm2d needs an image input [C, H, W] but gets %s%s",
			       shape_str(l->in, buf, sizeof(buf)), "; use batchnorm1d for feature vectors");
		return -1;
	}
	if (l->kind == &layer_kind_batchnorm1d && l->in.ndim != 1) {
		spec_error_add(errs, l->pos, "batchnorm1d needs a feature vector but gets %s; use batchnorm2d for images",
			       shape_str(l->in, buf, sizeof(buf)));
		return -1;
	}
	if (m->be && !m->be->batchnorm_forward) {
		spec_error_add(errs, l->pos, "%s: the %s backend has no batch normalisation", name, m->be->name);
		return -1;
	}
	struct bn_state *st = tb_xcalloc(1, sizeof(*st));
	l->state = st;
	st->channels = l->in.d[0];
	st->spatial = l->in.ndim == 3 ? l->in.d[1] * l->in.d[2] : 1;
	int64_t c = st->channels;
	st->weight = model_param_add(m, l, "weight", 1, &c, true);
	st->bias = model_param_add(m, l, "bias", 1, &c, true);
	st->running_mean = model_param_add(m, l, "running_mean", 1, &c, false);
	st->running_var = model_param_add(m, l, "running_var", 1, &c, false);
	st->count = model_param_add(m, l, "num_batches_tracked", 1, (int64_t[]){1}, false);
	l->out = l->in;
	return 0;
}

/* torch.nn.BatchNorm: weight 1, bias 0, running mean 0, running variance 1, no batches seen. */
static void bn_init(struct layer *l, struct model *m, struct rng *rng)
{
	(void)rng;
	struct bn_state *st = l->state;
	layer_init_constant(m, st->weight, 1.0f);
	layer_init_constant(m, st->bias, 0.0f);
	layer_init_constant(m, st->running_mean, 0.0f);
	layer_init_constant(m, st->running_var, 1.0f);
	layer_init_constant(m, st->count, 0.0f);
}

static void bn_reserve(struct layer *l, struct model *m, int batch)
{
	struct bn_state *st = l->state;
	struct backend *be = m->be;
	if (!st->save_mean) {
		st->save_mean = be->alloc(be, (size_t)st->channels * sizeof(float));
		st->save_invstd = be->alloc(be, (size_t)st->channels * sizeof(float));
	}
	if (st->scratch_dx) {
		be->free(be, st->scratch_dx);
		st->scratch_dx = NULL;
	}
	if (!l->need_dx)
		st->scratch_dx = be->alloc(be, (size_t)batch * shape_numel(l->in) * sizeof(float));
	if (st->xhat) {
		be->free(be, st->xhat);
		st->xhat = NULL;
	}
	st->batch_cap = batch;
}

/* Training keeps the batch statistics, and a dx the backend writes even when nobody reads it. The
 * evaluation-mode backward's buffers (fine-tuning with frozen statistics) are not a training cost. */
static void bn_memory(const struct layer *l, bool need_dx, const struct backend_target *t, int batch,
		      struct layer_memory *out)
{
	(void)t;
	const struct bn_state *st = l->state;
	out->kept += 2 * (int64_t)st->channels * (int64_t)sizeof(float);
	if (!need_dx)
		out->kept += (int64_t)batch * shape_numel(l->in) * (int64_t)sizeof(float);
}

static void bn_forward(struct layer *l, struct model *m, const float *x, int batch, bool training)
{
	struct bn_state *st = l->state;
	struct backend *be = m->be;
	(st->relu ? be->batchnorm_relu_forward : be->batchnorm_forward)(
		be, training, batch, st->channels, st->spatial, (float)l->arg[BN_MOMENTUM], (float)l->arg[BN_EPS], x,
		model_param_data(m, st->weight), model_param_data(m, st->bias), model_param_data(m, st->running_mean),
		model_param_data(m, st->running_var), st->save_mean, st->save_invstd, l->y,
		model_param_data(m, st->count)); /* counted on the device: a captured step needs no host round trip */
	st->last_eval = !training;
}

/*
 * Backward through evaluation-mode batch norm, where the statistics are
 * constants: dx = dy·γ/sqrt(var_r+ε), dγ = Σ dy·x̂, dβ = Σ dy with
 * x̂ = (x-μ_r)/sqrt(var_r+ε). Built from the two batch-norm operations so
 * every backend gets it for free: x̂ is an evaluation forward with γ=1, β=0;
 * the training backward at mean 0, invstd 1 on x̂ yields exactly dγ and dβ;
 * dx is an evaluation forward of dy with β=0, μ=0.
 */
static void bn_backward_eval(struct layer *l, struct model *m, const float *x, const float *dy, int batch)
{
	struct bn_state *st = l->state;
	struct backend *be = m->be;
	int c = st->channels;
	float eps = (float)l->arg[BN_EPS];
	if (!st->zeros) {
		st->zeros = be->alloc(be, (size_t)c * sizeof(float));
		st->ones = be->alloc(be, (size_t)c * sizeof(float));
		be->fill(be, st->ones, 1.0f, c);
	}
	if (!st->xhat)
		st->xhat = be->alloc(be, (size_t)st->batch_cap * shape_numel(l->in) * sizeof(float));
	float *gamma = model_param_data(m, st->weight), *rv = model_param_data(m, st->running_var);
	float *dx = l->need_dx ? l->dx : st->scratch_dx;
	be->batchnorm_forward(be, false, batch, c, st->spatial, 0.0f, eps, x, st->ones, st->zeros,
			      model_param_data(m, st->running_mean), rv, st->save_mean, st->save_invstd, st->xhat, NULL);
	be->batchnorm_backward(be, batch, c, st->spatial, st->xhat, dy, st->ones, st->zeros, st->ones, dx,
			       model_param_grad(m, st->weight), model_param_grad(m, st->bias));
	if (l->need_dx)
		be->batchnorm_forward(be, false, batch, c, st->spatial, 0.0f, eps, dy, gamma, st->zeros, st->zeros,
				      rv, st->save_mean, st->save_invstd, l->dx, NULL);
}

static void bn_backward(struct layer *l, struct model *m, const float *x, const float *dy, int batch)
{
	struct bn_state *st = l->state;
	struct backend *be = m->be;
	if (st->last_eval) {
		bn_backward_eval(l, m, x, dy, batch);
		return;
	}
	be->batchnorm_backward(be, batch, st->channels, st->spatial, x, dy, model_param_data(m, st->weight),
			       st->save_mean, st->save_invstd, l->need_dx ? l->dx : st->scratch_dx,
			       model_param_grad(m, st->weight), model_param_grad(m, st->bias));
}

/*
 * A ReLU after the batch norm is applied as its output is stored, where
 * the backend can (one pass over the activations instead of two). The
 * ReLU's backward then sees rectified values as its input, whose sign is
 * the normalised value's; batch norm's own backward reads x, not y.
 */
static bool bn_absorb_next(struct layer *l, struct layer *next, struct model *m)
{
	struct bn_state *st = l->state;
	if (!m->be->batchnorm_relu_forward || !layer_is_relu(next))
		return false;
	st->relu = true;
	return true;
}

static void bn_destroy(struct layer *l, struct model *m)
{
	struct bn_state *st = l->state;
	if (st && m->be) {
		struct backend *be = m->be;
		if (st->save_mean) {
			be->free(be, st->save_mean);
			be->free(be, st->save_invstd);
		}
		float *bufs[] = {st->scratch_dx, st->zeros, st->ones, st->xhat};
		for (size_t i = 0; i < TB_ARRAY_LEN(bufs); i++)
			if (bufs[i])
				be->free(be, bufs[i]);
	}
	free(st);
}

/*
 * The evaluation form: running statistics, opset 17's BatchNormalization
 * with training_mode 0 (its default). A vector [N, F] is its (N x C) case.
 */
static const char *bn_onnx(const struct layer *l, struct onnx_graph *g, const char *x)
{
	const char *in[5] = {x, onnx_param(g, l, "weight"), onnx_param(g, l, "bias"), onnx_param(g, l, "running_mean"),
			     onnx_param(g, l, "running_var")};
	const struct onnx_attr eps = ONNX_FLOAT("epsilon", l->arg[BN_EPS]);
	return onnx_node(g, "BatchNormalization", l->name, in, 5, &eps, 1);
}

#define BN_KIND(ident, kname, ksummary)                                                                 \
	const struct layer_kind ident = {                                                               \
		.name = kname,                                                                          \
		.summary = ksummary,                                                                    \
		.args = {{"momentum", 0.1, 0, 1, false, false}, {"eps", 1e-5, 1e-12, 1, false, false}}, \
		.build = bn_build,                                                                      \
		.init = bn_init,                                                                        \
		.reserve = bn_reserve,                                                                  \
		.memory = bn_memory,                                                                    \
		.forward = bn_forward,                                                                  \
		.backward = bn_backward,                                                                \
		.absorb_next = bn_absorb_next,                                                          \
		.destroy = bn_destroy,                                                                  \
		.onnx = bn_onnx,                                                                        \
	}

BN_KIND(layer_kind_batchnorm2d, "batchnorm2d",
	"normalise each channel of an image over the batch (torch.nn.BatchNorm2d); {batchnorm2d: {momentum: 0.1}}");
BN_KIND(layer_kind_batchnorm1d, "batchnorm1d",
	"normalise each feature of a vector over the batch (torch.nn.BatchNorm1d)");
BN_KIND(layer_kind_batchnorm, "batchnorm",
	"batchnorm2d after an image, batchnorm1d after a feature vector");
