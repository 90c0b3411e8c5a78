/*
 * data.c — data_load / data_probe dispatch over the format readers, the
 * validation split, per-channel statistics, and the helpers the readers
 * share (allocation with user-facing errors, permutations, subsets).
 *
 * What it is not: a file parser (each format has its own data_<fmt>.c) or
 * the batch loader (loader.c).
 *
 * Threads: caller's thread only; no globals besides the constant table
 * of data sets.
 */
#include "data_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "memlimit.h"
#include "rng.h"
#include "tb.h"

/* Tag that separates the validation permutation from epoch orders, which
 * use rng_hash(seed, epoch, 0): the validation key puts the tag in `a` and
 * 1 in `b`, a combination no epoch order uses. */
#define DATA_VALIDATION_TAG 0x76616c6964617465ULL /* "validate" */

/* Keys of the data section a row takes, with the row's default in words for the docs. */
#define TAKES(key, text) {.name = key, .type = SPEC_KEY_FIELD, .def_text = text}
#define PATH_REQUIRED(what) {.name = "path", .type = SPEC_KEY_FIELD, .required = "a path (" what ")", .doc = what}

/* Synthetic samples are MNIST-sized unless a shape is given (the other sets' shape comes from their files). */
static const char *synthetic_finish(struct spec *s, const bool *given, int *key, char *msg, size_t len)
{
	(void)key;
	(void)msg;
	(void)len;
	if (!given[0]) { /* key 0 of the row: shape */
		s->data.shape[0] = 1;
		s->data.shape[1] = 28;
		s->data.shape[2] = 28;
	}
	return NULL;
}

/* One row per accepted `data.dataset` value; both IDX sets share a reader that finds its files through `source`. */
static const struct data_set_kind data_set_kinds[] = {
	{.spec = {.name = "fashion-mnist",
		  .summary = "Fashion-MNIST: 28×28 grey images of 10 kinds of clothing, 60,000 + 10,000 (IDX files)",
		  .keys = {TAKES("path", "/usr/share/datasets/fashion-mnist")}},
	 .load = data_idx_load, .probe = data_idx_probe, .source = &data_idx_fashion_mnist},
	{.spec = {.name = "mnist", .summary = "MNIST: 28×28 grey handwritten digits, 60,000 + 10,000 (IDX files)",
		  .keys = {TAKES("path", "/usr/share/datasets/mnist")}},
	 .load = data_idx_load, .probe = data_idx_probe, .source = &data_idx_mnist},
	{.spec = {.name = "cifar10",
		  .summary = "CIFAR-10: 32×32 colour images of 10 classes, 50,000 + 10,000 (the binary version)",
		  .keys = {TAKES("path", "/usr/share/datasets/cifar10")}},
	 .load = data_cifar_load, .probe = data_cifar_probe},
	{.spec = {.name = "csv", .summary = "a table, one sample per row: numeric features and a label column",
		  .keys = {PATH_REQUIRED("the CSV file"), TAKES("test_path", NULL), TAKES("test_fraction", NULL),
			   TAKES("label_column", NULL), TAKES("header", NULL)}},
	 .load = data_csv_load, .probe = data_csv_probe},
	{.spec = {.name = "synthetic",
		  .summary = "random samples with a learnable class structure, for tests and benchmarks (no files)",
		  .keys = {TAKES("shape", "[1, 28, 28]"), TAKES("classes", NULL), TAKES("train_size", NULL),
			   TAKES("test_size", NULL)},
		  .finish = synthetic_finish},
	 .load = data_synthetic_load, .probe = data_synthetic_probe},
	{.spec = {.name = "image-folder", .summary = "one sub-folder of PNG/JPEG images per class (torchvision's ImageFolder)",
		  .keys = {PATH_REQUIRED("a folder with one subfolder per class"),
			   TAKES("shape", "each image's own size")}},
	 .load = data_images_load, .probe = data_images_probe},
};

const struct spec_registry data_set_registry = {
	"dataset", "data set", data_set_kinds, sizeof(data_set_kinds[0]), (int)TB_ARRAY_LEN(data_set_kinds),
};

const struct data_set_kind *data_kind(const struct spec_data *spec)
{
	TB_ASSERT(spec->kind >= 0 && spec->kind < data_set_registry.count);
	return &data_set_kinds[spec->kind];
}

int data_fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int data_stopped(const volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	if (stop && *stop)
		return data_fail(err, errlen, "stopped while loading the data");
	return 0;
}

int data_join(char *dst, size_t len, const char *dir, const char *name)
{
	int n = snprintf(dst, len, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int data_is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int data_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int data_dataset_alloc(struct dataset *d, const char *name, enum dataset_storage storage,
		       int64_t n, int c, int h, int w, int classes, const char *what, char *err,
		       size_t errlen)
{
	memset(d, 0, sizeof(*d));
	if (n < 0 || c < 1 || h < 1 || w < 1 || c > DATA_MAX_CHANNELS || h > DATA_MAX_SIDE ||
	    w > DATA_MAX_SIDE)
		return data_fail(err, errlen, "%s: unsupported shape %lld x %d x %d x %d", what,
				 (long long)n, c, h, w);
	size_t elem = storage == DATASET_U8 ? 1 : sizeof(float);
	size_t bytes, label_bytes;
	if (__builtin_mul_overflow((size_t)n, (size_t)c * h * w * elem, &bytes) ||
	    __builtin_mul_overflow((size_t)n, sizeof(int32_t), &label_bytes))
		return data_fail(err, errlen, "%s: %lld samples of %d x %d x %d do not fit in memory",
				 what, (long long)n, c, h, w);
	/* Plain malloc, not tb_xmalloc: the size came from a file, so failure
	 * is the user's bad header or too-small machine, not an engine bug. */
	bool fits = tb_admit(bytes + label_bytes);
	void *samples = fits ? malloc(bytes ? bytes : 1) : NULL;
	int32_t *labels = fits ? malloc(label_bytes ? label_bytes : 1) : NULL;
	if (!samples || !labels) {
		free(samples);
		free(labels);
		char why[256];
		memlimit_reason(why, sizeof(why), bytes + label_bytes);
		return data_fail(err, errlen, "%s (%s: %lld samples of %d x %d x %d)", why, what, (long long)n, c, h,
				 w);
	}
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->n = n;
	d->c = c;
	d->h = h;
	d->w = w;
	d->classes = classes;
	d->storage = storage;
	if (storage == DATASET_U8)
		d->u8 = samples;
	else
		d->f32 = samples;
	d->labels = labels;
	return 0;
}

char **data_class_names_copy(const char *const *names, int count)
{
	if (!names || count <= 0)
		return NULL;
	char **copy = tb_xcalloc((size_t)count, sizeof(*copy));
	for (int i = 0; i < count; i++)
		copy[i] = tb_xstrdup(names[i]);
	return copy;
}

static float *data_floats_copy(const float *src, int count)
{
	if (!src)
		return NULL;
	float *copy = tb_xmalloc((size_t)count * sizeof(float));
	memcpy(copy, src, (size_t)count * sizeof(float));
	return copy;
}

void dataset_free(struct dataset *d)
{
	if (!d)
		return;
	free(d->u8);
	free(d->f32);
	free(d->labels);
	if (d->class_names)
		for (int i = 0; i < d->classes; i++)
			free(d->class_names[i]);
	free(d->class_names);
	free(d->channel_mean);
	free(d->channel_std);
	memset(d, 0, sizeof(*d));
}

void data_splits_free(struct data_splits *s)
{
	if (!s)
		return;
	dataset_free(&s->train);
	dataset_free(&s->validation);
	dataset_free(&s->test);
}

void data_permutation(int64_t *perm, int64_t n, uint64_t key)
{
	struct rng r;
	rng_seed(&r, key);
	for (int64_t i = 0; i < n; i++)
		perm[i] = i;
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)rng_below(&r, (uint64_t)i + 1);
		int64_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}

/* Copy sample `from` of src into slot `to` of dst (same shape/storage). */
static void data_copy_sample(const struct dataset *src, int64_t from, struct dataset *dst,
			     int64_t to)
{
	int64_t size = dataset_sample_size(src);
	if (src->storage == DATASET_U8)
		memcpy(dst->u8 + to * size, src->u8 + from * size, (size_t)size);
	else
		memcpy(dst->f32 + to * size, src->f32 + from * size, (size_t)size * sizeof(float));
	dst->labels[to] = src->labels[from];
}

static void data_init_like(struct dataset *dst, const struct dataset *src, int64_t n)
{
	char err[256];
	/* The whole set was allocated already, so a part of it fits: failure
	 * here really is out of memory. */
	if (data_dataset_alloc(dst, src->name, src->storage, n, src->c, src->h, src->w,
			       src->classes, src->name, err, sizeof(err)) != 0)
		tb_out_of_memory((size_t)n * (size_t)dataset_sample_size(src) *
				 (src->storage == DATASET_U8 ? 1 : sizeof(float)));
	dst->class_names = data_class_names_copy((const char *const *)src->class_names,
						 src->classes);
	dst->channel_mean = data_floats_copy(src->channel_mean, src->c);
	dst->channel_std = data_floats_copy(src->channel_std, src->c);
}

void data_split(struct dataset *whole, int64_t count, uint64_t key, struct dataset *rest,
		struct dataset *part)
{
	TB_ASSERT(count >= 0 && count <= whole->n);
	int64_t n = whole->n;
	int64_t *perm = tb_xmalloc((size_t)(n ? n : 1) * sizeof(int64_t));
	uint8_t *chosen = tb_xcalloc((size_t)(n ? n : 1), 1);
	data_permutation(perm, n, key);
	for (int64_t i = 0; i < count; i++)
		chosen[perm[i]] = 1;
	free(perm);

	struct dataset r, p;
	data_init_like(&r, whole, n - count);
	data_init_like(&p, whole, count);
	/* Walk in the original order so both parts keep the file's order: a
	 * split changes membership, never the relative order of samples. */
	int64_t nr = 0, np = 0;
	for (int64_t i = 0; i < n; i++) {
		if (chosen[i])
			data_copy_sample(whole, i, &p, np++);
		else
			data_copy_sample(whole, i, &r, nr++);
	}
	free(chosen);
	dataset_free(whole);
	*rest = r;
	*part = p;
}

/* data_channel_stats, giving up (-1) once *stop is set: one pass over a large set takes seconds. */
static int channel_stats(const struct dataset *d, float *mean, float *std, const volatile sig_atomic_t *stop)
{
	int64_t plane = (int64_t)d->h * d->w;
	int64_t count = d->n * plane;
	for (int ch = 0; ch < d->c; ch++) {
		mean[ch] = 0.0f;
		std[ch] = 1.0f;
	}
	if (count == 0)
		return 0;
	if (d->storage == DATASET_U8) {
		/* A histogram per channel: one increment per byte, and the
		 * moments then come exactly from 256 bins. */
		uint64_t *hist = tb_xcalloc((size_t)d->c * 256, sizeof(uint64_t));
		for (int64_t i = 0; i < d->n; i++) {
			if (i % DATA_STOP_EVERY == 0 && stop && *stop) {
				free(hist);
				return -1;
			}
			const uint8_t *s = d->u8 + i * d->c * plane;
			for (int ch = 0; ch < d->c; ch++) {
				uint64_t *hc = hist + ch * 256;
				const uint8_t *p = s + ch * plane;
				for (int64_t k = 0; k < plane; k++)
					hc[p[k]]++;
			}
		}
		for (int ch = 0; ch < d->c; ch++) {
			const uint64_t *hc = hist + ch * 256;
			double sum = 0.0, var = 0.0;
			for (int v = 0; v < 256; v++)
				sum += (double)hc[v] * (v / 255.0);
			double m = sum / (double)count;
			for (int v = 0; v < 256; v++)
				var += (double)hc[v] * (v / 255.0 - m) * (v / 255.0 - m);
			double s = var / (double)count;
			mean[ch] = (float)m;
			std[ch] = s > 1e-12 ? (float)sqrt(s) : 1.0f;
		}
		free(hist);
		return 0;
	}
	for (int ch = 0; ch < d->c; ch++) {
		/* Two passes (mean, then squared deviations) in double: the
		 * one-pass sum-of-squares formula loses digits on large offsets. */
		double sum = 0.0, var = 0.0;
		for (int64_t i = 0; i < d->n; i++) {
			if (i % DATA_STOP_EVERY == 0 && stop && *stop)
				return -1;
			const float *p = d->f32 + (i * d->c + ch) * plane;
			for (int64_t k = 0; k < plane; k++)
				sum += p[k];
		}
		double m = sum / (double)count;
		for (int64_t i = 0; i < d->n; i++) {
			const float *p = d->f32 + (i * d->c + ch) * plane;
			for (int64_t k = 0; k < plane; k++)
				var += (p[k] - m) * (p[k] - m);
		}
		double s = var / (double)count;
		mean[ch] = (float)m;
		std[ch] = s > 1e-12 ? (float)sqrt(s) : 1.0f;
	}
	return 0;
}

void data_channel_stats(const struct dataset *d, float *mean, float *std)
{
	channel_stats(d, mean, std, NULL);
}

/* Does the spec ask for normalisation with statistics taken from data? */
static int data_wants_train_stats(const struct spec_data *spec)
{
	if (spec->nnormalize > 0)
		return 0;
	for (int i = 0; i < spec->naugment && i < SPEC_MAX_AUGMENT; i++) {
		const struct augment_kind *k =
			(const struct augment_kind *)spec_registry_kind(&augment_registry, spec->augment[i].kind);
		if (k->op == LOADER_NORMALIZE)
			return 1;
	}
	return 0;
}

static void data_attach_stats(struct dataset *d, const float *mean, const float *std)
{
	if (d->c <= 0)
		return;
	free(d->channel_mean);
	free(d->channel_std);
	d->channel_mean = data_floats_copy(mean, d->c);
	d->channel_std = data_floats_copy(std, d->c);
}

static void data_name_split(struct dataset *d, const char *dataset, const char *split)
{
	snprintf(d->name, sizeof(d->name), "%.40s/%s", dataset, split);
}

int data_load(const struct spec_data *spec, uint64_t seed, struct data_splits *out, char *err,
	      size_t errlen)
{
	return data_load_stoppable(spec, seed, NULL, out, err, errlen);
}

int data_load_stoppable(const struct spec_data *spec, uint64_t seed, const volatile sig_atomic_t *stop,
			struct data_splits *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const struct data_set_kind *f = data_kind(spec);
	if (spec->validation < 0.0 || spec->validation >= 1.0)
		return data_fail(err, errlen, "data.validation must be in [0, 1), got %g",
				 spec->validation);
	if (f->load(spec, stop, out, err, errlen) != 0 || data_stopped(stop, err, errlen))
		goto fail;
	if (out->train.n < 1) {
		data_fail(err, errlen, "%s: the train split is empty", spec->dataset);
		goto fail;
	}
	if (spec->validation > 0.0) {
		int64_t count = (int64_t)((double)out->train.n * spec->validation);
		if (count < 1)
			count = 1;
		if (count >= out->train.n) {
			data_fail(err, errlen,
				  "%s: data.validation %g leaves no training samples out of %lld",
				  spec->dataset, spec->validation, (long long)out->train.n);
			goto fail;
		}
		struct dataset whole = out->train;
		memset(&out->train, 0, sizeof(out->train));
		data_split(&whole, count, rng_hash(seed, DATA_VALIDATION_TAG, 1), &out->train,
			   &out->validation);
	} else {
		/* Empty, but with the train shape so callers can size buffers
		 * from any split without special cases. */
		out->validation.c = out->train.c;
		out->validation.h = out->train.h;
		out->validation.w = out->train.w;
		out->validation.classes = out->train.classes;
		out->validation.storage = out->train.storage;
	}
	data_name_split(&out->train, spec->dataset, "train");
	data_name_split(&out->validation, spec->dataset, "validation");
	data_name_split(&out->test, spec->dataset, "test");
	if (data_wants_train_stats(spec)) {
		float *mean = tb_xmalloc((size_t)out->train.c * sizeof(float));
		float *std = tb_xmalloc((size_t)out->train.c * sizeof(float));
		if (channel_stats(&out->train, mean, std, stop) < 0) {
			free(mean);
			free(std);
			data_stopped(stop, err, errlen);
			goto fail;
		}
		data_attach_stats(&out->train, mean, std);
		data_attach_stats(&out->validation, mean, std);
		data_attach_stats(&out->test, mean, std);
		free(mean);
		free(std);
	}
	return 0;
fail:
	data_splits_free(out);
	return -1;
}

int data_probe(const struct spec_data *spec, struct data_info *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return data_kind(spec)->probe(spec, out, err, errlen);
}
