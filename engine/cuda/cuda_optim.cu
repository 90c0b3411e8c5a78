/*
 * cuda_optim.cu — the optimizer kernels, one fused kernel per optimizer
 * kind (optim.h) over the flat parameter group, PyTorch 1.13's
 * single-tensor formulas exactly as engine/cpu/cpu_optim.c writes them.
 *
 * Every multiply and add is an explicitly rounded intrinsic (__fmul_rn,
 * __fadd_rn): nvcc would otherwise contract a*b+c into one FMA, which the
 * CPU reference (x86-64-v2, no FMA) never does. With IEEE division and
 * sqrt as well, an fp32 step here is bit-identical to the CPU's, so
 * CPU-vs-GPU training trajectories diverge only through gemm/conv.
 *
 * Per-step values come from `scalars` in device memory (backend.h), plus
 * two slots this backend reads beyond the contract's four (backend_ext.h):
 * scalars[OPT_SKIP] ≠ 0 makes the step a no-op (fp16 overflow), and
 * scalars[OPT_STEP] > 0 replaces the host `step` (a replayed CUDA
 * graph cannot see a host argument change). Both read 0 when the engine
 * uploads only the contract's scalars, which keeps the contract's meaning.
 *
 * Threads: the backend's thread; the kernel runs on the backend's stream.
 */
#include "backend_ext.h"
#include "cuda_internal.h"

extern "C" {
#include "optim.h"
}

#define GRID_STRIDE(i, n) \
	for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* Hyper-parameters by value: the kernel needs no host struct in device memory. */
struct optim_args {
	float weight_decay;
	float arg[OPTIM_HYPER_ARGS]; /* the kind's keys, indexed by optim.h's enum for the kind */
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

static __device__ __forceinline__ float decay_at(const struct optim_args &h, const uint8_t *decay_mask, int64_t i)
{
	return (!decay_mask || decay_mask[i]) ? h.weight_decay : 0.0f;
}

static __global__ void sgd_kernel(struct optim_args h, const float *scalars, float *p, const float *g, float *buf,
				  const uint8_t *decay_mask, int64_t n)
{
	if (scalars[OPT_SKIP] != 0)
		return;
	float lr = scalars[OPT_LR], clip = scalars[OPT_CLIP];
	float momentum = h.arg[SGD_MOMENTUM], dampening = h.arg[SGD_DAMPENING];
	bool nesterov = h.arg[SGD_NESTEROV] != 0;
	float dev_step = scalars[OPT_STEP];
	bool first = dev_step > 0 ? dev_step == 1.0f : h.host_step == 1;
	GRID_STRIDE(i, n)
	{
		float d = mul(g[i], clip);
		float wd = decay_at(h, decay_mask, i);
		if (wd != 0)
			d = add(d, mul(wd, p[i]));
		if (momentum != 0) {
			float b;
			if (first)
				b = d;
			else
				b = add(mul(momentum, buf[i]), mul(__fsub_rn(1.0f, dampening), d));
			buf[i] = b;
			d = nesterov ? add(d, mul(momentum, b)) : b;
		}
		p[i] = __fsub_rn(p[i], mul(lr, d));
	}
}

static __global__ void adam_kernel(struct optim_args h, const float *scalars, float *p, const float *g, float *m,
				   float *v, const uint8_t *decay_mask, int64_t n, bool decoupled)
{
	if (scalars[OPT_SKIP] != 0)
		return;
	float lr = scalars[OPT_LR], clip = scalars[OPT_CLIP];
	float step_size = __fdiv_rn(lr, scalars[OPT_BC1]);
	float bc2_sqrt = __fsqrt_rn(scalars[OPT_BC2]);
	float b1 = h.arg[ADAM_BETA1], b2 = h.arg[ADAM_BETA2], eps = h.arg[ADAM_EPS];
	float one_b1 = __fsub_rn(1.0f, b1), one_b2 = __fsub_rn(1.0f, b2);
	GRID_STRIDE(i, n)
	{
		float d = mul(g[i], clip);
		float wd = decay_at(h, decay_mask, i);
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

/* torch.optim.RMSprop, as cpu_optim.c writes it; buf and ga are NULL when momentum is 0 / not centered. */
static __global__ void rmsprop_kernel(struct optim_args h, const float *scalars, float *p, const float *g, float *sq,
				      float *buf, float *ga, const uint8_t *decay_mask, int64_t n)
{
	if (scalars[OPT_SKIP] != 0)
		return;
	float lr = scalars[OPT_LR], clip = scalars[OPT_CLIP];
	float alpha = h.arg[RMSPROP_ALPHA], eps = h.arg[RMSPROP_EPS], momentum = h.arg[RMSPROP_MOMENTUM];
	float one_alpha = __fsub_rn(1.0f, alpha);
	GRID_STRIDE(i, n)
	{
		float d = mul(g[i], clip);
		float wd = decay_at(h, decay_mask, i);
		if (wd != 0)
			d = add(d, mul(wd, p[i]));
		float s = add(mul(sq[i], alpha), mul(mul(one_alpha, d), d));
		sq[i] = s;
		float avg;
		if (ga) {
			float a = add(mul(ga[i], alpha), mul(one_alpha, d));
			ga[i] = a;
			avg = __fsqrt_rn(add(s, mul(mul(-1.0f, a), a)));
		} else {
			avg = __fsqrt_rn(s);
		}
		avg = add(avg, eps);
		if (buf) {
			float b = add(mul(buf[i], momentum), __fdiv_rn(d, avg));
			buf[i] = b;
			p[i] = add(p[i], mul(-lr, b));
		} else {
			p[i] = add(p[i], __fdiv_rn(mul(-lr, d), avg));
		}
	}
}

/* One launcher per kind: state is the kind's buffers back to back (optim.h). */
typedef void (*optim_launch_fn)(struct cuda_backend *cb, unsigned grid, const struct optim_args &a,
				const float *scalars, float *p, const float *g, float *state, const uint8_t *mask,
				int64_t n);

static void launch_sgd(struct cuda_backend *cb, unsigned grid, const struct optim_args &a, const float *scalars,
		       float *p, const float *g, float *state, const uint8_t *mask, int64_t n)
{
	sgd_kernel<<<grid, CUDA_THREADS, 0, cb->stream>>>(a, scalars, p, g, state, mask, n);
}

static void launch_adam(struct cuda_backend *cb, unsigned grid, const struct optim_args &a, const float *scalars,
			float *p, const float *g, float *state, const uint8_t *mask, int64_t n)
{
	adam_kernel<<<grid, CUDA_THREADS, 0, cb->stream>>>(a, scalars, p, g, state, state + n, mask, n, false);
}

static void launch_adamw(struct cuda_backend *cb, unsigned grid, const struct optim_args &a, const float *scalars,
			 float *p, const float *g, float *state, const uint8_t *mask, int64_t n)
{
	adam_kernel<<<grid, CUDA_THREADS, 0, cb->stream>>>(a, scalars, p, g, state, state + n, mask, n, true);
}

static void launch_rmsprop(struct cuda_backend *cb, unsigned grid, const struct optim_args &a, const float *scalars,
			   float *p, const float *g, float *state, const uint8_t *mask, int64_t n)
{
	float *buf = a.arg[RMSPROP_MOMENTUM] > 0 ? state + n : NULL;
	float *ga = a.arg[RMSPROP_CENTERED] != 0 ? state + (buf ? 2 : 1) * n : NULL;
	rmsprop_kernel<<<grid, CUDA_THREADS, 0, cb->stream>>>(a, scalars, p, g, state, buf, ga, mask, n);
}

/* The kinds this backend has a kernel for; a kind missing here fails the step loudly. */
static const struct {
	int kind;
	optim_launch_fn launch;
} cuda_optim_kernels[] = {
	{OPTIM_SGD, launch_sgd},
	{OPTIM_ADAM, launch_adam},
	{OPTIM_ADAMW, launch_adamw},
	{OPTIM_RMSPROP, launch_rmsprop},
};

static void cuda_optim_step(struct backend *be, const struct optim_hyper *h, int64_t step, const float *scalars,
			    float *params, const float *grads, float *state, const uint8_t *decay_mask, int64_t n)
{
	struct cuda_backend *cb = cuda_enter(be);
	optim_launch_fn launch = NULL;
	for (size_t i = 0; i < sizeof(cuda_optim_kernels) / sizeof(cuda_optim_kernels[0]); i++)
		if (cuda_optim_kernels[i].kind == h->kind)
			launch = cuda_optim_kernels[i].launch;
	CUDA_ASSERT(launch != NULL);
	if (n <= 0)
		return;
	struct optim_args a;
	a.weight_decay = h->weight_decay;
	for (int i = 0; i < OPTIM_HYPER_ARGS; i++)
		a.arg[i] = h->arg[i];
	a.host_step = step;
	launch(cb, cuda_grid(cb, n, CUDA_THREADS), a, scalars, params, grads, state, decay_mask, n);
	CUDA_LAUNCHED();
}

void cuda_optim_install(struct backend *be)
{
	be->optim_step = cuda_optim_step;
}
