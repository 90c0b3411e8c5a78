/*
 * fuzz_data.c — probe, load and check a data set for the data-reader
 * targets (see fuzz_data.h).
 *
 * FUZZ_TRACE=1 prints what probe and load said to stderr.
 *
 * Threads: one.
 */
#include "fuzz_data.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "fuzz.h"
#include "spec.h"

static void check_split(const char *what, const struct dataset *d)
{
	if (d->n < 0)
		fuzz_fail("%s: %lld samples", what, (long long)d->n);
	if (d->n == 0)
		return;
	if (d->c < 1 || d->h < 1 || d->w < 1 || d->classes < 1)
		fuzz_fail("%s: shape %d x %d x %d, %d classes", what, d->c, d->h, d->w, d->classes);
	if (!d->labels || (d->storage == DATASET_U8 ? !d->u8 : !d->f32))
		fuzz_fail("%s: %lld samples without storage", what, (long long)d->n);
	for (int64_t i = 0; i < d->n; i++)
		if (d->labels[i] < 0 || d->labels[i] >= d->classes)
			fuzz_fail("%s: label %d of sample %lld is outside 0..%d", what, d->labels[i], (long long)i,
				  d->classes - 1);
	if (d->storage == DATASET_F32) {
		int64_t total = d->n * dataset_sample_size(d);
		for (int64_t i = 0; i < total; i++)
			if (!isfinite(d->f32[i]))
				fuzz_fail("%s: value %lld is not finite", what, (long long)i);
	} else {
		volatile uint8_t sink = 0;
		int64_t total = d->n * dataset_sample_size(d);
		for (int64_t i = 0; i < total; i++)
			sink ^= d->u8[i]; /* ASan checks the whole buffer is there */
		(void)sink;
	}
}

/* The specs a target uses (a handful of variants, the scratch path fixed),
 * parsed once each: libyaml would otherwise take a good part of every run. */
#define SPEC_CACHE 16
static struct {
	char *yaml;
	struct spec spec;
} spec_cache[SPEC_CACHE];

static const struct spec *spec_get(const char *yaml)
{
	int i;
	for (i = 0; i < SPEC_CACHE && spec_cache[i].yaml; i++)
		if (!strcmp(spec_cache[i].yaml, yaml))
			return &spec_cache[i].spec;
	if (i == SPEC_CACHE)
		fuzz_fail("more than %d spec variants", SPEC_CACHE);
	static struct spec_errors errs;
	if (spec_parse(yaml, strlen(yaml), "fuzz", NULL, 0, &spec_cache[i].spec, &errs) != 0)
		fuzz_fail("the target's spec does not parse: %s\n%s", errs.list[0].message, yaml);
	spec_cache[i].yaml = strdup(yaml);
	return &spec_cache[i].spec;
}

void fuzz_data_run(const char *yaml)
{
	const struct spec *s = spec_get(yaml);
	char err[1024] = "";
	struct data_info info = {0};
	bool trace = getenv("FUZZ_TRACE") != NULL;
	int probed = data_probe(&s->data, &info, err, sizeof err) == 0;
	int c = info.c, h = info.h, w = info.w, classes = info.classes;
	if (trace)
		fprintf(stderr, "probe: %s %d x %d x %d, %d classes\n", probed ? "ok" : err, c, h, w, classes);
	if (!probed)
		fuzz_check_message("data_probe", err);
	else if (c < 1 || h < 1 || w < 1 || classes < 1)
		fuzz_fail("data_probe: shape %d x %d x %d, %d classes", c, h, w, classes);
	else if (info.train_n < 0 || info.test_n < 0 || info.reader_bytes < 0)
		fuzz_fail("data_probe: %lld train, %lld test samples, %lld reader bytes", (long long)info.train_n,
			  (long long)info.test_n, (long long)info.reader_bytes);

	struct data_splits sp;
	err[0] = '\0';
	if (data_load(&s->data, 1, &sp, err, sizeof err) != 0) {
		if (trace)
			fprintf(stderr, "load: %s\n", err);
		fuzz_check_message("data_load", err);
	} else {
		if (trace)
			fprintf(stderr, "load: ok, %lld/%lld/%lld samples\n", (long long)sp.train.n,
				(long long)sp.validation.n, (long long)sp.test.n);
		if (sp.train.n < 1)
			fuzz_fail("data_load: an empty train split");
		check_split("train", &sp.train);
		check_split("validation", &sp.validation);
		check_split("test", &sp.test);
		if (probed && (c != sp.train.c || h != sp.train.h || w != sp.train.w || classes != sp.train.classes))
			fuzz_fail("data_probe says %d x %d x %d, %d classes; data_load %d x %d x %d, %d", c, h, w,
				  classes, sp.train.c, sp.train.h, sp.train.w, sp.train.classes);
		data_splits_free(&sp);
	}
}
