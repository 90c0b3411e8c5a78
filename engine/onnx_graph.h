/*
 * onnx_graph.h — the ONNX graph a trained model is exported as, built one
 * node at a time by the layer kinds (layer.h's `onnx` slot) and written as
 * a ModelProto by onnx_export.c.
 *
 * What it is: a small builder that hides the protobuf types: nodes with
 * attributes, initializers taken from the model's parameters under their
 * state_dict names, float constants, and one error slot. Tensors are named
 * by strings the graph owns; a layer receives its input's name and returns
 * its output's. Batch is the first dimension of every tensor ([N, C, H, W]
 * for images, [N, F] for vectors), as in the engine.
 * What it is not: a runtime, an optimiser or a reader of ONNX files.
 *
 * Opset 17 (ONNX 1.12, IR version 8): every operator a kind uses must exist
 * there (GELU does not, so its kind spells out the erf form).
 *
 * Threads: a graph belongs to the thread that builds it.
 */
#ifndef TB_ONNX_GRAPH_H
#define TB_ONNX_GRAPH_H

#include <stdint.h>

#define ONNX_OPSET 17
#define ONNX_IR_VERSION 8
#define ONNX_ATTR_INTS_MAX 8

struct onnx_graph;
struct layer;

enum onnx_attr_type { ONNX_ATTR_INT, ONNX_ATTR_FLOAT, ONNX_ATTR_INTS };

/* One attribute of a node: `axis = 1`, `epsilon = 1e-5`, `pads = [1, 1, 1, 1]`. */
struct onnx_attr {
	const char *name;
	enum onnx_attr_type type;
	int64_t i;
	float f;
	int nints;
	int64_t ints[ONNX_ATTR_INTS_MAX];
};

#define ONNX_INT(n, v) ((struct onnx_attr){.name = (n), .type = ONNX_ATTR_INT, .i = (v)})
#define ONNX_FLOAT(n, v) ((struct onnx_attr){.name = (n), .type = ONNX_ATTR_FLOAT, .f = (float)(v)})
/* Two equal values (a square kernel, stride or dilation): [v, v]. */
#define ONNX_INTS2(n, v) ((struct onnx_attr){.name = (n), .type = ONNX_ATTR_INTS, .nints = 2, .ints = {(v), (v)}})
/* Padding on every side of an image: [top, left, bottom, right] all v. */
#define ONNX_PADS(n, v)                                                                                                \
	((struct onnx_attr){.name = (n), .type = ONNX_ATTR_INTS, .nints = 4, .ints = {(v), (v), (v), (v)}})

/*
 * Append a node of operator `op` reading `ninputs` tensors and writing one
 * new tensor, named `name` (made unique with a suffix when taken). Returns
 * the output's name, owned by the graph; NULL when the graph already failed.
 */
const char *onnx_node(struct onnx_graph *g, const char *op, const char *name, const char *const *inputs, int ninputs,
		      const struct onnx_attr *attrs, int nattrs);

/* Parameter `<l->name>.<suffix>` of the model (weights or buffers) as an initializer; returns its name. */
const char *onnx_param(struct onnx_graph *g, const struct layer *l, const char *suffix);

/* A float constant of shape dims (copied) as an initializer named `name`. */
const char *onnx_constant(struct onnx_graph *g, const char *name, const float *data, int ndim, const int64_t *dims);

/* Record the first error (printf-style) and return NULL, for `return onnx_fail(g, ...)`. */
const char *onnx_fail(struct onnx_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Build the graph of layer `l` (its kind's onnx slot) reading x; NULL names the layer that cannot. */
const char *onnx_layer(struct onnx_graph *g, const struct layer *l, const char *x);

#endif
