/*
 * schedule.c — the schedule registry and the rates (see schedule.h). The
 * formulas follow PyTorch's StepLR (on epochs), CosineAnnealingLR (T_max =
 * steps after warm-up), a linear decay to 0, and OneCycleLR (cosine
 * annealing, two phases).
 */
#include "schedule.h"

#include <math.h>
#include <string.h>

#include "tb.h"

void schedule_init(struct schedule *s, const struct spec_schedule *spec, double base_lr, int64_t total_steps,
		   int64_t steps_per_epoch)
{
	s->spec = *spec;
	s->base_lr = base_lr;
	s->total_steps = total_steps > 0 ? total_steps : 1;
	s->steps_per_epoch = steps_per_epoch > 0 ? steps_per_epoch : 1;
}

/* Where `step` is after the warm-up, as a fraction of the steps that follow it. */
static double after_warmup(const struct schedule *s, int64_t step)
{
	int64_t warm = s->spec.warmup_steps;
	int64_t span = s->total_steps - warm;
	return (double)(step - warm) / (double)(span < 1 ? 1 : span);
}

static double cos_anneal(double start, double end, double pct)
{
	return end + (start - end) / 2.0 * (1.0 + cos(M_PI * pct));
}

static double constant_lr(const struct schedule *s, int64_t step)
{
	(void)step;
	return s->base_lr;
}

/* ---- step: StepLR on epochs ------------------------------------------------- */

enum { STEP_SIZE, STEP_GAMMA };

static double step_lr(const struct schedule *s, int64_t step)
{
	int64_t epoch = step / s->steps_per_epoch;
	int64_t size = s->spec.arg[STEP_SIZE] > 0 ? (int64_t)s->spec.arg[STEP_SIZE] : 1;
	return s->base_lr * pow(s->spec.arg[STEP_GAMMA], (double)(epoch / size));
}

/* ---- cosine: CosineAnnealingLR over the steps after warm-up --------------------- */

enum { COSINE_MIN_LR };

static double cosine_lr(const struct schedule *s, int64_t step)
{
	return cos_anneal(s->base_lr, s->spec.arg[COSINE_MIN_LR], after_warmup(s, step));
}

static const char *cosine_finish(struct spec *s, const bool *given, int *key, char *msg, size_t len)
{
	const double *arg = s->schedule.arg;
	(void)given;
	if (arg[COSINE_MIN_LR] < s->optimizer.lr)
		return NULL;
	char a[32], b[32];
	*key = COSINE_MIN_LR;
	return tb_fmt(msg, len, "%s must be below optimizer.lr (%s)", tb_fmt_number(a, sizeof(a), arg[COSINE_MIN_LR]),
		      tb_fmt_number(b, sizeof(b), s->optimizer.lr));
}

/* ---- linear decay to 0 --------------------------------------------------------- */

static double linear_lr(const struct schedule *s, int64_t step)
{
	return s->base_lr * (1.0 - after_warmup(s, step));
}

/* ---- onecycle: OneCycleLR with anneal_strategy='cos' ------------------------------- */

enum { ONECYCLE_MAX_LR, ONECYCLE_PCT_START, ONECYCLE_DIV, ONECYCLE_FINAL_DIV };

static double onecycle_lr(const struct schedule *s, int64_t step)
{
	const double *arg = s->spec.arg;
	double max_lr = arg[ONECYCLE_MAX_LR] > 0 ? arg[ONECYCLE_MAX_LR] : s->base_lr;
	double initial = max_lr / arg[ONECYCLE_DIV];
	double min_lr = initial / arg[ONECYCLE_FINAL_DIV];
	double up_end = arg[ONECYCLE_PCT_START] * (double)s->total_steps - 1.0;
	double down_end = (double)s->total_steps - 1.0;
	if (step <= up_end)
		return cos_anneal(initial, max_lr, up_end > 0 ? step / up_end : 1.0);
	double span = down_end - up_end;
	return cos_anneal(max_lr, min_lr, span > 0 ? (step - up_end) / span : 1.0);
}

/* The peak follows the optimizer's lr unless given, and the spec says so. */
static const char *onecycle_finish(struct spec *s, const bool *given, int *key, char *msg, size_t len)
{
	(void)key;
	(void)msg;
	(void)len;
	if (!given[ONECYCLE_MAX_LR])
		s->schedule.arg[ONECYCLE_MAX_LR] = s->optimizer.lr;
	return NULL;
}

/* ---- the registry --------------------------------------------------------------- */

/* Rows laid out by hand, a key per line: clang-format 14 would give every field a line of its own. */
/* clang-format off */
#define RATE(lo_open) .lo = 0, .hi = 1000, .range = ((lo_open) ? SPEC_R_LO_OPEN : 0) | SPEC_R_SANITY

static const struct schedule_kind schedule_kinds[] = {
	{.spec = {.name = "constant", .summary = "the optimizer's lr throughout"}, .lr = constant_lr},
	{.spec = {.name = "step", .summary = "torch.optim.lr_scheduler.StepLR on epochs: lr × gamma every step_size epochs",
		  .keys = {[STEP_SIZE] = {.name = "step_size", .type = SPEC_KEY_INT, .lo = 1, .hi = 100000,
					  .range = SPEC_R_SANITY, .required = "step_size (decay every N epochs)",
					  .doc = "decay every N epochs"},
			   [STEP_GAMMA] = {.name = "gamma", .type = SPEC_KEY_NUM, .def = 0.1, .lo = 0, .hi = 100,
					   .range = SPEC_R_LO_OPEN | SPEC_R_SANITY, .doc = "factor at each decay"}}},
	 .lr = step_lr},
	{.spec = {.name = "cosine", .summary = "torch.optim.lr_scheduler.CosineAnnealingLR over the steps after warm-up",
		  .keys = {[COSINE_MIN_LR] = {.name = "min_lr", .type = SPEC_KEY_NUM, RATE(false),
					      .doc = "the rate at the end (eta_min); below optimizer.lr"}},
		  .finish = cosine_finish},
	 .lr = cosine_lr},
	{.spec = {.name = "onecycle",
		  .summary = "torch.optim.lr_scheduler.OneCycleLR, cosine annealing (warmup_steps does not apply)",
		  .keys = {[ONECYCLE_MAX_LR] = {.name = "max_lr", .type = SPEC_KEY_NUM, RATE(true),
						.def_text = "optimizer.lr", .doc = "the peak"},
			   [ONECYCLE_PCT_START] = {.name = "pct_start", .type = SPEC_KEY_NUM, .def = 0.3, .lo = 0, .hi = 1,
						   .range = SPEC_R_LO_OPEN | SPEC_R_HI_OPEN,
						   .doc = "share of the run spent rising"},
			   [ONECYCLE_DIV] = {.name = "div_factor", .type = SPEC_KEY_NUM, .def = 25, .lo = 0, .hi = 1e6,
					     .range = SPEC_R_LO_OPEN | SPEC_R_SANITY, .doc = "start at max_lr / div_factor"},
			   [ONECYCLE_FINAL_DIV] = {.name = "final_div_factor", .type = SPEC_KEY_NUM, .def = 1e4, .lo = 0,
						   .hi = 1e9, .range = SPEC_R_LO_OPEN | SPEC_R_SANITY,
						   .doc = "end at the start rate / final_div_factor"}},
		  .finish = onecycle_finish},
	 .lr = onecycle_lr, .own_warmup = true},
	{.spec = {.name = "linear", .summary = "linear decay from the optimizer's lr to 0 over the steps after warm-up"},
	 .lr = linear_lr},
};
/* clang-format on */

const struct spec_registry schedule_registry = {
	"schedule", "schedule", schedule_kinds, sizeof(schedule_kinds[0]), (int)TB_ARRAY_LEN(schedule_kinds),
};

double schedule_lr(const struct schedule *s, int64_t step)
{
	TB_ASSERT(s->spec.kind >= 0 && s->spec.kind < schedule_registry.count);
	const struct schedule_kind *k = &schedule_kinds[s->spec.kind];
	int64_t warm = s->spec.warmup_steps;
	if (!k->own_warmup && warm > 0 && step < warm)
		return s->base_lr * (double)(step + 1) / (double)warm;
	return k->lr(s, step);
}
