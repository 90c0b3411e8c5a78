/*
 * fuzz_safetensors.c — the safetensors reader (engine/safetensors.c) and
 * checkpoint loading on top of it (engine/checkpoint.c): what a resume, a
 * `trainbook train --resume` of a downloaded file, or parity weights feed
 * the engine.
 *
 * Input: a weights file, optionally followed by FUZZ_SEP and its state
 * sidecar (seeds are checkpoints the engine wrote for the model below:
 * tests/fuzz/make_seeds.sh). Each input is written to a scratch folder as
 * ckpt.safetensors and ckpt.state.safetensors, then read four ways:
 * safetensors_read, checkpoint_read_spec, and checkpoint_load into a small
 * conv + batchnorm + linear model with and without its Adam state.
 * Properties: no crash, leak or UB; every failure has a one-line message;
 * a file that reads has every tensor inside the file's data section with
 * exactly numel × dtype-size bytes.
 *
 * FUZZ_TRACE=1 prints what checkpoint_load said to stderr.
 *
 * Threads: one (the model's CPU backend runs with one thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "checkpoint.h"
#include "fuzz.h"
#include "layer.h"
#include "model.h"
#include "optim.h"
#include "safetensors.h"
#include "spec.h"

/* The model make_seeds.sh trains for a step to write the seed checkpoints. */
static const char model_spec[] = "data: {dataset: synthetic, shape: [1, 4, 4], classes: 3}\n"
				 "model: [{conv2d: {out: 2, kernel: 3}}, batchnorm, relu, flatten, {linear: 3}]\n"
				 "optimizer: {name: adam}\n";

struct fuzz_model {
	struct spec spec;
	struct backend *be;
	struct model *m;
	struct optim *o;
};

static struct fuzz_model *model_get(void)
{
	static struct fuzz_model fm;
	if (fm.m)
		return &fm;
	struct spec_errors *errs = calloc(1, sizeof *errs);
	if (spec_parse(model_spec, strlen(model_spec), "model", NULL, 0, &fm.spec, errs) != 0)
		fuzz_fail("the harness's model spec does not parse: %s", errs->list[0].message);
	fm.be = backend_cpu_new(1);
	fm.m = model_build(&fm.spec.model, shape_chw(1, 4, 4), 3, fm.be, errs);
	if (!fm.m)
		fuzz_fail("the harness's model does not build: %s", errs->list[0].message);
	free(errs);
	model_init(fm.m, 1);
	fm.o = optim_new(&fm.spec.optimizer, fm.be, fm.m->n_weights);
	return &fm;
}

/* A file that reads must keep every tensor inside its data section. */
static void check_tensors(const struct safetensors *st)
{
	volatile unsigned char sink = 0;
	for (int i = 0; i < st->n; i++) {
		const struct st_tensor *t = &st->tensors[i];
		const unsigned char *p = t->t.data;
		if (t->nbytes != (size_t)tensor_numel(&t->t) * tensor_dtype_size(t->t.dtype))
			fuzz_fail("tensor %s: %zu bytes for its shape and dtype", t->name, t->nbytes);
		if (p < st->bytes + 8 || p + t->nbytes > st->bytes + st->size)
			fuzz_fail("tensor %s lies outside the file", t->name);
		for (size_t k = 0; k < t->nbytes; k++)
			sink ^= p[k]; /* ASan checks every byte the engine could copy */
		if (safetensors_find(st, t->name) == NULL)
			fuzz_fail("safetensors_find misses %s", t->name);
	}
	for (int i = 0; i < st->nmeta; i++)
		if (!safetensors_meta(st, st->meta_keys[i]))
			fuzz_fail("safetensors_meta misses %s", st->meta_keys[i]);
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_model *fm = model_get();
	const char *dir = fuzz_scratch();
	struct fuzz_part parts[2];
	int n = fuzz_split(data, size, parts, 2);
	char path[512], err[1024];
	fuzz_write(dir, "ckpt.safetensors", parts[0].data, parts[0].len);
	if (n > 1)
		fuzz_write(dir, "ckpt.state.safetensors", parts[1].data, parts[1].len);
	else
		fuzz_remove(dir, "ckpt.state.safetensors");
	fuzz_path(path, sizeof path, dir, "ckpt.safetensors");

	struct safetensors st;
	err[0] = '\0';
	if (safetensors_read(path, &st, err, sizeof err) == 0) {
		check_tensors(&st);
		safetensors_free(&st);
	} else {
		fuzz_check_message("safetensors_read", err);
	}

	char *spec = NULL;
	err[0] = '\0';
	if (checkpoint_read_spec(path, &spec, err, sizeof err) == 0)
		free(spec);
	else
		fuzz_check_message("checkpoint_read_spec", err);

	struct checkpoint_state cs;
	err[0] = '\0';
	int rc = checkpoint_load(path, fm->m, NULL, NULL, err, sizeof err);
	if (rc != 0)
		fuzz_check_message("checkpoint_load (weights)", err);
	if (getenv("FUZZ_TRACE"))
		fprintf(stderr, "weights: %s\n", rc ? err : "ok");
	err[0] = '\0';
	rc = checkpoint_load(path, fm->m, fm->o, &cs, err, sizeof err);
	if (rc != 0)
		fuzz_check_message("checkpoint_load (weights and state)", err);
	if (getenv("FUZZ_TRACE"))
		fprintf(stderr, "weights and state: %s\n", rc ? err : "ok");
	return 0;
}
