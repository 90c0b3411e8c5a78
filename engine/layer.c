/*
 * layer.c — the generic half of every layer: finding a kind by name,
 * checking a spec entry's arguments against the kind's table (with
 * positions and did-you-mean), allocating activations, and running
 * forward/backward through the kind's functions.
 *
 * Threads: model building runs on any thread (check runs in the server);
 * forward/backward on the replica's training thread.
 */
#include "layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "profile.h"
#include "rng.h"
#include "tb.h"

int64_t shape_numel(struct shape s)
{
	int64_t n = 1;
	for (int i = 0; i < s.ndim; i++)
		n *= s.d[i];
	return n;
}

char *shape_str(struct shape s, char *buf, size_t len)
{
	if (s.ndim == 1)
		snprintf(buf, len, "[%d]", s.d[0]);
	else
		snprintf(buf, len, "[%d, %d, %d]", s.d[0], s.d[1], s.d[2]);
	return buf;
}

static const struct layer_kind *const *const kind_tables[] = {layer_kinds_dense, layer_kinds_conv};

const struct layer_kind *layer_kind_find(const char *name)
{
	for (size_t t = 0; t < TB_ARRAY_LEN(kind_tables); t++)
		for (const struct layer_kind *const *k = kind_tables[t]; *k; k++)
			if (strcmp((*k)->name, name) == 0)
				return *k;
	return NULL;
}

int layer_kind_names(const char **names, int max)
{
	int n = 0;
	for (size_t t = 0; t < TB_ARRAY_LEN(kind_tables); t++)
		for (const struct layer_kind *const *k = kind_tables[t]; *k; k++)
			if (n < max)
				names[n++] = (*k)->name;
	return n;
}

static int arg_index(const struct layer_kind *kind, const char *name)
{
	for (int i = 0; i < LAYER_ARGS_MAX && kind->args[i].name; i++)
		if (strcmp(kind->args[i].name, name) == 0)
			return i;
	return -1;
}

/* Check one value against its row; writes the error and returns -1 when it does not fit. */
static int arg_accept(const struct layer_kind *kind, int i, const struct spec_arg *a, double *out,
		      struct spec_errors *errs)
{
	const struct layer_arg *def = &kind->args[i];
	if (!a->is_number) {
		spec_error_add(errs, a->pos, "%s: argument '%s' must be a number, got '%s'", kind->name,
			       def->name, a->text);
		return -1;
	}
	double v = a->number;
	char lo[40], hi[40], got[40];
	tb_fmt_number(got, sizeof(got), v);
	if (def->integer && v != floor(v)) {
		spec_error_add(errs, a->pos, "%s: argument '%s' must be an integer, got %s", kind->name,
			       def->name, got);
		return -1;
	}
	if (v < def->min || v > def->max) {
		spec_error_add(errs, a->pos, "%s: argument '%s' must be between %s and %s, got %s", kind->name,
			       def->name, tb_fmt_number(lo, sizeof(lo), def->min), tb_fmt_number(hi, sizeof(hi), def->max),
			       got);
		return -1;
	}
	*out = v;
	return 0;
}

static int resolve_args(struct layer *l, const struct spec_layer *sl, struct spec_errors *errs)
{
	const struct layer_kind *kind = l->kind;
	bool given[LAYER_ARGS_MAX] = {false};
	int bad = 0;
	for (int i = 0; i < LAYER_ARGS_MAX && kind->args[i].name; i++)
		l->arg[i] = kind->args[i].def;
	if (sl->has_value) {
		if (!kind->args[0].name) {
			spec_error_add(errs, sl->value.pos, "%s takes no arguments", kind->name);
			return -1;
		}
		bad |= arg_accept(kind, 0, &sl->value, &l->arg[0], errs);
		given[0] = true;
	}
	for (int a = 0; a < sl->nargs; a++) {
		const struct spec_arg *sa = &sl->args[a];
		int i = arg_index(kind, sa->name);
		if (i < 0) {
			const char *known[LAYER_ARGS_MAX];
			int nk = 0;
			while (nk < LAYER_ARGS_MAX && kind->args[nk].name) {
				known[nk] = kind->args[nk].name;
				nk++;
			}
			const char *hint = spec_suggest(sa->name, known, nk);
			if (hint)
				spec_error_add(errs, sa->key_pos, "%s: unknown argument '%s' (did you mean '%s'?)",
					       kind->name, sa->name, hint);
			else
				spec_error_add(errs, sa->key_pos, "%s: unknown argument '%s'", kind->name, sa->name);
			bad = -1;
			continue;
		}
		if (given[i]) {
			spec_error_add(errs, sa->key_pos, "%s: argument '%s' given twice", kind->name, sa->name);
			bad = -1;
			continue;
		}
		given[i] = true;
		bad |= arg_accept(kind, i, sa, &l->arg[i], errs);
	}
	for (int i = 0; i < LAYER_ARGS_MAX && kind->args[i].name; i++) {
		if (kind->args[i].required && !given[i]) {
			spec_error_add(errs, sl->pos, "%s: missing argument '%s' (write {%s: N} or {%s: {%s: N}})",
				       kind->name, kind->args[i].name, kind->name, kind->name, kind->args[i].name);
			bad = -1;
		}
	}
	return bad ? -1 : 0;
}

int layer_build(struct layer *l, struct model *m, const struct spec_layer *sl, const char *name,
		struct shape in, struct spec_errors *errs)
{
	memset(l, 0, sizeof(*l));
	l->kind = layer_kind_find(sl->type);
	l->pos = sl->pos;
	l->in = in;
	l->index = m->nlayers_total++;
	snprintf(l->name, sizeof(l->name), "%s", name);
	if (!l->kind) {
		const char *names[128];
		int n = layer_kind_names(names, 128);
		const char *hint = spec_suggest(sl->type, names, n);
		if (hint)
			spec_error_add(errs, sl->pos, "unknown layer '%s' (did you mean '%s'?)", sl->type, hint);
		else
			spec_error_add(errs, sl->pos, "unknown layer '%s'", sl->type);
		return -1;
	}
	if (resolve_args(l, sl, errs) < 0)
		return -1;
	l->weights_offset = m->n_weights;
	if (l->kind->build(l, m, errs) < 0)
		return -1;
	l->nparams = m->n_weights - l->weights_offset;
	if (shape_numel(l->out) <= 0) {
		spec_error_add(errs, l->pos, "%s: output would be empty", l->kind->name);
		return -1;
	}
	return 0;
}

void layer_reserve(struct layer *l, struct model *m, int batch)
{
	struct backend *be = m->be;
	if (!l->kind->is_view) {
		if (l->absorbed) {
			l->y = NULL; /* an alias of the input, set by each forward */
		} else {
			if (l->y)
				be->free(be, l->y);
			l->y = be->alloc(be, (size_t)batch * shape_numel(l->out) * sizeof(float));
		}
		if (l->dx) {
			be->free(be, l->dx);
			l->dx = NULL;
		}
		if (l->need_dx)
			l->dx = be->alloc(be, (size_t)batch * shape_numel(l->in) * sizeof(float));
	}
	if (l->kind->reserve)
		l->kind->reserve(l, m, batch);
}

void layer_memory(const struct layer *l, bool need_dx, const struct backend_target *t, int batch,
		  struct layer_memory *out)
{
	if (!l->kind->is_view) {
		if (!l->absorbed)
			out->kept += (int64_t)batch * shape_numel(l->out) * (int64_t)sizeof(float);
		if (need_dx)
			out->kept += (int64_t)batch * shape_numel(l->in) * (int64_t)sizeof(float);
	}
	if (l->kind->memory)
		l->kind->memory(l, need_dx, t, batch, out);
}

void layer_forward(struct layer *l, struct model *m, const float *x, int batch, bool training)
{
	if (l->absorbed) {
		l->y = (float *)x; /* the layer before has applied this one */
		return;
	}
	profile_enter(m->profile, l->kind->name, PROFILE_FORWARD);
	l->kind->forward(l, m, x, batch, training);
	profile_leave(m->profile);
}

void layer_backward(struct layer *l, struct model *m, const float *x, const float *dy, int batch)
{
	profile_enter(m->profile, l->kind->name, PROFILE_BACKWARD);
	l->kind->backward(l, m, x, dy, batch);
	profile_leave(m->profile);
}

void layer_destroy(struct layer *l, struct model *m)
{
	if (!l->kind)
		return;
	if (m->be && !l->kind->is_view) {
		if (l->y && !l->absorbed)
			m->be->free(m->be, l->y);
		if (l->dx)
			m->be->free(m->be, l->dx);
	}
	l->y = l->dx = NULL;
	if (l->kind->destroy)
		l->kind->destroy(l, m);
	else
		free(l->state);
	l->state = NULL;
}

void layer_init_uniform(struct model *m, int index, float bound, struct rng *rng)
{
	const struct model_param *p = &m->params[index];
	float *host = tb_xmalloc((size_t)p->numel * sizeof(float));
	for (int64_t i = 0; i < p->numel; i++)
		host[i] = (rng_uniform(rng) * 2.0f - 1.0f) * bound;
	m->be->upload(m->be, model_param_data(m, index), host, (size_t)p->numel * sizeof(float));
	free(host);
}

void layer_init_constant(struct model *m, int index, float value)
{
	m->be->fill(m->be, model_param_data(m, index), value, m->params[index].numel);
}
