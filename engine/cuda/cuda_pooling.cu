/*
 * cuda_pooling.cu — max and average pooling, forward and backward, NCHW.
 *
 * What it is: PyTorch's window arithmetic (max_pool2d / avg_pool2d without
 * ceil_mode or dilation, as struct pool_shape describes), written so that
 * backward *gathers*: each input element sums, in window order, the
 * gradients of the windows that chose it. No atomics, so results are
 * deterministic and dx is written, not accumulated (backend.h).
 *
 * argmax layout (this backend's own, consistent between forward and
 * backward): for output (n, c, ph, pw), the position h*W + w of the chosen
 * input inside its (n, c) plane.
 *
 * Threads: the backend's thread; kernels on the backend's stream.
 */
#include <math.h>

#include "cuda_internal.h"

#define GRID_STRIDE(i, n) \
	for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* Pool geometry by value, so kernels need nothing in device memory. */
struct pool_geom {
	int h, w, kh, kw, sh, sw, ph, pw, p, q;
	int count_include_pad;
};

static struct pool_geom pool_geom_of(const struct pool_shape *ps)
{
	struct pool_geom g;
	g.h = ps->h;
	g.w = ps->w;
	g.kh = ps->kh;
	g.kw = ps->kw;
	g.sh = ps->stride_h;
	g.sw = ps->stride_w;
	g.ph = ps->pad_h;
	g.pw = ps->pad_w;
	g.p = ps->p;
	g.q = ps->q;
	g.count_include_pad = ps->count_include_pad ? 1 : 0;
	return g;
}

/* NaN wins, as in PyTorch's max_pool2d, so a NaN is never hidden. */
static __global__ void maxpool_forward_kernel(struct pool_geom g, const float *x, float *y, int32_t *argmax,
					      int64_t total)
{
	GRID_STRIDE(o, total)
	{
		int64_t nc = o / ((int64_t)g.p * g.q);
		int oh = (int)(o / g.q % g.p), ow = (int)(o % g.q);
		int h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
		int h1 = min(h0 + g.kh, g.h), w1 = min(w0 + g.kw, g.w);
		h0 = max(h0, 0);
		w0 = max(w0, 0);
		const float *plane = x + nc * g.h * g.w;
		float best = -INFINITY;
		int idx = h0 * g.w + w0;
		for (int hh = h0; hh < h1; hh++) {
			for (int ww = w0; ww < w1; ww++) {
				float v = plane[hh * g.w + ww];
				if (v > best || isnan(v)) {
					best = v;
					idx = hh * g.w + ww;
				}
			}
		}
		y[o] = best;
		argmax[o] = idx;
	}
}

/* The output windows [first, end) along one axis that contain input position i. */
static __device__ __forceinline__ void pool_windows(int i, int k, int stride, int pad, int out, int *first,
						    int *end)
{
	*first = i + pad < k ? 0 : (i + pad - k) / stride + 1;
	*end = min((i + pad) / stride + 1, out);
}

static __global__ void maxpool_backward_kernel(struct pool_geom g, const float *dy, const int32_t *argmax,
					       float *dx, int64_t total)
{
	GRID_STRIDE(i, total)
	{
		int64_t nc = i / ((int64_t)g.h * g.w);
		int hh = (int)(i / g.w % g.h), ww = (int)(i % g.w);
		int here = hh * g.w + ww;
		int p0, p1, q0, q1;
		pool_windows(hh, g.kh, g.sh, g.ph, g.p, &p0, &p1);
		pool_windows(ww, g.kw, g.sw, g.pw, g.q, &q0, &q1);
		const float *dplane = dy + nc * g.p * g.q;
		const int32_t *aplane = argmax + nc * g.p * g.q;
		float grad = 0;
		for (int oh = p0; oh < p1; oh++)
			for (int ow = q0; ow < q1; ow++)
				if (aplane[oh * g.q + ow] == here)
					grad += dplane[oh * g.q + ow];
		dx[i] = grad;
	}
}

/* avg_pool2d's divisor for output window (oh, ow). */
static __device__ __forceinline__ int avg_divisor(const struct pool_geom &g, int oh, int ow, int *h0, int *h1,
						  int *w0, int *w1)
{
	int hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
	int he = min(hs + g.kh, g.h + g.ph), we = min(ws + g.kw, g.w + g.pw);
	int pool_size = (he - hs) * (we - ws);
	hs = max(hs, 0);
	ws = max(ws, 0);
	he = min(he, g.h);
	we = min(we, g.w);
	*h0 = hs;
	*h1 = he;
	*w0 = ws;
	*w1 = we;
	return g.count_include_pad ? pool_size : (he - hs) * (we - ws);
}

static __global__ void avgpool_forward_kernel(struct pool_geom g, const float *x, float *y, int64_t total)
{
	GRID_STRIDE(o, total)
	{
		int64_t nc = o / ((int64_t)g.p * g.q);
		int oh = (int)(o / g.q % g.p), ow = (int)(o % g.q);
		int h0, h1, w0, w1;
		int div = avg_divisor(g, oh, ow, &h0, &h1, &w0, &w1);
		const float *plane = x + nc * g.h * g.w;
		float sum = 0;
		for (int hh = h0; hh < h1; hh++)
			for (int ww = w0; ww < w1; ww++)
				sum += plane[hh * g.w + ww];
		y[o] = div > 0 ? sum / (float)div : 0.0f;
	}
}

static __global__ void avgpool_backward_kernel(struct pool_geom g, const float *dy, float *dx, int64_t total)
{
	GRID_STRIDE(i, total)
	{
		int64_t nc = i / ((int64_t)g.h * g.w);
		int hh = (int)(i / g.w % g.h), ww = (int)(i % g.w);
		int p0, p1, q0, q1;
		pool_windows(hh, g.kh, g.sh, g.ph, g.p, &p0, &p1);
		pool_windows(ww, g.kw, g.sw, g.pw, g.q, &q0, &q1);
		const float *dplane = dy + nc * g.p * g.q;
		float grad = 0;
		for (int oh = p0; oh < p1; oh++) {
			for (int ow = q0; ow < q1; ow++) {
				int h0, h1, w0, w1;
				int div = avg_divisor(g, oh, ow, &h0, &h1, &w0, &w1);
				grad += dplane[oh * g.q + ow] / (float)div;
			}
		}
		dx[i] = grad;
	}
}

static int64_t pool_out_count(const struct pool_shape *ps)
{
	return (int64_t)ps->n * ps->c * ps->p * ps->q;
}

static int64_t pool_in_count(const struct pool_shape *ps)
{
	return (int64_t)ps->n * ps->c * ps->h * ps->w;
}

static void cuda_maxpool_forward(struct backend *be, const struct pool_shape *ps, const float *x, float *y,
				 int32_t *argmax)
{
	struct cuda_backend *cb = cuda_enter(be);
	int64_t total = pool_out_count(ps);
	if (total <= 0)
		return;
	maxpool_forward_kernel<<<cuda_grid(cb, total, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(
		pool_geom_of(ps), x, y, argmax, total);
	CUDA_LAUNCHED();
}

static void cuda_maxpool_backward(struct backend *be, const struct pool_shape *ps, const float *dy,
				  const int32_t *argmax, float *dx)
{
	struct cuda_backend *cb = cuda_enter(be);
	int64_t total = pool_in_count(ps);
	if (total <= 0)
		return;
	maxpool_backward_kernel<<<cuda_grid(cb, total, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(
		pool_geom_of(ps), dy, argmax, dx, total);
	CUDA_LAUNCHED();
}

static void cuda_avgpool_forward(struct backend *be, const struct pool_shape *ps, const float *x, float *y)
{
	struct cuda_backend *cb = cuda_enter(be);
	int64_t total = pool_out_count(ps);
	if (total <= 0)
		return;
	avgpool_forward_kernel<<<cuda_grid(cb, total, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(
		pool_geom_of(ps), x, y, total);
	CUDA_LAUNCHED();
}

static void cuda_avgpool_backward(struct backend *be, const struct pool_shape *ps, const float *dy, float *dx)
{
	struct cuda_backend *cb = cuda_enter(be);
	int64_t total = pool_in_count(ps);
	if (total <= 0)
		return;
	avgpool_backward_kernel<<<cuda_grid(cb, total, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(
		pool_geom_of(ps), dy, dx, total);
	CUDA_LAUNCHED();
}

void cuda_pool_install(struct backend *be)
{
	be->maxpool_forward = cuda_maxpool_forward;
	be->maxpool_backward = cuda_maxpool_backward;
	be->avgpool_forward = cuda_avgpool_forward;
	be->avgpool_backward = cuda_avgpool_backward;
}
