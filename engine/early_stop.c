/*
 * early_stop.c — the early-stopping rule (see early_stop.h).
 *
 * The rule is Keras's EarlyStopping and Ludwig's early_stop: a value
 * improves when it beats the best by more than min_delta in the metric's
 * direction; `patience` evaluations in a row without improvement end the
 * run. The first evaluation is always the best so far.
 *
 * Threads: pure.
 */
#include "early_stop.h"

#include <stdio.h>
#include <string.h>

#include "tb.h"

const char *early_stop_split(const char *metric, bool has_validation)
{
	bool validation = strncmp(metric, "validation.", 11) == 0;
	return validation && has_validation ? "validation" : "test";
}

double early_stop_value(const char *metric, const struct eval_results *r)
{
	const char *dot = strchr(metric, '.');
	TB_ASSERT(dot);
	int which = strcmp(dot + 1, "accuracy") == 0; /* the parser allows loss and accuracy only */
	bool validation = strcmp(early_stop_split(metric, r->has_validation), "validation") == 0;
	return validation ? r->validation[which] : r->test[which];
}

bool early_stop_observe(const struct spec_early_stop *cfg, struct checkpoint_state *cs, double value, int epoch,
			int64_t step)
{
	bool better = !cs->has_best || (cfg->maximize ? value > cs->best_value + cfg->min_delta
						      : value < cs->best_value - cfg->min_delta);
	if (better) {
		cs->has_best = true;
		cs->best_value = value;
		cs->best_step = step;
		cs->best_epoch = epoch;
		cs->bad_evals = 0;
		return true;
	}
	cs->bad_evals++;
	if (cs->bad_evals >= cfg->patience) {
		cs->early_stopped = true;
		cs->stopped_epoch = epoch;
	}
	return false;
}

void early_stop_reason(const struct spec_early_stop *cfg, const struct checkpoint_state *cs, char *buf, size_t size)
{
	tb_fmt(buf, size, "early stopped at epoch %d (best %s %.4g at epoch %d)", cs->stopped_epoch, cfg->metric,
	       cs->best_value, cs->best_epoch);
}
