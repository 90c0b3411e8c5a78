/*
 * cuda_internal.h — what the CUDA backend's files share: the private state
 * behind struct backend's `impl`, the error-check macros (file:line, then
 * abort, as llm.c's cudaCheck), launch-size helpers, scratch buffers and
 * the installers that fill the operation table by group.
 *
 * What it is not: an interface for the engine. The engine sees only
 * backend.h, the backend_ext.h table each backend points at, and the
 * tb_cuda_* entry points exported from cuda_backend.cu and cuda_nccl.cu;
 * every symbol declared here is hidden in the shared object.
 *
 * Threads: a backend is used by one thread at a time (backend.h). The
 * CUDA current device is per host thread, so every operation starts with
 * cuda_enter(), which selects the backend's device on the calling thread.
 */
#ifndef TB_CUDA_INTERNAL_H
#define TB_CUDA_INTERNAL_H

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern "C" {
#include "backend.h"
#include "backend_ext.h"
#include "precision.h"
}

/* Symbols shared between the backend's files but not exported from the .so. */
#define CUDA_HIDDEN __attribute__((visibility("hidden")))
/* The few C entry points the engine dlsyms. */
#define CUDA_EXPORT extern "C" __attribute__((visibility("default")))

/*
 * How gemm and convolution compute is the run's enum precision
 * (precision.h); element-wise work is always fp32:
 *   PRECISION_FP32  IEEE fp32 products: no TF32 anywhere (cuBLAS COMPUTE_32F, cuDNN FMA math)
 *   PRECISION_TF32  fp32 data, TF32 tensor-core products
 *   PRECISION_BF16  operands rounded to bf16, fp32 accumulation and output
 *   PRECISION_FP16  operands rounded to fp16, fp32 accumulation and output (loss scaling: cuda_amp.cu)
 */

/* Scratch slots: each op uses a slot at most once, and ops are serial on
 * the one stream, so a slot is free again when the next op starts. */
enum cuda_scratch_slot {
	CUDA_SCRATCH_REDUCE, /* partial sums of reductions (batch norm, sum_squares) */
	CUDA_SCRATCH_WORK,   /* conv workspace when the caller passes none; overlapping copies */
	CUDA_SCRATCH_NSLOTS,
};

struct cuda_gemm_cache; /* cuda_gemm.cu */
struct cuda_conv_cache; /* cuda_conv.cu */

struct cuda_backend {
	int device;                     /* CUDA device index */
	enum precision precision;       /* precision.h */
	char device_name[256];
	int sm_count;                   /* multiprocessors, for grid sizes */
	cudaStream_t stream;            /* every operation runs here; never the default stream */
	cudaMemPool_t pool;             /* this backend's allocations, for peak-memory accounting */
	cublasLtHandle_t lt;
	cudnnHandle_t dnn;
	void *lt_workspace;             /* cuBLASLt workspace, lt_workspace_bytes */
	size_t lt_workspace_bytes;
	void *scratch[CUDA_SCRATCH_NSLOTS];
	size_t scratch_bytes[CUDA_SCRATCH_NSLOTS];
	struct cuda_gemm_cache *gemm;   /* plans per gemm shape */
	struct cuda_conv_cache *conv;   /* descriptors and timed algorithms per conv shape */
	bool capturing;                 /* inside a CUDA-graph capture: no allocation, no sync */
	const uint64_t *dropout_counter; /* device word dropout reads its counter from, or NULL (backend_ext.h) */
	uint64_t calls;                 /* backend entries so far (cuda_enter), to tell "the very next call" */
	/* The 16-bit copy of dy a conv backward-filter left in scratch, for the backward-data
	 * call of the same layer that follows it (cuda_conv.cu). */
	struct {
		const float *dy;
		const void *plan;
		uint64_t call;
	} conv_dy_half;
};

/* ---- error checks: a failing CUDA call mid-step is unrecoverable ---------- */

/* Format an error message into err (nothing when err is NULL or errlen 0). */
CUDA_HIDDEN void cuda_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
CUDA_HIDDEN __attribute__((noreturn)) void cuda_fatal(const char *what, const char *detail, const char *file,
						      int line);

static inline void cuda_check_rt(cudaError_t e, const char *call, const char *file, int line)
{
	if (e != cudaSuccess)
		cuda_fatal(call, cudaGetErrorString(e), file, line);
}

static inline void cuda_check_blas(cublasStatus_t s, const char *call, const char *file, int line)
{
	if (s != CUBLAS_STATUS_SUCCESS)
		cuda_fatal(call, cublasLtGetStatusString(s), file, line);
}

static inline void cuda_check_dnn(cudnnStatus_t s, const char *call, const char *file, int line)
{
	if (s != CUDNN_STATUS_SUCCESS)
		cuda_fatal(call, cudnnGetErrorString(s), file, line);
}

#define CUDA_CHECK(call) cuda_check_rt((call), #call, __FILE__, __LINE__)
#define CUBLAS_CHECK(call) cuda_check_blas((call), #call, __FILE__, __LINE__)
#define CUDNN_CHECK(call) cuda_check_dnn((call), #call, __FILE__, __LINE__)
/* After every kernel launch: catches bad launch configurations without a sync. */
#define CUDA_LAUNCHED() cuda_check_rt(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
#define CUDA_ASSERT(cond)                                                                \
	do {                                                                             \
		if (!(cond))                                                             \
			cuda_fatal("assertion failed", #cond, __FILE__, __LINE__);       \
	} while (0)

/* ---- shared helpers (cuda_backend.cu) --------------------------------------- */

/* Abort with a message when `what` is called inside a graph capture, where it cannot work. */
CUDA_HIDDEN void cuda_not_capturing(const struct cuda_backend *cb, const char *what);

/* The backend's state, with its device made current on the calling thread. */
CUDA_HIDDEN struct cuda_backend *cuda_enter(struct backend *be);

/* A scratch buffer of at least `bytes` in `slot`, grown (stream-ordered) when
 * short. Contents are undefined. Must not grow during graph capture. */
CUDA_HIDDEN void *cuda_scratch(struct cuda_backend *cb, enum cuda_scratch_slot slot, size_t bytes);

/* Stream-ordered allocation from the backend's pool; aborts on OOM. */
CUDA_HIDDEN void *cuda_pool_alloc(struct cuda_backend *cb, size_t bytes);
CUDA_HIDDEN void cuda_pool_free(struct cuda_backend *cb, void *p);

/* Threads per block for element-wise kernels, and a grid that covers n
 * elements with grid-stride loops (capped so huge n does not mean huge grids). */
#define CUDA_THREADS 256
static inline unsigned cuda_grid(const struct cuda_backend *cb, int64_t n, int threads)
{
	int64_t blocks = (n + threads - 1) / threads;
	int64_t cap = (int64_t)cb->sm_count * 32;
	if (blocks > cap)
		blocks = cap;
	return blocks < 1 ? 1u : (unsigned)blocks;
}

#ifdef __CUDACC__
/*
 * Channel of element i in a [rows, channels, spatial] layout. 64-bit
 * division is a long software sequence on GPUs (it would cost more than the
 * memory traffic of these element-wise kernels); every realistic tensor
 * indexes in 32 bits, so that path is the one taken.
 */
static __device__ __forceinline__ int cuda_channel_of(int64_t i, int spatial, int channels)
{
	if (i <= 0xffffffffLL)
		return (int)(((uint32_t)i / (uint32_t)spatial) % (uint32_t)channels);
	return (int)((i / spatial) % channels);
}

/* (row, position) of element e of one channel's rows*spatial values, as above. */
static __device__ __forceinline__ void cuda_row_of(int64_t e, int spatial, int64_t *row, int64_t *pos)
{
	if (e <= 0xffffffffLL) {
		uint32_t r = (uint32_t)e / (uint32_t)spatial;
		*row = r;
		*pos = (int64_t)((uint32_t)e - r * (uint32_t)spatial);
	} else {
		*row = e / spatial;
		*pos = e - *row * spatial;
	}
}
#endif

/* Round up to a multiple of 256 bytes (cuBLASLt/cuDNN like 256-byte aligned operands). */
static inline size_t cuda_align256(size_t bytes)
{
	return (bytes + 255) & ~(size_t)255;
}

/* ---- the extras (backend_ext.h): each file's, gathered into cuda_ext ------------ */
/* The table every CUDA backend's be->ext points at (cuda_backend.cu). */
CUDA_HIDDEN extern const struct backend_ext cuda_ext;
/* cuda_amp.cu */
CUDA_HIDDEN struct backend_amp *cuda_amp_new(struct backend *be, const struct backend_amp_config *cfg);
CUDA_HIDDEN void cuda_amp_free(struct backend *be, struct backend_amp *a);
CUDA_HIDDEN void cuda_amp_scale_grad(struct backend *be, struct backend_amp *a, float *dlogits, int64_t n);
CUDA_HIDDEN void cuda_amp_prepare(struct backend *be, struct backend_amp *a, const float *grads, int64_t n,
				  double grad_clip, float beta1, float beta2, float *scalars);
CUDA_HIDDEN void cuda_amp_set_steps(struct backend *be, struct backend_amp *a, int64_t steps);
CUDA_HIDDEN void cuda_amp_read(struct backend *be, struct backend_amp *a, struct backend_amp_stats *out);
/* cuda_graph.cu */
CUDA_HIDDEN int cuda_capture_begin(struct backend *be, char *err, size_t errlen);
CUDA_HIDDEN struct backend_graph *cuda_capture_end(struct backend *be, char *err, size_t errlen);
CUDA_HIDDEN int cuda_graph_launch(struct backend *be, struct backend_graph *g, char *err, size_t errlen);
CUDA_HIDDEN void cuda_graph_free(struct backend *be, struct backend_graph *g);
CUDA_HIDDEN void cuda_set_dropout_counter(struct backend *be, const uint64_t *counter_dev);
CUDA_HIDDEN struct backend_readback *cuda_readback_new(struct backend *be, size_t bytes);
CUDA_HIDDEN void cuda_readback_start(struct backend *be, struct backend_readback *r, const void *src);
CUDA_HIDDEN const void *cuda_readback_poll(struct backend *be, struct backend_readback *r);
CUDA_HIDDEN void cuda_readback_free(struct backend *be, struct backend_readback *r);
CUDA_HIDDEN struct backend_marks *cuda_marks_new(struct backend *be, int capacity);
CUDA_HIDDEN void cuda_marks_record(struct backend *be, struct backend_marks *m, int index);
CUDA_HIDDEN float cuda_marks_between(struct backend *be, struct backend_marks *m, int a, int b);
CUDA_HIDDEN void cuda_marks_free(struct backend *be, struct backend_marks *m);
/* cuda_data.cu */
CUDA_HIDDEN struct backend_dataset *cuda_dataset_new(struct backend *be, const uint8_t *u8, const float *f32,
						     const int32_t *labels, int64_t n, int c, int h, int w, char *err,
						     size_t errlen);
CUDA_HIDDEN void cuda_dataset_free(struct backend *be, struct backend_dataset *d);
CUDA_HIDDEN void cuda_data_batch(struct backend *be, const struct backend_dataset *d, const struct backend_augment *aug,
				 const int64_t *order_dev, const int64_t *cursor_dev, int batch, float *x, int32_t *y);

/* ---- installers: each file fills its group of backend.h entries ------------- */
CUDA_HIDDEN void cuda_elementwise_install(struct backend *be);  /* cuda_elementwise.cu */
CUDA_HIDDEN void cuda_loss_install(struct backend *be);         /* cuda_loss.cu */
CUDA_HIDDEN void cuda_optim_install(struct backend *be);        /* cuda_optim.cu */
CUDA_HIDDEN void cuda_norm_install(struct backend *be);         /* cuda_norm.cu */
CUDA_HIDDEN void cuda_pool_install(struct backend *be);         /* cuda_pooling.cu */

/* cuda_gemm.cu */
CUDA_HIDDEN void cuda_gemm_install(struct backend *be);
CUDA_HIDDEN void cuda_gemm_cache_free(struct cuda_gemm_cache *c);

/* cuda_conv.cu */
CUDA_HIDDEN void cuda_conv_install(struct backend *be);
CUDA_HIDDEN void cuda_conv_cache_free(struct cuda_conv_cache *c);

/* cuda_elementwise.cu: fp32 <-> bf16/fp16 for the low-precision operands of
 * convolutions (dst holds n 2-byte values). */
CUDA_HIDDEN void cuda_to_half(struct cuda_backend *cb, void *dst, const float *src, int64_t n);
CUDA_HIDDEN void cuda_from_half(struct cuda_backend *cb, float *dst, const void *src, int64_t n);
/* The element-wise kernels' fill, for ops that need a zeroed or constant buffer. */
CUDA_HIDDEN void cuda_fill_async(struct cuda_backend *cb, float *x, float value, int64_t n);

#endif
