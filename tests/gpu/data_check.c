/*
 * data_check.c — the GPU batch kernel (be->ext->data_batch) against the
 * engine's real CPU loader (engine/loader.c), not a reimplementation:
 * same data set, seed, epoch and augmentation spec, batch by batch, bit
 * for bit. Links every engine object (so it builds only where
 * build/trainbook-engine builds) and dlopens the CUDA library given.
 *
 *   data_check LIB     prints PASS/FAIL lines; exit 1 on failure
 *
 * Threads: main thread (plus the loader's workers).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_ext.h"
#include "data.h"
#include "precision.h"
#include "rng.h"
#include "tb.h"

#define LOADER_AUG_TAG 0x6175676d656e7473ULL /* loader.c's private tag, as documented there */



typedef struct backend *(*cuda_new_fn)(int, int, char *, size_t);

static int check_epochs(struct backend *g, const struct dataset *d, const struct spec_data *sd,
			const struct backend_augment *aug, uint64_t seed, const char *name)
{
	__typeof__(((struct backend_ext *)0)->dataset_new) ds_new = g->ext ? g->ext->dataset_new : NULL;
	__typeof__(((struct backend_ext *)0)->data_batch) batch_fn = g->ext ? g->ext->data_batch : NULL;
	__typeof__(((struct backend_ext *)0)->dataset_free) ds_free = g->ext ? g->ext->dataset_free : NULL;
	char err[256];
	int bs = 16;
	if (!ds_new || !batch_fn || !ds_free) {
		printf("FAIL %s: the CUDA backend has no device-data extras (be->ext)\n", name);
		return 1;
	}
	struct loader_options lo = {.batch_size = bs, .shuffle = true, .drop_last = true, .augment = true,
				    .workers = 2, .prefetch = 2, .seed = seed};
	struct loader *l = loader_new(d, sd, &lo, 0, 0, err, sizeof(err));
	struct backend_dataset *gd = ds_new(g, d->u8, d->f32, d->labels, d->n, d->c, d->h, d->w, err, sizeof(err));
	if (!l || !gd) {
		printf("FAIL %s: %s\n", name, err);
		return 1;
	}
	int64_t size = dataset_sample_size(d), per_epoch = loader_batches_per_epoch(d, bs, true);
	int64_t *order = malloc((size_t)d->n * 8);
	int64_t *gorder = g->alloc(g, (size_t)d->n * 8), *gcursor = g->alloc(g, 16);
	float *gx = g->alloc(g, (size_t)(bs * size) * 4), *x = malloc((size_t)(bs * size) * 4);
	int32_t *gy = g->alloc(g, (size_t)bs * 4), y[16];
	int64_t batches = 0, differ = 0;
	for (int epoch = 0; epoch < 2; epoch++) {
		data_permutation(order, d->n, rng_hash(seed, (uint64_t)epoch, 0));
		g->upload(g, gorder, order, (size_t)d->n * 8);
		for (int64_t pos = 0; pos < per_epoch; pos++) {
			struct batch b;
			if (loader_next(l, &b) != 0 && loader_next(l, &b) != 0)
				break;
			int64_t cursor[2] = {epoch, pos * bs};
			g->upload(g, gcursor, cursor, 16);
			batch_fn(g, gd, aug, gorder, gcursor, bs, gx, gy);
			g->download(g, x, gx, (size_t)(bs * size) * 4);
			g->download(g, y, gy, (size_t)bs * 4);
			differ += memcmp(x, b.x, (size_t)(bs * size) * 4) != 0 || memcmp(y, b.y, (size_t)bs * 4) != 0;
			batches++;
		}
	}
	printf("%s %s: %lld of %lld batches differ from the CPU loader's\n", differ || !batches ? "FAIL" : "PASS", name,
	       (long long)differ, (long long)batches);
	loader_free(l);
	ds_free(g, gd);
	g->free(g, gorder);
	g->free(g, gcursor);
	g->free(g, gx);
	g->free(g, gy);
	free(order);
	free(x);
	return differ || !batches;
}

int main(int argc, char **argv)
{
	void *h = dlopen(argc > 1 ? argv[1] : "build/libtrainbook-cuda.so", RTLD_NOW | RTLD_LOCAL);
	cuda_new_fn backend_new = h ? (cuda_new_fn)dlsym(h, "tb_cuda_backend_new") : NULL;
	char err[256] = "";
	struct backend *g = backend_new ? backend_new(0, PRECISION_FP32, err, sizeof(err)) : NULL;
	if (!g) {
		printf("FAIL data_check: %s\n", h ? err : dlerror());
		return 1;
	}
	struct dataset d = {.n = 101, .c = 3, .h = 12, .w = 10, .classes = 10, .storage = DATASET_U8};
	snprintf(d.name, sizeof(d.name), "check");
	int64_t size = dataset_sample_size(&d);
	d.u8 = malloc((size_t)(d.n * size));
	d.labels = malloc((size_t)d.n * 4);
	struct rng r;
	rng_seed(&r, 99);
	for (int64_t i = 0; i < d.n * size; i++)
		d.u8[i] = (uint8_t)rng_next_u64(&r);
	for (int64_t i = 0; i < d.n; i++)
		d.labels[i] = (int32_t)(i % 10);

	uint64_t seed = 1234;
	struct spec_data sd = {.naugment = 3, .nnormalize = 3};
	static const char *const steps[3] = {"random_crop", "hflip", "normalize"};
	for (int i = 0; i < 3; i++) { /* as the parser leaves them: the row's index and name */
		sd.augment[i].kind = spec_registry_find(&augment_registry, steps[i]);
		snprintf(sd.augment[i].name, SPEC_NAME_MAX, "%s", steps[i]);
	}
	sd.augment[0].value = 3;
	sd.augment[1].value = 0.5;
	struct backend_augment aug = {.nops = 3, .aug_key = rng_hash(seed, LOADER_AUG_TAG, 2)};
	aug.ops[0] = (struct backend_aug_op){.kind = BACKEND_AUG_CROP, .pad = 3};
	aug.ops[1] = (struct backend_aug_op){.kind = BACKEND_AUG_HFLIP, .prob = 0.5f};
	aug.ops[2] = (struct backend_aug_op){.kind = BACKEND_AUG_NORMALIZE};
	for (int c = 0; c < 3; c++) {
		sd.mean[c] = aug.mean[c] = 0.45f + 0.01f * c;
		sd.std[c] = aug.std[c] = 0.22f + 0.02f * c;
	}
	int failed = check_epochs(g, &d, &sd, &aug, seed, "data_batch vs loader: crop 3, hflip, normalize");
	free(d.u8);
	free(d.labels);
	g->destroy(g);
	return failed;
}
