/*
 * optim.h — optimizers (SGD, Adam, AdamW) over a model's flat parameter
 * group, with global-norm gradient clipping.
 *
 * What it is: the optimizer state (one allocation: momentum, or Adam's m
 * and v, back to back), the per-step scalars (learning rate, bias
 * corrections, clip factor) kept in backend memory, and the step itself,
 * which is one backend call. What it is not: the learning-rate schedule
 * (schedule.h) — the loop passes the current lr in.
 *
 * Threads: the training thread of one replica.
 */
#ifndef TB_OPTIM_H
#define TB_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "spec.h"

enum optim_kind { OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW };

struct model;

struct optim {
	struct backend *be;       /* not owned */
	struct optim_hyper hyper;
	double grad_clip;         /* max global norm, 0 = off */
	int nstate;               /* state buffers per parameter: sgd 1 (0 without momentum), adam 2 */
	int64_t n;                /* floats per buffer (= model->n_weights) */
	float *state;             /* backend memory, nstate * n floats */
	float *scalars;           /* backend memory, OPT_NSCALARS floats */
	float *norm;              /* backend memory, 1 float (sum of squares for clipping) */
	int64_t step;             /* steps taken, 1-based after the first step */
	double last_grad_norm;    /* global gradient norm of the last step (when clipping) */
};

/* Parse the optimizer name ("sgd", "adam", "adamw"); -1 when unknown. */
int optim_kind_parse(const char *name);

/* State buffers per parameter the spec's optimizer keeps (what optim_new allocates). */
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
