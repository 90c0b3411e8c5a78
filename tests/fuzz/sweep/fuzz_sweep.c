/*
 * fuzz_sweep.c — sweep specs: the sweep: section's parser (engine/spec_sweep.c,
 * spec_stopping.c), the expansion into trials (engine/sweep.c), the per-trial
 * check and the preview. Built and run by `make fuzz`, replayed by
 * tests/fuzz/run.sh (fuzz.h); tests/unit/test_sweep.c keeps a deterministic
 * template loop beside it.
 *
 * Input: YAML text. Properties: no crash, no leak; a grid's trial count is
 * the product of its keys' counts; expansion is the same twice; the check
 * and the preview run on every accepted sweep.
 *
 * Threads: one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "spec.h"
#include "sweep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spec *s;
	static struct spec_errors *e;
	static FILE *devnull;
	if (!s) {
		s = calloc(1, sizeof(*s));
		e = calloc(1, sizeof(*e));
		devnull = fopen("/dev/null", "w");
	}
	if (spec_parse((const char *)data, size, "fuzz", NULL, 0, s, e) != 0 || !s->sweep.enabled) {
		spec_free(s);
		return 0;
	}
	struct sweep_trial *a, *b;
	int n = sweep_expand(&s->sweep, &a);
	if (sweep_expand(&s->sweep, &b) != n || memcmp(a, b, (size_t)n * sizeof(*a)))
		abort();
	if (s->sweep.grid) {
		long product = 1;
		for (int i = 0; i < s->sweep.nparams; i++)
			product *= s->sweep.params[i].count;
		if (product != n)
			abort();
	}
	/* A few trials are enough to exercise the check; all of them could take long. */
	sweep_check((const char *)data, size, "fuzz", NULL, 0, &s->sweep, a, n < 8 ? n : 8, e);
	sweep_preview_print(&s->sweep, s->train.epochs, a, n, devnull);
	free(a);
	free(b);
	spec_free(s);
	return 0;
}
