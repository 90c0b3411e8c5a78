/*
 * cpu_norm_pool.c — batch normalisation and max/average pooling on the CPU.
 *
 * What it is: the batchnorm_* and *pool_* entries of the backend table,
 * following PyTorch's CPU formulas (batch statistics accumulated in double,
 * the normalisation applied as y = x*a + b per channel, unbiased variance for
 * the running estimate, max-pool's first maximum wins and NaN propagates,
 * average pooling's divisor per count_include_pad). What it is not:
 * convolution (cpu_conv.c).
 *
 * Determinism: work is split by channel (batch norm) or by plane (pooling);
 * every sum is taken by one thread in a fixed order, so results do not
 * depend on the thread count.
 *
 * Threads: called from the training thread; OpenMP fans out inside each
 * call and joins before it returns.
 */
#include <math.h>
#include <string.h>

#include "cpu_internal.h"
#include "tb.h"

static int norm_threads(struct backend *be)
{
	const struct cpu_backend *cpu = be->impl;
	return cpu->threads > 0 ? cpu->threads : 1;
}

/* ---- batch normalisation ---------------------------------------------------- */

/*
 * Channel sums accumulate in double (as PyTorch's CPU kernels do) over
 * BN_LANES interleaved partial sums combined pairwise in a fixed order:
 * independent chains let the compiler vectorise and pipeline the adds (one
 * chain runs at one add per latency; 32 lanes are four AVX-512 chains)
 * without reassociating anything, so the result is the same on every run
 * and thread count. A channel's values are n runs of `spatial` floats,
 * `stride` apart; element s of a run goes to lane s mod BN_LANES, so short
 * runs (4×4 images) still spread over lanes.
 */
#define BN_LANES 32

static double lanes_total(const double *lane)
{
	double v[BN_LANES];
	memcpy(v, lane, sizeof(v));
	for (int width = BN_LANES / 2; width > 0; width /= 2)
		for (int l = 0; l < width; l++)
			v[l] = v[l] + v[l + width];
	return v[0];
}

CPU_VECTOR_CLONES static double channel_sum(const float *x, int n, int64_t stride, int spatial)
{
	double lane[BN_LANES] = {0};
	const int whole = spatial - spatial % BN_LANES;
	for (int i = 0; i < n; i++) {
		const float *p = x + i * stride;
		for (int s = 0; s < whole; s += BN_LANES)
			for (int l = 0; l < BN_LANES; l++)
				lane[l] += p[s + l];
		for (int s = whole; s < spatial; s++)
			lane[s - whole] += p[s];
	}
	return lanes_total(lane);
}

CPU_VECTOR_CLONES static double channel_sq_dev(const float *x, int n, int64_t stride, int spatial, double mean)
{
	double lane[BN_LANES] = {0};
	const int whole = spatial - spatial % BN_LANES;
	for (int i = 0; i < n; i++) {
		const float *p = x + i * stride;
		for (int s = 0; s < whole; s += BN_LANES)
			for (int l = 0; l < BN_LANES; l++) {
				double d = (double)p[s + l] - mean;
				lane[l] += d * d;
			}
		for (int s = whole; s < spatial; s++) {
			double d = (double)p[s] - mean;
			lane[s - whole] += d * d;
		}
	}
	return lanes_total(lane);
}

/* Σ dy and Σ dy·(x - mean) over one channel, in one pass. */
CPU_VECTOR_CLONES static void channel_grad_sums(const float *x, const float *dy, int n, int64_t stride,
						int spatial, double mean, double *sum_dy, double *dot)
{
	double ls[BN_LANES] = {0}, ld[BN_LANES] = {0};
	const int whole = spatial - spatial % BN_LANES;
	for (int i = 0; i < n; i++) {
		const float *xp = x + i * stride, *gp = dy + i * stride;
		for (int s = 0; s < whole; s += BN_LANES)
			for (int l = 0; l < BN_LANES; l++) {
				ls[l] += gp[s + l];
				ld[l] += (double)gp[s + l] * ((double)xp[s + l] - mean);
			}
		for (int s = whole; s < spatial; s++) {
			ls[s - whole] += gp[s];
			ld[s - whole] += (double)gp[s] * ((double)xp[s] - mean);
		}
	}
	*sum_dy = lanes_total(ls);
	*dot = lanes_total(ld);
}

CPU_VECTOR_CLONES static void channel_affine(float *y, const float *x, int n, int64_t stride, int spatial, float a,
					     float b)
{
	for (int i = 0; i < n; i++) {
		const float *p = x + i * stride;
		float *q = y + i * stride;
		for (int s = 0; s < spatial; s++)
			q[s] = p[s] * a + b;
	}
}

/* dx = (dy - mean(dy) - (x - mean)·k) · w over one channel. */
CPU_VECTOR_CLONES static void channel_input_grad(float *dx, const float *x, const float *dy, int n, int64_t stride,
						 int spatial, float mean, float grad_mean, float k, float w)
{
	for (int i = 0; i < n; i++) {
		const float *xp = x + i * stride, *gp = dy + i * stride;
		float *dp = dx + i * stride;
		for (int s = 0; s < spatial; s++)
			dp[s] = (gp[s] - grad_mean - (xp[s] - mean) * k) * w;
	}
}

/*
 * Training: batch mean and biased variance normalise; the running estimate
 * takes the unbiased variance (PyTorch). A channel with a single value (batch
 * 1 in batchnorm1d) has no unbiased variance; PyTorch refuses it, here the
 * biased one (0) is used so a stray last batch cannot poison the estimate
 * with NaN.
 */
static void cpu_batchnorm_forward(struct backend *be, bool training, int n, int c, int spatial, float momentum,
				  float eps, const float *x, const float *gamma, const float *beta,
				  float *running_mean, float *running_var, float *save_mean, float *save_invstd,
				  float *y, float *batches)
{
	const int64_t stride = (int64_t)c * spatial;
	const int64_t count = (int64_t)n * spatial;
	const int threads = norm_threads(be);
#pragma omp parallel for num_threads(threads) if (count * c > CPU_PARALLEL_MIN) schedule(static)
	for (int ch = 0; ch < c; ch++) {
		const float *xc = x + (int64_t)ch * spatial;
		float g = gamma ? gamma[ch] : 1.0f, bt = beta ? beta[ch] : 0.0f;
		float mean, invstd;
		if (training) {
			double m = channel_sum(xc, n, stride, spatial) / (double)count;
			double var = channel_sq_dev(xc, n, stride, spatial, m) / (double)count;
			mean = (float)m;
			invstd = (float)(1.0 / sqrt(var + (double)eps));
			save_mean[ch] = mean;
			save_invstd[ch] = invstd;
			double unbiased = count > 1 ? var * (double)count / (double)(count - 1) : var;
			running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * (float)m;
			running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * (float)unbiased;
		} else {
			mean = running_mean[ch];
			invstd = 1.0f / sqrtf(running_var[ch] + eps);
		}
		float a = g * invstd;
		channel_affine(y + (int64_t)ch * spatial, xc, n, stride, spatial, a, bt - mean * a);
	}
	if (training && batches)
		*batches += 1.0f;
}

/*
 * Gradients of training-mode batch norm (PyTorch's batch_norm_backward):
 *   dbeta = Σ dy, dgamma = Σ dy·x̂,
 *   dx = (dy - Σdy/N - (x-μ)·invstd²·Σdy(x-μ)/N) · γ·invstd.
 */
static void cpu_batchnorm_backward(struct backend *be, int n, int c, int spatial, const float *x, const float *dy,
				   const float *gamma, const float *save_mean, const float *save_invstd,
				   float *dx, float *dgamma, float *dbeta)
{
	const int64_t stride = (int64_t)c * spatial;
	const int64_t count = (int64_t)n * spatial;
	const int threads = norm_threads(be);
#pragma omp parallel for num_threads(threads) if (count * c > CPU_PARALLEL_MIN) schedule(static)
	for (int ch = 0; ch < c; ch++) {
		const float *xc = x + (int64_t)ch * spatial;
		const float *gc = dy + (int64_t)ch * spatial;
		float mean = save_mean[ch], invstd = save_invstd[ch];
		double sum_dy, dot;
		channel_grad_sums(xc, gc, n, stride, spatial, mean, &sum_dy, &dot);
		if (dgamma)
			dgamma[ch] = (float)(dot * invstd);
		if (dbeta)
			dbeta[ch] = (float)sum_dy;
		if (!dx)
			continue;
		float k = (float)(dot * invstd * invstd / (double)count);
		float grad_mean = (float)(sum_dy / (double)count);
		float w = (gamma ? gamma[ch] : 1.0f) * invstd;
		channel_input_grad(dx + (int64_t)ch * spatial, xc, gc, n, stride, spatial, mean, grad_mean, k, w);
	}
}

/* ---- pooling ------------------------------------------------------------------ */

/* The input rows/columns of output (p, q)'s window, clipped to the image. */
struct pool_window {
	int h0, h1, w0, w1; /* clipped: [h0, h1) × [w0, w1) */
	int size;           /* divisor with padding counted (before clipping to the image) */
};

static struct pool_window pool_window_at(const struct pool_shape *ps, int p, int q)
{
	struct pool_window win;
	int hs = p * ps->stride_h - ps->pad_h, ws = q * ps->stride_w - ps->pad_w;
	int he = TB_MIN(hs + ps->kh, ps->h + ps->pad_h), we = TB_MIN(ws + ps->kw, ps->w + ps->pad_w);
	win.size = (he - hs) * (we - ws);
	win.h0 = TB_MAX(hs, 0);
	win.w0 = TB_MAX(ws, 0);
	win.h1 = TB_MIN(he, ps->h);
	win.w1 = TB_MIN(we, ps->w);
	return win;
}

/* PyTorch's rule: a later value wins when larger, and any NaN wins (so NaN
 * propagates). Selects, not a branch: which value wins is data, and a
 * mispredicted branch per window cost more than the memory traffic. */
static inline void max_take(float v, int32_t at, float *best, int32_t *best_at)
{
	bool take = v > *best || v != v;
	*best = take ? v : *best;
	*best_at = take ? at : *best_at;
}

/* The 2×2, stride 2, unpadded window of LeNet and most CNNs, without window arithmetic. */
static void maxpool_2x2(const struct pool_shape *ps, const float *xp, float *yp, int32_t *ap)
{
	const int W = ps->w, Q = ps->q;
	for (int p = 0; p < ps->p; p++) {
		const float *r0 = xp + (int64_t)2 * p * W, *r1 = r0 + W;
		float *y = yp + (int64_t)p * Q;
		int32_t *a = ap + (int64_t)p * Q;
		const int32_t row = 2 * p * W;
		for (int q = 0; q < Q; q++) {
			int32_t at = row + 2 * q;
			float best = r0[2 * q];
			int32_t best_at = at;
			max_take(r0[2 * q + 1], at + 1, &best, &best_at);
			max_take(r1[2 * q], at + W, &best, &best_at);
			max_take(r1[2 * q + 1], at + W + 1, &best, &best_at);
			y[q] = best;
			a[q] = best_at;
		}
	}
}

static void cpu_maxpool_forward(struct backend *be, const struct pool_shape *ps, const float *x, float *y,
				int32_t *argmax)
{
	const int64_t planes = (int64_t)ps->n * ps->c, hw = (int64_t)ps->h * ps->w, pq = (int64_t)ps->p * ps->q;
	const bool two_by_two = ps->kh == 2 && ps->kw == 2 && ps->stride_h == 2 && ps->stride_w == 2 &&
				ps->pad_h == 0 && ps->pad_w == 0;
#pragma omp parallel for num_threads(norm_threads(be)) if (planes * hw > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t pl = 0; pl < planes; pl++) {
		const float *xp = x + pl * hw;
		float *yp = y + pl * pq;
		int32_t *ap = argmax + pl * pq;
		if (two_by_two) {
			maxpool_2x2(ps, xp, yp, ap);
			continue;
		}
		for (int p = 0; p < ps->p; p++) {
			for (int q = 0; q < ps->q; q++) {
				struct pool_window win = pool_window_at(ps, p, q);
				float best = -INFINITY;
				int32_t at = win.h0 * ps->w + win.w0;
				for (int h = win.h0; h < win.h1; h++)
					for (int w = win.w0; w < win.w1; w++)
						max_take(xp[h * ps->w + w], h * ps->w + w, &best, &at);
				yp[p * ps->q + q] = best;
				ap[p * ps->q + q] = at;
			}
		}
	}
}

static void cpu_maxpool_backward(struct backend *be, const struct pool_shape *ps, const float *dy,
				 const int32_t *argmax, float *dx)
{
	const int64_t planes = (int64_t)ps->n * ps->c, hw = (int64_t)ps->h * ps->w, pq = (int64_t)ps->p * ps->q;
#pragma omp parallel for num_threads(norm_threads(be)) if (planes * hw > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t pl = 0; pl < planes; pl++) {
		float *dp = dx + pl * hw;
		const float *gp = dy + pl * pq;
		const int32_t *ap = argmax + pl * pq;
		memset(dp, 0, sizeof(float) * (size_t)hw);
		for (int64_t o = 0; o < pq; o++)
			dp[ap[o]] += gp[o];
	}
}

static void cpu_avgpool_forward(struct backend *be, const struct pool_shape *ps, const float *x, float *y)
{
	const int64_t planes = (int64_t)ps->n * ps->c, hw = (int64_t)ps->h * ps->w, pq = (int64_t)ps->p * ps->q;
#pragma omp parallel for num_threads(norm_threads(be)) if (planes * hw > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t pl = 0; pl < planes; pl++) {
		const float *xp = x + pl * hw;
		float *yp = y + pl * pq;
		for (int p = 0; p < ps->p; p++) {
			for (int q = 0; q < ps->q; q++) {
				struct pool_window win = pool_window_at(ps, p, q);
				int div = ps->count_include_pad ? win.size : (win.h1 - win.h0) * (win.w1 - win.w0);
				float acc = 0;
				for (int h = win.h0; h < win.h1; h++)
					for (int w = win.w0; w < win.w1; w++)
						acc += xp[h * ps->w + w];
				yp[p * ps->q + q] = div > 0 ? acc / (float)div : 0.0f;
			}
		}
	}
}

static void cpu_avgpool_backward(struct backend *be, const struct pool_shape *ps, const float *dy, float *dx)
{
	const int64_t planes = (int64_t)ps->n * ps->c, hw = (int64_t)ps->h * ps->w, pq = (int64_t)ps->p * ps->q;
#pragma omp parallel for num_threads(norm_threads(be)) if (planes * hw > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t pl = 0; pl < planes; pl++) {
		float *dp = dx + pl * hw;
		const float *gp = dy + pl * pq;
		memset(dp, 0, sizeof(float) * (size_t)hw);
		for (int p = 0; p < ps->p; p++) {
			for (int q = 0; q < ps->q; q++) {
				struct pool_window win = pool_window_at(ps, p, q);
				int div = ps->count_include_pad ? win.size : (win.h1 - win.h0) * (win.w1 - win.w0);
				if (div <= 0)
					continue;
				float g = gp[p * ps->q + q] / (float)div;
				for (int h = win.h0; h < win.h1; h++)
					for (int w = win.w0; w < win.w1; w++)
						dp[h * ps->w + w] += g;
			}
		}
	}
}

void cpu_norm_pool_install(struct backend *be)
{
	be->batchnorm_forward = cpu_batchnorm_forward;
	be->batchnorm_backward = cpu_batchnorm_backward;
	be->maxpool_forward = cpu_maxpool_forward;
	be->maxpool_backward = cpu_maxpool_backward;
	be->avgpool_forward = cpu_avgpool_forward;
	be->avgpool_backward = cpu_avgpool_backward;
}
