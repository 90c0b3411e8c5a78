/*
 * schedule.c — learning-rate schedules (see schedule.h). The formulas
 * follow PyTorch's StepLR (on epochs), CosineAnnealingLR (T_max = steps
 * after warm-up) and OneCycleLR (cosine annealing, two phases).
 */
#include "schedule.h"

#include <math.h>
#include <string.h>

void schedule_init(struct schedule *s, const struct spec_schedule *spec, double base_lr, int64_t total_steps,
		   int64_t steps_per_epoch)
{
	s->spec = *spec;
	s->base_lr = base_lr;
	s->total_steps = total_steps > 0 ? total_steps : 1;
	s->steps_per_epoch = steps_per_epoch > 0 ? steps_per_epoch : 1;
}

static double cos_anneal(double start, double end, double pct)
{
	return end + (start - end) / 2.0 * (1.0 + cos(M_PI * pct));
}

/* torch.optim.lr_scheduler.OneCycleLR with anneal_strategy='cos'. */
static double onecycle_lr(const struct schedule *s, int64_t step)
{
	double max_lr = s->spec.max_lr > 0 ? s->spec.max_lr : s->base_lr;
	double initial = max_lr / s->spec.div_factor;
	double min_lr = initial / s->spec.final_div_factor;
	double up_end = s->spec.pct_start * (double)s->total_steps - 1.0;
	double down_end = (double)s->total_steps - 1.0;
	if (step <= up_end)
		return cos_anneal(initial, max_lr, up_end > 0 ? step / up_end : 1.0);
	double span = down_end - up_end;
	return cos_anneal(max_lr, min_lr, span > 0 ? (step - up_end) / span : 1.0);
}

double schedule_lr(const struct schedule *s, int64_t step)
{
	const char *name = s->spec.name;
	int64_t warm = s->spec.warmup_steps;
	if (strcmp(name, "onecycle") == 0)
		return onecycle_lr(s, step);
	if (warm > 0 && step < warm)
		return s->base_lr * (double)(step + 1) / (double)warm;
	int64_t t = step - warm;
	int64_t span = s->total_steps - warm;
	if (span < 1)
		span = 1;
	if (strcmp(name, "cosine") == 0)
		return cos_anneal(s->base_lr, s->spec.min_lr, (double)t / (double)span);
	if (strcmp(name, "linear") == 0)
		return s->base_lr * (1.0 - (double)t / (double)span);
	if (strcmp(name, "step") == 0) {
		int64_t epoch = step / s->steps_per_epoch;
		int64_t size = s->spec.step_size > 0 ? s->spec.step_size : 1;
		return s->base_lr * pow(s->spec.gamma, (double)(epoch / size));
	}
	return s->base_lr;
}
