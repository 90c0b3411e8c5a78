/*
 * optim.c — optimizer state and the step (see optim.h).
 * The update rules live in the backends (one fused call over the flat
 * group); this file keeps the bookkeeping PyTorch does in Python: step
 * counting, bias corrections in double precision, and clipping.
 */
#include "optim.h"

#include <math.h>
#include <string.h>

#include "model.h"
#include "tb.h"

static const char *const optim_names[] = {"sgd", "adam", "adamw"};

int optim_kind_parse(const char *name)
{
	for (size_t i = 0; i < TB_ARRAY_LEN(optim_names); i++)
		if (strcmp(name, optim_names[i]) == 0)
			return (int)i;
	return -1;
}

int optim_state_count(const struct spec_optimizer *so)
{
	int kind = optim_kind_parse(so->name);
	TB_ASSERT(kind >= 0); /* the spec parser rejects unknown names */
	return kind == OPTIM_SGD ? (so->momentum != 0 ? 1 : 0) : 2;
}

struct optim *optim_new(const struct spec_optimizer *so, struct backend *be, int64_t n)
{
	int kind = optim_kind_parse(so->name);
	TB_ASSERT(kind >= 0); /* the spec parser rejects unknown names */
	struct optim *o = tb_xcalloc(1, sizeof(*o));
	o->be = be;
	o->n = n;
	o->grad_clip = so->grad_clip;
	o->hyper = (struct optim_hyper){
		.kind = kind,
		.momentum = (float)so->momentum,
		.dampening = (float)so->dampening,
		.weight_decay = (float)so->weight_decay,
		.nesterov = so->nesterov,
		.beta1 = (float)so->beta1,
		.beta2 = (float)so->beta2,
		.eps = (float)so->eps,
	};
	o->nstate = optim_state_count(so);
	if (o->nstate)
		o->state = be->alloc(be, (size_t)o->nstate * n * sizeof(float));
	o->scalars = be->alloc(be, OPT_NSCALARS * sizeof(float));
	o->norm = be->alloc(be, sizeof(float));
	return o;
}

void optim_free(struct optim *o)
{
	if (!o)
		return;
	if (o->state)
		o->be->free(o->be, o->state);
	o->be->free(o->be, o->scalars);
	o->be->free(o->be, o->norm);
	free(o);
}

/* torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is < 1. */
static float clip_factor(struct optim *o, struct model *m)
{
	if (o->grad_clip <= 0)
		return 1.0f;
	float sumsq = 0;
	o->be->sum_squares(o->be, m->grads, m->n_weights, o->norm);
	o->be->download(o->be, &sumsq, o->norm, sizeof(float));
	double norm = sqrt((double)sumsq);
	o->last_grad_norm = norm;
	double coef = o->grad_clip / (norm + 1e-6);
	return coef < 1.0 ? (float)coef : 1.0f;
}

void optim_begin_step(struct optim *o, struct model *m, double lr, bool host_clip)
{
	TB_ASSERT(m->n_weights == o->n);
	o->step++;
	float scalars[OPT_NSCALARS] = {0};
	scalars[OPT_LR] = (float)lr;
	scalars[OPT_BC1] = (float)(1.0 - pow(o->hyper.beta1, (double)o->step));
	scalars[OPT_BC2] = (float)(1.0 - pow(o->hyper.beta2, (double)o->step));
	scalars[OPT_CLIP] = host_clip ? clip_factor(o, m) : 1.0f;
	o->be->upload(o->be, o->scalars, scalars, sizeof(scalars));
}

void optim_apply(struct optim *o, struct model *m)
{
	o->be->optim_step(o->be, &o->hyper, o->step, o->scalars, m->weights, m->grads, o->state, NULL, o->n);
}

void optim_step(struct optim *o, struct model *m, double lr)
{
	optim_begin_step(o, m, lr, true);
	optim_apply(o, m);
}

const char *optim_state_name(const struct optim *o, int which)
{
	if (o->hyper.kind == OPTIM_SGD)
		return "momentum_buffer";
	return which == 0 ? "exp_avg" : "exp_avg_sq";
}
