/*
 * backend_ext.h — what a backend may offer beyond backend.h: one typed
 * table of optional extras, struct backend_ext, reached through be->ext:
 * the peak- and total-memory reports, fp16/bf16 dynamic loss scaling, whole-step graph
 * capture, asynchronous metric read-back, training data kept on the device
 * with shuffling and augmentation there, and timing marks for the profiler.
 *
 * What it is: the contract between the engine (gpu_step.c, profile.c,
 * backend.c) and the CUDA module, which fills one table
 * (engine/cuda/cuda_backend.cu) and points every backend it opens at it.
 * The CPU backend leaves be->ext NULL: whatever needs an extra is then off,
 * and the step is the plain backend.h one. A NULL slot in a table means that
 * one extra is missing. Every function takes the struct backend the table
 * came with. What it is not: required — a run that uses none of it is a
 * plain backend.h run. Threads: the backend's thread, like every backend
 * call.
 *
 * How a train loop uses it (one step, static shapes):
 *   upload scalars (lr, bias corrections) and the step counter   — outside any graph
 *   ext->data_batch(...)                     x, y from the device-resident set
 *   forward; loss (grad_scale = 1)
 *   ext->amp_scale_grad(dlogits)             fp16: multiply by the loss scale
 *   backward
 *   ext->amp_prepare(grads → scalars)        inf/NaN check, unscale, clip, skip flag
 *   optim_step(scalars)
 * The middle part (data batch to optimizer) is what capture_begin/end
 * records once and graph_launch replays; losses stay in the device stats
 * pair and come back through readback_* every N steps.
 */
#ifndef TB_BACKEND_EXT_H
#define TB_BACKEND_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct backend;

/*
 * Two optimizer scalar slots beyond backend.h's enum optim_scalar (which
 * reserves 8). The engine's optim.c uploads zeros there, and zero keeps
 * backend.h's meaning, so a backend with these extras honours them always.
 */
enum backend_ext_scalar {
	OPT_SKIP = 4, /* ≠ 0: leave parameters and state untouched this step (fp16 overflow) */
	OPT_STEP = 5, /* > 0: the 1-based step, read on the device instead of the host `step` argument */
};

/* ---- dynamic loss scaling, PyTorch GradScaler semantics -------------------------- */

struct backend_amp_config {
	float init_scale;     /* 65536 (2^16) */
	float growth_factor;  /* 2 */
	float backoff_factor; /* 0.5 */
	int growth_interval;  /* 2000 clean steps between growths */
	/* Scale fixed at 1 (fp32/tf32/bf16): the amp object only counts steps and clips, as
	 * optim.c does on the host, so an inf/NaN gradient is applied, not skipped, and
	 * the gradients are read only when clipping needs their norm. */
	bool unscaled;
};

struct backend_amp_stats {
	float scale;     /* the scale the next step will use */
	int64_t steps;   /* optimizer steps taken (skipped ones not counted, as Adam's step) */
	int64_t skipped; /* steps skipped because a gradient was inf/NaN */
	float grad_norm; /* unscaled global gradient norm of the last clean step (0 when unscaled
				  and not clipping: nothing needed it) */
};

struct backend_amp;

/* ---- graphs, read-back, timing marks ------------------------------------------------ */

struct backend_graph;
struct backend_readback;
struct backend_marks;

/* ---- device-resident data -------------------------------------------------------------- */

enum backend_aug_kind { BACKEND_AUG_CROP, BACKEND_AUG_HFLIP, BACKEND_AUG_NORMALIZE };

#define BACKEND_AUG_MAX 8
#define BACKEND_AUG_MAX_CHANNELS 16

struct backend_aug_op {
	int kind;   /* enum backend_aug_kind */
	int pad;    /* crop: zero padding on each side */
	float prob; /* hflip: probability of flipping */
};

/*
 * The loader's augmentation, op for op (engine/loader.c documents the
 * draws): sample idx of epoch e seeds one rng with rng_hash(aug_key, e,
 * idx); crop draws dy then dx with rng_below(2*pad+1); hflip flips when
 * rng_uniform() < prob; normalize is (v - mean[c]) / std[c]. u8 samples are
 * first converted as (float)v / 255.0f. The result is bit-identical to the
 * CPU loader's batch.
 */
struct backend_augment {
	int nops;
	struct backend_aug_op ops[BACKEND_AUG_MAX];
	float mean[BACKEND_AUG_MAX_CHANNELS], std[BACKEND_AUG_MAX_CHANNELS];
	uint64_t aug_key; /* rng_hash(seed, LOADER_AUG_TAG, 2) */
};

struct backend_dataset;

/* ---- the table ---------------------------------------------------------------------- */

struct backend_ext {
	/* --- report --- */
	/* Most bytes of device memory this backend has held at once (weights, activations, scratch). */
	size_t (*peak_memory)(struct backend *be);
	/* The device's total memory in bytes, 0 when the driver will not say (the memory estimate's budget). */
	size_t (*memory_total)(struct backend *be);

	/* --- dynamic loss scaling --- */
	/* cfg NULL: PyTorch's defaults (struct backend_amp_config). The state lives in device memory. */
	struct backend_amp *(*amp_new)(struct backend *be, const struct backend_amp_config *cfg);
	void (*amp_free)(struct backend *be, struct backend_amp *a);
	/* dlogits[0..n) *= current scale, read on the device (after the loss, before backward). */
	void (*amp_scale_grad)(struct backend *be, struct backend_amp *a, float *dlogits, int64_t n);
	/*
	 * After backward and after the host has uploaded the step's scalars (lr):
	 * one deterministic sum-of-squares pass over the n gradients (skipped when
	 * unscaled and not clipping); if it is not finite the step is skipped
	 * (scalars[OPT_SKIP] = 1) and the scale backs off; otherwise
	 * scalars[OPT_CLIP] = min(1, clip/(norm+1e-6)) / scale (norm of the
	 * unscaled gradients, clip 0 = off), scalars[OPT_STEP], scalars[OPT_BC1],
	 * scalars[OPT_BC2] come from the device's count of steps taken (beta 0:
	 * no correction), and the scale grows after growth_interval clean steps.
	 * No host synchronisation.
	 */
	void (*amp_prepare)(struct backend *be, struct backend_amp *a, const float *grads, int64_t n, double grad_clip,
			    float beta1, float beta2, float *scalars);
	/* Set the count of steps taken (resuming from a checkpoint at that step). Synchronises. */
	void (*amp_set_steps)(struct backend *be, struct backend_amp *a, int64_t steps);
	/* Read the state (synchronises; for logging every N steps). */
	void (*amp_read)(struct backend *be, struct backend_amp *a, struct backend_amp_stats *out);

	/* --- whole-step graphs --- */
	/*
	 * Record every backend operation issued until capture_end instead of
	 * running it. Run one eager step first: convolution algorithms are chosen
	 * and scratch buffers sized then, and neither may happen while capturing.
	 * alloc/free/upload/download/sync inside a capture abort with a message
	 * naming the call. Returns 0, or -1 with err.
	 */
	int (*capture_begin)(struct backend *be, char *err, size_t errlen);
	/* Stop recording and instantiate; NULL with err if the capture was invalidated. */
	struct backend_graph *(*capture_end)(struct backend *be, char *err, size_t errlen);
	/* Replay on the backend's stream (asynchronous, like any op). Returns 0 or -1 with err. */
	int (*graph_launch)(struct backend *be, struct backend_graph *g, char *err, size_t errlen);
	void (*graph_free)(struct backend *be, struct backend_graph *g);
	/*
	 * Dropout's `counter` argument is a host value, which a graph would
	 * freeze. With a device word set here (a uint64_t from be->alloc),
	 * dropout_forward reads its counter from it instead; the loop uploads the
	 * step number there before each step or replay, so masks still equal the
	 * CPU's. NULL restores the host argument.
	 */
	void (*set_dropout_counter)(struct backend *be, const uint64_t *counter_dev);

	/* --- asynchronous read-back --- */
	/* A pinned host buffer of `bytes` that device memory is copied into without stalling the host. */
	struct backend_readback *(*readback_new)(struct backend *be, size_t bytes);
	/* Queue the copy of `bytes` from device src (stream-ordered after the work already issued). */
	void (*readback_start)(struct backend *be, struct backend_readback *r, const void *src);
	/* The host copy once it has landed, NULL while it is in flight or never started. */
	const void *(*readback_poll)(struct backend *be, struct backend_readback *r);
	void (*readback_free)(struct backend *be, struct backend_readback *r);

	/* --- device-resident data --- */
	/* Upload a data set once: u8 (images) or f32 samples of c*h*w, and labels. NULL with err on failure. */
	struct backend_dataset *(*dataset_new)(struct backend *be, const uint8_t *u8, const float *f32,
					       const int32_t *labels, int64_t n, int c, int h, int w, char *err,
					       size_t errlen);
	void (*dataset_free)(struct backend *be, struct backend_dataset *d);
	/*
	 * Assemble `batch` samples on the device: x [batch, c, h, w] and y [batch].
	 * cursor_dev (device, 2 int64) holds {epoch, first position in the order};
	 * order_dev (device, n int64, may be NULL for the identity) is the epoch's
	 * permutation, computed on the host (data_permutation) and uploaded once
	 * per epoch. Reading both from device memory lets a graph replay it; the
	 * caller keeps position + batch ≤ n (drop the short last batch in graph
	 * mode). aug NULL: conversion only.
	 */
	void (*data_batch)(struct backend *be, const struct backend_dataset *d, const struct backend_augment *aug,
			   const int64_t *order_dev, const int64_t *cursor_dev, int batch, float *x, int32_t *y);

	/* --- timing marks (engine/profile.c) --- */
	/*
	 * `capacity` events recorded on the backend's stream at chosen points;
	 * marks_between gives the device time from mark a to mark b in
	 * milliseconds, waiting for b. Not inside a capture.
	 */
	struct backend_marks *(*marks_new)(struct backend *be, int capacity);
	void (*marks_record)(struct backend *be, struct backend_marks *m, int index);
	float (*marks_between)(struct backend *be, struct backend_marks *m, int a, int b);
	void (*marks_free)(struct backend *be, struct backend_marks *m);
};

#ifdef __cplusplus
}
#endif

#endif
