/*
 * early_stop.h — the early-stopping rule: after each evaluation, is the
 * watched metric still improving, and if not for `patience` evaluations,
 * end the run (spec section early_stopping, spec_stopping.c).
 *
 * What it is: a pure rule over the run's checkpoint_state, so the best
 * value, its epoch and the count of evaluations without improvement are
 * saved in every checkpoint and a resumed run goes on counting where it
 * was. The best value is also what picks best.safetensors when early
 * stopping is on. What it is not: the evaluation (train.c) nor the choice
 * of split (early_stop_split).
 *
 * Threads: pure; the training thread calls it.
 */
#ifndef TB_EARLY_STOP_H
#define TB_EARLY_STOP_H

#include <stdbool.h>
#include <stddef.h>

#include "checkpoint.h"
#include "spec.h"

/* One evaluation's results, per split: [0] loss, [1] accuracy. */
struct eval_results {
	bool has_validation;
	double validation[2];
	double test[2];
};

/* The split the metric is read from: "validation", or "test" when there is no validation split. */
const char *early_stop_split(const char *metric, bool has_validation);

/* The watched value in `r` (validation falls back to test as early_stop_split says). */
double early_stop_value(const char *metric, const struct eval_results *r);

/*
 * Record one evaluation's value at `epoch` (epochs done) and `step`. Returns
 * true when it is the best so far (then cs->best_* hold it). Sets
 * cs->early_stopped once `patience` evaluations in a row brought no
 * improvement larger than min_delta.
 */
bool early_stop_observe(const struct spec_early_stop *cfg, struct checkpoint_state *cs, double value, int epoch,
			int64_t step);

/* "early stopped at epoch N (best validation.loss 0.4213 at epoch K)" */
void early_stop_reason(const struct spec_early_stop *cfg, const struct checkpoint_state *cs, char *buf, size_t size);

#endif
