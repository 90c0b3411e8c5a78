/*
 * model.c — building a network from a spec, its parameter registry and
 * the sequential forward/backward (see model.h).
 *
 * Parameters are registered while layers build (names, shapes), then
 * sealed into three allocations — weights, gradients, buffers — so the
 * optimizer, clipping, all-reduce and checkpoints each see one flat
 * range, as in llm.c's malloc_and_point_parameters.
 *
 * Threads: building on any thread (the server's check); running on the
 * replica's training thread.
 */
#include "model.h"

#include <stdio.h>
#include <string.h>

#include "rng.h"
#include "tb.h"

int model_param_add(struct model *m, struct layer *l, const char *suffix, int ndim, const int64_t *shape,
		    bool trainable)
{
	TB_ASSERT(!m->sealed);
	TB_ASSERT(ndim >= 1 && ndim <= 4);
	if (m->nparams % 32 == 0)
		m->params = tb_xrealloc(m->params, (size_t)(m->nparams + 32) * sizeof(*m->params));
	struct model_param *p = &m->params[m->nparams];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s%s%s", l->name, l->name[0] ? "." : "", suffix);
	p->ndim = ndim;
	p->numel = 1;
	for (int i = 0; i < ndim; i++) {
		p->shape[i] = shape[i];
		p->numel *= shape[i];
	}
	p->trainable = trainable;
	p->is_count = strcmp(suffix, "num_batches_tracked") == 0;
	if (trainable) {
		p->offset = m->n_weights;
		m->n_weights += p->numel;
	} else {
		p->offset = m->n_buffers;
		m->n_buffers += p->numel;
	}
	return m->nparams++;
}

float *model_param_data(struct model *m, int index)
{
	TB_ASSERT(m->sealed && index >= 0 && index < m->nparams);
	const struct model_param *p = &m->params[index];
	return (p->trainable ? m->weights : m->buffers) + p->offset;
}

float *model_param_grad(struct model *m, int index)
{
	TB_ASSERT(m->sealed && index >= 0 && index < m->nparams && m->params[index].trainable);
	return m->grads + m->params[index].offset;
}

int model_param_find(const struct model *m, const char *name)
{
	for (int i = 0; i < m->nparams; i++)
		if (strcmp(m->params[i].name, name) == 0)
			return i;
	return -1;
}

int64_t model_param_count(const struct model *m)
{
	return m->n_weights;
}

static void seal(struct model *m)
{
	struct backend *be = m->be;
	m->weights = be->alloc(be, (size_t)TB_MAX(m->n_weights, 1) * sizeof(float));
	m->grads = be->alloc(be, (size_t)TB_MAX(m->n_weights, 1) * sizeof(float));
	if (m->n_buffers)
		m->buffers = be->alloc(be, (size_t)m->n_buffers * sizeof(float));
	m->sealed = true;
}

/*
 * Which layers backward must visit: a layer's input gradient is needed
 * only when a layer below it learns (or the caller wants the input's
 * gradient), so the leading layers without parameters (flatten, dropout on
 * the input) run no backward at all, and the first learning layer skips
 * its input gradient, the largest product of an MLP's backward.
 */
static void plan_backward(struct model *m, bool input_grad)
{
	bool learns_below = input_grad;
	m->backward_stop = m->nlayers;
	for (int i = 0; i < m->nlayers; i++) {
		struct layer *l = &m->layers[i];
		l->need_dx = learns_below;
		if ((learns_below || l->nparams) && m->backward_stop == m->nlayers)
			m->backward_stop = i;
		if (l->nparams)
			learns_below = true;
	}
}

struct model *model_build(const struct spec_model *sm, struct shape input, int classes, struct backend *be,
			  struct spec_errors *errs)
{
	struct model *m = tb_xcalloc(1, sizeof(*m));
	m->be = be;
	m->input = input;
	m->classes = classes;
	snprintf(m->preset, sizeof(m->preset), "%s", sm->preset);
	struct spec_layer *expanded = NULL;
	const struct spec_layer *list = sm->layers;
	int n = sm->nlayers;
	if (sm->preset[0]) {
		if (model_preset_expand(sm, input, classes, &expanded, &n, errs) < 0)
			goto fail;
		list = expanded;
	}
	if (n == 0) {
		spec_error_add(errs, sm->pos, "the model has no layers");
		goto fail;
	}
	m->layers = tb_xcalloc((size_t)n, sizeof(*m->layers));
	struct shape cur = input;
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%d", i);
		m->nlayers = i + 1; /* so model_free releases what was built, even on failure */
		if (layer_build(&m->layers[i], m, &list[i], list[i].name[0] ? list[i].name : name, cur, errs) < 0)
			goto fail;
		cur = m->layers[i].out;
	}
	if (shape_numel(cur) != classes) {
		char buf[48];
		struct spec_pos pos = list[n - 1].pos;
		spec_error_add(errs, pos,
			       "the model ends with %s values per sample but the data has %d classes; end with {linear: %d}",
			       shape_str(cur, buf, sizeof(buf)), classes, classes);
		goto fail;
	}
	plan_backward(m, false);
	/* Fuse neighbours the backend can run as one operation (linear + ReLU on a GPU). */
	for (int i = 0; be && i + 1 < m->nlayers; i++) {
		struct layer *l = &m->layers[i], *next = &m->layers[i + 1];
		if (!l->absorbed && l->kind->absorb_next && l->kind->absorb_next(l, next, m))
			next->absorbed = true;
	}
	free(expanded);
	if (be)
		seal(m);
	return m;
fail:
	free(expanded);
	model_free(m);
	return NULL;
}

void model_free(struct model *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nlayers; i++)
		layer_destroy(&m->layers[i], m);
	if (m->sealed) {
		m->be->free(m->be, m->weights);
		m->be->free(m->be, m->grads);
		if (m->buffers)
			m->be->free(m->be, m->buffers);
	}
	free(m->layers);
	free(m->params);
	free(m);
}

/* Each layer draws from its own stream, so adding a layer does not change the others' weights. */
void model_init(struct model *m, uint64_t seed)
{
	TB_ASSERT(m->sealed);
	m->seed = seed;
	for (int i = 0; i < m->nlayers; i++) {
		struct layer *l = &m->layers[i];
		if (!l->kind->init)
			continue;
		struct rng rng;
		rng_seed(&rng, rng_hash(seed, 0x696e6974ULL /* "init" */, (uint64_t)i));
		l->kind->init(l, m, &rng);
	}
}

void model_want_input_grad(struct model *m, bool want)
{
	TB_ASSERT(m->batch_cap == 0); /* input gradients are sized by model_reserve */
	plan_backward(m, want);
}

void model_reserve(struct model *m, int batch)
{
	TB_ASSERT(m->sealed);
	if (batch <= m->batch_cap)
		return;
	for (int i = 0; i < m->nlayers; i++)
		layer_reserve(&m->layers[i], m, batch);
	m->batch_cap = batch;
}

const float *model_forward(struct model *m, const float *x, int batch, bool training)
{
	TB_ASSERT(batch <= m->batch_cap);
	const float *in = x;
	for (int i = 0; i < m->nlayers; i++) {
		layer_forward(&m->layers[i], m, in, batch, training);
		in = m->layers[i].y;
	}
	return in;
}

void model_backward(struct model *m, const float *x, const float *dlogits, int batch)
{
	const float *dy = dlogits;
	for (int i = m->nlayers - 1; i >= m->backward_stop; i--) {
		struct layer *l = &m->layers[i];
		const float *in = i == 0 ? x : m->layers[i - 1].y;
		layer_backward(l, m, in, dy, batch);
		dy = l->dx;
		if (m->grads_ready && l->nparams)
			m->grads_ready(m->grads_ready_ctx, l->weights_offset, l->nparams);
	}
}

void model_set_grads_hook(struct model *m, model_grads_ready_fn fn, void *ctx)
{
	m->grads_ready = fn;
	m->grads_ready_ctx = ctx;
}

const float *model_input_grad(const struct model *m)
{
	return m->nlayers && m->layers[0].need_dx ? m->layers[0].dx : NULL;
}

static void visit_layer(const struct layer *l, int depth, layer_visit_fn fn, void *ctx)
{
	fn(l, depth, ctx);
	if (l->kind->visit_children)
		l->kind->visit_children(l, depth, fn, ctx);
}

void model_visit(const struct model *m, layer_visit_fn fn, void *ctx)
{
	for (int i = 0; i < m->nlayers; i++)
		visit_layer(&m->layers[i], 0, fn, ctx);
}
