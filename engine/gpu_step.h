/*
 * gpu_step.h — the parts of a training step that exist only on a GPU:
 * dynamic loss scaling (fp16), gradient clipping and step counting on the
 * device, whole-step CUDA-graph replay, and training data kept on the GPU.
 *
 * What it is: one object per GPU replica that replica.c consults around
 * the plain backend.h step. Each feature comes from the backend's table of
 * extras (be->ext, backend_ext.h); a missing extra, a backend without the
 * table (the CPU), or a switch in the environment leaves that feature off
 * and the step is the plain one:
 *   TRAINBOOK_CUDA_GRAPH=0   never capture a graph
 *   TRAINBOOK_GPU_DATA=0     keep batches on the host (the loader's threads)
 * What it is not: the step itself (replica.c) or the epoch loop (train.c).
 *
 * Graph rules: a graph is captured on the first full-size step after one
 * eager full-size step (convolution algorithms are tuned and scratch
 * buffers sized then, which must not happen inside a capture) and replayed
 * for every later step of that size. Anything else run on the backend —
 * an evaluation, a short last batch — may regrow scratch memory the graph
 * points into, so it invalidates the graph and the cycle starts again.
 *
 * Threads: the thread that drives the replica's backend.
 */
#ifndef TB_GPU_STEP_H
#define TB_GPU_STEP_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "data.h"
#include "model.h"
#include "optim.h"
#include "spec.h"

struct gpu_step;

/*
 * NULL for a backend without extras (the CPU). `graphs`: the caller allows capture (one
 * replica and static shapes). The spec's precision decides loss scaling.
 */
struct gpu_step *gpu_step_new(struct backend *be, struct model *m, struct optim *o, const struct spec *spec,
			      bool graphs);
void gpu_step_free(struct gpu_step *g);

/*
 * Keep the training split on the GPU and assemble batches there with the
 * loader's exact shuffle and augmentation. Returns true when it did; false
 * (with why, when there is a reason worth telling) when batches must come
 * from the host loader.
 */
bool gpu_step_use_data(struct gpu_step *g, const struct dataset *train, const struct spec_data *sd,
		       const struct loader_options *lo, char *why, size_t whylen);
bool gpu_step_has_data(const struct gpu_step *g);
/* Give the GPU copy up again (another replica could not make one). */
void gpu_step_drop_data(struct gpu_step *g);

/* Features in use, for the run's events ("CUDA graph, data on the GPU, loss scaling"). */
void gpu_step_describe(const struct gpu_step *g, char *buf, size_t len);

/* Start of a step, after gpu_step_seek: one upload of what the device reads (dropout counter, batch cursor). */
void gpu_step_begin(struct gpu_step *g, int64_t step);
/* Gradient clipping and step counting happen on the device (optim_begin_step(host_clip = false)). */
bool gpu_step_device_clip(const struct gpu_step *g);

/* Position the next batch at sample `first` of `epoch`'s order (before gpu_step_begin, which uploads it). */
void gpu_step_seek(struct gpu_step *g, int epoch, int64_t first);
/* Assemble n samples from the position set by gpu_step_seek into x and y (device side). */
void gpu_step_load_batch(struct gpu_step *g, int n, float *x, int32_t *y);

/* Multiply the loss gradient by the loss scale (fp16; a no-op otherwise). */
void gpu_step_scale_loss_grad(struct gpu_step *g, float *dlogits, int64_t n);
/* After the all-reduce, before optim_apply: inf/NaN check, unscale, clip, step count (device). */
void gpu_step_prepare_optim(struct gpu_step *g);

/* Replay the step graph of batch size n if there is one; true when launched. */
bool gpu_step_replay(struct gpu_step *g, int n);
/* Whether this step of size n (n == the replica's full shard) should be captured now. */
bool gpu_step_capture_due(struct gpu_step *g, int n, bool full);
/* Start recording; false when the module refused (the step then runs eagerly). */
bool gpu_step_capture_begin(struct gpu_step *g);
/* Stop recording a step of size n; false when the capture failed (graphs are then turned off). */
bool gpu_step_capture_end(struct gpu_step *g, int n);
/* Record that an eager step of size n ran (full or not) — see the graph rules above. */
void gpu_step_ran_eager(struct gpu_step *g, bool full);
/* Something other than a step ran on the backend (evaluation): drop the graph. */
void gpu_step_invalidate(struct gpu_step *g);

/*
 * Bring the host's view up to date before a checkpoint: Adam's step count
 * as the device kept it (fp16 skips steps the host counted).
 */
void gpu_step_settle(struct gpu_step *g);

/*
 * Metrics without a host sync: start copying the replica's stats pair
 * (loss sum, correct count) into pinned memory behind the work queued so
 * far, and zero it on the device for the next interval. False when the
 * module cannot (the caller then reads synchronously). One snapshot at a
 * time: `landed` says, without waiting, whether it has arrived; `take`
 * returns it (waiting if need be) and ends it.
 */
bool gpu_step_stats_start(struct gpu_step *g, float *stats_dev);
bool gpu_step_stats_landed(struct gpu_step *g);
void gpu_step_stats_take(struct gpu_step *g, float out[2]);

/* Loss-scaling statistics, false when there is no loss scaling. */
bool gpu_step_amp_stats(struct gpu_step *g, double *scale, int64_t *skipped);

#endif
