/*
 * inference.c — a checkpoint opened for prediction (see inference.h).
 *
 * The input goes through the steps of the run's evaluation loader, so a
 * test image saved as a PNG gets the class the evaluation gave it: decode
 * and resize as the image-folder reader does (data_image_read), scale by
 * 1/255, normalise with the recorded mean and std, forward in evaluation
 * mode (running batch-norm statistics, no dropout).
 *
 * Threads: the caller's.
 */
#include "inference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "checkpoint.h"
#include "data.h"
#include "model.h"
#include "safetensors.h"
#include "tb.h"

/* Spec and input contract from the checkpoint's metadata. */
static int read_meta(struct inference *inf, const char *path, char *err, size_t errlen)
{
	struct safetensors st;
	if (safetensors_read(path, &st, err, errlen) < 0)
		return -1;
	int rc = -1;
	const char *text = safetensors_meta(&st, "trainbook.spec");
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	if (!text || !*text) {
		tb_fmt(err, errlen, "%s: no spec stored in this checkpoint (not written by trainbook?)", path);
		goto out;
	}
	if (spec_parse(text, strlen(text), path, NULL, 0, &inf->spec, &errs) < 0) {
		tb_fmt(err, errlen, "%s: its stored spec does not parse (%d:%d: %s)", path, errs.list[0].pos.line,
		       errs.list[0].pos.column, errs.list[0].message);
		goto out;
	}
	rc = preprocess_from_checkpoint(&inf->pre, &st, &inf->spec, path, err, errlen);
out:
	safetensors_free(&st);
	return rc;
}

int inference_open(struct inference *inf, const char *checkpoint, int threads, char *err, size_t errlen)
{
	memset(inf, 0, sizeof(*inf));
	if (read_meta(inf, checkpoint, err, errlen) < 0)
		goto fail;
	inf->be = backend_cpu_new(threads);
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	inf->m = model_build(&inf->spec.model, preprocess_input_shape(&inf->pre), inf->pre.classes, inf->be, &errs);
	if (!inf->m) {
		tb_fmt(err, errlen, "%s: its model cannot be built (%d:%d: %s)", checkpoint, errs.list[0].pos.line,
		       errs.list[0].pos.column, errs.list[0].message);
		goto fail;
	}
	if (checkpoint_load(checkpoint, inf->m, NULL, NULL, err, errlen) < 0)
		goto fail;
	model_reserve(inf->m, 1);
	inf->x = inf->be->alloc(inf->be, (size_t)shape_numel(inf->m->input) * sizeof(float));
	return 0;
fail:
	inference_close(inf);
	return -1;
}

void inference_close(struct inference *inf)
{
	if (inf->x)
		inf->be->free(inf->be, inf->x);
	model_free(inf->m);
	if (inf->be)
		backend_destroy(inf->be);
	preprocess_free(&inf->pre);
	spec_free(&inf->spec);
	memset(inf, 0, sizeof(*inf));
}

enum inference_error inference_predict(struct inference *inf, const char *image, struct prediction *out, char *err,
				       size_t errlen)
{
	const struct preprocess *p = &inf->pre;
	memset(out, 0, sizeof(*out));
	if (!p->image || (p->c != 1 && p->c != 3)) {
		tb_fmt(err, errlen, "this model takes %s, not images",
		       p->image ? "images of more than 3 channels" : "feature vectors (tabular data)");
		return INFERENCE_NOT_IMAGES;
	}
	size_t n = (size_t)p->c * p->h * p->w;
	out->seen = tb_xmalloc(n);
	if (data_image_read(image, p->c, p->h, p->w, INFERENCE_MAX_PIXELS, out->seen, &out->src_w, &out->src_h, err,
			    errlen) < 0) {
		prediction_free(out);
		return INFERENCE_BAD_IMAGE;
	}
	float *x = tb_xmalloc(n * sizeof(float));
	preprocess_pixels(p, out->seen, x);
	inf->be->upload(inf->be, inf->x, x, n * sizeof(float));
	free(x);
	const float *logits = model_forward(inf->m, inf->x, 1, false);
	int k = inf->m->classes;
	out->classes = k;
	out->logits = tb_xmalloc((size_t)k * sizeof(float));
	out->prob = tb_xmalloc((size_t)k * sizeof(float));
	inf->be->download(inf->be, out->logits, logits, (size_t)k * sizeof(float));
	/* Softmax in double, shifted by the largest logit so nothing overflows. */
	double top = out->logits[0], sum = 0;
	for (int i = 1; i < k; i++)
		top = fmax(top, out->logits[i]);
	for (int i = 0; i < k; i++)
		sum += exp((double)out->logits[i] - top);
	for (int i = 0; i < k; i++)
		out->prob[i] = (float)(exp((double)out->logits[i] - top) / sum);
	if (!isfinite(sum)) {
		tb_fmt(err, errlen, "the model's output is not finite (NaN or infinite logits)");
		prediction_free(out);
		return INFERENCE_FAILED;
	}
	return INFERENCE_OK;
}

int prediction_top(const struct prediction *p, int k, int *idx)
{
	if (k > p->classes)
		k = p->classes;
	/* Selection of the k largest: k is a handful, classes at most thousands. */
	for (int j = 0; j < k; j++) {
		int best = -1;
		for (int i = 0; i < p->classes; i++) {
			bool taken = false;
			for (int t = 0; t < j && !taken; t++)
				taken = idx[t] == i;
			if (!taken && (best < 0 || p->prob[i] > p->prob[best]))
				best = i;
		}
		idx[j] = best;
	}
	return k;
}

void prediction_free(struct prediction *p)
{
	free(p->logits);
	free(p->prob);
	free(p->seen);
	memset(p, 0, sizeof(*p));
}
