/*
 * model.h — a network built from a spec: its layers in order, its
 * parameters in one flat group, and forward/backward over a batch.
 *
 * What it is: the parameter registry (PyTorch state_dict names, shapes,
 * offsets), one allocation each for weights, gradients and buffers (running
 * statistics), layer construction from a layer list or a preset, and the
 * sequential forward/backward. What it is not: the loss, the optimizer or
 * the loop (optim.h, train.h).
 *
 * Threads: one replica per thread; a model is never shared.
 */
#ifndef TB_MODEL_H
#define TB_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "layer.h"
#include "spec.h"

#define MODEL_PARAM_NAME_MAX 160

/*
 * Data-parallel hook: during model_backward, called after each top-level
 * layer has written its gradients, with the range of m->grads that is now
 * final ([offset, offset + count), descending as backward proceeds), so
 * an all-reduce of those gradients can overlap the rest of backward.
 */
typedef void (*model_grads_ready_fn)(void *ctx, int64_t offset, int64_t count);

struct model_param {
	char name[MODEL_PARAM_NAME_MAX]; /* full state_dict name: "1.weight", "layer1.0.bn1.running_mean" */
	int ndim;
	int64_t shape[4];
	int64_t numel;
	int64_t offset;                  /* in floats, into weights/grads (trainable) or buffers */
	bool trainable;                  /* false: a buffer (running stats) */
	bool is_count;                   /* num_batches_tracked: stored as float, saved as I64 */
};

struct model {
	struct backend *be;              /* not owned */
	struct shape input;              /* per-sample input shape */
	int classes;
	char preset[SPEC_NAME_MAX];      /* the spec's preset ("resnet18"), "" for a layer list */
	int nlayers;
	struct layer *layers;            /* top-level sequence, owned */
	int nparams;
	struct model_param *params;      /* owned */
	int64_t n_weights;               /* floats in weights/grads */
	int64_t n_buffers;               /* floats in buffers */
	float *weights;                  /* backend memory, one allocation */
	float *grads;                    /* backend memory, same layout as weights */
	float *buffers;                  /* backend memory (may be NULL when n_buffers == 0) */
	int batch_cap;                   /* activations are allocated for this many samples */
	int backward_stop;               /* model_backward visits layers [backward_stop, nlayers) */
	int nlayers_total;               /* layers including children of composites */
	uint64_t seed;                   /* run seed, for dropout masks */
	uint64_t step;                   /* the current step, for dropout masks (set by the loop) */
	bool sealed;                     /* parameters allocated; no more model_param_add */
	struct profile *profile;         /* not owned; NULL unless TRAINBOOK_PROFILE (profile.h) */
	model_grads_ready_fn grads_ready; /* data-parallel hook, may be NULL */
	void *grads_ready_ctx;
};

/*
 * Build the model the spec describes for samples of shape `input` and
 * `classes` classes. On error returns NULL with errs filled (positions in
 * the spec). With `be == NULL` only shapes and parameter counts are
 * computed (for `check`): no memory is allocated.
 */
struct model *model_build(const struct spec_model *sm, struct shape input, int classes,
			  struct backend *be, struct spec_errors *errs);
void model_free(struct model *m);

/* Declare a parameter of layer `l` (name = l->name + "." + suffix); returns its index. */
int model_param_add(struct model *m, struct layer *l, const char *suffix, int ndim,
		    const int64_t *shape, bool trainable);
/* Backend pointers of parameter `index` (grad: trainable only). */
float *model_param_data(struct model *m, int index);
float *model_param_grad(struct model *m, int index);
/* Index of a state_dict name, or -1. */
int model_param_find(const struct model *m, const char *name);

/* PyTorch-default initialisation from `seed`. */
void model_init(struct model *m, uint64_t seed);

/* Make activations room for `batch` samples (grows only). */
void model_reserve(struct model *m, int batch);

/* Forward x [batch, input] (backend memory); returns the logits [batch, classes]. */
const float *model_forward(struct model *m, const float *x, int batch, bool training);
/* Backward from dlogits; writes every parameter gradient. */
void model_backward(struct model *m, const float *x, const float *dlogits, int batch);

/* Install the data-parallel hook (model_grads_ready_fn above). */
void model_set_grads_hook(struct model *m, model_grads_ready_fn fn, void *ctx);

/* The input gradient of the last backward ([batch, input]), for tests; NULL unless
 * model_want_input_grad(m, true) was called before model_reserve. */
const float *model_input_grad(const struct model *m);
void model_want_input_grad(struct model *m, bool want);

/* Trainable parameter count. */
int64_t model_param_count(const struct model *m);

/* Visit every layer including children of composites, in forward order;
 * depth is 0 for top-level layers. For the layer table. */
void model_visit(const struct model *m, layer_visit_fn fn, void *ctx);

/* The model presets a spec may name (`model: resnet18`): rows in model_presets.c. */
extern const struct spec_registry model_preset_registry;

/* Expand the preset the spec names (sm->kind) into a layer list. */
int model_preset_expand(const struct spec_model *sm, struct shape input, int classes,
			struct spec_layer **layers, int *nlayers, struct spec_errors *errs);

#endif
