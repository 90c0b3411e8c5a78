/*
 * optim.h — optimizers over a model's flat parameter group, with
 * global-norm gradient clipping, and their registry.
 *
 * What it is: the optimizer kinds (one row each in optim.c: name, keys with
 * defaults and ranges, state buffers, docs line), the optimizer state (one
 * allocation: momentum, or Adam's m and v, back to back), the per-step
 * scalars (learning rate, bias corrections, clip factor) kept in backend
 * memory, and the step itself, which is one backend call. What it is not:
 * the update rules (each backend has one kernel per kind, in a table indexed
 * by enum optim_kind_id: engine/cpu/cpu_optim.c, engine/cuda/cuda_optim.cu)
 * nor the learning-rate schedule (schedule.h) — the loop passes the lr in.
 *
 * Adding an optimizer: its enum value and key enum here, its row in
 * optim.c, a kernel in each backend, a parity test (docs/architecture.md).
 *
 * Threads: the training thread of one replica; the tables are const.
 */
#ifndef TB_OPTIM_H
#define TB_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "spec.h"

/* A kind's identity: its row in optim_kinds[] and its kernel in each backend's table. */
enum optim_kind_id { OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW, OPTIM_RMSPROP, OPTIM_KINDS };

/*
 * Each kind's own keys in its row's order: the index into
 * spec_optimizer.arg and optim_hyper.arg. lr and weight_decay are every
 * optimizer's (spec_optimizer.lr, optim_hyper.weight_decay).
 */
enum { SGD_MOMENTUM, SGD_DAMPENING, SGD_NESTEROV };
enum { ADAM_BETAS, ADAM_BETA1, ADAM_BETA2, ADAM_EPS }; /* Adam and AdamW */
enum { RMSPROP_ALPHA, RMSPROP_EPS, RMSPROP_MOMENTUM, RMSPROP_CENTERED };

#define OPTIM_STATE_MAX 3 /* state buffers one kind may keep per parameter */

struct optim_kind {
	struct spec_kind spec; /* name, keys, docs: what the parser and the docs read */
	/* State buffers for these hyper-parameters (≤ OPTIM_STATE_MAX), laid out back to back. */
	int (*nstate)(const struct optim_hyper *h);
	/* PyTorch's name of buffer `which` ("momentum_buffer", "exp_avg"): checkpoints use it. */
	const char *(*state_name)(const struct optim_hyper *h, int which);
	/* Keys whose powers give the bias corrections OPT_BC1/OPT_BC2 (Adam's betas), -1: none. */
	int bias_key[2];
};

extern const struct optim_kind optim_kinds[OPTIM_KINDS];
extern const struct spec_registry optim_registry;

struct model;

struct optim {
	struct backend *be; /* not owned */
	const struct optim_kind *kind;
	struct optim_hyper hyper;
	double beta1, beta2;   /* the bias corrections' bases (0: none, the corrections are 1) */
	double grad_clip;      /* max global norm, 0 = off */
	int nstate;            /* state buffers per parameter (kind->nstate) */
	int64_t n;             /* floats per buffer (= model->n_weights) */
	float *state;          /* backend memory, nstate * n floats */
	float *scalars;        /* backend memory, OPT_NSCALARS floats */
	float *norm;           /* backend memory, 1 float (sum of squares for clipping) */
	int64_t step;          /* steps taken, 1-based after the first step */
	double last_grad_norm; /* global gradient norm of the last step (when clipping) */
};

/* State buffers per parameter the spec's optimizer keeps (what optim_new allocates; the memory estimate). */
int optim_state_count(const struct spec_optimizer *so);

struct optim *optim_new(const struct spec_optimizer *so, struct backend *be, int64_t n);
void optim_free(struct optim *o);

/*
 * One step with learning rate `lr` on the model's weights from its
 * gradients (clipping first when configured).
 */
void optim_step(struct optim *o, struct model *m, double lr);

/*
 * The two halves of optim_step, for a loop that must issue them apart (a
 * CUDA graph captures the second but not the first): begin counts the step
 * and uploads the learning rate, bias corrections and — when host_clip —
 * the clip factor, which needs the gradients; without host_clip the clip
 * slot is 1 and the caller has the device compute it (gpu_step.c). apply
 * issues the fused update.
 */
void optim_begin_step(struct optim *o, struct model *m, double lr, bool host_clip);
void optim_apply(struct optim *o, struct model *m);

/* Names of the state buffers as PyTorch calls them ("momentum_buffer", "exp_avg", "exp_avg_sq"). */
const char *optim_state_name(const struct optim *o, int which);

#endif
