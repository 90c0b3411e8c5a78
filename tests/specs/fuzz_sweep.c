/*
 * fuzz_sweep.c — a libFuzzer target for sweep specs (the sweep: section's
 * parser, the expansion into trials, the per-trial check and the preview),
 * run by hand like fuzz_spec.c; the always-on part is the template loop in
 * tests/unit/test_sweep.c:
 *
 *   clang -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iengine \
 *     engine/spec*.c engine/sweep.c engine/asha.c engine/rng.c engine/tb.c \
 *     tests/specs/fuzz_sweep.c -lyaml -lm -o build/fuzz_sweep
 *   mkdir -p build/fuzz-sweep && cp -r tests/specs/good examples build/fuzz-sweep/
 *   build/fuzz_sweep -max_total_time=300 -max_len=4096 build/fuzz-sweep
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

#include "spec.h"
#include "sweep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
