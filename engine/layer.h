/*
 * layer.h — what a layer kind provides, and the helpers that run one.
 *
 * What it is: the interface every layer (linear, relu, conv2d, batchnorm,
 * basic_block, …) implements once against the backend table. A kind is a
 * row in a table (layers_dense.c, layers_conv.c, …) found by name; the
 * model builds a list of layers from the spec and runs them in order.
 * Composite kinds (basic_block) own child layers and drive them through the
 * same helpers. What it is not: an autograd graph — backward is hand-written
 * per kind, in reverse order, with the forward input and output kept.
 *
 * Memory: the model allocates each layer's output `y` ([batch, out]) and
 * input gradient `dx` ([batch, in], only when `need_dx`) in backend memory
 * whenever the batch capacity grows; kinds with private per-batch buffers
 * (masks, saved statistics, im2col scratch) allocate them in `reserve`.
 *
 * Threads: the training thread of one model replica.
 */
#ifndef TB_LAYER_H
#define TB_LAYER_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "spec.h"

struct model;
struct onnx_graph;
struct rng;

/* Per-sample shape: a feature vector is {ndim 1, d = {F}}; an image {3, {C, H, W}}. */
struct shape {
	int ndim;
	int d[3];
};

int64_t shape_numel(struct shape s);
/* "[128]" or "[32, 14, 14]" */
char *shape_str(struct shape s, char *buf, size_t len);
static inline struct shape shape_vec(int f) { return (struct shape){1, {f, 1, 1}}; }
static inline struct shape shape_chw(int c, int h, int w) { return (struct shape){3, {c, h, w}}; }

/* One accepted argument of a layer kind; the first row is the shorthand
 * (`{linear: 128}` sets args[0]). */
struct layer_arg {
	const char *name;
	double def;          /* default when absent */
	double min, max;     /* inclusive range */
	bool integer;
	bool required;
};
#define LAYER_ARGS_MAX 8

struct layer {
	const struct layer_kind *kind;
	char name[128];          /* state_dict prefix ("1", "conv1", "layer1.0.conv1") */
	struct spec_pos pos;     /* where the spec wrote it (for errors) */
	struct shape in, out;
	double arg[LAYER_ARGS_MAX]; /* resolved arguments, in the kind's table order */
	bool need_dx;            /* some layer below learns (model.c plan_backward): dx is consumed */
	int64_t nparams;         /* trainable parameter count (for the layer table) */
	int64_t weights_offset;  /* its parameters are model->weights[weights_offset, +nparams) */
	int index;               /* position among all layers of the model, for seeds */
	bool absorbed;           /* the layer before computes this one's forward (absorb_next): y aliases x */
	float *y;                /* [batch, out] backend memory, owned by the model (or aliased) */
	float *dx;               /* [batch, in] backend memory, owned by the model (or aliased) */
	void *state;             /* kind-private, owned by the layer; freed by kind->destroy */
};

typedef void (*layer_visit_fn)(const struct layer *l, int depth, void *ctx);

/* What one layer holds while a batch trains, beyond its parameters (bytes). */
struct layer_memory {
	int64_t kept;        /* its own per-batch buffers: y, dx, and what `reserve` allocates */
	int64_t scratch;     /* the backend's shared scratch its largest call needs; one buffer
				serves every layer, so a model needs the maximum, not the sum */
};

struct layer_kind {
	const char *name;
	const char *summary;                 /* one line, for `trainbook reference` (the README's layer table) */
	struct layer_arg args[LAYER_ARGS_MAX]; /* name == NULL ends the table */
	/* y and dx are views of x and dy (flatten): the model allocates neither. */
	bool is_view;
	/*
	 * Infer l->out from l->in and l->arg, declare parameters with
	 * model_param_add. Errors (impossible shapes) go to errs at l->pos;
	 * returns 0 or -1.
	 */
	int (*build)(struct layer *l, struct model *m, struct spec_errors *errs);
	/* PyTorch's default initialisation, in distribution. NULL: nothing to init. */
	void (*init)(struct layer *l, struct model *m, struct rng *rng);
	/* Private per-batch buffers for `batch` samples. NULL: none. */
	void (*reserve)(struct layer *l, struct model *m, int batch);
	/* Compute l->y from x. */
	void (*forward)(struct layer *l, struct model *m, const float *x, int batch, bool training);
	/* From dy (gradient of l->y): write parameter gradients, and l->dx when l->need_dx. */
	void (*backward)(struct layer *l, struct model *m, const float *x, const float *dy, int batch);
	/*
	 * Optional: take over `next`'s forward pass when the backend can do
	 * both in one operation (a linear layer and the ReLU after it, as one
	 * cuBLASLt call). On true the model marks `next` absorbed: its forward
	 * only passes its input on, and its backward runs as usual on the
	 * values this layer wrote — which must therefore equal what `next`'s
	 * own forward would have produced.
	 */
	bool (*absorb_next)(struct layer *l, struct layer *next, struct model *m);
	/*
	 * Append this layer's evaluation-mode computation to an ONNX graph
	 * (onnx_graph.h), reading tensor x; return the output tensor's name, or
	 * NULL after onnx_fail. NULL slot: the kind cannot be exported, and
	 * export refuses the model naming the layer.
	 */
	const char *(*onnx)(const struct layer *l, struct onnx_graph *g, const char *x);
	/*
	 * Optional: add to `out` what `reserve` allocates for `batch` samples
	 * (masks, saved statistics, argmax indices, children's buffers) and
	 * the scratch its calls ask of the backend `t`, as if the layer's
	 * need_dx were `need_dx` — without allocating, for the memory estimate
	 * (memest.c). y and dx are the generic part (layer_memory). Must agree
	 * with reserve: tests/unit/test_memest.c counts a reserved model's
	 * allocations against it. NULL: nothing beyond y and dx.
	 */
	void (*memory)(const struct layer *l, bool need_dx, const struct backend_target *t, int batch,
		       struct layer_memory *out);
	/* Composites: call fn on each child (depth + 1), recursively. NULL: no children. */
	void (*visit_children)(const struct layer *l, int depth, layer_visit_fn fn, void *ctx);
	/* Free l->state (and children). NULL: free(l->state). */
	void (*destroy)(struct layer *l, struct model *m);
};

/* The kind named `name`, or NULL. */
const struct layer_kind *layer_kind_find(const char *name);
/* All kinds (for did-you-mean and docs); returns the count. */
int layer_kind_names(const char **names, int max);

/*
 * Build one layer from a spec entry: resolve arguments against the kind's
 * table (unknown argument / out of range / wrong type → errors at the
 * argument's position), set name, in-shape, then kind->build.
 */
int layer_build(struct layer *l, struct model *m, const struct spec_layer *sl,
		const char *name, struct shape in, struct spec_errors *errs);
/* Allocate y/dx (unless a view) for `batch` samples, then kind->reserve. */
void layer_reserve(struct layer *l, struct model *m, int batch);
/* Add to `out` what layer_reserve would allocate with l->need_dx = need_dx (y, dx,
 * then kind->memory) and the scratch its calls need on `t`. Works on a model built
 * without a backend. */
void layer_memory(const struct layer *l, bool need_dx, const struct backend_target *t, int batch,
		  struct layer_memory *out);
void layer_forward(struct layer *l, struct model *m, const float *x, int batch, bool training);
void layer_backward(struct layer *l, struct model *m, const float *x, const float *dy, int batch);
void layer_destroy(struct layer *l, struct model *m);
/* A plain ReLU layer: what a linear or batch-norm layer may absorb (absorb_next). */
bool layer_is_relu(const struct layer *l);

/* Uniform(-bound, bound) fill of parameter `index` (host RNG, then upload). */
void layer_init_uniform(struct model *m, int index, float bound, struct rng *rng);
void layer_init_constant(struct model *m, int index, float value);

/* Kind tables, defined in the layers_*.c files and joined in layer.c. */
extern const struct layer_kind *const layer_kinds_dense[];
extern const struct layer_kind *const layer_kinds_conv[];

#endif
