/*
 * cuda_backend.cu — the CUDA backend's entry points and its memory: device
 * discovery with errors that name the cause, one stream and one memory pool
 * per backend, cuBLASLt/cuDNN handles, scratch buffers, and the table.
 *
 * What it is: the module's entry points the engine's dlopen reaches
 * (tb_cuda_backend_new, tb_cuda_device_count; the NCCL pair lives in
 * cuda_nccl.cu), the memory half of backend.h, and the backend_ext.h table
 * of extras every CUDA backend points at. What it is not: the compute operations — each
 * group lives in its own file and installs itself (cuda_internal.h).
 *
 * Threads: one thread uses a backend at a time; the current CUDA device is
 * per host thread, so cuda_enter() re-selects ours when another thread (a
 * data-parallel replica, the worker's training thread) picks it up.
 */
#include <stdarg.h>
#include <string.h>

#include "cuda_internal.h"

/* cuBLASLt workspace: NVIDIA suggests 32 MiB on Hopper for the best kernels. */
#define CUDA_LT_WORKSPACE (32u << 20)

void cuda_fatal(const char *what, const char *detail, const char *file, int line)
{
	fprintf(stderr, "trainbook: CUDA error at %s:%d: %s: %s\n", file, line, what, detail);
	fflush(stderr);
	abort();
}

void cuda_errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* thread-local: which device this host thread last made current through us. */
static __thread int cuda_thread_device = -1;

struct cuda_backend *cuda_enter(struct backend *be)
{
	struct cuda_backend *cb = (struct cuda_backend *)be->impl;
	cb->calls++;
	if (cuda_thread_device != cb->device) {
		CUDA_CHECK(cudaSetDevice(cb->device));
		cuda_thread_device = cb->device;
	}
	return cb;
}

/*
 * Count devices, turning the runtime's codes into causes a user can act
 * on. cudart reports "insufficient driver" both when no driver is
 * installed and when it is too old; cudaDriverGetVersion tells them apart
 * (it yields 0 without a driver).
 */
static int cuda_probe(char *err, size_t errlen)
{
	int count = 0;
	cudaError_t e = cudaGetDeviceCount(&count);
	if (e == cudaSuccess && count > 0)
		return count;
	int driver = 0;
	cudaDriverGetVersion(&driver);
	if (e == cudaSuccess || e == cudaErrorNoDevice) {
		const char *visible = getenv("CUDA_VISIBLE_DEVICES");
		cuda_errf(err, errlen, "no CUDA device found%s%s%s", visible ? " (CUDA_VISIBLE_DEVICES=" : "",
			  visible ? visible : "", visible ? ")" : "");
	} else if (e == cudaErrorInsufficientDriver && driver == 0) {
		cuda_errf(err, errlen, "no NVIDIA driver found (libcuda.so.1 missing or the kernel module not loaded)");
	} else if (e == cudaErrorInsufficientDriver) {
		cuda_errf(err, errlen, "NVIDIA driver too old: it supports CUDA %d.%d, this build needs CUDA %d.%d",
			  driver / 1000, driver % 1000 / 10, CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10);
	} else {
		cuda_errf(err, errlen, "CUDA initialisation failed: %s", cudaGetErrorString(e));
	}
	cudaGetLastError(); /* leave no pending error for the next runtime call to report */
	return -1;
}

CUDA_EXPORT int tb_cuda_device_count(char *err, size_t errlen)
{
	return cuda_probe(err, errlen);
}

/* ---- memory --------------------------------------------------------------- */

void cuda_not_capturing(const struct cuda_backend *cb, const char *what)
{
	if (cb->capturing) {
		fprintf(stderr,
			"trainbook: %s inside a CUDA-graph capture: allocate, upload and read back outside "
			"cuda_capture_begin/end, and run one eager step first so scratch buffers and "
			"convolution algorithms are settled\n",
			what);
		fflush(stderr);
		abort();
	}
}

void *cuda_pool_alloc(struct cuda_backend *cb, size_t bytes)
{
	cuda_not_capturing(cb, "device allocation (alloc, or a scratch buffer growing)");
	void *p = NULL;
	/* Zero-byte requests still get a distinct pointer, as the CPU backend does. */
	cudaError_t e = cudaMallocFromPoolAsync(&p, bytes ? bytes : 256, cb->pool, cb->stream);
	if (e != cudaSuccess) {
		size_t free_b = 0, total_b = 0;
		cudaMemGetInfo(&free_b, &total_b);
		fprintf(stderr,
			"trainbook: CUDA out of memory allocating %zu bytes on device %d (%s): %s; "
			"%zu MiB free of %zu MiB\n",
			bytes, cb->device, cb->device_name, cudaGetErrorString(e), free_b >> 20, total_b >> 20);
		abort();
	}
	return p;
}

void cuda_pool_free(struct cuda_backend *cb, void *p)
{
	if (p)
		CUDA_CHECK(cudaFreeAsync(p, cb->stream));
}

void *cuda_scratch(struct cuda_backend *cb, enum cuda_scratch_slot slot, size_t bytes)
{
	if (cb->scratch_bytes[slot] < bytes) {
		/* Growth is stream-ordered: work already queued that uses the old
		 * buffer finishes before the pool reuses it. Grow by half again so
		 * a slowly rising size does not reallocate every call. */
		size_t want = cuda_align256(bytes + bytes / 2);
		cuda_pool_free(cb, cb->scratch[slot]);
		cb->scratch[slot] = cuda_pool_alloc(cb, want);
		cb->scratch_bytes[slot] = want;
	}
	return cb->scratch[slot];
}

static void *cuda_alloc(struct backend *be, size_t bytes)
{
	struct cuda_backend *cb = cuda_enter(be);
	void *p = cuda_pool_alloc(cb, bytes);
	CUDA_CHECK(cudaMemsetAsync(p, 0, bytes ? bytes : 256, cb->stream));
	return p;
}

static void cuda_free(struct backend *be, void *p)
{
	struct cuda_backend *cb = cuda_enter(be);
	cuda_not_capturing(cb, "free");
	cuda_pool_free(cb, p);
}

/* Uploads up to this size travel as a kernel argument (see cuda_upload). */
#define SMALL_UPLOAD_BYTES 256

struct small_upload {
	unsigned char bytes[SMALL_UPLOAD_BYTES];
};

static __global__ void small_upload_kernel(unsigned char *dst, struct small_upload src, unsigned n)
{
	unsigned i = threadIdx.x;
	if (i < n)
		dst[i] = src.bytes[i];
}

/*
 * The per-step scalars (learning rate, step counter, batch cursor) are a
 * few bytes each. From pageable memory cudaMemcpyAsync may synchronise
 * with the stream to stage them, which would make the host wait for the
 * previous step every step; a kernel argument is copied at launch, so the
 * host runs ahead and may reuse host_src at once. Larger copies are staged
 * before cudaMemcpyAsync returns (CUDA's documented pageable behaviour).
 */
static void cuda_upload(struct backend *be, void *dst, const void *host_src, size_t bytes)
{
	struct cuda_backend *cb = cuda_enter(be);
	cuda_not_capturing(cb, "upload");
	if (bytes == 0)
		return;
	if (bytes <= SMALL_UPLOAD_BYTES) {
		struct small_upload arg;
		memcpy(arg.bytes, host_src, bytes);
		small_upload_kernel<<<1, SMALL_UPLOAD_BYTES, 0, cb->stream>>>((unsigned char *)dst, arg, (unsigned)bytes);
		CUDA_LAUNCHED();
		return;
	}
	CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, cb->stream));
}

static void cuda_download(struct backend *be, void *host_dst, const void *src, size_t bytes)
{
	struct cuda_backend *cb = cuda_enter(be);
	cuda_not_capturing(cb, "download");
	if (bytes)
		CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, cb->stream));
	CUDA_CHECK(cudaStreamSynchronize(cb->stream));
}

/* memmove semantics like the CPU backend: overlapping ranges go through scratch. */
static void cuda_copy(struct backend *be, void *dst, const void *src, size_t bytes)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (!bytes || dst == src)
		return;
	const char *d = (const char *)dst, *s = (const char *)src;
	if (d < s + bytes && s < d + bytes) {
		void *tmp = cuda_scratch(cb, CUDA_SCRATCH_WORK, bytes);
		CUDA_CHECK(cudaMemcpyAsync(tmp, src, bytes, cudaMemcpyDeviceToDevice, cb->stream));
		src = tmp;
	}
	CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cb->stream));
}

static void cuda_fill(struct backend *be, float *x, float value, int64_t n)
{
	cuda_fill_async(cuda_enter(be), x, value, n);
}

static void cuda_sync(struct backend *be)
{
	struct cuda_backend *cb = cuda_enter(be);
	cuda_not_capturing(cb, "sync");
	CUDA_CHECK(cudaStreamSynchronize(cb->stream));
}

/* ---- life cycle ------------------------------------------------------------- */

static void cuda_release(struct cuda_backend *cb)
{
	if (cb->stream)
		cudaStreamSynchronize(cb->stream);
	cuda_gemm_cache_free(cb->gemm);
	cuda_conv_cache_free(cb->conv);
	for (int i = 0; i < CUDA_SCRATCH_NSLOTS; i++)
		if (cb->scratch[i])
			cudaFreeAsync(cb->scratch[i], cb->stream);
	if (cb->lt_workspace)
		cudaFreeAsync(cb->lt_workspace, cb->stream);
	if (cb->stream)
		cudaStreamSynchronize(cb->stream);
	if (cb->dnn)
		cudnnDestroy(cb->dnn);
	if (cb->lt)
		cublasLtDestroy(cb->lt);
	if (cb->pool)
		cudaMemPoolDestroy(cb->pool);
	if (cb->stream)
		cudaStreamDestroy(cb->stream);
	free(cb);
}

/* This backend's device by name ("NVIDIA H100 80GB HBM3"): cuda:1 is not cuda:0. */
static void cuda_describe(struct backend *be, char *buf, size_t len)
{
	snprintf(buf, len, "%s", ((struct cuda_backend *)be->impl)->device_name);
}

static void cuda_destroy(struct backend *be)
{
	struct cuda_backend *cb = cuda_enter(be);
	cuda_release(cb);
	free(be);
}

/*
 * Open device `device` for `precision`. Every failure a user can meet
 * (no driver, old driver, no device, index out of range, a device too old
 * for this build, a cuBLASLt or cuDNN that will not start) returns NULL
 * with one line in err; only broken invariants abort.
 */
CUDA_EXPORT struct backend *tb_cuda_backend_new(int device, int precision, char *err, size_t errlen)
{
	struct backend *be = NULL;
	struct cuda_backend *cb = NULL;
	cudaDeviceProp prop;
	cudaError_t e;
	cublasStatus_t bs;
	cudnnStatus_t ds;
	int supports_pools = 0;

	if (precision < 0 || precision >= PRECISION_KINDS) {
		cuda_errf(err, errlen, "unknown precision %d (precision.h has %d)", precision, PRECISION_KINDS);
		return NULL;
	}
	int count = cuda_probe(err, errlen);
	if (count < 0)
		return NULL;
	if (device < 0 || device >= count) {
		cuda_errf(err, errlen, "CUDA device %d out of range: %d device%s visible", device, count,
			  count == 1 ? "" : "s");
		return NULL;
	}
	if ((e = cudaGetDeviceProperties(&prop, device)) != cudaSuccess) {
		cuda_errf(err, errlen, "cannot query CUDA device %d: %s", device, cudaGetErrorString(e));
		return NULL;
	}
	/* The .so carries sm_80 and sm_90 code and compute_90 PTX: older GPUs have nothing to run. */
	if (prop.major < 8) {
		cuda_errf(err, errlen, "CUDA device %d (%s) has compute capability %d.%d; trainbook needs 8.0 or newer",
			  device, prop.name, prop.major, prop.minor);
		return NULL;
	}

	cb = (struct cuda_backend *)calloc(1, sizeof(*cb));
	be = (struct backend *)calloc(1, sizeof(*be));
	if (!cb || !be) {
		cuda_errf(err, errlen, "out of host memory");
		goto fail;
	}
	cb->device = device;
	cb->precision = (enum precision)precision;
	snprintf(cb->device_name, sizeof(cb->device_name), "%s", prop.name);
	cb->sm_count = prop.multiProcessorCount;

	if ((e = cudaSetDevice(device)) != cudaSuccess) {
		cuda_errf(err, errlen, "cannot use CUDA device %d (%s): %s", device, prop.name, cudaGetErrorString(e));
		goto fail;
	}
	cuda_thread_device = device;
	if ((e = cudaStreamCreateWithFlags(&cb->stream, cudaStreamNonBlocking)) != cudaSuccess) {
		cuda_errf(err, errlen, "cannot create a CUDA stream on device %d: %s", device, cudaGetErrorString(e));
		goto fail;
	}
	cudaDeviceGetAttribute(&supports_pools, cudaDevAttrMemoryPoolsSupported, device);
	if (!supports_pools) {
		cuda_errf(err, errlen, "CUDA device %d (%s) does not support stream-ordered memory pools", device,
			  prop.name);
		goto fail;
	}
	{
		/* Our own pool (not the device default) so peak memory is this run's. */
		cudaMemPoolProps props;
		memset(&props, 0, sizeof(props));
		props.allocType = cudaMemAllocationTypePinned;
		props.location.type = cudaMemLocationTypeDevice;
		props.location.id = device;
		if ((e = cudaMemPoolCreate(&cb->pool, &props)) != cudaSuccess) {
			cuda_errf(err, errlen, "cannot create a CUDA memory pool: %s", cudaGetErrorString(e));
			cb->pool = NULL;
			goto fail;
		}
		/* Keep freed memory cached in the pool instead of returning it at each sync. */
		uint64_t keep = UINT64_MAX;
		cudaMemPoolSetAttribute(cb->pool, cudaMemPoolAttrReleaseThreshold, &keep);
	}
	if ((bs = cublasLtCreate(&cb->lt)) != CUBLAS_STATUS_SUCCESS) {
		cuda_errf(err, errlen, "cuBLASLt init failed: %s", cublasLtGetStatusString(bs));
		cb->lt = NULL;
		goto fail;
	}
	if ((ds = cudnnCreate(&cb->dnn)) != CUDNN_STATUS_SUCCESS) {
		cuda_errf(err, errlen, "cuDNN init failed: %s (cuDNN %zu found)", cudnnGetErrorString(ds),
			  cudnnGetVersion());
		cb->dnn = NULL;
		goto fail;
	}
	if ((ds = cudnnSetStream(cb->dnn, cb->stream)) != CUDNN_STATUS_SUCCESS) {
		cuda_errf(err, errlen, "cuDNN init failed: %s", cudnnGetErrorString(ds));
		goto fail;
	}
	cb->lt_workspace_bytes = CUDA_LT_WORKSPACE;
	if ((e = cudaMallocFromPoolAsync(&cb->lt_workspace, cb->lt_workspace_bytes, cb->pool, cb->stream)) !=
	    cudaSuccess) {
		cuda_errf(err, errlen, "cannot allocate the cuBLASLt workspace: %s", cudaGetErrorString(e));
		cb->lt_workspace = NULL;
		goto fail;
	}

	be->name = "cuda";
	be->precision = precision;
	be->ext = &cuda_ext;
	be->describe = cuda_describe;
	be->impl = cb;
	be->alloc = cuda_alloc;
	be->free = cuda_free;
	be->upload = cuda_upload;
	be->download = cuda_download;
	be->copy = cuda_copy;
	be->fill = cuda_fill;
	be->sync = cuda_sync;
	be->destroy = cuda_destroy;
	cuda_gemm_install(be);
	cuda_elementwise_install(be);
	cuda_loss_install(be);
	cuda_optim_install(be);
	cuda_conv_install(be);
	cuda_norm_install(be);
	cuda_pool_install(be);
	return be;

fail:
	if (cb)
		cuda_release(cb);
	free(be);
	return NULL;
}

/* Most bytes this backend's pool has handed out at once (weights, activations, scratch). */
static size_t cuda_peak_memory(struct backend *be)
{
	struct cuda_backend *cb = cuda_enter(be);
	uint64_t high = 0;
	if (cudaMemPoolGetAttribute(cb->pool, cudaMemPoolAttrUsedMemHigh, &high) != cudaSuccess)
		return 0;
	return (size_t)high;
}

/* The device's total memory (cudaMemGetInfo), 0 when the driver will not say: the memory estimate's budget. */
static size_t cuda_memory_total(struct backend *be)
{
	size_t free_b = 0, total_b = 0;
	if (cudaSetDevice(((struct cuda_backend *)be->impl)->device) != cudaSuccess ||
	    cudaMemGetInfo(&free_b, &total_b) != cudaSuccess)
		return 0;
	return total_b;
}

/* Every extra of backend_ext.h; each CUDA backend's be->ext points here. */
const struct backend_ext cuda_ext = {
	cuda_peak_memory,
	cuda_memory_total,
	cuda_amp_new,
	cuda_amp_free,
	cuda_amp_scale_grad,
	cuda_amp_prepare,
	cuda_amp_set_steps,
	cuda_amp_read,
	cuda_capture_begin,
	cuda_capture_end,
	cuda_graph_launch,
	cuda_graph_free,
	cuda_set_dropout_counter,
	cuda_readback_new,
	cuda_readback_start,
	cuda_readback_poll,
	cuda_readback_free,
	cuda_dataset_new,
	cuda_dataset_free,
	cuda_data_batch,
	cuda_marks_new,
	cuda_marks_record,
	cuda_marks_between,
	cuda_marks_free,
};
