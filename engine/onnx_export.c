/*
 * onnx_export.c — the graph builder of onnx_graph.h on protobuf-c, and the
 * export of a whole model (onnx_export.h).
 *
 * The message types come from ONNX's own schema, third_party/onnx/onnx.proto,
 * compiled by protoc-c at build time (build/gen/onnx/onnx.pb-c.[ch]); this
 * file only fills them in and lets libprotobuf-c encode them. Every
 * message, string and array the graph makes is allocated on the graph's
 * arena and freed with it; initializers point at the graph's host copies
 * of the weights (raw_data, little-endian float32 as in memory here).
 *
 * Threads: the caller's.
 */
#include "onnx_export.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "backend.h"
#include "inference.h"
#include "jsonw.h"
#include "model.h"
#include "onnx.pb-c.h"
#include "onnx_graph.h"
#include "tb.h"

struct onnx_graph {
	const struct model *m;
	float *weights, *buffers; /* host copies of the model's parameters; owned */
	Onnx__NodeProto **nodes;  /* in execution order */
	size_t nnodes, cap_nodes;
	Onnx__TensorProto **inits;
	size_t ninits, cap_inits;
	void **arena; /* every allocation above and below, freed together */
	size_t narena, cap_arena;
	char err[512]; /* the first error; "" while none */
};

static void *g_alloc(struct onnx_graph *g, size_t size)
{
	if (g->narena == g->cap_arena) {
		g->cap_arena = g->cap_arena ? 2 * g->cap_arena : 256;
		g->arena = tb_xrealloc(g->arena, g->cap_arena * sizeof(void *));
	}
	return g->arena[g->narena++] = tb_xcalloc(1, size ? size : 1);
}

static char *g_strdup(struct onnx_graph *g, const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(g_alloc(g, n), s, n);
}

static void push(void ***list, size_t *n, size_t *cap, void *item)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*list = tb_xrealloc(*list, *cap * sizeof(void *));
	}
	(*list)[(*n)++] = item;
}

const char *onnx_fail(struct onnx_graph *g, const char *fmt, ...)
{
	if (!g->err[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(g->err, sizeof(g->err), fmt, ap);
		va_end(ap);
	}
	return NULL;
}

static const Onnx__TensorProto *find_init(const struct onnx_graph *g, const char *name)
{
	for (size_t i = 0; i < g->ninits; i++)
		if (strcmp(g->inits[i]->name, name) == 0)
			return g->inits[i];
	return NULL;
}

static bool name_taken(const struct onnx_graph *g, const char *name)
{
	for (size_t i = 0; i < g->nnodes; i++)
		if (strcmp(g->nodes[i]->name, name) == 0)
			return true;
	return find_init(g, name) != NULL || strcmp(name, "input") == 0 || strcmp(name, "logits") == 0;
}

/* `name`, or `name.2`, `name.3`, … : tensor and node names must be unique in a graph. */
static char *unique_name(struct onnx_graph *g, const char *name)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", name);
	for (int k = 2; name_taken(g, buf); k++)
		snprintf(buf, sizeof(buf), "%s.%d", name, k);
	return g_strdup(g, buf);
}

static Onnx__AttributeProto *make_attr(struct onnx_graph *g, const struct onnx_attr *a)
{
	Onnx__AttributeProto *p = g_alloc(g, sizeof(*p));
	onnx__attribute_proto__init(p);
	p->name = g_strdup(g, a->name);
	p->has_type = 1;
	switch (a->type) {
	case ONNX_ATTR_INT:
		p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
		p->has_i = 1;
		p->i = a->i;
		break;
	case ONNX_ATTR_FLOAT:
		p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
		p->has_f = 1;
		p->f = a->f;
		break;
	case ONNX_ATTR_INTS:
		TB_ASSERT(a->nints > 0 && a->nints <= ONNX_ATTR_INTS_MAX);
		p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
		p->n_ints = (size_t)a->nints;
		p->ints = g_alloc(g, sizeof(int64_t) * p->n_ints);
		memcpy(p->ints, a->ints, sizeof(int64_t) * p->n_ints);
		break;
	}
	return p;
}

const char *onnx_node(struct onnx_graph *g, const char *op, const char *name, const char *const *inputs, int ninputs,
		      const struct onnx_attr *attrs, int nattrs)
{
	if (g->err[0])
		return NULL;
	for (int i = 0; i < ninputs; i++)
		if (!inputs[i])
			return NULL; /* an input's builder failed and said why */
	Onnx__NodeProto *n = g_alloc(g, sizeof(*n));
	onnx__node_proto__init(n);
	n->op_type = g_strdup(g, op);
	n->name = unique_name(g, name);
	n->n_input = (size_t)ninputs;
	n->input = g_alloc(g, sizeof(char *) * (size_t)ninputs);
	for (int i = 0; i < ninputs; i++)
		n->input[i] = g_strdup(g, inputs[i]);
	n->n_output = 1;
	n->output = g_alloc(g, sizeof(char *));
	n->output[0] = n->name;
	n->n_attribute = (size_t)nattrs;
	n->attribute = g_alloc(g, sizeof(Onnx__AttributeProto *) * (size_t)nattrs);
	for (int i = 0; i < nattrs; i++)
		n->attribute[i] = make_attr(g, &attrs[i]);
	push((void ***)&g->nodes, &g->nnodes, &g->cap_nodes, n);
	return n->name;
}

/* A float32 initializer over `data` (not copied: it must outlive the graph's encoding). */
static const char *add_init(struct onnx_graph *g, const char *name, const float *data, int ndim, const int64_t *dims)
{
	Onnx__TensorProto *t = g_alloc(g, sizeof(*t));
	onnx__tensor_proto__init(t);
	t->name = unique_name(g, name);
	t->has_data_type = 1;
	t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	t->n_dims = (size_t)ndim;
	t->dims = g_alloc(g, sizeof(int64_t) * (size_t)TB_MAX(ndim, 1));
	int64_t numel = 1;
	for (int d = 0; d < ndim; d++) {
		t->dims[d] = dims[d];
		numel *= dims[d];
	}
	t->has_raw_data = 1;
	t->raw_data.len = (size_t)numel * sizeof(float);
	t->raw_data.data = (uint8_t *)data;
	push((void ***)&g->inits, &g->ninits, &g->cap_inits, t);
	return t->name;
}

const char *onnx_param(struct onnx_graph *g, const struct layer *l, const char *suffix)
{
	char name[MODEL_PARAM_NAME_MAX + 32];
	snprintf(name, sizeof(name), "%s%s%s", l->name, l->name[0] ? "." : "", suffix);
	const Onnx__TensorProto *seen = find_init(g, name);
	if (seen)
		return seen->name;
	int i = model_param_find(g->m, name);
	if (i < 0 || g->m->params[i].is_count)
		return onnx_fail(g, "layer %s: no parameter %s to export", l->name, name);
	const struct model_param *p = &g->m->params[i];
	return add_init(g, name, (p->trainable ? g->weights : g->buffers) + p->offset, p->ndim, p->shape);
}

const char *onnx_constant(struct onnx_graph *g, const char *name, const float *data, int ndim, const int64_t *dims)
{
	int64_t numel = 1;
	for (int d = 0; d < ndim; d++)
		numel *= dims[d];
	float *copy = g_alloc(g, (size_t)numel * sizeof(float));
	memcpy(copy, data, (size_t)numel * sizeof(float));
	return add_init(g, name, copy, ndim, dims);
}

const char *onnx_layer(struct onnx_graph *g, const struct layer *l, const char *x)
{
	if (!x || g->err[0])
		return NULL;
	if (!l->kind->onnx)
		return onnx_fail(g, "layer %s (%s) has no ONNX form", l->name, l->kind->name);
	return l->kind->onnx(l, g, x);
}

/* ---- the model around the layers --------------------------------------------------- */

/* float32 [N, dims…] with a symbolic batch dimension. */
static Onnx__ValueInfoProto *tensor_info(struct onnx_graph *g, const char *name, int ndim, const int *dims)
{
	Onnx__TensorShapeProto *shape = g_alloc(g, sizeof(*shape));
	onnx__tensor_shape_proto__init(shape);
	shape->n_dim = (size_t)ndim + 1;
	shape->dim = g_alloc(g, sizeof(*shape->dim) * shape->n_dim);
	for (size_t d = 0; d < shape->n_dim; d++) {
		Onnx__TensorShapeProto__Dimension *dim = g_alloc(g, sizeof(*dim));
		onnx__tensor_shape_proto__dimension__init(dim);
		if (d == 0) {
			dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
			dim->dim_param = g_strdup(g, "N");
		} else {
			dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
			dim->dim_value = dims[d - 1];
		}
		shape->dim[d] = dim;
	}
	Onnx__TypeProto__Tensor *tt = g_alloc(g, sizeof(*tt));
	onnx__type_proto__tensor__init(tt);
	tt->has_elem_type = 1;
	tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	tt->shape = shape;
	Onnx__TypeProto *type = g_alloc(g, sizeof(*type));
	onnx__type_proto__init(type);
	type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	type->tensor_type = tt;
	Onnx__ValueInfoProto *vi = g_alloc(g, sizeof(*vi));
	onnx__value_info_proto__init(vi);
	vi->name = g_strdup(g, name);
	vi->type = type;
	return vi;
}

/* (x - mean) / std per channel, broadcast over [N, C, H, W] (or [N, F]). */
static const char *normalize_nodes(struct onnx_graph *g, const struct preprocess *p, const struct shape in,
				   const char *x)
{
	int64_t dims[4] = {1, p->c, 1, 1};
	int ndim = in.ndim == 3 ? 4 : 2;
	const char *sub_in[2] = {x, onnx_constant(g, "normalize.mean", p->mean, ndim, dims)};
	const char *div_in[2] = {onnx_node(g, "Sub", "normalize.sub", sub_in, 2, NULL, 0),
				 onnx_constant(g, "normalize.std", p->std, ndim, dims)};
	return onnx_node(g, "Div", "normalize", div_in, 2, NULL, 0);
}

static Onnx__StringStringEntryProto *meta_entry(struct onnx_graph *g, const char *key, const char *value)
{
	Onnx__StringStringEntryProto *e = g_alloc(g, sizeof(*e));
	onnx__string_string_entry_proto__init(e);
	e->key = g_strdup(g, key);
	e->value = g_strdup(g, value);
	return e;
}

static void graph_free(struct onnx_graph *g)
{
	for (size_t i = 0; i < g->narena; i++)
		free(g->arena[i]);
	free(g->arena);
	free(g->nodes);
	free(g->inits);
	free(g->weights);
	free(g->buffers);
}

int64_t onnx_export(const struct inference *inf, const char *path, char *err, size_t errlen)
{
	const struct model *m = inf->m;
	const struct preprocess *p = &inf->pre;
	struct onnx_graph g = {.m = m};
	g.weights = tb_xmalloc((size_t)TB_MAX(m->n_weights, 1) * sizeof(float));
	g.buffers = tb_xmalloc((size_t)TB_MAX(m->n_buffers, 1) * sizeof(float));
	m->be->download(m->be, g.weights, m->weights, (size_t)m->n_weights * sizeof(float));
	if (m->n_buffers)
		m->be->download(m->be, g.buffers, m->buffers, (size_t)m->n_buffers * sizeof(float));

	const char *x = p->normalize ? normalize_nodes(&g, p, m->input, "input") : "input";
	for (int i = 0; i < m->nlayers && x; i++)
		x = onnx_layer(&g, &m->layers[i], x);
	x = onnx_node(&g, "Identity", "logits", &x, 1, NULL, 0);
	int64_t size = -1;
	if (!x) {
		tb_fmt(err, errlen, "cannot export: %s", g.err[0] ? g.err : "a layer built no node");
		goto out;
	}
	/* name_taken reserves "logits" (and "input") for the graph's ends, so the
	 * node above got a suffix: give it the reserved name, unique by construction. */
	g.nodes[g.nnodes - 1]->name = g.nodes[g.nnodes - 1]->output[0] = g_strdup(&g, "logits");

	Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
	graph.name = "trainbook";
	graph.doc_string = "input: float32 [N, C, H, W] (or [N, F]): image bytes / 255, or features as stored; "
			   "the normalisation is the first nodes. output: logits [N, classes].";
	graph.n_node = g.nnodes;
	graph.node = g.nodes;
	graph.n_initializer = g.ninits;
	graph.initializer = g.inits;
	Onnx__ValueInfoProto *input = tensor_info(&g, "input", m->input.ndim, m->input.d);
	Onnx__ValueInfoProto *output = tensor_info(&g, "logits", 1, &m->classes);
	graph.n_input = 1;
	graph.input = &input;
	graph.n_output = 1;
	graph.output = &output;

	Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT, *opsets = &opset;
	opset.domain = "";
	opset.has_version = 1;
	opset.version = ONNX_OPSET;

	/* The checkpoint's input contract, under the same keys (with the normalisation done inside). */
	struct preprocess_meta pm;
	preprocess_meta(p, &pm);
	Onnx__StringStringEntryProto *props[PREPROCESS_META_MAX + 1];
	size_t nprops = 0;
	for (int i = 0; i < pm.n; i++)
		props[nprops++] = meta_entry(&g, pm.meta[i].key, pm.meta[i].value);
	props[nprops++] = meta_entry(&g, "trainbook.normalized_in_graph", p->normalize ? "true" : "false");
	preprocess_meta_free(&pm);

	Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
	model.has_ir_version = 1;
	model.ir_version = ONNX_IR_VERSION;
	model.n_opset_import = 1;
	model.opset_import = &opsets;
	model.producer_name = "trainbook";
	model.graph = &graph;
	model.n_metadata_props = nprops;
	model.metadata_props = props;

	size_t bytes = onnx__model_proto__get_packed_size(&model);
	uint8_t *buf = malloc(bytes ? bytes : 1);
	if (!buf) {
		tb_fmt(err, errlen, "cannot export: %zu bytes do not fit in memory", bytes);
		goto out;
	}
	onnx__model_proto__pack(&model, buf);
	if (atomic_write(path, buf, bytes, false, err, errlen) == 0)
		size = (int64_t)bytes;
	free(buf);
out:
	graph_free(&g);
	return size;
}
