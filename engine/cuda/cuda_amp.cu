/*
 * cuda_amp.cu — dynamic loss scaling for fp16 (and optionally bf16) runs,
 * with PyTorch GradScaler's rules: start at 2^16, multiply by 2 after 2000
 * consecutive clean steps, halve and skip the step when any gradient is
 * inf or NaN.
 *
 * What it is: the scale, the growth tracker and the step counts kept in
 * device memory and updated by a one-thread kernel, so a step never waits
 * for the host (and a CUDA graph can replay it). The inf/NaN test reuses
 * the deterministic sum of squares: Σg² is finite exactly when every g is
 * (squares of floats cannot overflow a double), and it also gives the
 * global norm for clipping — one pass over the gradients does both.
 * What it is not: the fp32 master weights (backend.h's weights are fp32
 * already; gemm/conv round their operands to 16 bits internally).
 *
 * Threads: the backend's thread; kernels on the backend's stream.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend_ext.h"
#include "cuda_internal.h"

/* Device-resident state; the host never touches it except through cuda_amp_read. */
struct amp_state {
	float scale;
	int growth_tracker;
	long long steps;
	long long skipped;
	float grad_norm;
	float sumsq;            /* written by sum_squares each step */
};

struct backend_amp {
	struct backend_amp_config cfg;
	struct amp_state *state; /* device memory */
};

static __global__ void amp_scale_kernel(const struct amp_state *st, float *g, int64_t n)
{
	float s = st->scale;
	for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
		g[i] *= s;
}

/* GradScaler.step + GradScaler.update in one thread. */
static __global__ void amp_update_kernel(struct amp_state *st, float *scalars, struct backend_amp_config cfg,
					 double grad_clip, double beta1, double beta2)
{
	float scale = st->scale;
	double sumsq = st->sumsq;
	if (!cfg.unscaled && !isfinite(sumsq)) {
		scalars[OPT_SKIP] = 1.0f;
		st->skipped++;
		st->scale = scale * cfg.backoff_factor;
		st->growth_tracker = 0;
		return;
	}
	long long t = ++st->steps;
	double norm = sqrt(sumsq) / (double)scale;
	double clip = 1.0;
	if (grad_clip > 0) {
		double coef = grad_clip / (norm + 1e-6); /* torch.nn.utils.clip_grad_norm_ */
		clip = coef < 1.0 ? coef : 1.0;
	}
	st->grad_norm = (float)norm;
	scalars[OPT_SKIP] = 0.0f;
	scalars[OPT_STEP] = (float)t;
	scalars[OPT_CLIP] = (float)(clip / (double)scale);
	scalars[OPT_BC1] = (float)(1.0 - pow(beta1, (double)t));
	scalars[OPT_BC2] = (float)(1.0 - pow(beta2, (double)t));
	int tracker = st->growth_tracker + 1;
	if (tracker == cfg.growth_interval) {
		float grown = scale * cfg.growth_factor;
		if (isfinite(grown))
			st->scale = grown;
		tracker = 0;
	}
	st->growth_tracker = tracker;
}

CUDA_HIDDEN struct backend_amp *cuda_amp_new(struct backend *be, const struct backend_amp_config *cfg)
{
	struct cuda_backend *cb = cuda_enter(be);
	struct backend_amp *a = (struct backend_amp *)calloc(1, sizeof(*a));
	CUDA_ASSERT(a);
	if (cfg) {
		a->cfg = *cfg;
	} else {
		a->cfg.init_scale = 65536.0f;
		a->cfg.growth_factor = 2.0f;
		a->cfg.backoff_factor = 0.5f;
		a->cfg.growth_interval = 2000;
	}
	struct amp_state init;
	memset(&init, 0, sizeof(init));
	init.scale = a->cfg.init_scale;
	a->state = (struct amp_state *)be->alloc(be, sizeof(init));
	CUDA_CHECK(cudaMemcpyAsync(a->state, &init, sizeof(init), cudaMemcpyHostToDevice, cb->stream));
	/* `init` is a stack variable: make sure the copy has left it. */
	CUDA_CHECK(cudaStreamSynchronize(cb->stream));
	return a;
}

CUDA_HIDDEN void cuda_amp_free(struct backend *be, struct backend_amp *a)
{
	if (!a)
		return;
	be->free(be, a->state);
	free(a);
}

CUDA_HIDDEN void cuda_amp_scale_grad(struct backend *be, struct backend_amp *a, float *dlogits, int64_t n)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (n <= 0)
		return;
	amp_scale_kernel<<<cuda_grid(cb, n, CUDA_THREADS), CUDA_THREADS, 0, cb->stream>>>(a->state, dlogits, n);
	CUDA_LAUNCHED();
}

CUDA_HIDDEN void cuda_amp_prepare(struct backend *be, struct backend_amp *a, const float *grads, int64_t n,
				     double grad_clip, float beta1, float beta2, float *scalars)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (!a->cfg.unscaled || grad_clip > 0)
		be->sum_squares(be, grads, n, &a->state->sumsq); /* else sumsq stays 0: norm unused */
	amp_update_kernel<<<1, 1, 0, cb->stream>>>(a->state, scalars, a->cfg, grad_clip, (double)beta1, (double)beta2);
	CUDA_LAUNCHED();
}

/* A resumed run continues Adam's step count from the checkpoint. */
CUDA_HIDDEN void cuda_amp_set_steps(struct backend *be, struct backend_amp *a, int64_t steps)
{
	struct amp_state st;
	be->download(be, &st, a->state, sizeof(st));
	st.steps = (long long)steps;
	be->upload(be, a->state, &st, sizeof(st));
	be->sync(be); /* `st` is a stack variable */
}

CUDA_HIDDEN void cuda_amp_read(struct backend *be, struct backend_amp *a, struct backend_amp_stats *out)
{
	struct amp_state st;
	be->download(be, &st, a->state, sizeof(st));
	out->scale = st.scale;
	out->steps = st.steps;
	out->skipped = st.skipped;
	out->grad_norm = st.grad_norm;
}
