/*
 * asha.h — asynchronous successive halving (Li et al., "A System for
 * Massively Parallel Hyperparameter Tuning", 2020) as the stopping rule
 * of a sweep (sweep.stop.asha).
 *
 * Rungs sit at min_epochs · reduction^k epochs (below the trials' epochs).
 * A trial that reaches a rung continues only if its metric is in the top
 * 1/reduction of all values recorded at that rung so far (at least the
 * best one), so early trials are never held back waiting for others, and
 * a later, worse trial is stopped as soon as it reaches the rung.
 *
 * What it is: the rule as a pure function plus a small in-memory record
 * for `trainbook sweep`; the server keeps the record in its store and
 * calls the same function. What it is not: how a trial is stopped.
 *
 * Threads: pure; a struct asha belongs to its caller.
 */
#ifndef TB_ASHA_H
#define TB_ASHA_H

#include <stdbool.h>

#include "spec.h"

#define ASHA_MAX_RUNGS 16

/* The rung epochs for trials of `epochs` epochs; returns how many (may be 0). */
int asha_rungs(const struct spec_asha *cfg, int epochs, int *rung_epochs, int max);

/*
 * The rule: `value` has just been recorded at a rung where `values` (n
 * entries, `value` among them) were recorded. True: continue.
 */
bool asha_continue(const double *values, int n, double value, int reduction, bool maximize);

struct asha {
	struct spec_asha cfg;
	int nrungs;
	int rung_epochs[ASHA_MAX_RUNGS];
	double *values[ASHA_MAX_RUNGS]; /* recorded at each rung, malloc'd */
	int count[ASHA_MAX_RUNGS];
};

void asha_init(struct asha *a, const struct spec_asha *cfg, int epochs);
void asha_free(struct asha *a);
/* The rung index whose epoch is `epoch`, or -1. */
int asha_rung_at(const struct asha *a, int epoch);
/* A trial reached `epoch` (a rung) with `value`: record it and decide. True: continue. */
bool asha_report(struct asha *a, int epoch, double value);

#endif
