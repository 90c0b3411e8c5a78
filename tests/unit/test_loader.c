/*
 * test_loader.c — the batch loader's contract: the same seed gives the same
 * batches, whatever the worker count and ring size; starting at (epoch,
 * position) equals running from the start and skipping; epochs are
 * permutations with a short last batch (or none with drop_last); hflip
 * flips, random_crop shifts within the padding with zero fill, normalize
 * gives mean 0 / std 1 on train with train statistics reused for test;
 * augmentation is a pure function of (seed, epoch, sample index); freeing
 * mid-epoch joins the workers and leaks nothing (ASan checks at exit).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "data.h"

/* A u8 data set whose pixels are never 0, so zero fill marks padding. */
static struct dataset make_u8(int64_t n, int c, int h, int w, int classes)
{
	struct dataset d;
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "test");
	d.n = n, d.c = c, d.h = h, d.w = w, d.classes = classes;
	d.storage = DATASET_U8;
	int64_t size = (int64_t)c * h * w;
	d.u8 = malloc((size_t)(n * size));
	d.labels = malloc((size_t)n * sizeof(int32_t));
	for (int64_t i = 0; i < n; i++) {
		for (int64_t k = 0; k < size; k++)
			d.u8[i * size + k] = (uint8_t)(1 + (i * 7 + k * 13) % 255);
		d.labels[i] = (int32_t)(i % classes);
	}
	return d;
}

static struct loader_options options(int bs, int workers, int prefetch, uint64_t seed)
{
	struct loader_options o = {
		.batch_size = bs, .shuffle = true, .drop_last = false, .augment = true,
		.workers = workers, .prefetch = prefetch, .seed = seed,
	};
	return o;
}

/* Append an augmentation step as the parser would: its registry row's index, name and value. */
static void augment_add(struct spec_data *s, const char *name, double value)
{
	struct spec_augment *a = &s->augment[s->naugment++];
	a->kind = spec_registry_find(&augment_registry, name);
	assert_true(a->kind >= 0);
	snprintf(a->name, SPEC_NAME_MAX, "%s", name);
	a->value = value;
}

static struct spec_data aug_spec(double crop, double flip)
{
	struct spec_data s;
	memset(&s, 0, sizeof(s));
	if (crop >= 0)
		augment_add(&s, "random_crop", crop);
	if (flip >= 0)
		augment_add(&s, "hflip", flip);
	return s;
}

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* Digest of each of `calls` loader_next results (end-of-epoch calls too). */
static void digests(struct loader *l, const struct dataset *d, int calls, uint64_t *out)
{
	struct batch b;
	for (int i = 0; i < calls; i++) {
		int rc = loader_next(l, &b);
		uint64_t h = fnv(0xcbf29ce484222325ULL, &rc, sizeof(rc));
		if (rc == 0) {
			h = fnv(h, &b.n, sizeof(b.n));
			h = fnv(h, &b.epoch, sizeof(b.epoch));
			h = fnv(h, &b.position, sizeof(b.position));
			h = fnv(h, b.x, (size_t)b.n * dataset_sample_size(d) * sizeof(float));
			h = fnv(h, b.y, (size_t)b.n * sizeof(int32_t));
			h = fnv(h, b.index, (size_t)b.n * sizeof(int64_t));
		}
		out[i] = h;
	}
}

static struct loader *must_new(const struct dataset *d, const struct spec_data *aug,
			       const struct loader_options *o, int epoch, int64_t position)
{
	char err[256] = "";
	struct loader *l = loader_new(d, aug, o, epoch, position, err, sizeof(err));
	if (!l)
		fail_msg("loader_new: %s", err);
	return l;
}

enum { N = 1000, CALLS = 3 * 17 }; /* batch 64: 16 batches + 1 end per epoch */

static void run_digests(const struct dataset *d, const struct spec_data *aug,
			const struct loader_options *o, int epoch, int64_t position, int calls,
			uint64_t *out)
{
	struct loader *l = must_new(d, aug, o, epoch, position);
	digests(l, d, calls, out);
	loader_free(l);
}

static void test_same_seed_same_batches(void **state)
{
	(void)state;
	struct dataset d = make_u8(N, 1, 8, 8, 10);
	struct spec_data aug = aug_spec(2, 0.5);
	struct loader_options o = options(64, 2, 4, 7);
	uint64_t a[CALLS], b[CALLS], c[CALLS];
	run_digests(&d, &aug, &o, 0, 0, CALLS, a);
	run_digests(&d, &aug, &o, 0, 0, CALLS, b);
	o.seed = 8;
	run_digests(&d, &aug, &o, 0, 0, CALLS, c);
	assert_memory_equal(a, b, sizeof(a));
	int same = 0;
	for (int i = 0; i < CALLS; i++)
		same += a[i] == c[i];
	assert_int_equal(same, 3); /* only the three end-of-epoch markers */
	dataset_free(&d);
}

static void test_workers_do_not_change_batches(void **state)
{
	(void)state;
	struct dataset d = make_u8(N, 3, 6, 6, 10);
	struct spec_data aug = aug_spec(1, 0.5);
	uint64_t ref[CALLS], other[CALLS];
	struct loader_options o = options(64, 1, 2, 3);
	run_digests(&d, &aug, &o, 0, 0, CALLS, ref);
	int configs[][2] = {{2, 2}, {3, 7}, {8, 3}, {2, 40}};
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		o.workers = configs[i][0];
		o.prefetch = configs[i][1];
		run_digests(&d, &aug, &o, 0, 0, CALLS, other);
		assert_memory_equal(ref, other, sizeof(ref));
	}
	dataset_free(&d);
}

static void test_start_equals_skip(void **state)
{
	(void)state;
	struct dataset d = make_u8(N, 1, 8, 8, 10);
	struct spec_data aug = aug_spec(2, 0.5);
	struct loader_options o = options(64, 2, 3, 11);
	uint64_t ref[CALLS], got[CALLS];
	run_digests(&d, &aug, &o, 0, 0, CALLS, ref);
	/* (epoch, position) pairs, including the very end of an epoch. */
	int starts[][2] = {{0, 1}, {1, 5}, {1, 16}, {2, 0}, {0, 15}};
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		int skip = starts[i][0] * 17 + starts[i][1];
		run_digests(&d, &aug, &o, starts[i][0], starts[i][1], CALLS - skip, got);
		assert_memory_equal(ref + skip, got, (size_t)(CALLS - skip) * sizeof(uint64_t));
	}
	/* A ring smaller than an epoch's tail, resumed late: same again. */
	o.workers = 3;
	o.prefetch = 2;
	run_digests(&d, &aug, &o, 1, 14, CALLS - 31, got);
	assert_memory_equal(ref + 31, got, (size_t)(CALLS - 31) * sizeof(uint64_t));
	dataset_free(&d);
}

static void test_epoch_structure(void **state)
{
	(void)state;
	struct dataset d = make_u8(N, 1, 4, 4, 10);
	assert_int_equal(loader_batches_per_epoch(&d, 64, false), 16);
	assert_int_equal(loader_batches_per_epoch(&d, 64, true), 15);
	assert_int_equal(loader_batches_per_epoch(&d, 1000, true), 1);
	struct loader_options o = options(64, 2, 4, 1);
	struct loader *l = must_new(&d, NULL, &o, 0, 0);
	struct batch b;
	for (int epoch = 0; epoch < 2; epoch++) {
		int seen[N] = {0};
		for (int64_t pos = 0; pos < 16; pos++) {
			assert_int_equal(loader_next(l, &b), 0);
			assert_int_equal(b.epoch, epoch);
			assert_int_equal(b.position, pos);
			assert_int_equal(b.n, pos < 15 ? 64 : 1000 - 15 * 64);
			for (int i = 0; i < b.n; i++) {
				seen[b.index[i]]++;
				assert_int_equal(b.y[i], d.labels[b.index[i]]);
				assert_true(b.x[i * 16 + 3] == d.u8[b.index[i] * 16 + 3] / 255.0f);
			}
		}
		assert_int_equal(loader_next(l, &b), 1);
		for (int i = 0; i < N; i++)
			assert_int_equal(seen[i], 1);
	}
	loader_free(l);

	/* drop_last and no shuffle: full batches in dataset order. */
	o.shuffle = false;
	o.drop_last = true;
	l = must_new(&d, NULL, &o, 0, 0);
	for (int pos = 0; pos < 15; pos++) {
		assert_int_equal(loader_next(l, &b), 0);
		assert_int_equal(b.n, 64);
		for (int i = 0; i < 64; i++)
			assert_int_equal(b.index[i], pos * 64 + i);
	}
	assert_int_equal(loader_next(l, &b), 1);
	assert_int_equal(loader_next(l, &b), 0);
	assert_int_equal(b.epoch, 1);
	assert_int_equal(b.index[0], 0);
	loader_free(l);

	/* An empty epoch ends at once, every time. */
	o.batch_size = 2000;
	l = must_new(&d, NULL, &o, 0, 0);
	assert_int_equal(loader_next(l, &b), 1);
	assert_int_equal(loader_next(l, &b), 1);
	loader_free(l);
	dataset_free(&d);
}

/* Each epoch is a fresh shuffle, and not the identity. */
static void test_orders_differ_between_epochs(void **state)
{
	(void)state;
	struct dataset d = make_u8(N, 1, 2, 2, 10);
	struct loader_options o = options(N, 1, 2, 5);
	struct loader *l = must_new(&d, NULL, &o, 0, 0);
	struct batch b;
	static int64_t e0[N];
	assert_int_equal(loader_next(l, &b), 0);
	memcpy(e0, b.index, sizeof(e0));
	assert_int_equal(loader_next(l, &b), 1);
	assert_int_equal(loader_next(l, &b), 0);
	assert_memory_not_equal(e0, b.index, sizeof(e0));
	int identity = 1;
	for (int i = 0; i < N; i++)
		identity &= e0[i] == i;
	assert_false(identity);
	loader_free(l);
	dataset_free(&d);
}

/* All samples of one epoch of an unshuffled loader, in dataset order. */
static float *one_epoch(const struct dataset *d, const struct spec_data *aug, bool augment,
			uint64_t seed)
{
	struct loader_options o = options(256, 2, 2, seed);
	o.shuffle = false;
	o.augment = augment;
	struct loader *l = must_new(d, aug, &o, 0, 0);
	int64_t size = dataset_sample_size(d);
	float *x = malloc((size_t)(d->n * size) * sizeof(float));
	struct batch b;
	int64_t next = 0;
	while (loader_next(l, &b) == 0) {
		assert_int_equal(b.index[0], next);
		memcpy(x + next * size, b.x, (size_t)(b.n * size) * sizeof(float));
		next += b.n;
	}
	assert_int_equal(next, d->n);
	loader_free(l);
	return x;
}

static void test_hflip_flips(void **state)
{
	(void)state;
	struct dataset d = make_u8(200, 2, 3, 5, 10);
	struct spec_data always = aug_spec(-1, 1.0), half = aug_spec(-1, 0.5);
	float *plain = one_epoch(&d, NULL, false, 1);
	float *flipped = one_epoch(&d, &always, true, 1);
	float *off = one_epoch(&d, &always, false, 1); /* evaluation: no random ops */
	float *maybe = one_epoch(&d, &half, true, 1);
	int nflipped = 0;
	for (int i = 0; i < 200; i++) {
		int is_flipped = 1;
		for (int r = 0; r < 6; r++)
			for (int x = 0; x < 5; x++) {
				int64_t base = i * 30 + r * 5;
				assert_true(flipped[base + x] == plain[base + 4 - x]);
				is_flipped &= maybe[base + x] == plain[base + 4 - x];
			}
		nflipped += is_flipped;
	}
	assert_memory_equal(off, plain, 200 * 30 * sizeof(float));
	assert_true(nflipped > 70 && nflipped < 130);
	free(plain);
	free(flipped);
	free(off);
	free(maybe);
	dataset_free(&d);
}

static void test_random_crop_shifts_within_padding(void **state)
{
	(void)state;
	enum { H = 6, W = 7, PAD = 2 };
	struct dataset d = make_u8(500, 2, H, W, 10);
	struct spec_data crop = aug_spec(PAD, -1);
	float *plain = one_epoch(&d, NULL, false, 1);
	float *out = one_epoch(&d, &crop, true, 1);
	int offsets[2 * PAD + 1][2 * PAD + 1] = {{0}};
	for (int i = 0; i < 500; i++) {
		const float *in = plain + i * 2 * H * W, *o = out + i * 2 * H * W;
		int found = 0;
		for (int sy = -PAD; sy <= PAD && !found; sy++)
			for (int sx = -PAD; sx <= PAD && !found; sx++) {
				int match = 1;
				for (int c = 0; c < 2 && match; c++)
					for (int y = 0; y < H && match; y++)
						for (int x = 0; x < W && match; x++) {
							int yy = y + sy, xx = x + sx;
							float want = yy < 0 || yy >= H || xx < 0 || xx >= W
									     ? 0.0f
									     : in[(c * H + yy) * W + xx];
							match = o[(c * H + y) * W + x] == want;
						}
				if (match) {
					found = 1;
					offsets[sy + PAD][sx + PAD]++;
				}
			}
		assert_true(found);
	}
	for (int a = 0; a <= 2 * PAD; a++)
		for (int b = 0; b <= 2 * PAD; b++)
			assert_true(offsets[a][b] > 5); /* 20 expected each */
	free(plain);
	free(out);
	dataset_free(&d);
}

static void test_augmentation_is_per_sample(void **state)
{
	(void)state;
	/* Shuffled with batch 50 vs in order with batch 1000: each sample's
	 * augmentation depends only on (seed, epoch, index). */
	struct dataset d = make_u8(N, 1, 8, 8, 10);
	struct spec_data aug = aug_spec(3, 0.5);
	float *ordered = one_epoch(&d, &aug, true, 21);
	struct loader_options o = options(50, 3, 3, 21);
	struct loader *l = must_new(&d, &aug, &o, 0, 0);
	struct batch b;
	while (loader_next(l, &b) == 0)
		for (int i = 0; i < b.n; i++)
			assert_memory_equal(b.x + i * 64, ordered + b.index[i] * 64, 64 * sizeof(float));
	loader_free(l);
	free(ordered);
	dataset_free(&d);
}

static void moments(const float *x, int64_t n, double *mean, double *std)
{
	double s = 0, q = 0;
	for (int64_t i = 0; i < n; i++)
		s += x[i];
	*mean = s / n;
	for (int64_t i = 0; i < n; i++)
		q += (x[i] - *mean) * (x[i] - *mean);
	*std = sqrt(q / n);
}

static void test_normalize(void **state)
{
	(void)state;
	struct spec_data s;
	memset(&s, 0, sizeof(s));
	snprintf(s.dataset, sizeof(s.dataset), "fashion-mnist");
	s.kind = spec_registry_find(&data_set_registry, "fashion-mnist");
	augment_add(&s, "normalize", 0);
	struct data_splits d;
	char err[512] = "";
	if (data_load(&s, 0, &d, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	/* An evaluation-style loader (augment off) still normalises. */
	float *train = one_epoch(&d.train, &s, false, 0);
	double mean, std;
	moments(train, d.train.n * 784, &mean, &std);
	assert_true(fabs(mean) < 1e-4);
	assert_true(fabs(std - 1.0) < 1e-4);
	float *test = one_epoch(&d.test, &s, false, 0);
	float m = d.train.channel_mean[0], sd = d.train.channel_std[0];
	assert_true(m > 0.28f && m < 0.29f); /* Fashion-MNIST's known 0.2860 */
	for (int k = 0; k < 784; k += 41)
		assert_true(test[5 * 784 + k] == (d.test.u8[5 * 784 + k] / 255.0f - m) / sd);
	free(train);
	free(test);
	/* Explicit mean/std override the data statistics. */
	s.nnormalize = 1;
	s.mean[0] = 0.5f;
	s.std[0] = 0.25f;
	test = one_epoch(&d.test, &s, false, 0);
	assert_true(test[100] == (d.test.u8[100] / 255.0f - 0.5f) / 0.25f);
	free(test);
	data_splits_free(&d);
}

static void test_f32_data_pass_through(void **state)
{
	(void)state;
	struct spec_data s;
	memset(&s, 0, sizeof(s));
	snprintf(s.dataset, sizeof(s.dataset), "synthetic");
	s.kind = spec_registry_find(&data_set_registry, "synthetic");
	s.shape[0] = 5, s.shape[1] = 1, s.shape[2] = 1;
	struct data_splits d;
	char err[512] = "";
	assert_int_equal(data_load(&s, 0, &d, err, sizeof(err)), 0);
	float *x = one_epoch(&d.train, NULL, true, 0);
	assert_memory_equal(x, d.train.f32, (size_t)d.train.n * 5 * sizeof(float));
	free(x);
	data_splits_free(&d);
}

static void test_free_mid_epoch(void **state)
{
	(void)state;
	struct dataset d = make_u8(N, 1, 8, 8, 10);
	struct spec_data aug = aug_spec(2, 0.5);
	struct loader_options o = options(16, 4, 3, 0);
	struct batch b;
	for (int taken = 0; taken < 4; taken++) {
		struct loader *l = must_new(&d, &aug, &o, 0, 0);
		for (int i = 0; i < taken; i++)
			assert_int_equal(loader_next(l, &b), 0);
		loader_free(l); /* workers blocked on a full ring must wake and exit */
	}
	loader_free(NULL);
	dataset_free(&d);
}

static void test_loader_errors(void **state)
{
	(void)state;
	struct dataset d = make_u8(100, 1, 4, 4, 10);
	struct loader_options o = options(0, 1, 2, 0);
	char err[256];
	assert_null(loader_new(&d, NULL, &o, 0, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "batch size"));
	o.batch_size = 10;
	assert_null(loader_new(&d, NULL, &o, 0, 11, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot start at epoch 0 batch 11"));
	struct spec_data aug = aug_spec(-1, 2.0);
	assert_null(loader_new(&d, &aug, &o, 0, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "hflip"));
	memset(&aug, 0, sizeof(aug));
	aug.nnormalize = 3;
	aug.std[0] = aug.std[1] = aug.std[2] = 1;
	assert_null(loader_new(&d, &aug, &o, 0, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "3 mean/std values for data with 1 channels"));
	dataset_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_seed_same_batches),
		cmocka_unit_test(test_workers_do_not_change_batches),
		cmocka_unit_test(test_start_equals_skip),
		cmocka_unit_test(test_epoch_structure),
		cmocka_unit_test(test_orders_differ_between_epochs),
		cmocka_unit_test(test_hflip_flips),
		cmocka_unit_test(test_random_crop_shifts_within_padding),
		cmocka_unit_test(test_augmentation_is_per_sample),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_f32_data_pass_through),
		cmocka_unit_test(test_free_mid_epoch),
		cmocka_unit_test(test_loader_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
