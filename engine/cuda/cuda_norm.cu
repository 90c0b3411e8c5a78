/*
 * cuda_norm.cu — batch normalisation over N and the spatial positions of
 * each channel (batchnorm2d with spatial = H*W, batchnorm1d with 1):
 * training forward with batch statistics and PyTorch's running-statistic
 * update, evaluation forward with running statistics, and backward.
 *
 * What it is: own kernels rather than cuDNN's, for three reasons: the
 * reductions are deterministic (fixed split + fixed order, so a rerun gives
 * the same bits), any eps is accepted (cuDNN refuses eps < 1e-5), and the
 * statistics accumulate in double, so large activations do not cancel
 * catastrophically in E[x²] - E[x]². Each pass is split over
 * (channel × chunk) blocks, then one small kernel per channel combines.
 *
 * Threads: the backend's thread; kernels on the backend's stream.
 */
#include "cuda_internal.h"

#define NORM_THREADS 256

/* A block's double sums of two values, in a fixed tree order. */
static __device__ __forceinline__ void block_sum2(double &a, double &b)
{
	__shared__ double sa[NORM_THREADS], sb[NORM_THREADS];
	sa[threadIdx.x] = a;
	sb[threadIdx.x] = b;
	__syncthreads();
	for (int half = NORM_THREADS / 2; half > 0; half >>= 1) {
		if ((int)threadIdx.x < half) {
			sa[threadIdx.x] += sa[threadIdx.x + half];
			sb[threadIdx.x] += sb[threadIdx.x + half];
		}
		__syncthreads();
	}
	a = sa[0];
	b = sb[0];
}

/* Element e of channel c's N*S values, NCHW with S = spatial. */
static __device__ __forceinline__ int64_t norm_index(int64_t e, int c, int channels, int spatial)
{
	int64_t n, s;
	cuda_row_of(e, spatial, &n, &s);
	return (n * channels + c) * spatial + s;
}

/* partial[(c * splits + split) * 2 + {0,1}] = (Σx, Σx²) over one chunk. */
static __global__ void bn_stats_partial_kernel(const float *x, int channels, int spatial, int64_t count,
					       int64_t chunk, double *partial)
{
	int c = blockIdx.y, split = blockIdx.x;
	int64_t e0 = (int64_t)split * chunk, e1 = e0 + chunk < count ? e0 + chunk : count;
	double sum = 0, sumsq = 0;
	for (int64_t e = e0 + threadIdx.x; e < e1; e += NORM_THREADS) {
		double v = x[norm_index(e, c, channels, spatial)];
		sum += v;
		sumsq += v * v;
	}
	block_sum2(sum, sumsq);
	if (threadIdx.x == 0) {
		partial[((int64_t)c * gridDim.x + split) * 2] = sum;
		partial[((int64_t)c * gridDim.x + split) * 2 + 1] = sumsq;
	}
}

/*
 * Per channel: batch mean and 1/sqrt(var + eps) (biased variance, as used
 * to normalise); running statistics take the unbiased variance. Then the
 * affine form the CPU applies, y = x·a + b with a = γ·invstd and
 * b = β - mean·a, rounded exactly as the CPU rounds it (no FMA).
 */
static __global__ void bn_stats_final_kernel(const double *partial, int channels, int splits, int64_t count,
					     float momentum, float eps, const float *gamma, const float *beta,
					     float *running_mean, float *running_var, float *save_mean,
					     float *save_invstd, float *affine, float *batches)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= channels)
		return;
	if (c == 0 && batches)
		*batches = __fadd_rn(*batches, 1.0f); /* num_batches_tracked, without a kernel of its own */
	double sum = 0, sumsq = 0;
	for (int j = 0; j < splits; j++) {
		sum += partial[((int64_t)c * splits + j) * 2];
		sumsq += partial[((int64_t)c * splits + j) * 2 + 1];
	}
	double mean = sum / (double)count;
	double var = sumsq / (double)count - mean * mean;
	if (var < 0)
		var = 0;
	float m = (float)mean, invstd = (float)(1.0 / sqrt(var + (double)eps));
	save_mean[c] = m;
	save_invstd[c] = invstd;
	double unbiased = count > 1 ? var * (double)count / (double)(count - 1) : var;
	running_mean[c] = __fadd_rn(__fmul_rn(1.0f - momentum, running_mean[c]), __fmul_rn(momentum, m));
	running_var[c] = __fadd_rn(__fmul_rn(1.0f - momentum, running_var[c]), __fmul_rn(momentum, (float)unbiased));
	float a = __fmul_rn(gamma ? gamma[c] : 1.0f, invstd);
	affine[2 * c] = a;
	affine[2 * c + 1] = __fsub_rn(beta ? beta[c] : 0.0f, __fmul_rn(m, a));
}

/* Evaluation: the running statistics give the same affine form. */
static __global__ void bn_eval_affine_kernel(int channels, float eps, const float *gamma, const float *beta,
					     const float *running_mean, const float *running_var, float *affine)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= channels)
		return;
	float invstd = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(running_var[c], eps)));
	float a = __fmul_rn(gamma ? gamma[c] : 1.0f, invstd);
	affine[2 * c] = a;
	affine[2 * c + 1] = __fsub_rn(beta ? beta[c] : 0.0f, __fmul_rn(running_mean[c], a));
}

/* relu: the ReLU after the batch norm, applied before the store (act_forward's x > 0 ? x : 0). */
static __global__ void bn_affine_kernel(const float *x, float *y, const float *affine, int channels, int spatial,
					int64_t total, int relu)
{
	for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
	     i += (int64_t)gridDim.x * blockDim.x) {
		int c = cuda_channel_of(i, spatial, channels);
		float v = __fadd_rn(__fmul_rn(x[i], affine[2 * c]), affine[2 * c + 1]);
		y[i] = relu ? (v > 0 ? v : 0) : v;
	}
}

/* Enough (channel × chunk) blocks to fill the GPU, each with real work. */
static int norm_splits(const struct cuda_backend *cb, int channels, int64_t count, int64_t *chunk)
{
	int64_t want = ((int64_t)cb->sm_count * 4 + channels - 1) / channels;
	int64_t most = (count + NORM_THREADS * 4 - 1) / (NORM_THREADS * 4);
	if (want > most)
		want = most;
	if (want > 1024)
		want = 1024;
	if (want < 1)
		want = 1;
	*chunk = (count + want - 1) / want;
	return (int)((count + *chunk - 1) / *chunk);
}

static void batchnorm_forward(struct backend *be, bool training, int n, int c, int spatial, float momentum,
			      float eps, const float *x, const float *gamma, const float *beta, float *running_mean,
			      float *running_var, float *save_mean, float *save_invstd, float *y, float *batches, bool relu)
{
	struct cuda_backend *cb = cuda_enter(be);
	int64_t count = (int64_t)n * spatial, total = count * c;
	if (total <= 0)
		return;
	CUDA_ASSERT(c <= 65535); /* channels are grid.y */
	int64_t chunk = 0;
	int splits = training ? norm_splits(cb, c, count, &chunk) : 0;
	size_t partial_bytes = cuda_align256((size_t)c * splits * 2 * sizeof(double));
	char *scratch = (char *)cuda_scratch(cb, CUDA_SCRATCH_REDUCE, partial_bytes + (size_t)c * 2 * sizeof(float));
	double *partial = (double *)scratch;
	float *affine = (float *)(scratch + partial_bytes);
	if (training) {
		bn_stats_partial_kernel<<<dim3(splits, c), NORM_THREADS, 0, cb->stream>>>(x, c, spatial, count, chunk,
											  partial);
		CUDA_LAUNCHED();
		bn_stats_final_kernel<<<(c + 127) / 128, 128, 0, cb->stream>>>(partial, c, splits, count, momentum, eps,
										gamma, beta, running_mean, running_var,
										save_mean, save_invstd, affine, batches);
	} else {
		bn_eval_affine_kernel<<<(c + 127) / 128, 128, 0, cb->stream>>>(c, eps, gamma, beta, running_mean,
										running_var, affine);
	}
	CUDA_LAUNCHED();
	bn_affine_kernel<<<cuda_grid(cb, total, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(x, y, affine, c,
											   spatial, total, relu);
	CUDA_LAUNCHED();
}

static void cuda_batchnorm_forward(struct backend *be, bool training, int n, int c, int spatial, float momentum,
				   float eps, const float *x, const float *gamma, const float *beta,
				   float *running_mean, float *running_var, float *save_mean, float *save_invstd,
				   float *y, float *batches)
{
	batchnorm_forward(be, training, n, c, spatial, momentum, eps, x, gamma, beta, running_mean, running_var,
			  save_mean, save_invstd, y, batches, false);
}

static void cuda_batchnorm_relu_forward(struct backend *be, bool training, int n, int c, int spatial,
					float momentum, float eps, const float *x, const float *gamma,
					const float *beta, float *running_mean, float *running_var, float *save_mean,
					float *save_invstd, float *y, float *batches)
{
	batchnorm_forward(be, training, n, c, spatial, momentum, eps, x, gamma, beta, running_mean, running_var,
			  save_mean, save_invstd, y, batches, true);
}

/* partial = (Σdy, Σdy·(x - mean)) over one chunk, in double as the CPU sums. */
static __global__ void bn_bwd_partial_kernel(const float *x, const float *dy, const float *mean, int channels,
					     int spatial, int64_t count, int64_t chunk, double *partial)
{
	int c = blockIdx.y, split = blockIdx.x;
	int64_t e0 = (int64_t)split * chunk, e1 = e0 + chunk < count ? e0 + chunk : count;
	double m = mean[c];
	double sdy = 0, dot = 0;
	for (int64_t e = e0 + threadIdx.x; e < e1; e += NORM_THREADS) {
		int64_t i = norm_index(e, c, channels, spatial);
		double g = dy[i];
		sdy += g;
		dot += g * ((double)x[i] - m);
	}
	block_sum2(sdy, dot);
	if (threadIdx.x == 0) {
		partial[((int64_t)c * gridDim.x + split) * 2] = sdy;
		partial[((int64_t)c * gridDim.x + split) * 2 + 1] = dot;
	}
}

/*
 * dbeta = Σdy, dgamma = Σdy·(x-μ)·invstd; coef = (mean of dy,
 * k = Σdy(x-μ)·invstd²/N, w = γ·invstd) for the dx pass, as cpu_norm_pool.c.
 */
static __global__ void bn_bwd_final_kernel(const double *partial, int channels, int splits, int64_t count,
					   const float *gamma, const float *invstd, float *dgamma, float *dbeta,
					   float *coef)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= channels)
		return;
	double sdy = 0, dot = 0;
	for (int j = 0; j < splits; j++) {
		sdy += partial[((int64_t)c * splits + j) * 2];
		dot += partial[((int64_t)c * splits + j) * 2 + 1];
	}
	double is = invstd[c];
	if (dbeta)
		dbeta[c] = (float)sdy;
	if (dgamma)
		dgamma[c] = (float)(dot * is);
	coef[3 * c] = (float)(sdy / (double)count);
	coef[3 * c + 1] = (float)(dot * is * is / (double)count);
	coef[3 * c + 2] = __fmul_rn(gamma ? gamma[c] : 1.0f, (float)is);
}

/* dx = (dy - mean(dy) - (x-μ)·k)·w (PyTorch's batch_norm_backward). */
static __global__ void bn_bwd_dx_kernel(const float *x, const float *dy, const float *mean, const float *coef,
					float *dx, int channels, int spatial, int64_t total)
{
	for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
	     i += (int64_t)gridDim.x * blockDim.x) {
		int c = cuda_channel_of(i, spatial, channels);
		float centred = __fmul_rn(__fsub_rn(x[i], mean[c]), coef[3 * c + 1]);
		dx[i] = __fmul_rn(__fsub_rn(__fsub_rn(dy[i], coef[3 * c]), centred), coef[3 * c + 2]);
	}
}

static void cuda_batchnorm_backward(struct backend *be, int n, int c, int spatial, const float *x, const float *dy,
				    const float *gamma, const float *save_mean, const float *save_invstd, float *dx,
				    float *dgamma, float *dbeta)
{
	struct cuda_backend *cb = cuda_enter(be);
	int64_t count = (int64_t)n * spatial, total = count * c;
	if (total <= 0)
		return;
	CUDA_ASSERT(c <= 65535); /* channels are grid.y */
	int64_t chunk = 0;
	int splits = norm_splits(cb, c, count, &chunk);
	size_t partial_bytes = cuda_align256((size_t)c * splits * 2 * sizeof(double));
	char *scratch = (char *)cuda_scratch(cb, CUDA_SCRATCH_REDUCE, partial_bytes + (size_t)c * 3 * sizeof(float));
	double *partial = (double *)scratch;
	float *coef = (float *)(scratch + partial_bytes);
	bn_bwd_partial_kernel<<<dim3(splits, c), NORM_THREADS, 0, cb->stream>>>(x, dy, save_mean, c, spatial, count,
										chunk, partial);
	CUDA_LAUNCHED();
	bn_bwd_final_kernel<<<(c + 127) / 128, 128, 0, cb->stream>>>(partial, c, splits, count, gamma, save_invstd,
								      dgamma, dbeta, coef);
	CUDA_LAUNCHED();
	if (dx) {
		bn_bwd_dx_kernel<<<cuda_grid(cb, total, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(
			x, dy, save_mean, coef, dx, c, spatial, total);
		CUDA_LAUNCHED();
	}
}

void cuda_norm_install(struct backend *be)
{
	be->batchnorm_forward = cuda_batchnorm_forward;
	be->batchnorm_relu_forward = cuda_batchnorm_relu_forward;
	be->batchnorm_backward = cuda_batchnorm_backward;
}
