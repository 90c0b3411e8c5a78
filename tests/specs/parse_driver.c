/*
 * parse_driver.c — the spec parser alone, for the broken-spec suite: parse
 * each file given (with optional --set overrides), print the errors as
 * "file:line:col: error: message", exit 2 when any file failed, else 0.
 *
 * What it is: a test harness built by tests/specs/run.sh under ASan+UBSan
 * against the engine (the parser reads its registries). What it is not: `trainbook check` (the
 * lead's CLI adds data and model checks on top).
 *
 * Threads: one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int main(int argc, char **argv)
{
	const char *sets[32];
	int nsets = 0, status = 0;
	struct spec *s = calloc(1, sizeof(*s));
	struct spec_errors *errs = calloc(1, sizeof(*errs));
	if (!s || !errs)
		return 3;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--set") && i + 1 < argc && nsets < 32) {
			sets[nsets++] = argv[++i];
			continue;
		}
		if (spec_parse_file(argv[i], sets, nsets, s, errs) != 0) {
			spec_errors_print(errs, stdout);
			status = 2;
			continue;
		}
		if (getenv("SPEC_DRIVER_SOURCE"))
			fputs(s->source, stdout);
		spec_free(s);
	}
	free(s);
	free(errs);
	return status;
}
