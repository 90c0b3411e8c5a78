/*
 * asha.c — asynchronous successive halving (see asha.h).
 *
 * Threads: pure; a struct asha belongs to its caller.
 */
#include "asha.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

int asha_rungs(const struct spec_asha *cfg, int epochs, int *rung_epochs, int max)
{
	int n = 0;
	long long e = cfg->min_epochs;
	while (n < max && e < epochs) {
		rung_epochs[n++] = (int)e;
		e *= cfg->reduction;
	}
	return n;
}

bool asha_continue(const double *values, int n, double value, int reduction, bool maximize)
{
	TB_ASSERT(n >= 1 && reduction >= 2);
	if (isnan(value))
		return false; /* a diverged trial goes no further */
	int keep = n / reduction;
	if (keep < 1)
		keep = 1; /* the best so far always goes on: nobody is held back waiting for others */
	int better = 0;
	for (int i = 0; i < n; i++)
		better += maximize ? values[i] > value : values[i] < value;
	return better < keep;
}

void asha_init(struct asha *a, const struct spec_asha *cfg, int epochs)
{
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	if (cfg->enabled)
		a->nrungs = asha_rungs(cfg, epochs, a->rung_epochs, ASHA_MAX_RUNGS);
}

void asha_free(struct asha *a)
{
	for (int i = 0; i < a->nrungs; i++)
		free(a->values[i]);
	memset(a, 0, sizeof(*a));
}

int asha_rung_at(const struct asha *a, int epoch)
{
	for (int i = 0; i < a->nrungs; i++)
		if (a->rung_epochs[i] == epoch)
			return i;
	return -1;
}

bool asha_report(struct asha *a, int epoch, double value)
{
	int r = asha_rung_at(a, epoch);
	if (r < 0)
		return true;
	a->values[r] = tb_xrealloc(a->values[r], (size_t)(a->count[r] + 1) * sizeof(double));
	a->values[r][a->count[r]++] = value;
	return asha_continue(a->values[r], a->count[r], value, a->cfg.reduction, a->cfg.maximize);
}
