/*
 * cuda_optim.cu — one fused optimizer kernel over the flat parameter
 * group: SGD (momentum, dampening, nesterov, L2 decay), Adam (L2 decay in
 * the gradient) and AdamW (decoupled decay), PyTorch 1.13's single-tensor
 * formulas exactly as cpu_backend.c writes them.
 *
 * Every multiply and add is an explicitly rounded intrinsic (__fmul_rn,
 * __fadd_rn): nvcc would otherwise contract a*b+c into one FMA, which the
 * CPU reference (x86-64-v2, no FMA) never does. With IEEE division and
 * sqrt as well, an fp32 step here is bit-identical to the CPU's, so
 * CPU-vs-GPU training trajectories diverge only through gemm/conv.
 *
 * Per-step values come from `scalars` in device memory (backend.h), plus
 * two slots this backend reads beyond the contract's four (cuda_ext.h):
 * scalars[CUDA_OPT_SKIP] ≠ 0 makes the step a no-op (fp16 overflow), and
 * scalars[CUDA_OPT_STEP] > 0 replaces the host `step` (a replayed CUDA
 * graph cannot see a host argument change). Both read 0 when the engine
 * uploads only the contract's scalars, which keeps the contract's meaning.
 *
 * Threads: the backend's thread; the kernel runs on the backend's stream.
 */
#include "cuda_ext.h"
#include "cuda_internal.h"

extern "C" {
#include "optim.h"
}

#define GRID_STRIDE(i, n) \
	for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* Hyper-parameters by value: the kernel needs no host struct in device memory. */
struct optim_args {
	int kind;
	float momentum, dampening, weight_decay;
	int nesterov;
	float beta1, beta2, eps;
	int64_t host_step;
};

static __device__ __forceinline__ float mul(float a, float b)
{
	return __fmul_rn(a, b);
}

static __device__ __forceinline__ float add(float a, float b)
{
	return __fadd_rn(a, b);
}

static __global__ void sgd_kernel(struct optim_args h, const float *scalars, float *p, const float *g, float *buf,
				  const uint8_t *decay_mask, int64_t n)
{
	if (scalars[CUDA_OPT_SKIP] != 0)
		return;
	float lr = scalars[OPT_LR], clip = scalars[OPT_CLIP];
	float dev_step = scalars[CUDA_OPT_STEP];
	bool first = dev_step > 0 ? dev_step == 1.0f : h.host_step == 1;
	GRID_STRIDE(i, n)
	{
		float d = mul(g[i], clip);
		float wd = (!decay_mask || decay_mask[i]) ? h.weight_decay : 0.0f;
		if (wd != 0)
			d = add(d, mul(wd, p[i]));
		if (h.momentum != 0) {
			float b;
			if (first)
				b = d;
			else
				b = add(mul(h.momentum, buf[i]), mul(__fsub_rn(1.0f, h.dampening), d));
			buf[i] = b;
			d = h.nesterov ? add(d, mul(h.momentum, b)) : b;
		}
		p[i] = __fsub_rn(p[i], mul(lr, d));
	}
}

static __global__ void adam_kernel(struct optim_args h, const float *scalars, float *p, const float *g, float *m,
				   float *v, const uint8_t *decay_mask, int64_t n)
{
	if (scalars[CUDA_OPT_SKIP] != 0)
		return;
	float lr = scalars[OPT_LR], clip = scalars[OPT_CLIP];
	float step_size = __fdiv_rn(lr, scalars[OPT_BC1]);
	float bc2_sqrt = __fsqrt_rn(scalars[OPT_BC2]);
	float b1 = h.beta1, b2 = h.beta2, eps = h.eps;
	float one_b1 = __fsub_rn(1.0f, b1), one_b2 = __fsub_rn(1.0f, b2);
	bool decoupled = h.kind == OPTIM_ADAMW;
	GRID_STRIDE(i, n)
	{
		float d = mul(g[i], clip);
		float wd = (!decay_mask || decay_mask[i]) ? h.weight_decay : 0.0f;
		float pi = p[i];
		if (decoupled)
			pi = mul(pi, __fsub_rn(1.0f, mul(lr, wd)));
		else if (wd != 0)
			d = add(d, mul(wd, pi));
		float mi = add(mul(m[i], b1), mul(d, one_b1));
		float vi = add(mul(v[i], b2), mul(mul(d, d), one_b2));
		m[i] = mi;
		v[i] = vi;
		float denom = add(__fdiv_rn(__fsqrt_rn(vi), bc2_sqrt), eps);
		p[i] = add(pi, mul(-step_size, __fdiv_rn(mi, denom)));
	}
}

static void cuda_optim_step(struct backend *be, const struct optim_hyper *h, int64_t step, const float *scalars,
			    float *params, const float *grads, float *state, const uint8_t *decay_mask, int64_t n)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (n <= 0)
		return;
	struct optim_args a;
	a.kind = h->kind;
	a.momentum = h->momentum;
	a.dampening = h->dampening;
	a.weight_decay = h->weight_decay;
	a.nesterov = h->nesterov ? 1 : 0;
	a.beta1 = h->beta1;
	a.beta2 = h->beta2;
	a.eps = h->eps;
	a.host_step = step;
	unsigned grid = cuda_grid(cb, n, CUDA_THREADS);
	if (h->kind == OPTIM_SGD)
		sgd_kernel<<<grid, CUDA_THREADS, 0, cb->stream>>>(a, scalars, params, grads, state, decay_mask, n);
	else
		adam_kernel<<<grid, CUDA_THREADS, 0, cb->stream>>>(a, scalars, params, grads, state, state + n,
								   decay_mask, n);
	CUDA_LAUNCHED();
}

void cuda_optim_install(struct backend *be)
{
	be->optim_step = cuda_optim_step;
}
