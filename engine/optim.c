/*
 * optim.c — the optimizer registry, optimizer state and the step (see
 * optim.h).
 * The update rules live in the backends (one fused call over the flat
 * group); this file keeps the bookkeeping PyTorch does in Python: step
 * counting, bias corrections in double precision, and clipping.
 */
#include "optim.h"

#include <math.h>
#include <string.h>

#include "model.h"
#include "tb.h"

_Static_assert(SPEC_KIND_KEYS <= OPTIM_HYPER_ARGS, "optim_hyper.arg holds every key of a row");

/* Every optimizer takes lr and weight_decay (the section's keys); a row gives its own defaults. */
/* Rows laid out by hand, a key per line: clang-format 14 would give every field a line of its own. */
/* clang-format off */
#define LR(d) {.name = "lr", .type = SPEC_KEY_FIELD, .def = (d), .has_def = true}
#define WEIGHT_DECAY(d) {.name = "weight_decay", .type = SPEC_KEY_FIELD, .def = (d), .has_def = true}
/* clang-format on */

/* ---- sgd ------------------------------------------------------------------ */

static int sgd_nstate(const struct optim_hyper *h)
{
	return h->arg[SGD_MOMENTUM] != 0 ? 1 : 0;
}

static const char *sgd_state_name(const struct optim_hyper *h, int which)
{
	(void)h;
	(void)which;
	return "momentum_buffer";
}

static const char *sgd_finish(struct spec *s, const bool *given, int *key, char *msg, size_t len)
{
	const double *arg = s->optimizer.arg;
	(void)given;
	if (arg[SGD_NESTEROV] == 0 || (arg[SGD_MOMENTUM] > 0 && arg[SGD_DAMPENING] == 0))
		return NULL;
	*key = SGD_NESTEROV;
	return tb_fmt(msg, len, "needs momentum > 0 and dampening 0 (as in PyTorch)");
}

/* ---- adam, adamw ------------------------------------------------------------ */

static int adam_nstate(const struct optim_hyper *h)
{
	(void)h;
	return 2;
}

static const char *adam_state_name(const struct optim_hyper *h, int which)
{
	(void)h;
	return which == 0 ? "exp_avg" : "exp_avg_sq";
}

/* Rows laid out by hand, a key per line: clang-format 14 would give every field a line of its own. */
/* clang-format off */
#define ADAM_KEYS                                                                                                  \
	[ADAM_BETAS] = {.name = "betas", .type = SPEC_KEY_PAIR, .doc = "[beta1, beta2] in one key"},              \
	[ADAM_BETA1] = {.name = "beta1", .type = SPEC_KEY_NUM, .def = 0.9, .lo = 0, .hi = 1, .range = SPEC_R_HI_OPEN, \
			.doc = "decay of the gradient's running average"},                                        \
	[ADAM_BETA2] = {.name = "beta2", .type = SPEC_KEY_NUM, .def = 0.999, .lo = 0, .hi = 1,                     \
			.range = SPEC_R_HI_OPEN, .doc = "decay of the squared gradient's running average"},       \
	[ADAM_EPS] = {.name = "eps", .type = SPEC_KEY_NUM, .def = 1e-8, .lo = 0, .hi = 1,                          \
		      .range = SPEC_R_LO_OPEN | SPEC_R_SANITY, .doc = "added to the denominator"}
/* Adam and AdamW share keys, state and bias corrections; the kernels tell the weight decays apart by kind. */
#define ADAM_ROW(name_, summary_, decay)                                                                           \
	{                                                                                                          \
		.spec = {.name = (name_), .summary = (summary_),                                                 \
			 .keys = {ADAM_KEYS, LR(1e-3), WEIGHT_DECAY(decay)}},                                     \
		.nstate = adam_nstate, .state_name = adam_state_name, .bias_key = {ADAM_BETA1, ADAM_BETA2},      \
	}
/* clang-format on */

/* ---- rmsprop: square_avg, then momentum_buffer (momentum > 0), then grad_avg (centered) ---- */

static int rmsprop_nstate(const struct optim_hyper *h)
{
	return 1 + (h->arg[RMSPROP_MOMENTUM] > 0) + (h->arg[RMSPROP_CENTERED] != 0);
}

static const char *rmsprop_state_name(const struct optim_hyper *h, int which)
{
	if (which == 0)
		return "square_avg";
	return which == 1 && h->arg[RMSPROP_MOMENTUM] > 0 ? "momentum_buffer" : "grad_avg";
}

/* ---- the registry ------------------------------------------------------------ */

/* Rows laid out by hand, a key per line: clang-format 14 would give every field a line of its own. */
/* clang-format off */
const struct optim_kind optim_kinds[OPTIM_KINDS] = {
	[OPTIM_SGD] = {
		.spec = {.name = "sgd",
			 .summary = "torch.optim.SGD: momentum, dampening, Nesterov, L2 weight decay",
			 .keys = {[SGD_MOMENTUM] = {.name = "momentum", .type = SPEC_KEY_NUM, .lo = 0, .hi = 1,
						    .range = SPEC_R_HI_OPEN, .doc = "momentum factor (0 = none)"},
				  [SGD_DAMPENING] = {.name = "dampening", .type = SPEC_KEY_NUM, .lo = 0, .hi = 1,
						     .doc = "dampening of the momentum"},
				  [SGD_NESTEROV] = {.name = "nesterov", .type = SPEC_KEY_BOOL,
						    .doc = "Nesterov momentum (needs momentum > 0 and dampening 0)"},
				  LR(0.01), WEIGHT_DECAY(0)},
			 .finish = sgd_finish},
		.nstate = sgd_nstate,
		.state_name = sgd_state_name,
		.bias_key = {-1, -1},
	},
	[OPTIM_ADAM] = ADAM_ROW("adam", "torch.optim.Adam: L2 weight decay added to the gradient", 0),
	[OPTIM_ADAMW] = ADAM_ROW("adamw", "torch.optim.AdamW: decoupled weight decay (p *= 1 - lr * weight_decay)", 0.01),
	[OPTIM_RMSPROP] = {
		.spec = {.name = "rmsprop",
			 .summary = "torch.optim.RMSprop: divide by a running root mean square of the gradient",
			 .keys = {[RMSPROP_ALPHA] = {.name = "alpha", .type = SPEC_KEY_NUM, .def = 0.99, .lo = 0, .hi = 1,
						     .doc = "decay of the squared gradient's running average"},
				  [RMSPROP_EPS] = {.name = "eps", .type = SPEC_KEY_NUM, .def = 1e-8, .lo = 0, .hi = 1,
						   .range = SPEC_R_LO_OPEN | SPEC_R_SANITY, .doc = "added to the denominator"},
				  [RMSPROP_MOMENTUM] = {.name = "momentum", .type = SPEC_KEY_NUM, .lo = 0, .hi = 1,
							.range = SPEC_R_HI_OPEN, .doc = "momentum factor (0 = none)"},
				  [RMSPROP_CENTERED] = {.name = "centered", .type = SPEC_KEY_BOOL,
							.doc = "subtract the gradient's running average (its variance)"},
				  LR(0.01), WEIGHT_DECAY(0)}},
		.nstate = rmsprop_nstate,
		.state_name = rmsprop_state_name,
		.bias_key = {-1, -1},
	},
};
/* clang-format on */

const struct spec_registry optim_registry = {
	"optimizer", "optimizer", optim_kinds, sizeof(optim_kinds[0]), OPTIM_KINDS,
};

/* ---- state and steps ------------------------------------------------------------ */

/* The backend's view of the spec's optimizer: its row index and every key's value. */
static struct optim_hyper hyper_of(const struct spec_optimizer *so)
{
	TB_ASSERT(so->kind >= 0 && so->kind < OPTIM_KINDS); /* the spec parser stored a row index */
	struct optim_hyper h = {.kind = so->kind, .weight_decay = (float)so->weight_decay};
	for (int i = 0; i < SPEC_KIND_KEYS; i++)
		h.arg[i] = (float)so->arg[i];
	return h;
}

int optim_state_count(const struct spec_optimizer *so)
{
	struct optim_hyper h = hyper_of(so);
	return optim_kinds[so->kind].nstate(&h);
}

struct optim *optim_new(const struct spec_optimizer *so, struct backend *be, int64_t n)
{
	struct optim_hyper hyper = hyper_of(so);
	const struct optim_kind *k = &optim_kinds[so->kind];
	struct optim *o = tb_xcalloc(1, sizeof(*o));
	o->be = be;
	o->kind = k;
	o->n = n;
	o->grad_clip = so->grad_clip;
	o->hyper = hyper;
	o->beta1 = k->bias_key[0] >= 0 ? so->arg[k->bias_key[0]] : 0;
	o->beta2 = k->bias_key[1] >= 0 ? so->arg[k->bias_key[1]] : 0;
	o->nstate = k->nstate(&o->hyper);
	TB_ASSERT(o->nstate >= 0 && o->nstate <= OPTIM_STATE_MAX);
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
	scalars[OPT_BC1] = (float)(1.0 - pow(o->beta1, (double)o->step));
	scalars[OPT_BC2] = (float)(1.0 - pow(o->beta2, (double)o->step));
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
	TB_ASSERT(which >= 0 && which < o->nstate);
	return o->kind->state_name(&o->hyper, which);
}
