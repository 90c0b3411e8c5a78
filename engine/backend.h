/*
 * backend.h — the table of operations a compute backend provides.
 *
 * What it is: the one seam between layers and hardware. Layers, losses and
 * optimizers are written once against this table; engine/cpu/ implements it
 * on OpenBLAS (the reference), engine/cuda/ implements it on cuBLASLt/cuDNN
 * and custom kernels and must match the CPU within the tolerances of
 * tests/gpu/. What it is not: a tensor library — operations take raw
 * pointers and sizes; layouts are fixed below.
 *
 * Conventions for every operation:
 *  - Pointers are backend memory (host memory on the CPU, device memory on
 *    CUDA) obtained from `alloc`, except where a parameter says "host".
 *  - float32 everywhere in this table; mixed precision is the CUDA
 *    backend's internal business (fp32 master weights stay fp32 here).
 *  - Matrices are row-major. Images are NCHW, conv weights OIHW (PyTorch).
 *  - Gradient outputs are *written* (=), never accumulated, unless the
 *    parameter name says `accumulate`.
 *  - Operations are asynchronous with respect to the host: results are only
 *    visible to the host after `download` (which synchronises) or `sync`.
 *  - Scalars that change every step (learning rate, Adam bias corrections)
 *    are read from backend memory (`scalars`), so a captured CUDA graph can
 *    replay a step without being re-recorded.
 *
 * Threads: a backend instance is used by one thread at a time (a worker's
 * training thread, or one thread per replica in data-parallel runs).
 */
#ifndef TB_BACKEND_H
#define TB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct backend_ext;

enum activation {
	ACT_IDENTITY,
	ACT_RELU,
	ACT_GELU,       /* exact erf form, as torch.nn.GELU() */
	ACT_TANH,
	ACT_SIGMOID,
	ACT_LEAKY_RELU, /* param = negative slope */
};

/* Convolution geometry, shared by forward and both backward passes. */
struct conv_shape {
	int n, c, h, w;         /* input */
	int k, r, s;            /* output channels, kernel height, kernel width */
	int stride_h, stride_w;
	int pad_h, pad_w;
	int dil_h, dil_w;
	int p, q;               /* output height and width (derived, filled by the caller) */
};

/* Pooling geometry (max and average; global pooling is kernel = input). */
struct pool_shape {
	int n, c, h, w;
	int kh, kw, stride_h, stride_w, pad_h, pad_w;
	int p, q;
	bool count_include_pad; /* avgpool, PyTorch default true */
};

/* Indices into the optimizer `scalars` vector (backend memory, float32). */
enum optim_scalar {
	OPT_LR = 0,       /* current learning rate */
	OPT_BC1 = 1,      /* adam: 1 - beta1^t */
	OPT_BC2 = 2,      /* adam: 1 - beta2^t */
	OPT_CLIP = 3,     /* factor gradients are multiplied by (global-norm clip), 1 = none */
	OPT_NSCALARS = 8,
};

#define OPTIM_HYPER_ARGS 8

/* Hyper-parameters fixed for the whole run. */
struct optim_hyper {
	int kind;                     /* enum optim_kind_id (optim.h): which update rule */
	float weight_decay;           /* every optimizer's */
	float arg[OPTIM_HYPER_ARGS];  /* the kind's own keys, indexed by optim.h's enum for that kind */
};

struct backend {
	const char *name;       /* "cpu", "cuda": for messages only, never compared */
	int precision;          /* enum precision (precision.h) its products compute in; the CPU's is fp32 */
	/*
	 * Backend memory is host memory and every operation has finished when it
	 * returns (the CPU): reading a result back costs nothing, so the loop may
	 * sync every step, an in-process all-reduce can work on the buffers, and
	 * wall-clock time measures the work.
	 */
	bool host_memory;
	/* The optional extras (backend_ext.h): loss scaling, graphs, read-back, device data, timing. NULL: none. */
	const struct backend_ext *ext;
	void *impl;             /* backend private state */

	/* The device in words: "cpu (2 threads, 4 cores)", "NVIDIA H100 80GB HBM3". */
	void (*describe)(struct backend *be, char *buf, size_t len);

	/* --- memory --- */
	void *(*alloc)(struct backend *be, size_t bytes);         /* zeroed; aborts on OOM */
	void (*free)(struct backend *be, void *p);
	void (*upload)(struct backend *be, void *dst, const void *host_src, size_t bytes);
	void (*download)(struct backend *be, void *host_dst, const void *src, size_t bytes); /* synchronises */
	void (*copy)(struct backend *be, void *dst, const void *src, size_t bytes);
	void (*fill)(struct backend *be, float *x, float value, int64_t n);
	void (*sync)(struct backend *be);

	/* --- dense algebra --- */
	/* C[m,n] = alpha * op(A) op(B) + beta * C; op(A) is [m,k]; lda/ldb/ldc are row strides. */
	void (*gemm)(struct backend *be, bool trans_a, bool trans_b, int m, int n, int k,
		     float alpha, const float *a, int lda, const float *b, int ldb,
		     float beta, float *c, int ldc);
	/* y[r, c] += bias[c] for rows × cols; with chw > 1: y[n, c, hw] += bias[c] (rows = n, cols = channels). */
	void (*bias_add)(struct backend *be, float *y, const float *bias, int rows, int cols, int spatial);
	/* dbias[c] = sum over rows (and spatial) of dy; `accumulate` adds instead of writing. */
	void (*bias_grad)(struct backend *be, float *dbias, const float *dy, int rows, int cols, int spatial,
			  bool accumulate);

	/*
	 * Optional (NULL when the backend has no fused form; layers then issue
	 * gemm, bias_add and act_forward): y[batch, out] = act(x[batch, in] ·
	 * w[out, in]ᵀ + bias[out]) in one call — cuBLASLt's epilogue on CUDA.
	 * act is ACT_IDENTITY or ACT_RELU; bias may be NULL.
	 */
	void (*linear_forward)(struct backend *be, int batch, int out, int in, const float *x, const float *w,
			       const float *bias, enum activation act, float *y);

	/* --- element-wise --- */
	void (*act_forward)(struct backend *be, enum activation act, float param,
			    float *y, const float *x, int64_t n);
	/* dx = dy * act'(x); x is the forward input, y its output (either may be used). */
	void (*act_backward)(struct backend *be, enum activation act, float param,
			     float *dx, const float *dy, const float *x, const float *y, int64_t n);
	/* y = x * mask / (1-p), mask drawn from (seed, counter) with a counter-based RNG; mask kept for backward. */
	void (*dropout_forward)(struct backend *be, float p, uint64_t seed, uint64_t counter,
				float *y, uint8_t *mask, const float *x, int64_t n);
	void (*dropout_backward)(struct backend *be, float p, float *dx, const float *dy,
				 const uint8_t *mask, int64_t n);
	/* y = a + b (residual add); y may alias a or b. */
	void (*add)(struct backend *be, float *y, const float *a, const float *b, int64_t n);
	/* Optional (NULL: add, then act_forward): y = relu(a + b) in one pass, the end of a
	 * residual block; y may alias a or b. */
	void (*add_relu)(struct backend *be, float *y, const float *a, const float *b, int64_t n);
	/* y = alpha * x + y */
	void (*axpy)(struct backend *be, float alpha, const float *x, float *y, int64_t n);
	void (*scale)(struct backend *be, float *x, float alpha, int64_t n);

	/* --- losses (fused forward + backward) --- */
	/*
	 * Softmax cross-entropy over logits [n, classes] with integer labels,
	 * mean over the batch, label smoothing as torch.nn.CrossEntropyLoss.
	 * Writes dlogits (gradient of the *mean* loss, times `grad_scale`).
	 * Adds the *sum* of per-sample losses to stats[0] and the number of
	 * correct argmax predictions to stats[1] (backend memory), so metrics
	 * accumulate on the device without a host sync. If predictions is not
	 * NULL, writes each sample's argmax there (int32, backend memory).
	 * dlogits may be NULL (evaluation).
	 */
	void (*softmax_xent)(struct backend *be, const float *logits, const int32_t *labels,
			     int n, int classes, float label_smoothing, float grad_scale,
			     float *dlogits, float *stats, int32_t *predictions);
	/* Mean squared error against one-hot(labels) (classification) or `target`
	 * (if non-NULL, same shape as pred); stats as above (stats[1] = correct argmax). */
	void (*mse)(struct backend *be, const float *pred, const int32_t *labels, const float *target,
		    int n, int classes, float grad_scale, float *dpred, float *stats);

	/* --- reductions and optimizers --- */
	/* out[0] = sum of x[i]^2 (backend memory, float). */
	void (*sum_squares)(struct backend *be, const float *x, int64_t n, float *out);
	/*
	 * One optimizer step over a flat parameter group, by the rule of
	 * h->kind, each exactly as its PyTorch class (optim.c's rows say which):
	 * a backend keeps one kernel per kind in a table indexed by h->kind and
	 * asserts on a kind it has none for, so a new kind never runs another's
	 * rule. `state` holds the kind's buffers (optim.h: nstate of n floats,
	 * back to back, in its row's order). `step` is the 1-based step number (host);
	 * `scalars` (backend memory) holds lr, bias corrections, clip factor.
	 * Gradients are multiplied by scalars[OPT_CLIP] before use.
	 * `decay_mask` (may be NULL: all decay) is 1 where weight decay applies.
	 */
	void (*optim_step)(struct backend *be, const struct optim_hyper *h, int64_t step,
			   const float *scalars, float *params, const float *grads,
			   float *state, const uint8_t *decay_mask, int64_t n);

	/* --- convolution (NCHW / OIHW), no bias (bias_add does that) --- */
	void (*conv2d_forward)(struct backend *be, const struct conv_shape *cs,
			       const float *x, const float *w, float *y, void *workspace);
	void (*conv2d_backward_data)(struct backend *be, const struct conv_shape *cs,
				     const float *dy, const float *w, float *dx, void *workspace);
	void (*conv2d_backward_filter)(struct backend *be, const struct conv_shape *cs,
				       const float *x, const float *dy, float *dw, void *workspace);
	/* Bytes of scratch the three conv calls need for this shape (the caller allocates once). */
	size_t (*conv2d_workspace)(struct backend *be, const struct conv_shape *cs);

	/* --- batch normalisation over N,(H,W) per channel C; spatial = H*W (1 for batchnorm1d) --- */
	/*
	 * Training: uses batch statistics, writes save_mean / save_invstd (per
	 * channel) for backward, and updates running_mean / running_var with
	 * PyTorch's momentum rule (running = (1-m)*running + m*batch, unbiased
	 * variance for the running estimate), and adds 1 to *batches
	 * (num_batches_tracked; NULL: none) in the same kernel. Evaluation: uses
	 * running stats.
	 */
	void (*batchnorm_forward)(struct backend *be, bool training, int n, int c, int spatial,
				  float momentum, float eps, const float *x, const float *gamma,
				  const float *beta, float *running_mean, float *running_var,
				  float *save_mean, float *save_invstd, float *y, float *batches);
	void (*batchnorm_backward)(struct backend *be, int n, int c, int spatial,
				   const float *x, const float *dy, const float *gamma,
				   const float *save_mean, const float *save_invstd,
				   float *dx, float *dgamma, float *dbeta);
	/* Optional (NULL: batchnorm_forward, then act_forward): batchnorm_forward with
	 * y = relu(the normalised value) written in the same pass (conv-bn-relu). */
	void (*batchnorm_relu_forward)(struct backend *be, bool training, int n, int c, int spatial,
				       float momentum, float eps, const float *x, const float *gamma,
				       const float *beta, float *running_mean, float *running_var,
				       float *save_mean, float *save_invstd, float *y, float *batches);

	/* --- pooling --- */
	/* argmax (int32, backend memory, one per output) is kept for backward. */
	void (*maxpool_forward)(struct backend *be, const struct pool_shape *ps,
				const float *x, float *y, int32_t *argmax);
	void (*maxpool_backward)(struct backend *be, const struct pool_shape *ps,
				 const float *dy, const int32_t *argmax, float *dx);
	void (*avgpool_forward)(struct backend *be, const struct pool_shape *ps,
				const float *x, float *y);
	void (*avgpool_backward)(struct backend *be, const struct pool_shape *ps,
				 const float *dy, float *dx);

	/* Release everything the backend owns (not memory handed out by alloc). */
	void (*destroy)(struct backend *be);
};

/*
 * A backend described without opening it, for memory estimates (memest.h):
 * what decides the size of its scratch buffers.
 */
struct backend_target {
	bool cuda;           /* the CUDA backend; else the CPU backend */
	int threads;         /* CPU threads: the CPU scratch has one area per thread */
	bool lowp;           /* CUDA bf16/fp16: convolutions copy their operands to 16 bits in scratch */
};
/*
 * Bytes of the backend's one shared scratch buffer that the three passes of
 * a convolution, or the products of a linear layer (forward [batch, in] ×
 * [out, in]ᵀ, the weight gradient, and the input gradient when need_dx),
 * need on `t`. The CPU sizes are the CPU backend's own (cpu_conv.c,
 * cpu_backend.c); the CUDA ones are an estimate (backend.c says how).
 */
size_t backend_conv2d_scratch(const struct backend_target *t, const struct conv_shape *cs);
size_t backend_linear_scratch(const struct backend_target *t, int batch, int in, int out, bool need_dx);
/* The CPU backend's sizes behind the two above (engine/cpu/). */
size_t backend_cpu_conv2d_scratch(const struct conv_shape *cs, int threads);
size_t backend_cpu_gemm_scratch(int m, int n, int k, int threads);

/* The CPU backend (engine/cpu/). `threads` ≤ 0 means all cores. */
struct backend *backend_cpu_new(int threads);
/* The threads a CPU backend computes with (OpenBLAS and the engine's own loops). */
int backend_cpu_threads(const struct backend *be);

/*
 * Open a backend by device name: "cpu", "cuda", "cuda:N", "auto".
 * "auto" falls back to the CPU when no usable GPU exists, and says why in
 * `note`. `precision` is an enum precision (precision.h); the CPU computes
 * in fp32 and says so in `note` when asked for another. A CUDA device that cannot be used is an error naming the cause
 * (no driver, no device, libtrainbook-cuda.so missing). Returns NULL with
 * err filled on failure.
 */
struct backend *backend_open(const char *device, int precision, int cpu_threads, char *note,
			     size_t notelen, char *err, size_t errlen);

/* Human-readable name of the device a backend runs on ("cpu (2 threads, 4 cores)", "NVIDIA H100 80GB HBM3"). */
void backend_device_name(struct backend *be, char *buf, size_t len);
/* Whether the CUDA module exists (a device "auto" or "cuda" run loads it, and its libraries). */
bool backend_cuda_module_present(void);
/* Peak device memory in bytes, 0 when unknown (a backend without the extra: the CPU). */
size_t backend_peak_memory(struct backend *be);
/* The device's total memory in bytes, 0 when unknown (a backend without the extra; the CPU: see memlimit.h). */
size_t backend_device_memory(struct backend *be);

void backend_destroy(struct backend *be);

#endif
