/*
 * schedule.h — learning rate as a function of the step: constant, step
 * decay, cosine, linear decay and one-cycle, each optionally preceded by a
 * linear warm-up. Pure functions of (spec, step), so a resumed run gets the
 * same rates without saving scheduler state.
 */
#ifndef TB_SCHEDULE_H
#define TB_SCHEDULE_H

#include <stdint.h>

#include "spec.h"

struct schedule {
	struct spec_schedule spec;
	double base_lr;            /* optimizer lr */
	int64_t total_steps;       /* steps of the whole run */
	int64_t steps_per_epoch;
};

void schedule_init(struct schedule *s, const struct spec_schedule *spec, double base_lr, int64_t total_steps,
		   int64_t steps_per_epoch);

/* The learning rate for step `step` (0-based: the rate the step-th update uses). */
double schedule_lr(const struct schedule *s, int64_t step);

#endif
