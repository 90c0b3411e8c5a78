/*
 * cuda_elementwise.cu — backend.h's element-wise operations on the GPU:
 * fill, bias add and bias gradient, activations forward and backward,
 * dropout (with rng.c's counter-based hash, so masks equal the CPU's),
 * add/axpy/scale, and the fp32 ↔ bf16/fp16 conversions other files use.
 *
 * What it is not: fused epilogues of gemm/conv (proposal in the report).
 * Every formula is the CPU backend's (cpu_backend.c), in the same order of
 * operations, so fp32 results agree to a few ulps.
 *
 * Threads: the backend's thread; kernels run on the backend's stream.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_internal.h"
#include "cuda_rng.cuh"

#define GRID_STRIDE(i, n) \
	for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* ---- fill and conversions ------------------------------------------------------ */

static __global__ void fill_kernel(float *x, float value, int64_t n)
{
	GRID_STRIDE(i, n)
	x[i] = value;
}

void cuda_fill_async(struct cuda_backend *cb, float *x, float value, int64_t n)
{
	if (n <= 0)
		return;
	fill_kernel<<<cuda_grid(cb, n, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(x, value, n);
	CUDA_LAUNCHED();
}

static __global__ void to_bf16_kernel(__nv_bfloat16 *dst, const float *src, int64_t n)
{
	GRID_STRIDE(i, n)
	dst[i] = __float2bfloat16_rn(src[i]);
}

static __global__ void to_fp16_kernel(__half *dst, const float *src, int64_t n)
{
	GRID_STRIDE(i, n)
	dst[i] = __float2half_rn(src[i]);
}

static __global__ void from_bf16_kernel(float *dst, const __nv_bfloat16 *src, int64_t n)
{
	GRID_STRIDE(i, n)
	dst[i] = __bfloat162float(src[i]);
}

static __global__ void from_fp16_kernel(float *dst, const __half *src, int64_t n)
{
	GRID_STRIDE(i, n)
	dst[i] = __half2float(src[i]);
}

void cuda_to_half(struct cuda_backend *cb, void *dst, const float *src, int64_t n)
{
	CUDA_ASSERT(cb->precision == PRECISION_BF16 || cb->precision == PRECISION_FP16);
	if (n <= 0)
		return;
	unsigned grid = cuda_grid(cb, n, CUDA_THREADS);
	if (cb->precision == PRECISION_BF16)
		to_bf16_kernel<<<grid, CUDA_THREADS, 0, cb->stream>>>((__nv_bfloat16 *)dst, src, n);
	else
		to_fp16_kernel<<<grid, CUDA_THREADS, 0, cb->stream>>>((__half *)dst, src, n);
	CUDA_LAUNCHED();
}

void cuda_from_half(struct cuda_backend *cb, float *dst, const void *src, int64_t n)
{
	CUDA_ASSERT(cb->precision == PRECISION_BF16 || cb->precision == PRECISION_FP16);
	if (n <= 0)
		return;
	unsigned grid = cuda_grid(cb, n, CUDA_THREADS);
	if (cb->precision == PRECISION_BF16)
		from_bf16_kernel<<<grid, CUDA_THREADS, 0, cb->stream>>>(dst, (const __nv_bfloat16 *)src, n);
	else
		from_fp16_kernel<<<grid, CUDA_THREADS, 0, cb->stream>>>(dst, (const __half *)src, n);
	CUDA_LAUNCHED();
}

/* ---- bias ------------------------------------------------------------------------- */

static __global__ void bias_add_kernel(float *y, const float *bias, int cols, int spatial, int64_t total)
{
	GRID_STRIDE(i, total)
	y[i] += bias[cuda_channel_of(i, spatial, cols)];
}

static void cuda_bias_add(struct backend *be, float *y, const float *bias, int rows, int cols, int spatial)
{
	struct cuda_backend *cb = cuda_enter(be);
	int64_t total = (int64_t)rows * cols * spatial;
	if (total <= 0)
		return;
	bias_add_kernel<<<cuda_grid(cb, total, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(y, bias, cols, spatial,
											      total);
	CUDA_LAUNCHED();
}

/* One block per column: a fixed tree order, so the sum is deterministic. */
static __global__ void bias_grad_kernel(float *dbias, const float *dy, int rows, int cols, int spatial, int accumulate)
{
	__shared__ float part[CUDA_THREADS];
	int c = blockIdx.x;
	int64_t count = (int64_t)rows * spatial;
	float acc = 0;
	for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
		int64_t r, s;
		cuda_row_of(e, spatial, &r, &s);
		acc += dy[(r * cols + c) * spatial + s];
	}
	part[threadIdx.x] = acc;
	__syncthreads();
	for (int half = blockDim.x / 2; half > 0; half >>= 1) {
		if ((int)threadIdx.x < half)
			part[threadIdx.x] += part[threadIdx.x + half];
		__syncthreads();
	}
	if (threadIdx.x == 0)
		dbias[c] = accumulate ? dbias[c] + part[0] : part[0];
}

static void cuda_bias_grad(struct backend *be, float *dbias, const float *dy, int rows, int cols, int spatial,
			   bool accumulate)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (cols <= 0)
		return;
	bias_grad_kernel<<<cols, CUDA_THREADS, 0, cb->stream>>>(dbias, dy, rows, cols, spatial, accumulate ? 1 : 0);
	CUDA_LAUNCHED();
}

/* ---- activations ------------------------------------------------------------------- */

__device__ __forceinline__ float act_apply(int act, float param, float x)
{
	switch (act) {
	case ACT_RELU:
		return x > 0 ? x : 0;
	case ACT_GELU:
		return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f));
	case ACT_TANH:
		return tanhf(x);
	case ACT_SIGMOID:
		return 1.0f / (1.0f + expf(-x));
	case ACT_LEAKY_RELU:
		return x > 0 ? x : x * param;
	default:
		return x;
	}
}

/* dy * act'(x); the CPU's choice of x or y per function, so rounding agrees. */
__device__ __forceinline__ float act_grad(int act, float param, float dy, float x, float y)
{
	switch (act) {
	case ACT_RELU:
		return y > 0 ? dy : 0;
	case ACT_GELU: {
		float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752440f));
		float pdf = expf(-0.5f * x * x) * 0.3989422804014327f;
		return dy * (cdf + x * pdf);
	}
	case ACT_TANH:
		return dy * (1.0f - y * y);
	case ACT_SIGMOID:
		return dy * y * (1.0f - y);
	case ACT_LEAKY_RELU:
		return x > 0 ? dy : dy * param;
	default:
		return dy;
	}
}

static __global__ void act_forward_kernel(int act, float param, float *y, const float *x, int64_t n)
{
	GRID_STRIDE(i, n)
	y[i] = act_apply(act, param, x[i]);
}

static __global__ void act_backward_kernel(int act, float param, float *dx, const float *dy, const float *x,
				    const float *y, int64_t n)
{
	GRID_STRIDE(i, n)
	dx[i] = act_grad(act, param, dy[i], x ? x[i] : 0.0f, y ? y[i] : 0.0f);
}

static void cuda_act_forward(struct backend *be, enum activation act, float param, float *y, const float *x,
			     int64_t n)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (n <= 0)
		return;
	if (act == ACT_IDENTITY) {
		if (y != x)
			be->copy(be, y, x, (size_t)n * sizeof(float));
		return;
	}
	act_forward_kernel<<<cuda_grid(cb, n, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>((int)act, param, y, x,
											 n);
	CUDA_LAUNCHED();
}

static void cuda_act_backward(struct backend *be, enum activation act, float param, float *dx, const float *dy,
			      const float *x, const float *y, int64_t n)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (n <= 0)
		return;
	if (act == ACT_IDENTITY) {
		if (dx != dy)
			be->copy(be, dx, dy, (size_t)n * sizeof(float));
		return;
	}
	act_backward_kernel<<<cuda_grid(cb, n, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>((int)act, param, dx,
											  dy, x, y, n);
	CUDA_LAUNCHED();
}

/* ---- dropout ------------------------------------------------------------------------- */

/* counter_dev, when set, replaces the host counter (graph replay, backend_ext.h). */
static __global__ void dropout_forward_kernel(uint64_t seed, uint64_t counter, const uint64_t *counter_dev,
					      uint64_t threshold, float keep_scale, float *y, uint8_t *mask,
					      const float *x, int64_t n)
{
	uint64_t prefix = cuda_rng_prefix(seed, counter_dev ? *counter_dev : counter);
	GRID_STRIDE(i, n)
	{
		uint8_t keep = cuda_rng_finish(prefix, (uint64_t)i) >= threshold;
		mask[i] = keep;
		y[i] = keep ? x[i] * keep_scale : 0.0f;
	}
}

static __global__ void dropout_backward_kernel(float keep_scale, float *dx, const float *dy, const uint8_t *mask,
					int64_t n)
{
	GRID_STRIDE(i, n)
	dx[i] = mask[i] ? dy[i] * keep_scale : 0.0f;
}

static void cuda_dropout_forward(struct backend *be, float p, uint64_t seed, uint64_t counter, float *y,
				 uint8_t *mask, const float *x, int64_t n)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (n <= 0)
		return;
	/* The CPU's threshold and scale, computed by the same host expressions. */
	float keep_scale = 1.0f / (1.0f - p);
	uint64_t threshold = (uint64_t)((double)p * 18446744073709551616.0);
	dropout_forward_kernel<<<cuda_grid(cb, n, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(
		seed, counter, cb->dropout_counter, threshold, keep_scale, y, mask, x, n);
	CUDA_LAUNCHED();
}

static void cuda_dropout_backward(struct backend *be, float p, float *dx, const float *dy, const uint8_t *mask,
				  int64_t n)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (n <= 0)
		return;
	float keep_scale = 1.0f / (1.0f - p);
	dropout_backward_kernel<<<cuda_grid(cb, n, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(keep_scale, dx, dy,
												 mask, n);
	CUDA_LAUNCHED();
}

/* ---- add / axpy / scale ---------------------------------------------------------------- */

static __global__ void add_kernel(float *y, const float *a, const float *b, int64_t n)
{
	GRID_STRIDE(i, n)
	y[i] = a[i] + b[i];
}

static __global__ void add_relu_kernel(float *y, const float *a, const float *b, int64_t n)
{
	GRID_STRIDE(i, n)
	{
		float v = a[i] + b[i];
		y[i] = v > 0 ? v : 0;
	}
}

static __global__ void axpy_kernel(float alpha, const float *x, float *y, int64_t n)
{
	/* Explicit roundings: no fused multiply-add, so the result is the CPU's bit for bit. */
	GRID_STRIDE(i, n)
	y[i] = __fadd_rn(y[i], __fmul_rn(alpha, x[i]));
}

static __global__ void scale_kernel(float *x, float alpha, int64_t n)
{
	GRID_STRIDE(i, n)
	x[i] *= alpha;
}

static void cuda_add(struct backend *be, float *y, const float *a, const float *b, int64_t n)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (n <= 0)
		return;
	add_kernel<<<cuda_grid(cb, n, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(y, a, b, n);
	CUDA_LAUNCHED();
}

static void cuda_add_relu(struct backend *be, float *y, const float *a, const float *b, int64_t n)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (n <= 0)
		return;
	add_relu_kernel<<<cuda_grid(cb, n, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(y, a, b, n);
	CUDA_LAUNCHED();
}

static void cuda_axpy(struct backend *be, float alpha, const float *x, float *y, int64_t n)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (n <= 0)
		return;
	axpy_kernel<<<cuda_grid(cb, n, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(alpha, x, y, n);
	CUDA_LAUNCHED();
}

static void cuda_scale(struct backend *be, float *x, float alpha, int64_t n)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (n <= 0)
		return;
	scale_kernel<<<cuda_grid(cb, n, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(x, alpha, n);
	CUDA_LAUNCHED();
}

void cuda_elementwise_install(struct backend *be)
{
	be->bias_add = cuda_bias_add;
	be->bias_grad = cuda_bias_grad;
	be->act_forward = cuda_act_forward;
	be->act_backward = cuda_act_backward;
	be->dropout_forward = cuda_dropout_forward;
	be->dropout_backward = cuda_dropout_backward;
	be->add = cuda_add;
	be->add_relu = cuda_add_relu;
	be->axpy = cuda_axpy;
	be->scale = cuda_scale;
}
