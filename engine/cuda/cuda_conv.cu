/*
 * cuda_conv.cu — convolution forward, backward-data and backward-filter on
 * cuDNN (legacy v7-style API, still shipped by cuDNN 9), NCHW/OIHW.
 *
 * What it is: one plan per distinct conv_shape holding the descriptors and,
 * for each of the three directions, the algorithm cuDNN's Find timed
 * fastest (chosen once, then cached), its math type and workspace. The
 * precision policy: fp32 accepts only FMA-math algorithms (no TF32, so the
 * CPU parity holds to ~1e-5); tf32 allows tensor-op math on fp32 data;
 * bf16/fp16 convert the operands into the workspace, run cuDNN's
 * "pseudo-half" configuration (16-bit data, fp32 accumulation) and convert
 * the result back, keeping backend.h's fp32 interface. What it is not: a
 * fused conv+bias+activation (bias_add and act_forward stay separate).
 *
 * Workspace: every call uses the backend's one scratch buffer (cuDNN's
 * scratch, then the 16-bit copies), never the caller's. Operations are
 * serial on the backend's stream, so one buffer sized for the largest
 * layer serves them all, where per-layer buffers (what backend.h lets a
 * caller allocate) would hold ~20 copies for a ResNet-18. So
 * conv2d_workspace() tunes the shape, grows the scratch to fit it (no
 * growth later, e.g. inside graph capture) and asks the caller for 0
 * bytes; a workspace passed in anyway is ignored.
 *
 * Threads: the backend's thread. Tuning synchronises the stream (cuDNN's
 * Find does), so it must not happen during graph capture.
 */
#include <string.h>

#include "cuda_internal.h"

/* The most scratch Find may try per algorithm: beyond this the gain is small
 * and the memory is better left to activations. */
#define CONV_TUNE_WORKSPACE_MAX ((size_t)1 << 30)

struct conv_dir {
	int algo;                /* cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t */
	cudnnMathType_t math;
	size_t workspace;
};

struct conv_plan {
	struct conv_shape cs;
	bool lowp;               /* operands in bf16/fp16 (false: fp32 data) */
	cudnnTensorDescriptor_t x, y;
	cudnnFilterDescriptor_t w;
	cudnnConvolutionDescriptor_t conv;
	struct conv_dir fwd, bwd_data, bwd_filter;
	size_t cudnn_bytes;      /* max of the three directions, 256-aligned */
	size_t x_bytes, w_bytes, y_bytes; /* 16-bit copies, 256-aligned (0 when !lowp) */
	size_t workspace;        /* total scratch bytes a call needs */
};

struct cuda_conv_cache {
	int count, cap, last;
	struct conv_plan **plans;
};

static int64_t conv_x_count(const struct conv_shape *cs)
{
	return (int64_t)cs->n * cs->c * cs->h * cs->w;
}

static int64_t conv_w_count(const struct conv_shape *cs)
{
	return (int64_t)cs->k * cs->c * cs->r * cs->s;
}

static int64_t conv_y_count(const struct conv_shape *cs)
{
	return (int64_t)cs->n * cs->k * cs->p * cs->q;
}

static void conv_plan_free(struct conv_plan *p)
{
	if (!p)
		return;
	if (p->x)
		cudnnDestroyTensorDescriptor(p->x);
	if (p->y)
		cudnnDestroyTensorDescriptor(p->y);
	if (p->w)
		cudnnDestroyFilterDescriptor(p->w);
	if (p->conv)
		cudnnDestroyConvolutionDescriptor(p->conv);
	free(p);
}

void cuda_conv_cache_free(struct cuda_conv_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->count; i++)
		conv_plan_free(c->plans[i]);
	free(c->plans);
	free(c);
}

/* Which Find results the precision allows: fp32 must never see TF32. */
static bool conv_math_ok(const struct cuda_backend *cb, const struct conv_plan *p, cudnnMathType_t m)
{
	if (cb->precision == PRECISION_FP32 && !p->lowp)
		return m == CUDNN_FMA_MATH;
	return true;
}

static void conv_describe(struct cuda_backend *cb, struct conv_plan *p)
{
	const struct conv_shape *cs = &p->cs;
	cudnnDataType_t dt = !p->lowp ? CUDNN_DATA_FLOAT : cb->precision == PRECISION_BF16 ? CUDNN_DATA_BFLOAT16
										       : CUDNN_DATA_HALF;
	CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, dt, cs->n, cs->c, cs->h, cs->w));
	CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, dt, cs->n, cs->k, cs->p, cs->q));
	CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, dt, CUDNN_TENSOR_NCHW, cs->k, cs->c, cs->r, cs->s));
	CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv, cs->pad_h, cs->pad_w, cs->stride_h, cs->stride_w,
						    cs->dil_h, cs->dil_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
	/* What Find may consider; each result then carries its own math type. */
	CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, cb->precision == PRECISION_FP32 && !p->lowp ? CUDNN_FMA_MATH
											       : CUDNN_TENSOR_OP_MATH));
}

/*
 * Time every algorithm of the three directions on scratch tensors (zeros:
 * the values do not change the timing) and keep the fastest that the
 * precision allows. Returns false when some direction has no usable
 * algorithm, or cuDNN refuses the configuration outright (then the caller
 * retries with fp32 data or falls back to the classic algorithms).
 */
static bool conv_tune(struct cuda_backend *cb, struct conv_plan *p)
{
	const struct conv_shape *cs = &p->cs;
	size_t elem = p->lowp ? 2 : 4;
	size_t xb = (size_t)conv_x_count(cs) * elem, wb = (size_t)conv_w_count(cs) * elem;
	size_t yb = (size_t)conv_y_count(cs) * elem;
	size_t free_b = 0, total_b = 0;
	CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
	size_t ws_max = free_b / 4 < CONV_TUNE_WORKSPACE_MAX ? free_b / 4 : CONV_TUNE_WORKSPACE_MAX;

	/* Plain cudaMalloc, not the pool: tuning scratch must not count as the run's peak memory. */
	void *x = NULL, *w = NULL, *y = NULL, *ws = NULL;
	CUDA_CHECK(cudaMalloc(&x, xb));
	CUDA_CHECK(cudaMalloc(&w, wb));
	CUDA_CHECK(cudaMalloc(&y, yb));
	while (ws_max >= ((size_t)1 << 20) && cudaMalloc(&ws, ws_max) != cudaSuccess) {
		cudaGetLastError();
		ws_max /= 2;
	}
	if (!ws)
		ws_max = 0;
	CUDA_CHECK(cudaMemsetAsync(x, 0, xb, cb->stream));
	CUDA_CHECK(cudaMemsetAsync(w, 0, wb, cb->stream));
	CUDA_CHECK(cudaMemsetAsync(y, 0, yb, cb->stream));

	bool ok_f = false, ok_d = false, ok_w = false;
	int got = 0;
	{
		cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
		if (cudnnFindConvolutionForwardAlgorithmEx(cb->dnn, p->x, x, p->w, w, p->conv, p->y, y,
							   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf, ws,
							   ws_max) != CUDNN_STATUS_SUCCESS)
			got = 0;
		for (int i = 0; i < got && !ok_f; i++) {
			if (perf[i].status == CUDNN_STATUS_SUCCESS && conv_math_ok(cb, p, perf[i].mathType)) {
				p->fwd = {(int)perf[i].algo, perf[i].mathType, perf[i].memory};
				ok_f = true;
			}
		}
	}
	{
		cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
		if (cudnnFindConvolutionBackwardDataAlgorithmEx(cb->dnn, p->w, w, p->y, y, p->conv, p->x, x,
								CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf, ws,
								ws_max) != CUDNN_STATUS_SUCCESS)
			got = 0;
		for (int i = 0; i < got && !ok_d; i++) {
			if (perf[i].status == CUDNN_STATUS_SUCCESS && conv_math_ok(cb, p, perf[i].mathType)) {
				p->bwd_data = {(int)perf[i].algo, perf[i].mathType, perf[i].memory};
				ok_d = true;
			}
		}
	}
	{
		cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
		if (cudnnFindConvolutionBackwardFilterAlgorithmEx(cb->dnn, p->x, x, p->y, y, p->conv, p->w, w,
								  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, perf,
								  ws, ws_max) != CUDNN_STATUS_SUCCESS)
			got = 0;
		for (int i = 0; i < got && !ok_w; i++) {
			if (perf[i].status == CUDNN_STATUS_SUCCESS && conv_math_ok(cb, p, perf[i].mathType)) {
				p->bwd_filter = {(int)perf[i].algo, perf[i].mathType, perf[i].memory};
				ok_w = true;
			}
		}
	}
	/* cudaFree waits for the device, so Find's work on these buffers is over. */
	if (ws)
		CUDA_CHECK(cudaFree(ws));
	CUDA_CHECK(cudaFree(x));
	CUDA_CHECK(cudaFree(w));
	CUDA_CHECK(cudaFree(y));
	return ok_f && ok_d && ok_w;
}

/*
 * fp32 with no FMA-only result from Find (rare): the classic algorithms
 * (implicit GEMM, ALGO_0) work for every shape with plain FMA math.
 */
static void conv_fallback(struct cuda_backend *cb, struct conv_plan *p)
{
	p->fwd = {(int)CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_FMA_MATH, 0};
	p->bwd_data = {(int)CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, CUDNN_FMA_MATH, 0};
	p->bwd_filter = {(int)CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, CUDNN_FMA_MATH, 0};
	CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, CUDNN_FMA_MATH));
	CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(cb->dnn, p->x, p->w, p->conv, p->y,
							    (cudnnConvolutionFwdAlgo_t)p->fwd.algo, &p->fwd.workspace));
	CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(cb->dnn, p->w, p->y, p->conv, p->x,
								 (cudnnConvolutionBwdDataAlgo_t)p->bwd_data.algo,
								 &p->bwd_data.workspace));
	CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(cb->dnn, p->x, p->y, p->conv, p->w,
								   (cudnnConvolutionBwdFilterAlgo_t)p->bwd_filter.algo,
								   &p->bwd_filter.workspace));
}

static struct conv_plan *conv_plan_new(struct cuda_backend *cb, const struct conv_shape *cs)
{
	if (cb->capturing)
		cuda_fatal("conv2d", "a new convolution shape inside CUDA-graph capture (run one eager step first)",
			   __FILE__, __LINE__);
	struct conv_plan *p = (struct conv_plan *)calloc(1, sizeof(*p));
	CUDA_ASSERT(p);
	p->cs = *cs;
	CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x));
	CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y));
	CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w));
	CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv));
	p->lowp = cb->precision == PRECISION_BF16 || cb->precision == PRECISION_FP16;
	conv_describe(cb, p);
	if (!conv_tune(cb, p)) {
		if (p->lowp) {
			/* No 16-bit kernel for this shape: keep it in fp32 data (TF32 allowed). */
			p->lowp = false;
			conv_describe(cb, p);
			CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, CUDNN_TENSOR_OP_MATH));
			if (!conv_tune(cb, p))
				conv_fallback(cb, p);
		} else {
			conv_fallback(cb, p);
		}
	}
	size_t most = p->fwd.workspace;
	if (p->bwd_data.workspace > most)
		most = p->bwd_data.workspace;
	if (p->bwd_filter.workspace > most)
		most = p->bwd_filter.workspace;
	p->cudnn_bytes = cuda_align256(most);
	if (p->lowp) {
		p->x_bytes = cuda_align256((size_t)conv_x_count(cs) * 2);
		p->w_bytes = cuda_align256((size_t)conv_w_count(cs) * 2);
		p->y_bytes = cuda_align256((size_t)conv_y_count(cs) * 2);
	}
	p->workspace = p->cudnn_bytes + p->x_bytes + p->w_bytes + p->y_bytes;
	return p;
}

static struct conv_plan *conv_plan_get(struct cuda_backend *cb, const struct conv_shape *cs)
{
	struct cuda_conv_cache *c = cb->conv;
	if (!c) {
		c = (struct cuda_conv_cache *)calloc(1, sizeof(*c));
		CUDA_ASSERT(c);
		cb->conv = c;
	}
	if (c->count && memcmp(&c->plans[c->last]->cs, cs, sizeof(*cs)) == 0)
		return c->plans[c->last];
	for (int i = 0; i < c->count; i++) {
		if (memcmp(&c->plans[i]->cs, cs, sizeof(*cs)) == 0) {
			c->last = i;
			return c->plans[i];
		}
	}
	if (c->count == c->cap) {
		int cap = c->cap ? c->cap * 2 : 32;
		struct conv_plan **np = (struct conv_plan **)realloc(c->plans, (size_t)cap * sizeof(*np));
		CUDA_ASSERT(np);
		c->plans = np;
		c->cap = cap;
	}
	c->plans[c->count] = conv_plan_new(cb, cs);
	c->last = c->count++;
	return c->plans[c->last];
}

/* The pieces of the workspace: cuDNN scratch, then the 16-bit X, W and Y. */
struct conv_buffers {
	void *cudnn, *x, *w, *y;
};

static struct conv_buffers conv_buffers(struct cuda_backend *cb, const struct conv_plan *p)
{
	char *base = (char *)cuda_scratch(cb, CUDA_SCRATCH_WORK, p->workspace);
	struct conv_buffers b;
	b.cudnn = base;
	b.x = base + p->cudnn_bytes;
	b.w = base + p->cudnn_bytes + p->x_bytes;
	b.y = base + p->cudnn_bytes + p->x_bytes + p->w_bytes;
	return b;
}

static size_t cuda_conv2d_workspace(struct backend *be, const struct conv_shape *cs)
{
	struct cuda_backend *cb = cuda_enter(be);
	struct conv_plan *p = conv_plan_get(cb, cs);
	cuda_scratch(cb, CUDA_SCRATCH_WORK, p->workspace);
	return 0;
}

static void cuda_conv2d_forward(struct backend *be, const struct conv_shape *cs, const float *x, const float *w,
				float *y, void *workspace)
{
	struct cuda_backend *cb = cuda_enter(be);
	struct conv_plan *p = conv_plan_get(cb, cs);
	struct conv_buffers b = conv_buffers(cb, p);
	(void)workspace; /* see the file header */
	const float one = 1.0f, zero = 0.0f;
	CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, p->fwd.math));
	if (p->lowp) {
		cuda_to_half(cb, b.x, x, conv_x_count(cs));
		cuda_to_half(cb, b.w, w, conv_w_count(cs));
		CUDNN_CHECK(cudnnConvolutionForward(cb->dnn, &one, p->x, b.x, p->w, b.w, p->conv,
						    (cudnnConvolutionFwdAlgo_t)p->fwd.algo, b.cudnn, p->fwd.workspace,
						    &zero, p->y, b.y));
		cuda_from_half(cb, y, b.y, conv_y_count(cs));
	} else {
		CUDNN_CHECK(cudnnConvolutionForward(cb->dnn, &one, p->x, x, p->w, w, p->conv,
						    (cudnnConvolutionFwdAlgo_t)p->fwd.algo, b.cudnn, p->fwd.workspace,
						    &zero, p->y, y));
	}
}

static void cuda_conv2d_backward_data(struct backend *be, const struct conv_shape *cs, const float *dy,
				      const float *w, float *dx, void *workspace)
{
	struct cuda_backend *cb = cuda_enter(be);
	struct conv_plan *p = conv_plan_get(cb, cs);
	struct conv_buffers b = conv_buffers(cb, p);
	(void)workspace; /* see the file header */
	const float one = 1.0f, zero = 0.0f;
	CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, p->bwd_data.math));
	cudnnConvolutionBwdDataAlgo_t algo = (cudnnConvolutionBwdDataAlgo_t)p->bwd_data.algo;
	if (p->lowp) {
		/* A layer's backward-filter, the call just before, left dy's 16-bit copy in b.y. */
		bool have_dy = cb->conv_dy_half.dy == dy && cb->conv_dy_half.plan == p &&
			       cb->conv_dy_half.call + 1 == cb->calls;
		cb->conv_dy_half.dy = NULL;
		if (!have_dy)
			cuda_to_half(cb, b.y, dy, conv_y_count(cs));
		cuda_to_half(cb, b.w, w, conv_w_count(cs));
		CUDNN_CHECK(cudnnConvolutionBackwardData(cb->dnn, &one, p->w, b.w, p->y, b.y, p->conv, algo, b.cudnn,
							 p->bwd_data.workspace, &zero, p->x, b.x));
		cuda_from_half(cb, dx, b.x, conv_x_count(cs));
	} else {
		CUDNN_CHECK(cudnnConvolutionBackwardData(cb->dnn, &one, p->w, w, p->y, dy, p->conv, algo, b.cudnn,
							 p->bwd_data.workspace, &zero, p->x, dx));
	}
}

static void cuda_conv2d_backward_filter(struct backend *be, const struct conv_shape *cs, const float *x,
					const float *dy, float *dw, void *workspace)
{
	struct cuda_backend *cb = cuda_enter(be);
	struct conv_plan *p = conv_plan_get(cb, cs);
	struct conv_buffers b = conv_buffers(cb, p);
	(void)workspace; /* see the file header */
	const float one = 1.0f, zero = 0.0f;
	CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, p->bwd_filter.math));
	cudnnConvolutionBwdFilterAlgo_t algo = (cudnnConvolutionBwdFilterAlgo_t)p->bwd_filter.algo;
	if (p->lowp) {
		cuda_to_half(cb, b.x, x, conv_x_count(cs));
		cuda_to_half(cb, b.y, dy, conv_y_count(cs));
		CUDNN_CHECK(cudnnConvolutionBackwardFilter(cb->dnn, &one, p->x, b.x, p->y, b.y, p->conv, algo, b.cudnn,
							   p->bwd_filter.workspace, &zero, p->w, b.w));
		cuda_from_half(cb, dw, b.w, conv_w_count(cs));
		/* b.y stays dy's copy until the next backend call; layers_conv.c makes that
		 * call the same layer's backward-data, which then skips its conversion. */
		cb->conv_dy_half.dy = dy;
		cb->conv_dy_half.plan = p;
		cb->conv_dy_half.call = cb->calls;
	} else {
		CUDNN_CHECK(cudnnConvolutionBackwardFilter(cb->dnn, &one, p->x, x, p->y, dy, p->conv, algo, b.cudnn,
							   p->bwd_filter.workspace, &zero, p->w, dw));
	}
}

void cuda_conv_install(struct backend *be)
{
	be->conv2d_forward = cuda_conv2d_forward;
	be->conv2d_backward_data = cuda_conv2d_backward_data;
	be->conv2d_backward_filter = cuda_conv2d_backward_filter;
	be->conv2d_workspace = cuda_conv2d_workspace;
}
