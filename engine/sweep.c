/*
 * sweep.c — a sweep's trials (see sweep.h).
 *
 * Threads: pure; callers own every buffer.
 */
#include "sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asha.h"
#include "rng.h"
#include "tb.h"

#define SWEEP_RNG_TAG 0x7377656570ULL /* "sweep": draws never coincide with training streams */

/* How many grid points a param has. */
static int param_count(const struct spec_sweep_param *p)
{
	return p->dist == SPEC_DIST_CHOICE ? p->nvalues : p->count;
}

/* Value k of n evenly spaced grid points (or of a range, or a choice) as --set text. */
static void grid_value(const struct spec_sweep_param *p, int k, char *out, size_t size)
{
	double t = p->count > 1 ? (double)k / (p->count - 1) : 0;
	switch (p->dist) {
	case SPEC_DIST_CHOICE:
		tb_fmt(out, size, "%s", p->values[k]);
		break;
	case SPEC_DIST_RANGE:
		tb_fmt(out, size, "%.0f", p->lo + k * p->step);
		break;
	case SPEC_DIST_UNIFORM:
		tb_fmt(out, size, "%.6g", p->lo + t * (p->hi - p->lo));
		break;
	case SPEC_DIST_LOGUNIFORM:
		tb_fmt(out, size, "%.6g", exp(log(p->lo) + t * (log(p->hi) - log(p->lo))));
		break;
	}
}

/* A random value: its own stream per (seed, trial, param), so trials do not depend on each other. */
static void random_value(const struct spec_sweep_param *p, uint64_t seed, int trial, int param, char *out, size_t size)
{
	struct rng r;
	rng_seed(&r, rng_hash(rng_hash(seed, SWEEP_RNG_TAG, 0), (uint64_t)trial, (uint64_t)param));
	double u = rng_uniform_double(&r);
	switch (p->dist) {
	case SPEC_DIST_CHOICE:
		tb_fmt(out, size, "%s", p->values[rng_below(&r, (uint64_t)p->nvalues)]);
		break;
	case SPEC_DIST_RANGE:
		tb_fmt(out, size, "%.0f", p->lo + (double)rng_below(&r, (uint64_t)p->count) * p->step);
		break;
	case SPEC_DIST_UNIFORM:
		tb_fmt(out, size, "%.6g", p->lo + u * (p->hi - p->lo));
		break;
	case SPEC_DIST_LOGUNIFORM:
		tb_fmt(out, size, "%.6g", exp(log(p->lo) + u * (log(p->hi) - log(p->lo))));
		break;
	}
}

int sweep_expand(const struct spec_sweep *sw, struct sweep_trial **out)
{
	int n = sw->trials;
	TB_ASSERT(n >= 1 && n <= SPEC_SWEEP_MAX_TRIALS);
	struct sweep_trial *t = tb_xcalloc((size_t)n, sizeof(*t));
	for (int i = 0; i < n; i++) {
		t[i].index = i;
		t[i].nparams = sw->nparams;
		tb_fmt(t[i].overrides[0], SWEEP_OVERRIDE_MAX, "sweep=~");
		int rest = i; /* mixed radix: the last key varies fastest */
		for (int j = sw->nparams - 1; j >= 0; j--) {
			const struct spec_sweep_param *p = &sw->params[j];
			if (sw->grid) {
				int c = param_count(p);
				grid_value(p, rest % c, t[i].values[j], SPEC_SWEEP_VALUE_MAX);
				rest /= c;
			} else {
				random_value(p, sw->seed, i, j, t[i].values[j], SPEC_SWEEP_VALUE_MAX);
			}
			tb_fmt(t[i].overrides[j + 1], SWEEP_OVERRIDE_MAX, "%s=%s", p->path, t[i].values[j]);
		}
	}
	*out = t;
	return n;
}

int sweep_trial_parse(const char *text, size_t len, const char *filename, const char *const *base, int nbase,
		      const struct sweep_trial *trial, struct spec *out, struct spec_errors *errs)
{
	int n = nbase + 1 + trial->nparams;
	const char **sets = tb_xcalloc((size_t)n, sizeof(*sets));
	for (int i = 0; i < nbase; i++)
		sets[i] = base[i];
	for (int i = 0; i <= trial->nparams; i++)
		sets[nbase + i] = trial->overrides[i];
	int rc = spec_parse(text, len, filename, sets, n, out, errs);
	free(sets);
	return rc;
}

int sweep_check(const char *text, size_t len, const char *filename, const char *const *base, int nbase,
		const struct spec_sweep *sw, const struct sweep_trial *trials, int ntrials, struct spec_errors *errs)
{
	struct spec *s = tb_xmalloc(sizeof(*s));
	struct spec_errors *e = tb_xmalloc(sizeof(*e));
	bool reported[SPEC_SWEEP_MAX_PARAMS] = {false};
	memset(errs, 0, sizeof(*errs));
	tb_fmt(errs->filename, sizeof(errs->filename), "%s", filename ? filename : "<cell>");
	for (int i = 0; i < ntrials; i++) {
		if (sweep_trial_parse(text, len, filename, base, nbase, &trials[i], s, e) == 0) {
			spec_free(s);
			continue;
		}
		/* Which swept key made the first error: its message names the override. */
		const char *msg = e->list[0].message;
		int k = -1;
		char needle[SPEC_NAME_MAX + 16];
		for (int j = 0; j < sw->nparams && k < 0; j++) {
			tb_fmt(needle, sizeof(needle), "--set '%s=", sw->params[j].path);
			if (strstr(msg, needle))
				k = j;
		}
		if (k >= 0 && reported[k])
			continue;
		/* The trial's override is named by the error's place: drop it from the message. */
		char clean[sizeof(e->list[0].message)];
		const char *body = msg;
		if (k >= 0 && strncmp(msg, needle, strlen(needle)) == 0 && strstr(msg, "': "))
			body = strstr(msg, "': ") + 3; /* "--set 'k=v': why" */
		tb_fmt(clean, sizeof(clean), "%s", body);
		char *from = strstr(clean, " (from --set '");
		if (from)
			*from = '\0';
		if (k >= 0) {
			reported[k] = true;
			spec_error_add(errs, sw->params[k].pos, "sweep.params.%s: trial %d sets %s: %s",
				       sw->params[k].path, i + 1, trials[i].values[k], clean);
		} else {
			spec_error_add(errs, sw->pos, "sweep: trial %d does not parse: %s", i + 1, clean);
			break; /* not one key's fault: every trial would say the same */
		}
	}
	free(s);
	free(e);
	return errs->count ? -1 : 0;
}

const char *sweep_metric(const struct spec *s, bool *maximize)
{
	if (s->sweep.asha.enabled) {
		*maximize = s->sweep.asha.maximize;
		return s->sweep.asha.metric;
	}
	if (s->early_stop.enabled) {
		*maximize = s->early_stop.maximize;
		return s->early_stop.metric;
	}
	*maximize = true;
	return "validation.accuracy";
}

void sweep_preview_print(const struct spec_sweep *sw, int max_epochs, const struct sweep_trial *trials, int ntrials,
			 FILE *out)
{
	fprintf(out, "\nsweep: %s search, %d trial%s, %d at a time, seed %llu\n", sw->grid ? "grid" : "random", ntrials,
		ntrials == 1 ? "" : "s", sw->parallel, (unsigned long long)sw->seed);
	if (sw->asha.enabled) {
		int rungs[ASHA_MAX_RUNGS];
		int n = asha_rungs(&sw->asha, max_epochs, rungs, ASHA_MAX_RUNGS);
		fprintf(out, "stop: ASHA on %s (%s), keep the top 1/%d at epoch%s", sw->asha.metric,
			sw->asha.maximize ? "max" : "min", sw->asha.reduction, n == 1 ? "" : "s");
		for (int i = 0; i < n; i++)
			fprintf(out, "%s%d", i ? ", " : " ", rungs[i]);
		fprintf(out, "%s\n", n ? "" : " (none: the trials are too short for a rung)");
	}
	int width[SPEC_SWEEP_MAX_PARAMS];
	for (int j = 0; j < sw->nparams; j++) {
		width[j] = (int)strlen(sw->params[j].path);
		for (int i = 0; i < ntrials; i++)
			width[j] = TB_MAX(width[j], (int)strlen(trials[i].values[j]));
	}
	fprintf(out, "\n%5s", "trial");
	for (int j = 0; j < sw->nparams; j++)
		fprintf(out, "  %-*s", width[j], sw->params[j].path);
	fprintf(out, "\n");
	for (int i = 0; i < ntrials; i++) {
		fprintf(out, "%5d", i + 1);
		for (int j = 0; j < sw->nparams; j++)
			fprintf(out, "  %-*s", width[j], trials[i].values[j]);
		fprintf(out, "\n");
	}
}
