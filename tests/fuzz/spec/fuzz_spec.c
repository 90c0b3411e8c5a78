/*
 * fuzz_spec.c — the spec parser (engine/spec*.c, reading the engine's
 * registries) and --set overrides.
 * Built and run by `make fuzz`, replayed by tests/fuzz/run.sh (fuzz.h);
 * tests/unit/test_spec.c keeps a deterministic mutation loop beside it.
 *
 * Input: YAML text, optionally followed by "\0SET" and up to 8 overrides
 * separated by \x01. Properties: no crash, no leak; a failure has one-line
 * errors; a success has a source that parses, without the overrides, to the
 * same spec (positions aside) — what resuming from a checkpoint relies on.
 *
 * Threads: one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "fuzz.h"
#include "tests/specs/spec_positions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spec *a, *b;
	static struct spec_errors *e;
	char *sets[8], *copy = NULL;
	int nsets = 0;
	size_t len = size;
	if (!a) {
		a = calloc(1, sizeof(*a));
		b = calloc(1, sizeof(*b));
		e = calloc(1, sizeof(*e));
	}
	const uint8_t *sep = memmem(data, size, "\0SET", 4);
	if (sep) {
		len = (size_t)(sep - data);
		size_t olen = size - len - 4;
		copy = malloc(olen + 1);
		memcpy(copy, sep + 4, olen);
		copy[olen] = '\0';
		for (char *p = copy; p && nsets < 8;) {
			sets[nsets++] = p;
			p = strchr(p, '\1');
			if (p)
				*p++ = '\0';
		}
	}
	if (spec_parse((const char *)data, len, "f", (const char *const *)sets, nsets, a, e) == 0) {
		if (spec_parse(a->source, strlen(a->source), "g", NULL, 0, b, e) != 0) {
			fprintf(stderr, "source does not parse: %s\n%s\n", e->list[0].message, a->source);
			abort();
		}
		char *sa = a->source, *sb = b->source;
		spec_clear_positions(a);
		spec_clear_positions(b);
		if (memcmp(a, b, sizeof(*a))) {
			fprintf(stderr, "source parses to a different spec:\n%s\n", sa);
			abort();
		}
		a->source = sa;
		b->source = sb;
		spec_free(a);
		spec_free(b);
	} else {
		if (e->count < 1)
			fuzz_fail("spec_parse failed without an error");
		for (int i = 0; i < e->count; i++)
			fuzz_check_message("spec error", e->list[i].message);
	}
	free(copy);
	return 0;
}
