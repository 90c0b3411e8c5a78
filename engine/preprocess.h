/*
 * preprocess.h — what a trained model expects as input, recorded in its
 * checkpoints so the model can be used without its data set: the sample
 * shape, how raw data becomes the model's input (image bytes scaled by
 * 1/255, or float features as stored), the normalisation with the mean and
 * std actually used (computed on the training split when the spec asked
 * for that), and the class names.
 *
 * Checkpoint metadata keys (strings; the lists are JSON, so
 * json.loads(meta[key]) reads them in Python):
 *   trainbook.input_shape    "[1, 28, 28]"  C, H, W of one sample
 *   trainbook.input_kind     "image": uint8 pixels CHW, x = pixel / 255 (torchvision's ToTensor)
 *                            "features": float32 values as the data set stores them
 *   trainbook.channel_order  "gray" or "RGB" (images only)
 *   trainbook.normalize_mean "[0.286]"      per channel; absent when the run did not normalise
 *   trainbook.normalize_std  "[0.353]"      then x = (x - mean) / std
 *   trainbook.class_names    "[\"T-shirt/top\", …]"
 * (trainbook.module, the layers to rebuild the model from, is written by
 * checkpoint.c from the model itself: checkpoint.h.)
 * A checkpoint written before these keys existed is read through its spec
 * instead: the data set is loaded as training loaded it (slow, and only
 * where the data set still is).
 *
 * Threads: pure over its arguments; any thread.
 */
#ifndef TB_PREPROCESS_H
#define TB_PREPROCESS_H

#include <stdbool.h>
#include <stddef.h>

#include "layer.h"
#include "safetensors.h"

struct dataset;
struct spec;
struct spec_data;

struct preprocess {
	int c, h, w; /* one sample's shape */
	int classes;
	bool image;         /* uint8 pixels scaled by 1/255; false: float features as stored */
	bool normalize;     /* then (x - mean[ch]) / std[ch] */
	float *mean, *std;  /* c each when normalize; owned */
	char **class_names; /* classes entries ("0", "1", … when the data set names none); owned */
};

/* What a run's evaluation loader does to samples of `train`'s data set (at training set-up). */
int preprocess_from_data(struct preprocess *p, const struct dataset *train, const struct spec_data *spec, char *err,
			 size_t errlen);

/*
 * From a checkpoint: its metadata, or (no trainbook.input_shape) its spec,
 * loading the data set. Errors name the checkpoint and what is wrong.
 */
int preprocess_from_checkpoint(struct preprocess *p, const struct safetensors *st, const struct spec *spec,
			       const char *path, char *err, size_t errlen);

/* The metadata entries above, for checkpoint_save; strings owned by `m`. */
#define PREPROCESS_META_MAX 6
struct preprocess_meta {
	int n;
	struct st_meta meta[PREPROCESS_META_MAX];
	char *owned[PREPROCESS_META_MAX];
};
void preprocess_meta(const struct preprocess *p, struct preprocess_meta *m);
void preprocess_meta_free(struct preprocess_meta *m);

/* The model's input shape: a vector for h = w = 1 (tabular data), else an image, as training builds it. */
struct shape preprocess_input_shape(const struct preprocess *p);

/* Scale and normalise one sample of c*h*w bytes into floats, as the evaluation loader does. */
void preprocess_pixels(const struct preprocess *p, const unsigned char *pixels, float *x);

void preprocess_free(struct preprocess *p);

#endif
