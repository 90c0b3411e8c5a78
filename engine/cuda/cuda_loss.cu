/*
 * cuda_loss.cu — fused losses and the global reduction: softmax
 * cross-entropy forward+backward and MSE (one warp per row, one kernel
 * each, metrics accumulated into device memory with one atomic per block),
 * and sum_squares as a deterministic two-pass reduction.
 *
 * What it is not: the loss *choice* (the engine's loss layer) or metric
 * averaging (the train loop). Formulas are cpu_backend.c's: torch's
 * CrossEntropyLoss with label smoothing, MSELoss against one-hot labels or
 * a target.
 *
 * Threads: the backend's thread; kernels on the backend's stream.
 */
#include <assert.h>
#include <math.h>

#include "cuda_internal.h"

#define LOSS_WARPS 8                  /* rows per block */
#define REDUCE_BLOCKS 1024            /* first-pass blocks of sum_squares (fixed: deterministic) */
#define FULL_MASK 0xffffffffu

__device__ __forceinline__ float warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(FULL_MASK, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
	return v;
}

/* (value, index) argmax across the warp; ties go to the lower index, which is
 * what the CPU's first-strictly-greater scan returns. */
__device__ __forceinline__ void warp_argmax(float &v, int &i)
{
	for (int o = 16; o > 0; o >>= 1) {
		float ov = __shfl_xor_sync(FULL_MASK, v, o);
		int oi = __shfl_xor_sync(FULL_MASK, i, o);
		if (ov > v || (ov == v && oi < i)) {
			v = ov;
			i = oi;
		}
	}
}

/* Sum the per-warp (loss, correct) of a block, then one atomic each into stats. */
__device__ __forceinline__ void block_stats_add(float *stats, float loss, float correct)
{
	__shared__ float s_loss[LOSS_WARPS], s_correct[LOSS_WARPS];
	int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
	if (lane == 0) {
		s_loss[warp] = loss;
		s_correct[warp] = correct;
	}
	__syncthreads();
	if (threadIdx.x == 0) {
		float l = 0, c = 0;
		for (int w = 0; w < LOSS_WARPS; w++) {
			l += s_loss[w];
			c += s_correct[w];
		}
		atomicAdd(&stats[0], l);
		atomicAdd(&stats[1], c);
	}
}

static __global__ void softmax_xent_kernel(const float *logits, const int32_t *labels, int n, int classes,
					   float label_smoothing, float inv_n, float smooth_each, float *dlogits,
					   float *stats, int32_t *predictions)
{
	int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
	int row = blockIdx.x * LOSS_WARPS + warp;
	float loss = 0, correct = 0;
	if (row < n) {
		const float *z = logits + (int64_t)row * classes;
		int y = labels[row];
		assert(y >= 0 && y < classes);
		float maxv = -INFINITY;
		int argmax = classes; /* "none yet": loses every tie in warp_argmax */
		for (int j = lane; j < classes; j += 32) {
			if (z[j] > maxv || argmax == classes) {
				maxv = z[j];
				argmax = j;
			}
		}
		warp_argmax(maxv, argmax);
		float sum = 0, sum_z = 0;
		for (int j = lane; j < classes; j += 32) {
			sum += expf(z[j] - maxv);
			sum_z += z[j];
		}
		sum = warp_sum(sum);
		float logsum = logf(sum);
		float nll = -(z[y] - maxv - logsum);
		loss = nll;
		if (label_smoothing > 0) {
			/* sum_j -(z_j - max - logsum), rearranged to use one reduction. */
			float sum_neg_logp = (float)classes * (maxv + logsum) - warp_sum(sum_z);
			loss = (1.0f - label_smoothing) * nll + label_smoothing * sum_neg_logp / (float)classes;
		}
		correct = argmax == y ? 1.0f : 0.0f;
		if (predictions && lane == 0)
			predictions[row] = argmax;
		if (dlogits) {
			float *d = dlogits + (int64_t)row * classes;
			for (int j = lane; j < classes; j += 32) {
				float p = expf(z[j] - maxv - logsum);
				float target = (j == y ? 1.0f - label_smoothing : 0.0f) + smooth_each;
				d[j] = (p - target) * inv_n;
			}
		}
	}
	block_stats_add(stats, loss, correct);
}

static void cuda_softmax_xent(struct backend *be, const float *logits, const int32_t *labels, int n, int classes,
			      float label_smoothing, float grad_scale, float *dlogits, float *stats,
			      int32_t *predictions)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (n <= 0)
		return;
	/* Host-side constants exactly as the CPU computes them. */
	float inv_n = grad_scale / (float)n;
	float smooth_each = label_smoothing / (float)classes;
	unsigned grid = (unsigned)((n + LOSS_WARPS - 1) / LOSS_WARPS);
	softmax_xent_kernel<<<grid, LOSS_WARPS * 32, 0, cb->stream>>>(logits, labels, n, classes, label_smoothing,
								       inv_n, smooth_each, dlogits, stats, predictions);
	CUDA_LAUNCHED();
}

static __global__ void mse_kernel(const float *pred, const int32_t *labels, const float *target, int n,
				  int classes, float g, float *dpred, float *stats)
{
	int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
	int row = blockIdx.x * LOSS_WARPS + warp;
	float loss = 0, correct = 0;
	if (row < n) {
		const float *p = pred + (int64_t)row * classes;
		int label = labels ? labels[row] : -1;
		float sample = 0, best = -INFINITY;
		int argmax = classes;
		for (int j = lane; j < classes; j += 32) {
			float t = target ? target[(int64_t)row * classes + j] : (j == label ? 1.0f : 0.0f);
			float diff = p[j] - t;
			sample += diff * diff;
			if (dpred)
				dpred[(int64_t)row * classes + j] = diff * g;
			if (p[j] > best || argmax == classes) {
				best = p[j];
				argmax = j;
			}
		}
		sample = warp_sum(sample);
		warp_argmax(best, argmax);
		loss = sample / (float)classes;
		correct = labels && argmax == label ? 1.0f : 0.0f;
	}
	block_stats_add(stats, loss, correct);
}

static void cuda_mse(struct backend *be, const float *pred, const int32_t *labels, const float *target, int n,
		     int classes, float grad_scale, float *dpred, float *stats)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (n <= 0)
		return;
	float g = 2.0f * grad_scale / ((float)n * (float)classes);
	unsigned grid = (unsigned)((n + LOSS_WARPS - 1) / LOSS_WARPS);
	mse_kernel<<<grid, LOSS_WARPS * 32, 0, cb->stream>>>(pred, labels, target, n, classes, g, dpred, stats);
	CUDA_LAUNCHED();
}

/* ---- sum of squares: fixed grid + fixed tree = the same bits every run ------- */

template <int THREADS> __device__ __forceinline__ double block_sum_double(double v)
{
	__shared__ double part[THREADS];
	part[threadIdx.x] = v;
	__syncthreads();
	for (int half = THREADS / 2; half > 0; half >>= 1) {
		if ((int)threadIdx.x < half)
			part[threadIdx.x] += part[threadIdx.x + half];
		__syncthreads();
	}
	return part[0];
}

static __global__ void sum_squares_partial_kernel(const float *x, int64_t n, double *partial)
{
	double acc = 0;
	for (int64_t i = (int64_t)blockIdx.x * CUDA_THREADS + threadIdx.x; i < n; i += (int64_t)gridDim.x * CUDA_THREADS)
		acc += (double)x[i] * x[i];
	double s = block_sum_double<CUDA_THREADS>(acc);
	if (threadIdx.x == 0)
		partial[blockIdx.x] = s;
}

static __global__ void sum_squares_final_kernel(const double *partial, int count, float *out)
{
	double v = (int)threadIdx.x < count ? partial[threadIdx.x] : 0.0;
	double s = block_sum_double<REDUCE_BLOCKS>(v);
	if (threadIdx.x == 0)
		out[0] = (float)s;
}

static void cuda_sum_squares(struct backend *be, const float *x, int64_t n, float *out)
{
	struct cuda_backend *cb = cuda_enter(be);
	int64_t want = (n + CUDA_THREADS * 4 - 1) / (CUDA_THREADS * 4);
	int blocks = (int)(want < 1 ? 1 : want > REDUCE_BLOCKS ? REDUCE_BLOCKS : want);
	double *partial = (double *)cuda_scratch(cb, CUDA_SCRATCH_REDUCE, REDUCE_BLOCKS * sizeof(double));
	sum_squares_partial_kernel<<<blocks, CUDA_THREADS, 0, cb->stream>>>(x, n, partial);
	CUDA_LAUNCHED();
	sum_squares_final_kernel<<<1, REDUCE_BLOCKS, 0, cb->stream>>>(partial, blocks, out);
	CUDA_LAUNCHED();
}

void cuda_loss_install(struct backend *be)
{
	be->softmax_xent = cuda_softmax_xent;
	be->mse = cuda_mse;
	be->sum_squares = cuda_sum_squares;
}
