/*
 * data_synthetic.c — a learnable data set made from nothing, for tests,
 * demos and benchmarks on machines without any data files.
 *
 * Each class has a prototype (a random N(0,1) vector of the sample shape);
 * a sample is its class prototype plus N(0, SYNTH_NOISE²) noise. A model
 * can separate the classes, so "loss goes down" is a meaningful test, yet
 * with few features the noise makes it imperfect.
 *
 * What it is not: seeded by the run seed. The data are a fixed function of
 * (shape, classes, split, index) like any data set on disk, so runs with
 * different seeds see the same samples. Each sample has its own counter-
 * based stream, so the data also do not depend on the split sizes.
 *
 * Threads: caller's thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "rng.h"
#include "tb.h"

#define SYNTH_SEED 0x73796e7468657469ULL /* "synthetic" */
#define SYNTH_NOISE 1.0f
/* Tags for rng_hash so prototypes and the two splits draw from streams
 * that never coincide. */
#define SYNTH_TAG_PROTOTYPE 0
#define SYNTH_TAG_TRAIN 1
#define SYNTH_TAG_TEST 2

#define SYNTH_DEFAULT_C 1
#define SYNTH_DEFAULT_H 28
#define SYNTH_DEFAULT_W 28
#define SYNTH_DEFAULT_CLASSES 10
#define SYNTH_DEFAULT_TRAIN 1024
#define SYNTH_DEFAULT_TEST 256
/* Bound on samples × features, so a typo in train_size is an error rather
 * than an attempt to fill all of memory: 2^31 floats = 8 GiB. */
#define SYNTH_MAX_VALUES (INT64_C(1) << 31)

/* The spec after defaults. A field left 0 (a zeroed spec_data, as tests
 * and callers without the parser make) means the parser's default. */
struct synth_params {
	int c, h, w;
	int classes;
	int64_t train_size, test_size;
};

static int synth_params(const struct spec_data *spec, struct synth_params *p, char *err,
			size_t errlen)
{
	p->c = spec->shape[0] ? spec->shape[0] : SYNTH_DEFAULT_C;
	p->h = spec->shape[1] ? spec->shape[1] : SYNTH_DEFAULT_H;
	p->w = spec->shape[2] ? spec->shape[2] : SYNTH_DEFAULT_W;
	p->classes = spec->classes ? spec->classes : SYNTH_DEFAULT_CLASSES;
	p->train_size = spec->train_size ? spec->train_size : SYNTH_DEFAULT_TRAIN;
	p->test_size = spec->test_size ? spec->test_size : SYNTH_DEFAULT_TEST;
	if (p->c < 1 || p->h < 1 || p->w < 1 || p->c > DATA_MAX_CHANNELS ||
	    p->h > DATA_MAX_SIDE || p->w > DATA_MAX_SIDE)
		return data_fail(err, errlen,
				 "synthetic: data.shape [%d, %d, %d] must be three positive sizes "
				 "(C, H, W)",
				 p->c, p->h, p->w);
	if (p->classes < 2 || p->classes > 100000)
		return data_fail(err, errlen, "synthetic: data.classes must be in 2..100000, got %d",
				 p->classes);
	if (p->train_size < 1 || p->test_size < 0)
		return data_fail(err, errlen,
				 "synthetic: data.train_size must be ≥ 1 and data.test_size ≥ 0");
	int64_t features = (int64_t)p->c * p->h * p->w;
	if ((p->train_size + p->test_size) > SYNTH_MAX_VALUES / features)
		return data_fail(err, errlen,
				 "synthetic: %lld samples of %lld features is more than the %lld "
				 "values a synthetic data set may hold",
				 (long long)(p->train_size + p->test_size), (long long)features,
				 (long long)SYNTH_MAX_VALUES);
	return 0;
}

/* Fill one split. Sample i is a pure function of (tag, i): its label and
 * noise come from a stream seeded by rng_hash(SYNTH_SEED, tag, i). */
static int synth_fill(const struct synth_params *p, const float *prototypes, uint64_t tag,
		      int64_t n, const char *name, const volatile sig_atomic_t *stop, struct dataset *d,
		      char *err, size_t errlen)
{
	if (data_dataset_alloc(d, name, DATASET_F32, n, p->c, p->h, p->w, p->classes, name, err,
			       errlen))
		return -1;
	int64_t features = dataset_sample_size(d);
	for (int64_t i = 0; i < n; i++) {
		if (i % DATA_STOP_EVERY == 0 && data_stopped(stop, err, errlen)) {
			dataset_free(d);
			return -1;
		}
		struct rng r;
		rng_seed(&r, rng_hash(SYNTH_SEED, tag, (uint64_t)i));
		int32_t label = (int32_t)rng_below(&r, (uint64_t)p->classes);
		const float *proto = prototypes + label * features;
		float *x = d->f32 + i * features;
		for (int64_t k = 0; k < features; k++)
			x[k] = proto[k] + SYNTH_NOISE * rng_normal(&r);
		d->labels[i] = label;
	}
	return 0;
}

int data_synthetic_load(const struct spec_data *spec, const volatile sig_atomic_t *stop,
			struct data_splits *out, char *err, size_t errlen)
{
	struct synth_params p;
	if (synth_params(spec, &p, err, errlen))
		return -1;
	int64_t features = (int64_t)p.c * p.h * p.w;
	/* Prototypes for every class: classes × features floats, bounded by the
	 * checks above only loosely, so allocate without aborting. */
	size_t bytes;
	if (__builtin_mul_overflow((size_t)p.classes, (size_t)features * sizeof(float), &bytes))
		return data_fail(err, errlen, "synthetic: %d classes of %lld features do not fit",
				 p.classes, (long long)features);
	float *prototypes = malloc(bytes);
	if (!prototypes)
		return data_fail(err, errlen, "synthetic: cannot allocate %zu bytes of prototypes",
				 bytes);
	for (int k = 0; k < p.classes; k++) {
		struct rng r;
		rng_seed(&r, rng_hash(SYNTH_SEED, SYNTH_TAG_PROTOTYPE, (uint64_t)k));
		for (int64_t j = 0; j < features; j++)
			prototypes[k * features + j] = rng_normal(&r);
	}
	int rc = -1;
	if (synth_fill(&p, prototypes, SYNTH_TAG_TRAIN, p.train_size, "synthetic/train", stop,
		       &out->train, err, errlen) ||
	    synth_fill(&p, prototypes, SYNTH_TAG_TEST, p.test_size, "synthetic/test", stop,
		       &out->test, err, errlen))
		goto done;
	rc = 0;
done:
	free(prototypes);
	return rc;
}

int data_synthetic_probe(const struct spec_data *spec, struct data_info *out, char *err,
			 size_t errlen)
{
	struct synth_params p;
	if (synth_params(spec, &p, err, errlen))
		return -1;
	*out = (struct data_info){
		.c = p.c, .h = p.h, .w = p.w, .classes = p.classes, .storage = DATASET_F32,
		.train_n = p.train_size, .test_n = p.test_size,
		.reader_bytes = (int64_t)p.classes * p.c * p.h * p.w * (int64_t)sizeof(float), /* prototypes */
	};
	return 0;
}
