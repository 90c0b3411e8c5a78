/*
 * fuzz_spec.c — a libFuzzer target for the spec parser, run by hand (not by
 * `make test`; the deterministic mutation loop in tests/unit/test_spec.c is
 * the always-on part):
 *
 *   clang -D_GNU_SOURCE -g -O1 -fopenmp -fsanitize=fuzzer,address,undefined -I. -Iengine \
 *     -I/usr/include/x86_64-linux-gnu/openblas-openmp engine/*.c engine/cpu/*.c tests/specs/fuzz_spec.c \
 *     -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -lyaml -lz -lpng -ljpeg -lm -ldl \
 *     -o build/fuzz_spec
 * (the parser reads the engine's registries, so the target links the engine).
 *   mkdir -p build/fuzz-corpus && cp -r tests/specs/bad tests/specs/good build/fuzz-corpus/
 *   build/fuzz_spec -max_total_time=300 -max_len=4096 build/fuzz-corpus
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

static void clear_positions(struct spec *s)
{
	static const struct spec_pos zero;
	s->data.pos = s->data.dataset_pos = s->data.path_pos = zero;
	for (int i = 0; i < SPEC_MAX_AUGMENT; i++)
		s->data.augment[i].pos = zero;
	s->model.pos = zero;
	for (int i = 0; i < SPEC_MAX_LAYERS; i++) {
		struct spec_layer *l = &s->model.layers[i];
		l->pos = l->value.pos = l->value.key_pos = zero;
		for (int j = 0; j < SPEC_MAX_ARGS; j++)
			l->args[j].pos = l->args[j].key_pos = zero;
	}
	s->loss.pos = s->optimizer.pos = s->schedule.pos = zero;
	s->train.pos = s->checkpoint.pos = zero;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
		clear_positions(a);
		clear_positions(b);
		a->source = b->source = NULL;
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
			abort();
		for (int i = 0; i < e->count; i++)
			if (strchr(e->list[i].message, '\n'))
				abort();
	}
	free(copy);
	return 0;
}
