/*
 * emu_cuda.h — a CPU stand-in for the parts of CUDA the trainbook kernels
 * use, so the backend's .cu files can be compiled by g++ and checked against the
 * CPU backend on a machine without a GPU (tests/gpu/emu/run.sh).
 *
 * What it is: every CUDA thread of a block is a ucontext fiber on one OS
 * thread; __syncthreads and the warp shuffles are barriers between fibers
 * (block-wide, or the 32 lanes of a warp), so reductions, shared memory and
 * warp-synchronous code really run cooperatively. Blocks run one after
 * another, `__shared__` is `static` (one copy, reused by the next block).
 * The runtime calls (memory, streams, pools) are synchronous host versions.
 * EMU_DEVICES=N (default 1, at most 8) makes N devices; the current device
 * is per host thread, streams and events belong to the device current when
 * they were made, and the rules CUDA enforces between them are enforced
 * here (a kernel goes to a stream of the current device; an event is
 * recorded on a stream of its own device), so multi-GPU code that forgets
 * cudaSetDevice on some thread fails here as it would on a GPU.
 * A barrier that some threads of a block (or warp) never reach, or a
 * shuffle with an exited lane, aborts with a message: on a GPU that is a
 * hang or undefined behaviour.
 *
 * What it is not: a timing model, a race detector (fibers switch only at
 * barriers, so a missing barrier goes unnoticed), or a check of how
 * cuBLASLt/cuDNN interpret their arguments (emu_libs.cpp mocks them with
 * naive loops written from the same reading of their documentation).
 *
 * Threads: any number of host threads (data-parallel replicas, their
 * communication threads); grids run one at a time under a lock, so kernels
 * of different threads never share the fiber scheduler or `__shared__`.
 */
#ifndef TB_EMU_CUDA_H
#define TB_EMU_CUDA_H

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <functional>

/* ---- qualifiers and index variables ------------------------------------------ */
#define __CUDACC__ 1 /* device-only helpers in the backend's headers are compiled too */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)

struct dim3 {
	unsigned x, y, z;
	dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};

extern dim3 emu_threadIdx, emu_blockIdx, emu_blockDim, emu_gridDim;
#define threadIdx emu_threadIdx
#define blockIdx emu_blockIdx
#define blockDim emu_blockDim
#define gridDim emu_gridDim

/* ---- cooperative execution (emu_runtime.cpp) ------------------------------------ */
void emu_syncthreads(void);
/* Exchange one 32-bit word across the calling warp: returns lane `src`'s value. */
uint32_t emu_warp_exchange(uint32_t value, int src_lane);
void emu_run_grid(dim3 grid, dim3 block, const std::function<void()> &body);
void emu_fatal(const char *what) __attribute__((noreturn));
/* While a stream is being captured, work is recorded instead of run. */
bool emu_capturing(void *stream);
void emu_capture_add(void *stream, const std::function<void()> &work, const char *name);
/* Abort unless `stream` (NULL: the legacy stream) belongs to the calling thread's current device. */
void emu_check_launch(void *stream);
/* Library work on a stream (cuBLASLt, cuDNN): run now, or record it while the stream captures. */
static inline void emu_stream_work(void *stream, const std::function<void()> &work, const char *name)
{
	if (emu_capturing(stream))
		emu_capture_add(stream, work, name);
	else
		work();
}

#define __syncthreads() emu_syncthreads()

template <typename K, typename... A> void emu_launch(K kernel, const char *name, dim3 grid, dim3 block, size_t shmem,
						    void *stream, A... args)
{
	(void)shmem;
	(void)stream;
	if (grid.x == 0 || grid.y > 65535 || block.x * block.y * block.z == 0 || block.x * block.y * block.z > 1024)
		emu_fatal("invalid launch configuration");
	emu_check_launch(stream);
	if (emu_capturing(stream)) {
		emu_capture_add(stream, [=]() { emu_run_grid(grid, block, [=]() { kernel(args...); }); }, name);
		return;
	}
	emu_run_grid(grid, block, [=]() { kernel(args...); });
}

static inline float __shfl_xor_sync(unsigned mask, float v, int lane_mask)
{
	(void)mask;
	uint32_t bits;
	memcpy(&bits, &v, 4);
	bits = emu_warp_exchange(bits, (int)((emu_threadIdx.x % 32) ^ (unsigned)lane_mask));
	memcpy(&v, &bits, 4);
	return v;
}

static inline int __shfl_xor_sync(unsigned mask, int v, int lane_mask)
{
	(void)mask;
	return (int)emu_warp_exchange((uint32_t)v, (int)((emu_threadIdx.x % 32) ^ (unsigned)lane_mask));
}

/* Fibers never interleave inside an expression: a plain update is atomic. */
static inline float atomicAdd(float *p, float v)
{
	float old = *p;
	*p = old + v;
	return old;
}

static inline unsigned atomicAdd(unsigned *p, unsigned v)
{
	unsigned old = *p;
	*p = old + v;
	return old;
}

static inline int atomicMax(int *p, int v)
{
	int old = *p;
	if (v > old)
		*p = v;
	return old;
}

static inline void __trap(void)
{
	emu_fatal("__trap");
}

/* Explicitly rounded arithmetic: the build uses -ffp-contract=off, so plain ops are exactly these. */
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fsqrt_rn(float a) { return sqrtf(a); }
static inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b)
{
	return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }

/* ---- 16-bit floating point ------------------------------------------------------- */
struct __nv_bfloat16 {
	uint16_t bits;
};
struct __half {
	uint16_t bits;
};

static inline __nv_bfloat16 __float2bfloat16_rn(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	__nv_bfloat16 r;
	if ((u & 0x7fffffffu) > 0x7f800000u) {
		r.bits = (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
		return r;
	}
	u += 0x7fffu + ((u >> 16) & 1); /* round to nearest even */
	r.bits = (uint16_t)(u >> 16);
	return r;
}

static inline float __bfloat162float(__nv_bfloat16 b)
{
	uint32_t u = (uint32_t)b.bits << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline __half __float2half_rn(float f)
{
	_Float16 h = (_Float16)f;
	__half r;
	memcpy(&r.bits, &h, 2);
	return r;
}

static inline float __half2float(__half h)
{
	_Float16 v;
	memcpy(&v, &h.bits, 2);
	return (float)v;
}

/* ---- runtime API subset ----------------------------------------------------------- */
#define CUDART_VERSION 13000

typedef enum cudaError {
	cudaSuccess = 0,
	cudaErrorInvalidValue = 1,
	cudaErrorMemoryAllocation = 2,
	cudaErrorInsufficientDriver = 35,
	cudaErrorNoDevice = 100,
	cudaErrorInvalidDevice = 101,
	cudaErrorInvalidResourceHandle = 400,
	cudaErrorNotReady = 600,
	cudaErrorStreamCaptureUnsupported = 900,
	cudaErrorStreamCaptureInvalidated = 901,
} cudaError_t;

enum cudaMemcpyKind {
	cudaMemcpyHostToHost = 0,
	cudaMemcpyHostToDevice = 1,
	cudaMemcpyDeviceToHost = 2,
	cudaMemcpyDeviceToDevice = 3,
	cudaMemcpyDefault = 4,
};

#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventDisableTiming 0x02
typedef struct emu_stream *cudaStream_t;
typedef struct emu_event *cudaEvent_t;
typedef struct emu_pool *cudaMemPool_t;
typedef struct emu_graph *cudaGraph_t;
typedef struct emu_graph_exec *cudaGraphExec_t;

struct cudaDeviceProp {
	char name[256];
	int major, minor;
	int multiProcessorCount;
	size_t totalGlobalMem;
};

enum cudaDeviceAttr { cudaDevAttrMemoryPoolsSupported = 115 };
enum cudaMemAllocationType { cudaMemAllocationTypeInvalid = 0, cudaMemAllocationTypePinned = 1 };
enum cudaMemLocationType { cudaMemLocationTypeInvalid = 0, cudaMemLocationTypeDevice = 1 };
struct cudaMemLocation {
	enum cudaMemLocationType type;
	int id;
};
struct cudaMemPoolProps {
	enum cudaMemAllocationType allocType;
	int handleTypes;
	struct cudaMemLocation location;
	void *win32SecurityAttributes;
	size_t maxSize;
	unsigned short usage;
	unsigned char reserved[54];
};
enum cudaMemPoolAttr {
	cudaMemPoolAttrReleaseThreshold = 0x4,
	cudaMemPoolAttrReservedMemHigh = 0x6,
	cudaMemPoolAttrUsedMemCurrent = 0x7,
	cudaMemPoolAttrUsedMemHigh = 0x8,
};
enum cudaStreamCaptureMode {
	cudaStreamCaptureModeGlobal = 0,
	cudaStreamCaptureModeThreadLocal = 1,
	cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus {
	cudaStreamCaptureStatusNone = 0,
	cudaStreamCaptureStatusActive = 1,
	cudaStreamCaptureStatusInvalidated = 2,
};

const char *cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError(void);
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaDriverGetVersion(int *version);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int device);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamQuery(cudaStream_t s);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags);
cudaError_t cudaMemPoolCreate(cudaMemPool_t *pool, const struct cudaMemPoolProps *props);
cudaError_t cudaMemPoolDestroy(cudaMemPool_t pool);
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, enum cudaMemPoolAttr attr, void *value);
cudaError_t cudaMemPoolGetAttribute(cudaMemPool_t pool, enum cudaMemPoolAttr attr, void *value);
cudaError_t cudaMallocFromPoolAsync(void **p, size_t bytes, cudaMemPool_t pool, cudaStream_t s);
cudaError_t cudaFreeAsync(void *p, cudaStream_t s);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMallocHost(void **p, size_t bytes);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s);
cudaError_t cudaEventQuery(cudaEvent_t e);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);
/* Graph capture: the emulator records the launches and memory operations in order and replays them. */
cudaError_t cudaStreamBeginCapture(cudaStream_t s, enum cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t s, enum cudaStreamCaptureStatus *status);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);

/* Bytes of live emulated device memory, for leak checks. */
size_t emu_live_bytes(void);
/* The device a stream belongs to (NULL: the calling thread's current device), for the emulated NCCL. */
int emu_stream_device(cudaStream_t s);

#endif
