/*
 * layers_block.c — basic_block, the residual block of ResNet-18/34 as
 * written in the CIFAR ResNet of kuangliu/pytorch-cifar:
 *
 *   out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
 *
 * conv1 is 3×3 with the block's stride, conv2 3×3 stride 1, both padding 1
 * and no bias; the shortcut is the identity, or — when the stride is not 1
 * or the width changes — a 1×1 convolution with the block's stride and a
 * batch norm, named `shortcut.0` and `shortcut.1` as in that nn.Sequential.
 *
 * What it is: a composite kind. Its state owns ordinary child layers
 * (conv2d, batchnorm2d, relu) built with layer_build under names such as
 * "layer1.0.conv1", so their parameters register with PyTorch's names and
 * their arithmetic is the children's own. What it is not: a graph — the
 * wiring above is spelled out in forward and backward.
 *
 * Threads: building on any thread; running on the replica's training thread.
 */
#include <stdio.h>
#include <string.h>

#include "layers_conv.h"
#include "model.h"
#include "onnx_graph.h"
#include "tb.h"

enum { BLOCK_OUT, BLOCK_STRIDE };

enum { CH_CONV1, CH_BN1, CH_RELU1, CH_CONV2, CH_BN2, CH_SC_CONV, CH_SC_BN, CH_MAX };

struct block_state {
	struct layer child[CH_MAX]; /* in forward order; the last two only with a projection */
	int nchild;
	bool projection;            /* shortcut is conv + bn, not the identity */
	float *dsum;                /* backend memory [batch, out]: gradient at the residual sum */
};

struct child_arg {
	const char *name;
	double value;
};

/* Build child `ch` of type `type` named "<block>.<suffix>" from `nargs` numeric arguments. */
static int child_build(struct layer *l, struct model *m, struct spec_errors *errs, int ch, const char *type,
		       const char *suffix, struct shape in, const struct child_arg *args, int nargs)
{
	struct block_state *st = l->state;
	struct spec_layer sl;
	memset(&sl, 0, sizeof(sl));
	snprintf(sl.type, sizeof(sl.type), "%s", type);
	sl.pos = l->pos;
	TB_ASSERT(nargs <= SPEC_MAX_ARGS);
	for (int i = 0; i < nargs; i++) {
		struct spec_arg *a = &sl.args[i];
		snprintf(a->name, sizeof(a->name), "%s", args[i].name);
		a->number = args[i].value;
		a->is_number = true;
		snprintf(a->text, sizeof(a->text), "%g", args[i].value);
		a->pos = a->key_pos = l->pos;
	}
	sl.nargs = nargs;
	char name[sizeof(l->name)];
	tb_fmt(name, sizeof(name), "%s%s%s", l->name, l->name[0] ? "." : "", suffix);
	st->nchild = ch + 1; /* so destroy releases what was built, even on failure */
	return layer_build(&st->child[ch], m, &sl, name, in, errs);
}

static int block_build(struct layer *l, struct model *m, struct spec_errors *errs)
{
	if (layer_need_image(l, errs) < 0)
		return -1;
	struct block_state *st = tb_xcalloc(1, sizeof(*st));
	l->state = st;
	int out = (int)l->arg[BLOCK_OUT], stride = (int)l->arg[BLOCK_STRIDE];
	st->projection = stride != 1 || l->in.d[0] != out;
	const struct child_arg conv1[] = {{"out", out}, {"kernel", 3}, {"stride", stride}, {"padding", 1}, {"bias", 0}};
	const struct child_arg conv2[] = {{"out", out}, {"kernel", 3}, {"stride", 1}, {"padding", 1}, {"bias", 0}};
	const struct child_arg conv_sc[] = {{"out", out}, {"kernel", 1}, {"stride", stride}, {"bias", 0}};
	struct layer *c = st->child;
	if (child_build(l, m, errs, CH_CONV1, "conv2d", "conv1", l->in, conv1, 5) < 0 ||
	    child_build(l, m, errs, CH_BN1, "batchnorm2d", "bn1", c[CH_CONV1].out, NULL, 0) < 0 ||
	    child_build(l, m, errs, CH_RELU1, "relu", "relu", c[CH_BN1].out, NULL, 0) < 0 ||
	    child_build(l, m, errs, CH_CONV2, "conv2d", "conv2", c[CH_RELU1].out, conv2, 5) < 0 ||
	    child_build(l, m, errs, CH_BN2, "batchnorm2d", "bn2", c[CH_CONV2].out, NULL, 0) < 0)
		return -1;
	if (st->projection &&
	    (child_build(l, m, errs, CH_SC_CONV, "conv2d", "shortcut.0", l->in, conv_sc, 4) < 0 ||
	     child_build(l, m, errs, CH_SC_BN, "batchnorm2d", "shortcut.1", c[CH_SC_CONV].out, NULL, 0) < 0))
		return -1;
	/* conv-bn-relu inside the block, as model_build fuses the top-level layers. */
	if (m->be && c[CH_BN1].kind->absorb_next && c[CH_BN1].kind->absorb_next(&c[CH_BN1], &c[CH_RELU1], m))
		c[CH_RELU1].absorbed = true;
	l->out = c[CH_BN2].out;
	return 0;
}

/* Children draw from the block's stream in forward order, so the draws depend only on the block. */
static void block_init(struct layer *l, struct model *m, struct rng *rng)
{
	struct block_state *st = l->state;
	for (int i = 0; i < st->nchild; i++)
		if (st->child[i].kind->init)
			st->child[i].kind->init(&st->child[i], m, rng);
}

/* Only the branches that read x pass a gradient out of the block. */
static bool child_need_dx(int child, bool block_need_dx)
{
	return (child == CH_CONV1 || child == CH_SC_CONV) ? block_need_dx : true;
}

static void block_reserve(struct layer *l, struct model *m, int batch)
{
	struct block_state *st = l->state;
	struct backend *be = m->be;
	for (int i = 0; i < st->nchild; i++)
		st->child[i].need_dx = child_need_dx(i, l->need_dx);
	for (int i = 0; i < st->nchild; i++)
		layer_reserve(&st->child[i], m, batch);
	if (st->dsum)
		be->free(be, st->dsum);
	st->dsum = be->alloc(be, (size_t)batch * shape_numel(l->out) * sizeof(float));
}

static void block_memory(const struct layer *l, bool need_dx, const struct backend_target *t, int batch,
			 struct layer_memory *out)
{
	const struct block_state *st = l->state;
	for (int i = 0; i < st->nchild; i++)
		layer_memory(&st->child[i], child_need_dx(i, need_dx), t, batch, out);
	out->kept += (int64_t)batch * shape_numel(l->out) * (int64_t)sizeof(float); /* dsum */
}

static void block_forward(struct layer *l, struct model *m, const float *x, int batch, bool training)
{
	struct block_state *st = l->state;
	struct backend *be = m->be;
	struct layer *c = st->child;
	const float *in = x;
	for (int i = CH_CONV1; i <= CH_BN2; i++) {
		layer_forward(&c[i], m, in, batch, training);
		in = c[i].y;
	}
	const float *shortcut = x;
	if (st->projection) {
		layer_forward(&c[CH_SC_CONV], m, x, batch, training);
		layer_forward(&c[CH_SC_BN], m, c[CH_SC_CONV].y, batch, training);
		shortcut = c[CH_SC_BN].y;
	}
	int64_t n = batch * shape_numel(l->out);
	if (be->add_relu) {
		be->add_relu(be, l->y, c[CH_BN2].y, shortcut, n);
	} else {
		be->add(be, l->y, c[CH_BN2].y, shortcut, n);
		be->act_forward(be, ACT_RELU, 0.0f, l->y, l->y, n);
	}
}

static void block_backward(struct layer *l, struct model *m, const float *x, const float *dy, int batch)
{
	struct block_state *st = l->state;
	struct backend *be = m->be;
	struct layer *c = st->child;
	int64_t n = batch * shape_numel(l->out);
	/* relu(sum) > 0 exactly where sum > 0, so the output stands in for the sum. */
	be->act_backward(be, ACT_RELU, 0.0f, st->dsum, dy, l->y, l->y, n);
	const float *g = st->dsum;
	for (int i = CH_BN2; i >= CH_CONV1; i--) {
		layer_backward(&c[i], m, i == CH_CONV1 ? x : c[i - 1].y, g, batch);
		g = c[i].dx;
	}
	const float *g_shortcut = st->dsum;
	if (st->projection) {
		layer_backward(&c[CH_SC_BN], m, c[CH_SC_CONV].y, st->dsum, batch);
		layer_backward(&c[CH_SC_CONV], m, x, c[CH_SC_BN].dx, batch);
		g_shortcut = c[CH_SC_CONV].dx;
	}
	/* Both branches read x: its gradient is the sum of theirs. */
	if (l->need_dx)
		be->add(be, l->dx, c[CH_CONV1].dx, g_shortcut, batch * shape_numel(l->in));
}

static void block_visit_children(const struct layer *l, int depth, layer_visit_fn fn, void *ctx)
{
	const struct block_state *st = l->state;
	for (int i = 0; i < st->nchild; i++) {
		const struct layer *c = &st->child[i];
		fn(c, depth + 1, ctx);
		if (c->kind && c->kind->visit_children)
			c->kind->visit_children(c, depth + 1, fn, ctx);
	}
}

static void block_destroy(struct layer *l, struct model *m)
{
	struct block_state *st = l->state;
	if (!st)
		return;
	for (int i = 0; i < st->nchild; i++)
		layer_destroy(&st->child[i], m);
	if (st->dsum && m->be)
		m->be->free(m->be, st->dsum);
	free(st);
}

/* The children's own nodes, wired as in block_forward, then Add and Relu. */
static const char *block_onnx(const struct layer *l, struct onnx_graph *g, const char *x)
{
	const struct block_state *st = l->state;
	const struct layer *c = st->child;
	const char *y = x;
	for (int i = CH_CONV1; i <= CH_BN2 && y; i++)
		y = onnx_layer(g, &c[i], y);
	const char *shortcut = x;
	if (st->projection && y)
		shortcut = onnx_layer(g, &c[CH_SC_BN], onnx_layer(g, &c[CH_SC_CONV], x));
	char name[sizeof(l->name) + 8];
	snprintf(name, sizeof(name), "%s.add", l->name);
	const char *sum_in[2] = {y, shortcut};
	const char *sum = y && shortcut ? onnx_node(g, "Add", name, sum_in, 2, NULL, 0) : NULL;
	return sum ? onnx_node(g, "Relu", l->name, &sum, 1, NULL, 0) : NULL;
}

const struct layer_kind layer_kind_basic_block = {
	.name = "basic_block",
	.summary = "ResNet basic block: two 3×3 conv-bn with a residual shortcut (1×1 conv-bn when the shape "
		   "changes); {basic_block: {out: 128, stride: 2}}",
	.args = {{"out", 0, 1, 1 << 16, true, true}, {"stride", 1, 1, 8, true, false}},
	.build = block_build,
	.init = block_init,
	.reserve = block_reserve,
	.memory = block_memory,
	.forward = block_forward,
	.backward = block_backward,
	.visit_children = block_visit_children,
	.destroy = block_destroy,
	.onnx = block_onnx,
};
