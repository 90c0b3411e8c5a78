/*
 * schedule.h — learning rate as a function of the step, and the schedule
 * registry: constant, step decay, cosine, linear decay and one-cycle (one
 * row each in schedule.c), each but one-cycle optionally preceded by a
 * linear warm-up. Pure functions of (spec, step), so a resumed run gets the
 * same rates without saving scheduler state.
 */
#ifndef TB_SCHEDULE_H
#define TB_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "spec.h"

struct schedule {
	struct spec_schedule spec;
	double base_lr;      /* optimizer lr */
	int64_t total_steps; /* steps of the whole run */
	int64_t steps_per_epoch;
};

struct schedule_kind {
	struct spec_kind spec; /* name, keys, docs */
	/* The rate for 0-based step `step` (past any warm-up the row does not handle itself). */
	double (*lr)(const struct schedule *s, int64_t step);
	bool own_warmup; /* lr() covers the start itself: warmup_steps does not apply */
};

extern const struct spec_registry schedule_registry;

void schedule_init(struct schedule *s, const struct spec_schedule *spec, double base_lr, int64_t total_steps,
		   int64_t steps_per_epoch);

/* The learning rate for step `step` (0-based: the rate the step-th update uses). */
double schedule_lr(const struct schedule *s, int64_t step);

#endif
