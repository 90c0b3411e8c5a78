/*
 * sweep.h — a spec with a `sweep:` section (spec_sweep.c) expanded into
 * trials: each trial is the same spec with `sweep=~` and one --set
 * override per swept key, so it is parsed, validated, stored and resumed
 * like any run.
 *
 * What it is: the deterministic expansion (grid: every combination, the
 * last key varying fastest; random: draws that depend only on the sweep
 * seed and the trial's index, so adding trials keeps the first ones), the
 * parse of one trial, the check of every trial with errors placed at the
 * swept key, and the preview table `trainbook check` prints (like
 * `det preview-search`). What it is not: running trials (cli/cmd_sweep.c,
 * server/sweeps.c) nor the stopping rule (asha.h).
 *
 * Threads: pure; callers own every buffer.
 */
#ifndef TB_SWEEP_H
#define TB_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "spec.h"

#define SWEEP_OVERRIDE_MAX (SPEC_NAME_MAX + SPEC_SWEEP_VALUE_MAX + 2)

struct sweep_trial {
	int index; /* 0-based; shown 1-based */
	int nparams;
	char values[SPEC_SWEEP_MAX_PARAMS][SPEC_SWEEP_VALUE_MAX]; /* as --set values: "0.00123", "[256, 128]" */
	/* "sweep=~" then "path=value" per param: the overrides that make the trial's spec */
	char overrides[SPEC_SWEEP_MAX_PARAMS + 1][SWEEP_OVERRIDE_MAX];
};

/* Expand sw into sw->trials trials (malloc'd array, caller frees); returns the count (≥ 1). */
int sweep_expand(const struct spec_sweep *sw, struct sweep_trial **out);

/*
 * The spec of one trial: `text` with the caller's overrides (the --set of
 * the command line) and then the trial's. Returns spec_parse's result.
 */
int sweep_trial_parse(const char *text, size_t len, const char *filename, const char *const *base, int nbase,
		      const struct sweep_trial *trial, struct spec *out, struct spec_errors *errs);

/*
 * Parse every trial; a value the spec refuses is reported at its swept
 * key ("sweep.params.optimizer.lr: trial 3 sets -1: optimizer.lr: …"),
 * once per key. Returns 0 when all trials parse, -1 with errs filled.
 */
int sweep_check(const char *text, size_t len, const char *filename, const char *const *base, int nbase,
		const struct spec_sweep *sw, const struct sweep_trial *trials, int ntrials, struct spec_errors *errs);

/*
 * The metric a sweep ranks its trials by: ASHA's, else early stopping's,
 * else validation.accuracy (read from the test split when the spec has no
 * validation split: early_stop_split).
 */
const char *sweep_metric(const struct spec *s, bool *maximize);

/* The preview: one line about the search, then a table of trials × swept keys. */
void sweep_preview_print(const struct spec_sweep *sw, int max_epochs, const struct sweep_trial *trials, int ntrials,
			 FILE *out);

#endif
