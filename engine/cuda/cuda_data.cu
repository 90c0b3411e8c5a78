/*
 * cuda_data.cu — data sets held on the GPU and batches cut from them by a
 * kernel: index gather through the epoch's permutation, u8 → float,
 * random crop with zero padding, horizontal flip, normalisation.
 *
 * What it is: the CPU loader's batch, bit for bit (engine/loader.c
 * documents its draws; cuda_rng.cuh ports rng.c). One thread per output
 * value replays its sample's few draws (a handful of multiplies), walks the
 * geometric ops backwards to find its source pixel — or the op whose
 * padding produced a zero — and applies the value ops (normalize) that
 * come after that point, exactly as the loader's sequence of whole-image
 * passes would. Why: a host loader feeding an H100 must convert, augment
 * and upload ~30k CIFAR images a second; uploading uint8 once removes all
 * of that from the step. What it is not: the permutation itself (a
 * sequential Fisher-Yates; the host computes it per epoch and uploads n
 * int64s).
 *
 * Threads: the backend's thread; kernels on the backend's stream.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "backend_ext.h"
#include "cuda_internal.h"
#include "cuda_rng.cuh"

struct backend_dataset {
	int64_t n;
	int c, h, w;
	uint8_t *u8;     /* device, n*c*h*w, or NULL */
	float *f32;      /* device, n*c*h*w, or NULL */
	int32_t *labels; /* device, n */
};

/* Everything the kernel needs, by value. */
struct data_args {
	int64_t n;
	int c, h, w, batch;
	const uint8_t *u8;
	const float *f32;
	const int32_t *labels;
	const int64_t *order;
	const int64_t *cursor;
	struct backend_augment aug; /* nops 0: conversion only */
};

static __global__ void data_batch_kernel(struct data_args a, float *x, int32_t *y)
{
	const int64_t plane = (int64_t)a.h * a.w, sample = plane * a.c, total = sample * a.batch;
	const uint64_t epoch = (uint64_t)a.cursor[0];
	const int64_t start = a.cursor[1];
	assert(start >= 0 && start + a.batch <= a.n);
	for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
	     i += (int64_t)gridDim.x * blockDim.x) {
		int b = (int)(i / sample);
		int64_t within = i - (int64_t)b * sample;
		int ch = (int)(within / plane);
		int py = (int)(within / a.w % a.h), px = (int)(within % a.w);
		int64_t idx = a.order ? a.order[start + b] : start + b;

		/* The sample's draws, in op order, as loader_sample makes them. */
		int dy[BACKEND_AUG_MAX], dx[BACKEND_AUG_MAX];
		bool flip[BACKEND_AUG_MAX];
		uint64_t state = cuda_rng_seed(cuda_rng_hash(a.aug.aug_key, epoch, (uint64_t)idx));
		for (int k = 0; k < a.aug.nops; k++) {
			const struct backend_aug_op *op = &a.aug.ops[k];
			flip[k] = false;
			if (op->kind == BACKEND_AUG_CROP) {
				dy[k] = (int)cuda_rng_below(&state, 2 * (uint64_t)op->pad + 1);
				dx[k] = (int)cuda_rng_below(&state, 2 * (uint64_t)op->pad + 1);
			} else if (op->kind == BACKEND_AUG_HFLIP) {
				flip[k] = cuda_rng_uniform(&state) < op->prob;
			}
		}
		/* Backwards through the geometry: where did output (py, px) come from? */
		int sy = py, sx = px, first_value_op = 0;
		bool padded = false;
		for (int k = a.aug.nops - 1; k >= 0 && !padded; k--) {
			const struct backend_aug_op *op = &a.aug.ops[k];
			if (op->kind == BACKEND_AUG_HFLIP && flip[k]) {
				sx = a.w - 1 - sx;
			} else if (op->kind == BACKEND_AUG_CROP) {
				sy += dy[k] - op->pad;
				sx += dx[k] - op->pad;
				if (sy < 0 || sy >= a.h || sx < 0 || sx >= a.w) {
					padded = true; /* a zero written by this crop */
					first_value_op = k + 1;
				}
			}
		}
		float v = 0.0f;
		if (!padded) {
			int64_t src = idx * sample + (int64_t)ch * plane + (int64_t)sy * a.w + sx;
			v = a.u8 ? (float)a.u8[src] / 255.0f : a.f32[src];
		}
		for (int k = first_value_op; k < a.aug.nops; k++)
			if (a.aug.ops[k].kind == BACKEND_AUG_NORMALIZE)
				v = __fdiv_rn(__fsub_rn(v, a.aug.mean[ch]), a.aug.std[ch]);
		x[i] = v;
		if (within == 0)
			y[b] = a.labels[idx];
	}
}

CUDA_HIDDEN struct backend_dataset *cuda_dataset_new(struct backend *be, const uint8_t *u8, const float *f32,
							const int32_t *labels, int64_t n, int c, int h, int w,
							char *err, size_t errlen)
{
	struct cuda_backend *cb = cuda_enter(be);
	if ((!u8) == (!f32) || !labels || n < 1 || c < 1 || h < 1 || w < 1 || c > BACKEND_AUG_MAX_CHANNELS) {
		if (err && errlen)
			snprintf(err, errlen, "GPU data set: need u8 or f32 samples, labels, n ≥ 1 and 1..%d channels",
				 BACKEND_AUG_MAX_CHANNELS);
		return NULL;
	}
	size_t values = (size_t)n * c * h * w;
	size_t bytes = values * (u8 ? 1 : sizeof(float)) + (size_t)n * sizeof(int32_t);
	size_t free_b = 0, total_b = 0;
	CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
	/* Leave most of the GPU to the model: a data set may take at most half of what is free. */
	if (bytes > free_b / 2) {
		if (err && errlen)
			snprintf(err, errlen, "GPU data set of %zu MiB does not fit (%zu MiB free on %s)", bytes >> 20,
				 free_b >> 20, cb->device_name);
		return NULL;
	}
	struct backend_dataset *d = (struct backend_dataset *)calloc(1, sizeof(*d));
	CUDA_ASSERT(d);
	d->n = n;
	d->c = c;
	d->h = h;
	d->w = w;
	if (u8) {
		d->u8 = (uint8_t *)be->alloc(be, values);
		be->upload(be, d->u8, u8, values);
	} else {
		d->f32 = (float *)be->alloc(be, values * sizeof(float));
		be->upload(be, d->f32, f32, values * sizeof(float));
	}
	d->labels = (int32_t *)be->alloc(be, (size_t)n * sizeof(int32_t));
	be->upload(be, d->labels, labels, (size_t)n * sizeof(int32_t));
	return d;
}

CUDA_HIDDEN void cuda_dataset_free(struct backend *be, struct backend_dataset *d)
{
	if (!d)
		return;
	if (d->u8)
		be->free(be, d->u8);
	if (d->f32)
		be->free(be, d->f32);
	be->free(be, d->labels);
	free(d);
}

CUDA_HIDDEN void cuda_data_batch(struct backend *be, const struct backend_dataset *d,
				    const struct backend_augment *aug, const int64_t *order_dev,
				    const int64_t *cursor_dev, int batch, float *x, int32_t *y)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (batch <= 0)
		return;
	struct data_args a;
	memset(&a, 0, sizeof(a));
	a.n = d->n;
	a.c = d->c;
	a.h = d->h;
	a.w = d->w;
	a.batch = batch;
	a.u8 = d->u8;
	a.f32 = d->f32;
	a.labels = d->labels;
	a.order = order_dev;
	a.cursor = cursor_dev;
	if (aug) {
		CUDA_ASSERT(aug->nops >= 0 && aug->nops <= BACKEND_AUG_MAX);
		a.aug = *aug;
	}
	int64_t total = (int64_t)batch * d->c * d->h * d->w;
	data_batch_kernel<<<cuda_grid(cb, total, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(a, x, y);
	CUDA_LAUNCHED();
}
