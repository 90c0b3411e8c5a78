/*
 * data.h — data sets held in memory and the loader that cuts them into
 * shuffled, augmented batches.
 *
 * What it is: loading (IDX with or without gzip, CSV, CIFAR-10 binary,
 * image folders, synthetic — one data_set_registry row each), train/
 * validation/test splits, and a prefetching loader with its augmentation
 * steps (one augment_registry row each). What it is not: anything about devices; a batch is
 * host memory, the train loop uploads it.
 *
 * Determinism contract (resume is bit-identical): the order of epoch `e`
 * is a pure function of (seed, e), and the augmentation of a sample is a
 * pure function of (seed, e, sample index), independent of thread count
 * and of where in the epoch the loader was started.
 *
 * Threads: data_load and dataset_* run on the caller's thread. A loader
 * owns `workers` threads that fill a bounded ring of batches; loader_next
 * is called from one consumer thread only.
 */
#ifndef TB_DATA_H
#define TB_DATA_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec.h"

/* Samples are stored as uint8 (images, converted to float x/255 in the
 * loader) or float32 (CSV, synthetic). Layout NCHW, row-major. */
enum dataset_storage { DATASET_U8, DATASET_F32 };

struct dataset {
	char name[SPEC_NAME_MAX];
	int64_t n;              /* number of samples */
	int c, h, w;            /* per-sample shape; tabular data: c = features, h = w = 1 */
	int classes;            /* number of classes (labels are 0..classes-1) */
	enum dataset_storage storage;
	uint8_t *u8;            /* n*c*h*w when storage == DATASET_U8, else NULL; owned */
	float *f32;             /* n*c*h*w when storage == DATASET_F32, else NULL; owned */
	int32_t *labels;        /* n; owned */
	char **class_names;     /* classes entries or NULL; owned */
	/* Train-set per-channel statistics (c entries each) for `normalize`
	 * without explicit mean/std. data_load fills them in every split from
	 * the train split only when the spec asks for that, so evaluation
	 * loaders normalise test data with train statistics. NULL otherwise;
	 * owned. */
	float *channel_mean;
	float *channel_std;
};

/* The three splits a run uses. `validation` is empty (n == 0) unless the
 * spec asks for a validation fraction; it is carved from train by a
 * permutation seeded with the run seed. */
struct data_splits {
	struct dataset train;
	struct dataset validation;
	struct dataset test;
};

/*
 * Load what spec->data names. On failure returns -1 with a one-line
 * message in err that names the missing/bad file and how to fix it, e.g.
 * "fashion-mnist: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
 *  not found (install the Debian package dataset-fashion-mnist, or set data.path)".
 * Truncated or inconsistent files are errors, never crashes.
 */
int data_load(const struct spec_data *spec, uint64_t seed, struct data_splits *out,
	      char *err, size_t errlen);
/*
 * data_load that gives up when *stop becomes non-zero (a worker asked to
 * stop while its data set loads): -1 with err "stopped while loading the
 * data". The readers look at the flag between chunks of work (a block of
 * samples, a file chunk, an image), so it answers within a fraction of a
 * second. stop may be NULL.
 */
int data_load_stoppable(const struct spec_data *spec, uint64_t seed, const volatile sig_atomic_t *stop,
			struct data_splits *out, char *err, size_t errlen);
void data_splits_free(struct data_splits *s);

/* What data_load would produce and what it holds while it loads. */
struct data_info {
	int c, h, w;              /* per-sample shape */
	int classes;
	enum dataset_storage storage;
	int64_t train_n, test_n;  /* samples the reader makes, before data.validation is carved off train */
	int64_t reader_bytes;     /* the reader's own buffers at their peak while loading (file text and
				     parsed rows, a read or decode buffer, prototypes), freed when it is done */
	bool test_carved;         /* the test split is carved off the train file (data_split copies it once
				     more while splitting) */
};

/*
 * What data_load would produce, found cheaply (IDX/CIFAR headers and file
 * sizes, the parsed CSV without converting numbers, the list of an image
 * folder and its first image, the spec for synthetic) for shape inference
 * and the memory estimate while a user types. Same error contract as
 * data_load.
 */
int data_probe(const struct spec_data *spec, struct data_info *out, char *err, size_t errlen);
void dataset_free(struct dataset *d);

/*
 * Per-channel mean and population standard deviation of `d` as the loader
 * sees it (u8 data scaled to [0,1]); mean and std hold d->c floats. A
 * constant channel gets std 1 so normalising it cannot divide by zero; an
 * empty data set gives mean 0, std 1. One pass over the data.
 */
void data_channel_stats(const struct dataset *d, float *mean, float *std);

/*
 * One image file (PNG or JPEG, sniffed from its bytes) as the image-folder
 * reader stores a sample: converted to c channels (1 grayscale, 3 RGB;
 * alpha composited on black) and resized bilinearly to h x w, written to
 * out as c*h*w CHW bytes. A file whose header declares more than
 * max_pixels pixels is refused before any pixel is decoded (decompression
 * bombs). *src_w and *src_h get the file's own size. -1 with err for a
 * file that is not a whole PNG or JPEG.
 */
int data_image_read(const char *path, int c, int h, int w, uint64_t max_pixels, uint8_t *out, int *src_w,
		    int *src_h, char *err, size_t errlen);

/* Per-sample size in floats (c*h*w). */
static inline int64_t dataset_sample_size(const struct dataset *d)
{
	return (int64_t)d->c * d->h * d->w;
}

/* A batch in host memory: x is [n, c, h, w] float32, y is [n] int32.
 * Owned by the loader; valid until the next loader_next/loader_free. */
struct batch {
	int n;                  /* samples in this batch (the last one may be short) */
	float *x;
	int32_t *y;
	int64_t *index;         /* dataset index of each sample (for sample predictions) */
	int epoch;
	int64_t position;       /* batch number within the epoch, from 0 */
};

struct loader_options {
	int batch_size;
	bool shuffle;           /* train: true; evaluation: false */
	bool drop_last;         /* drop a final short batch (train: false by default, like PyTorch) */
	bool augment;           /* apply spec augmentation (train only) */
	int workers;            /* prefetch threads, ≥ 1 */
	int prefetch;           /* batches buffered ahead, ≥ 2 */
	uint64_t seed;
};

struct loader;

/*
 * Start a loader over `d` (which must outlive it) at batch `position` of
 * epoch `epoch`. `aug` may be NULL (no augmentation, no normalisation
 * beyond u8→[0,1]). Returns NULL with err filled on failure.
 */
struct loader *loader_new(const struct dataset *d, const struct spec_data *aug,
			  const struct loader_options *opt, int epoch, int64_t position,
			  char *err, size_t errlen);

/* Next batch; returns 0, or 1 at the end of the epoch (after which the
 * loader continues with the next epoch on the following call). */
int loader_next(struct loader *l, struct batch *out);

enum loader_op_kind { LOADER_CROP, LOADER_HFLIP, LOADER_NORMALIZE };

/* The data sets a spec may name (data.dataset): rows in data.c, read by the parser and data_load. */
extern const struct spec_registry data_set_registry;

/*
 * The augmentation steps a spec may list (data.augment): rows in loader.c.
 * A row's first key is the step's value (`{random_crop: 4}`); a row whose
 * keys are CHANNELS takes a mapping of them instead (normalize).
 */
struct augment_kind {
	struct spec_kind spec;  /* name, keys, docs */
	enum loader_op_kind op; /* what the loader (and the GPU batch kernel) does for it */
	bool once;              /* may appear once in a list */
};
extern const struct spec_registry augment_registry;

/* One step of the per-sample pipeline, in spec order. */
struct loader_op {
	enum loader_op_kind kind;
	int pad;     /* crop: zero padding on each side, > 0 */
	float prob;  /* hflip: probability of flipping */
};

#define LOADER_PLAN_MAX_CHANNELS 16

/*
 * What a loader with these options does to each sample, for a device that
 * repeats it bit for bit (the CUDA batch kernel, engine/backend_ext.h):
 * the ops in order, per-channel mean/std when one normalises, and the key
 * the per-sample draws start from (loader.c documents the draws). The
 * epoch order is data_permutation(n, rng_hash(seed, epoch, 0)) when
 * shuffling, the identity otherwise. Returns -1 with err when the spec is
 * invalid or the plan does not fit (normalising more than
 * LOADER_PLAN_MAX_CHANNELS channels).
 */
struct loader_plan {
	int nops;
	struct loader_op ops[SPEC_MAX_AUGMENT + 1];
	float mean[LOADER_PLAN_MAX_CHANNELS], std[LOADER_PLAN_MAX_CHANNELS];
	uint64_t aug_key;
};
int loader_describe(const struct dataset *d, const struct spec_data *aug, const struct loader_options *opt,
		    struct loader_plan *out, char *err, size_t errlen);

/*
 * The normalisation an evaluation loader over `d` applies: 1 with mean and
 * std (d->c floats each) filled, 0 when it does not normalise, -1 with err
 * when the spec's normalize step is invalid for d.
 */
int loader_normalization(const struct dataset *d, const struct spec_data *aug, float *mean, float *std, char *err,
			 size_t errlen);

/* The epoch order a shuffling loader uses: perm = a permutation of 0..n-1 from `key`. */
void data_permutation(int64_t *perm, int64_t n, uint64_t key);

/* Batches per epoch for these options. */
int64_t loader_batches_per_epoch(const struct dataset *d, int batch_size, bool drop_last);

void loader_free(struct loader *l);

#endif
