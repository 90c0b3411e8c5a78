/*
 * cpu_backend.c — the CPU backend: memory, OpenBLAS matrix products,
 * element-wise operations and fused losses.
 *
 * What it is: the reference every other backend is checked against, so
 * each operation follows PyTorch's formula literally (same order of
 * operations where it matters for rounding). What it is not: convolution,
 * batch norm and pooling (cpu_conv.c) nor the optimizer kernels (cpu_optim.c).
 *
 * Threads: called from one training thread; OpenBLAS and OpenMP fan out
 * inside an operation and join before it returns.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>
#include <unistd.h>

#include "cpu_gemm.h"
#include "cpu_internal.h"
#include "precision.h"
#include "rng.h"
#include "tb.h"

static void *cpu_alloc(struct backend *be, size_t bytes)
{
	(void)be;
	/* 64-byte alignment keeps AVX loads on one cache line; zeroed as the contract says. */
	size_t rounded = (bytes + 63) & ~(size_t)63;
	void *p = tb_admit(rounded) ? aligned_alloc(64, rounded ? rounded : 64) : NULL;
	if (!p)
		tb_out_of_memory(rounded);
	memset(p, 0, rounded ? rounded : 64);
	return p;
}

static void cpu_free(struct backend *be, void *p)
{
	(void)be;
	free(p);
}

/* Not zeroed, unlike cpu_alloc: nothing reads scratch before writing it, and
 * zeroing each size it grows through (once per conv layer while a model
 * reserves) touched ~1 GB at start-up for ResNet-18. */
float *cpu_scratch(struct backend *be, size_t floats)
{
	struct cpu_backend *cpu = be->impl;
	if (floats > cpu->scratch_floats) {
		free(cpu->scratch);
		size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
		cpu->scratch = tb_admit(bytes) ? aligned_alloc(64, bytes) : NULL;
		if (!cpu->scratch)
			tb_out_of_memory(bytes);
		cpu->scratch_floats = floats;
	}
	return cpu->scratch;
}

static void cpu_memcpy(struct backend *be, void *dst, const void *src, size_t bytes)
{
	(void)be;
	if (bytes)
		memmove(dst, src, bytes);
}

static void cpu_fill(struct backend *be, float *x, float value, int64_t n)
{
	(void)be;
	for (int64_t i = 0; i < n; i++)
		x[i] = value;
}

static void cpu_sync(struct backend *be)
{
	(void)be;
}

/* Products this small stay one OpenBLAS call: packing and a parallel region would cost more. */
#define GEMM_KERNEL_MIN_MACS ((int64_t)1 << 20)
/* Columns of C per block of a linear layer's product (a multiple of the kernel's 32-column tile). */
#define GEMM_BLOCK_COLS 64

/*
 * The linear layers' products. Where the AVX-512 kernel runs (cpu_gemm.c):
 * A packed once, C cut into fixed blocks of columns shared out among the
 * threads, so the bits do not depend on the thread count and the kernel
 * runs at twice the width of OpenBLAS's AVX2 one. Otherwise, and for alpha
 * ≠ 1, other betas or small products: OpenBLAS, threaded its own way.
 */
static bool gemm_on_kernel(int m, int n, int k, float alpha, float beta)
{
	return alpha == 1.0f && (beta == 0.0f || beta == 1.0f) && cpu_gemm_kernel_fits(TB_MIN(n, GEMM_BLOCK_COLS)) &&
	       (int64_t)m * n * k >= GEMM_KERNEL_MIN_MACS;
}

/* The kernel path's scratch: A packed once, then one B panel per thread. */
static int64_t gemm_apack_floats(int m, int k)
{
	return (cpu_gemm_a_floats(m, k) + 15) / 16 * 16;
}

static int64_t gemm_bpack_floats(int k)
{
	return (cpu_gemm_b_floats(k, GEMM_BLOCK_COLS) + 15) / 16 * 16;
}

size_t backend_cpu_gemm_scratch(int m, int n, int k, int threads)
{
	if (!gemm_on_kernel(m, n, k, 1.0f, 0.0f))
		return 0;
	return (size_t)(gemm_apack_floats(m, k) + TB_MAX(threads, 1) * gemm_bpack_floats(k)) * sizeof(float);
}

static void cpu_backend_gemm(struct backend *be, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
			     const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
	const struct cpu_backend *cpu = be->impl;
	const int threads = cpu->threads > 0 ? cpu->threads : 1;
	if (!gemm_on_kernel(m, n, k, alpha, beta)) {
		cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n,
			    k, alpha, a, lda, b, ldb, beta, c, ldc);
		return;
	}
	const int64_t apack = gemm_apack_floats(m, k);
	const int64_t bpack = gemm_bpack_floats(k);
	float *scratch = cpu_scratch(be, (size_t)(apack + threads * bpack));
	struct cpu_gemm_a ga;
	cpu_gemm_a_init(&ga, trans_a, m, k, a, lda, scratch);
	const int nblocks = (n + GEMM_BLOCK_COLS - 1) / GEMM_BLOCK_COLS;
#pragma omp parallel num_threads(threads) if (threads > 1)
	{
		cpu_gemm_pack_a_team(&ga);
		float *mine = scratch + apack + omp_get_thread_num() * bpack;
#pragma omp for schedule(dynamic)
		for (int blk = 0; blk < nblocks; blk++) {
			const int lo = blk * GEMM_BLOCK_COLS, len = TB_MIN(GEMM_BLOCK_COLS, n - lo);
			cpu_gemm(&ga, trans_b, len, trans_b ? b + (int64_t)lo * ldb : b + lo, ldb, beta != 0.0f, c + lo, ldc,
				 mine);
		}
	}
}

static void cpu_bias_add(struct backend *be, float *y, const float *bias, int rows, int cols, int spatial)
{
	(void)be;
	int64_t total = (int64_t)rows * cols * spatial;
#pragma omp parallel for if (total > CPU_PARALLEL_MIN) schedule(static)
	for (int r = 0; r < rows; r++) {
		float *row = y + (int64_t)r * cols * spatial;
		for (int c = 0; c < cols; c++) {
			float bc = bias[c];
			float *p = row + (int64_t)c * spatial;
			for (int s = 0; s < spatial; s++)
				p[s] += bc;
		}
	}
}

static void cpu_bias_grad(struct backend *be, float *dbias, const float *dy, int rows, int cols, int spatial,
			  bool accumulate)
{
	(void)be;
	/* Sum rows in order so the result does not depend on the thread count. */
	for (int c = 0; c < cols; c++) {
		float acc = 0;
		for (int r = 0; r < rows; r++) {
			const float *p = dy + ((int64_t)r * cols + c) * spatial;
			for (int s = 0; s < spatial; s++)
				acc += p[s];
		}
		dbias[c] = accumulate ? dbias[c] + acc : acc;
	}
}

static inline float gelu(float x)
{
	return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
}

static inline float gelu_grad(float x)
{
	float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
	float pdf = expf(-0.5f * x * x) * 0.3989422804014327f;
	return cdf + x * pdf;
}

static void cpu_act_forward(struct backend *be, enum activation act, float param, float *y, const float *x,
			    int64_t n)
{
	(void)be;
	switch (act) {
	case ACT_IDENTITY:
		if (y != x)
			memmove(y, x, (size_t)n * sizeof(float));
		break;
	case ACT_RELU:
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] > 0 ? x[i] : 0;
		break;
	case ACT_GELU:
#pragma omp parallel for if (n > CPU_PARALLEL_MIN / 8) schedule(static)
		for (int64_t i = 0; i < n; i++)
			y[i] = gelu(x[i]);
		break;
	case ACT_TANH:
#pragma omp parallel for if (n > CPU_PARALLEL_MIN / 8) schedule(static)
		for (int64_t i = 0; i < n; i++)
			y[i] = tanhf(x[i]);
		break;
	case ACT_SIGMOID:
#pragma omp parallel for if (n > CPU_PARALLEL_MIN / 8) schedule(static)
		for (int64_t i = 0; i < n; i++)
			y[i] = 1.0f / (1.0f + expf(-x[i]));
		break;
	case ACT_LEAKY_RELU:
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] > 0 ? x[i] : x[i] * param;
		break;
	}
}

static void cpu_act_backward(struct backend *be, enum activation act, float param, float *dx, const float *dy,
			     const float *x, const float *y, int64_t n)
{
	(void)be;
	switch (act) {
	case ACT_IDENTITY:
		if (dx != dy)
			memmove(dx, dy, (size_t)n * sizeof(float));
		break;
	case ACT_RELU:
		/* Both operands loaded unconditionally so the select vectorises: a
		 * conditional load is a branch, mispredicted half the time on ReLU
		 * outputs (it cost 15x this loop's memory time). */
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
		for (int64_t i = 0; i < n; i++) {
			float g = dy[i];
			dx[i] = y[i] > 0 ? g : 0.0f;
		}
		break;
	case ACT_GELU:
#pragma omp parallel for if (n > CPU_PARALLEL_MIN / 8) schedule(static)
		for (int64_t i = 0; i < n; i++)
			dx[i] = dy[i] * gelu_grad(x[i]);
		break;
	case ACT_TANH:
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
		for (int64_t i = 0; i < n; i++)
			dx[i] = dy[i] * (1.0f - y[i] * y[i]);
		break;
	case ACT_SIGMOID:
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
		for (int64_t i = 0; i < n; i++)
			dx[i] = dy[i] * y[i] * (1.0f - y[i]);
		break;
	case ACT_LEAKY_RELU:
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
		for (int64_t i = 0; i < n; i++)
			dx[i] = (x[i] > 0 ? 1.0f : param) * dy[i]; /* ×1 is exact; selecting the factor vectorises */
		break;
	}
}

static void cpu_dropout_forward(struct backend *be, float p, uint64_t seed, uint64_t counter, float *y,
				uint8_t *mask, const float *x, int64_t n)
{
	(void)be;
	float keep_scale = 1.0f / (1.0f - p);
	/* Counter-based: element i's draw depends only on (seed, counter, i), so
	 * any backend and any thread split produce the same mask. */
	uint64_t threshold = (uint64_t)((double)p * 18446744073709551616.0);
	for (int64_t i = 0; i < n; i++) {
		mask[i] = rng_hash(seed, counter, (uint64_t)i) >= threshold;
		y[i] = mask[i] ? x[i] * keep_scale : 0.0f;
	}
}

static void cpu_dropout_backward(struct backend *be, float p, float *dx, const float *dy, const uint8_t *mask,
				 int64_t n)
{
	(void)be;
	float keep_scale = 1.0f / (1.0f - p);
	for (int64_t i = 0; i < n; i++)
		dx[i] = mask[i] ? dy[i] * keep_scale : 0.0f;
}

static void cpu_add(struct backend *be, float *y, const float *a, const float *b, int64_t n)
{
	(void)be;
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t i = 0; i < n; i++)
		y[i] = a[i] + b[i];
}

static void cpu_axpy(struct backend *be, float alpha, const float *x, float *y, int64_t n)
{
	(void)be;
	for (int64_t i = 0; i < n; i++)
		y[i] += alpha * x[i];
}

static void cpu_scale(struct backend *be, float *x, float alpha, int64_t n)
{
	(void)be;
	for (int64_t i = 0; i < n; i++)
		x[i] *= alpha;
}

/*
 * Softmax cross-entropy as torch.nn.CrossEntropyLoss(label_smoothing=e):
 * loss_i = (1-e) * -log p[y] + e * mean_j(-log p[j]); the gradient of the
 * batch mean is (p - ((1-e) * onehot + e/K)) / n.
 */
static void cpu_softmax_xent(struct backend *be, const float *logits, const int32_t *labels, int n,
			     int classes, float label_smoothing, float grad_scale, float *dlogits, float *stats,
			     int32_t *predictions)
{
	(void)be;
	double loss_sum = 0;
	int correct = 0;
	float inv_n = grad_scale / (float)n;
	float smooth_each = label_smoothing / (float)classes;
	for (int i = 0; i < n; i++) {
		const float *z = logits + (int64_t)i * classes;
		int y = labels[i];
		TB_ASSERT(y >= 0 && y < classes);
		float maxv = z[0];
		int argmax = 0;
		for (int j = 1; j < classes; j++) {
			if (z[j] > maxv) {
				maxv = z[j];
				argmax = j;
			}
		}
		float sum = 0;
		for (int j = 0; j < classes; j++)
			sum += expf(z[j] - maxv);
		float logsum = logf(sum);
		float nll = -(z[y] - maxv - logsum);
		float loss = nll;
		if (label_smoothing > 0) {
			float sum_neg_logp = 0;
			for (int j = 0; j < classes; j++)
				sum_neg_logp += -(z[j] - maxv - logsum);
			loss = (1.0f - label_smoothing) * nll + label_smoothing * sum_neg_logp / (float)classes;
		}
		loss_sum += loss;
		correct += argmax == y;
		if (predictions)
			predictions[i] = argmax;
		if (dlogits) {
			float *d = dlogits + (int64_t)i * classes;
			for (int j = 0; j < classes; j++) {
				float p = expf(z[j] - maxv - logsum);
				float target = (j == y ? 1.0f - label_smoothing : 0.0f) + smooth_each;
				d[j] = (p - target) * inv_n;
			}
		}
	}
	stats[0] += (float)loss_sum;
	stats[1] += (float)correct;
}

/* torch.nn.MSELoss() (mean over every element) against one-hot labels or a target. */
static void cpu_mse(struct backend *be, const float *pred, const int32_t *labels, const float *target, int n,
		    int classes, float grad_scale, float *dpred, float *stats)
{
	(void)be;
	double loss_sum = 0;
	int correct = 0;
	float g = 2.0f * grad_scale / ((float)n * (float)classes);
	for (int i = 0; i < n; i++) {
		const float *p = pred + (int64_t)i * classes;
		float sample = 0;
		int argmax = 0;
		for (int j = 0; j < classes; j++) {
			float t = target ? target[(int64_t)i * classes + j] : (j == labels[i] ? 1.0f : 0.0f);
			float diff = p[j] - t;
			sample += diff * diff;
			if (dpred)
				dpred[(int64_t)i * classes + j] = diff * g;
			if (p[j] > p[argmax])
				argmax = j;
		}
		loss_sum += sample / (float)classes;
		if (labels)
			correct += argmax == labels[i];
	}
	stats[0] += (float)loss_sum;
	stats[1] += (float)correct;
}

static void cpu_sum_squares(struct backend *be, const float *x, int64_t n, float *out)
{
	(void)be;
	double acc = 0;
	for (int64_t i = 0; i < n; i++)
		acc += (double)x[i] * x[i];
	out[0] = (float)acc;
}

static void cpu_destroy(struct backend *be)
{
	struct cpu_backend *cpu = be->impl;
	free(cpu->scratch);
	free(be->impl);
	free(be);
}

int backend_cpu_threads(const struct backend *be)
{
	return ((const struct cpu_backend *)be->impl)->threads;
}

/* The threads say what the run may use: a share of the cores when runs sit side by side. */
static void cpu_describe(struct backend *be, char *buf, size_t len)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = backend_cpu_threads(be);
	tb_fmt(buf, len, "cpu (%d thread%s, %ld core%s)", threads, threads == 1 ? "" : "s", cores,
	       cores == 1 ? "" : "s");
}

struct backend *backend_cpu_new(int threads)
{
	struct backend *be = tb_xcalloc(1, sizeof(*be));
	struct cpu_backend *cpu = tb_xcalloc(1, sizeof(*cpu));
	/* One thread budget for OpenBLAS and our own loops: both run on the same
	 * OpenMP pool (libopenblas0-openmp), so they never compete for cores. */
	if (threads > 0) {
		openblas_set_num_threads(threads);
		omp_set_num_threads(threads);
		cpu->threads = threads;
	} else {
		cpu->threads = openblas_get_num_threads();
	}
	be->name = "cpu";
	be->precision = PRECISION_FP32; /* whatever the run asked for (backend_open says so) */
	be->host_memory = true;
	be->describe = cpu_describe; /* no be->ext: the CPU has none of backend_ext.h's extras */
	be->impl = cpu;
	be->alloc = cpu_alloc;
	be->free = cpu_free;
	be->upload = cpu_memcpy;
	be->download = cpu_memcpy;
	be->copy = cpu_memcpy;
	be->fill = cpu_fill;
	be->sync = cpu_sync;
	be->gemm = cpu_backend_gemm;
	be->bias_add = cpu_bias_add;
	be->bias_grad = cpu_bias_grad;
	be->act_forward = cpu_act_forward;
	be->act_backward = cpu_act_backward;
	be->dropout_forward = cpu_dropout_forward;
	be->dropout_backward = cpu_dropout_backward;
	be->add = cpu_add;
	be->axpy = cpu_axpy;
	be->scale = cpu_scale;
	be->softmax_xent = cpu_softmax_xent;
	be->mse = cpu_mse;
	be->sum_squares = cpu_sum_squares;
	be->destroy = cpu_destroy;
	cpu_conv_install(be);
	cpu_optim_install(be);
	return be;
}
