/*
 * cpu_optim.c — the CPU backend's optimizer kernels: one function per
 * optimizer kind (optim.h), each PyTorch's single-tensor formula written
 * literally, in the order of operations PyTorch rounds in.
 *
 * What it is: the reference cuda_optim.cu must match bit for bit in fp32.
 * What it is not: step counting, bias corrections or clipping (optim.c
 * computes those and passes them in `scalars`).
 *
 * Threads: the training thread; OpenMP fans out inside a step and joins
 * before it returns. Each element stands alone, so any split among threads
 * gives the same bits.
 */
#include <math.h>

#include "cpu_internal.h"
#include "optim.h"
#include "tb.h"

typedef void (*cpu_optim_fn)(const struct optim_hyper *h, int64_t step, const float *scalars, float *p, const float *g,
			     float *state, const uint8_t *decay_mask, int64_t n);

static float decay_at(const struct optim_hyper *h, const uint8_t *decay_mask, int64_t i)
{
	return (!decay_mask || decay_mask[i]) ? h->weight_decay : 0.0f;
}

/* torch.optim.SGD, single-tensor path: L2 decay, momentum buffer cloned from the first gradient. */
static void sgd_step(const struct optim_hyper *h, int64_t step, const float *scalars, float *p, const float *g,
		     float *buf, const uint8_t *decay_mask, int64_t n)
{
	const float lr = scalars[OPT_LR], clip = scalars[OPT_CLIP];
	const float momentum = h->arg[SGD_MOMENTUM], keep = 1.0f - h->arg[SGD_DAMPENING];
	const bool first = step == 1, nesterov = h->arg[SGD_NESTEROV] != 0;
	/* Selects, not branches, in the loop so it vectorises. */
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t i = 0; i < n; i++) {
		float d = g[i] * clip;
		float wd = decay_at(h, decay_mask, i);
		float decayed = d + wd * p[i];
		d = wd != 0 ? decayed : d;
		if (momentum != 0) {
			float b = first ? d : momentum * buf[i] + keep * d;
			buf[i] = b;
			d = nesterov ? d + momentum * b : b;
		}
		p[i] -= lr * d;
	}
}

/* torch.optim.Adam / AdamW (1.13 single-tensor formulas, non-amsgrad); m and v back to back. */
static void adam_rule(const struct optim_hyper *h, const float *scalars, float *p, const float *g, float *state,
		      const uint8_t *decay_mask, int64_t n, bool decoupled)
{
	float *m = state, *v = state + n;
	float lr = scalars[OPT_LR], clip = scalars[OPT_CLIP];
	float step_size = lr / scalars[OPT_BC1];
	float bc2_sqrt = sqrtf(scalars[OPT_BC2]);
	float b1 = h->arg[ADAM_BETA1], b2 = h->arg[ADAM_BETA2], eps = h->arg[ADAM_EPS];
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t i = 0; i < n; i++) {
		float d = g[i] * clip;
		float wd = decay_at(h, decay_mask, i);
		if (decoupled)
			p[i] *= 1.0f - lr * wd;
		else if (wd != 0)
			d += wd * p[i];
		m[i] = m[i] * b1 + d * (1.0f - b1);
		v[i] = v[i] * b2 + d * d * (1.0f - b2);
		float denom = sqrtf(v[i]) / bc2_sqrt + eps;
		p[i] += -step_size * (m[i] / denom);
	}
}

static void adam_step(const struct optim_hyper *h, int64_t step, const float *scalars, float *p, const float *g,
		      float *state, const uint8_t *decay_mask, int64_t n)
{
	(void)step;
	adam_rule(h, scalars, p, g, state, decay_mask, n, false);
}

static void adamw_step(const struct optim_hyper *h, int64_t step, const float *scalars, float *p, const float *g,
		       float *state, const uint8_t *decay_mask, int64_t n)
{
	(void)step;
	adam_rule(h, scalars, p, g, state, decay_mask, n, true);
}

/* torch.optim.RMSprop (1.13 single-tensor formula); buffers as optim.c's row lays them out. */
static void rmsprop_step(const struct optim_hyper *h, int64_t step, const float *scalars, float *p, const float *g,
			 float *state, const uint8_t *decay_mask, int64_t n)
{
	(void)step;
	const float lr = scalars[OPT_LR], clip = scalars[OPT_CLIP];
	const float alpha = h->arg[RMSPROP_ALPHA], eps = h->arg[RMSPROP_EPS], momentum = h->arg[RMSPROP_MOMENTUM];
	const float one_alpha = 1.0f - alpha;
	const bool centered = h->arg[RMSPROP_CENTERED] != 0;
	float *sq = state, *buf = momentum > 0 ? state + n : NULL, *ga = centered ? state + (buf ? 2 : 1) * n : NULL;
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
	for (int64_t i = 0; i < n; i++) {
		float d = g[i] * clip;
		float wd = decay_at(h, decay_mask, i);
		if (wd != 0)
			d = d + wd * p[i];
		sq[i] = sq[i] * alpha + one_alpha * d * d;
		float avg;
		if (ga) {
			ga[i] = ga[i] * alpha + one_alpha * d;
			avg = sqrtf(sq[i] + -1.0f * ga[i] * ga[i]);
		} else {
			avg = sqrtf(sq[i]);
		}
		avg = avg + eps;
		if (buf) {
			buf[i] = buf[i] * momentum + d / avg;
			p[i] = p[i] + -lr * buf[i];
		} else {
			p[i] = p[i] + -lr * d / avg;
		}
	}
}

/* One kernel per kind; a kind missing here is a NULL slot, and the step asserts on it. */
static const cpu_optim_fn cpu_optim_kernels[OPTIM_KINDS] = {
	[OPTIM_SGD] = sgd_step,
	[OPTIM_ADAM] = adam_step,
	[OPTIM_ADAMW] = adamw_step,
	[OPTIM_RMSPROP] = rmsprop_step,
};

static void cpu_optim_step(struct backend *be, const struct optim_hyper *h, int64_t step, const float *scalars,
			   float *params, const float *grads, float *state, const uint8_t *decay_mask, int64_t n)
{
	(void)be;
	TB_ASSERT(h->kind >= 0 && h->kind < OPTIM_KINDS && cpu_optim_kernels[h->kind]);
	cpu_optim_kernels[h->kind](h, step, scalars, params, grads, state, decay_mask, n);
}

void cpu_optim_install(struct backend *be)
{
	be->optim_step = cpu_optim_step;
}
