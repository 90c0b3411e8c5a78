/*
 * inference.h — a checkpoint opened for use rather than for training: its
 * spec, its input contract (preprocess.h) and its model on the CPU
 * backend with the stored weights, in evaluation mode; and prediction on
 * image files the way the run's evaluation saw its test samples.
 *
 * What it is: what `trainbook predict` and `trainbook export` share. What
 * it is not: the train loop, optimizer state or anything about devices
 * (inference is one image at a time, where the CPU is the right place).
 *
 * Threads: one inference belongs to one thread.
 */
#ifndef TB_INFERENCE_H
#define TB_INFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "preprocess.h"
#include "spec.h"

/* Largest image predict decodes: 64 Mpx (192 MiB as RGB), checked on the header first. */
#define INFERENCE_MAX_PIXELS (64ull << 20)

struct backend;
struct model;

struct inference {
	struct spec spec;      /* from the checkpoint's metadata; owned */
	struct preprocess pre; /* owned */
	struct backend *be;    /* CPU; owned */
	struct model *m;       /* owned */
	float *x;              /* backend memory, one sample */
};

/* Why inference_predict failed: the image (the caller's input) or anything else. */
enum inference_error { INFERENCE_OK = 0, INFERENCE_BAD_IMAGE = 1, INFERENCE_NOT_IMAGES = 2, INFERENCE_FAILED = 3 };

/* Open a checkpoint on `threads` CPU threads (0 = all cores). -1 with err naming the file and the problem. */
int inference_open(struct inference *inf, const char *checkpoint, int threads, char *err, size_t errlen);
void inference_close(struct inference *inf);

struct prediction {
	int classes;
	float *logits;    /* classes; owned */
	float *prob;      /* classes, softmax of the logits; owned */
	uint8_t *seen;    /* c*h*w bytes, CHW: the image as the model saw it before scaling; owned */
	int src_w, src_h; /* the file's own size */
};

/* Classify one image file. On failure returns the kind of error with err filled. */
enum inference_error inference_predict(struct inference *inf, const char *image, struct prediction *out, char *err,
				       size_t errlen);
/* The k (≤ classes) most probable classes, most probable first, into idx. Returns k. */
int prediction_top(const struct prediction *p, int k, int *idx);
void prediction_free(struct prediction *p);

#endif
