/*
 * emu_runtime.cpp — the CUDA emulator's engine (see emu_cuda.h): fibers
 * for the threads of a block with block and warp barriers, and synchronous
 * host versions of the runtime calls the backend makes, including a
 * recording form of stream capture, and EMU_DEVICES emulated devices.
 * Threads: any host thread. Fibers switch only inside this file, and a
 * whole grid runs under grid_lock, so the scheduler's state and kernels'
 * `__shared__` statics are never used by two grids at once; the memory
 * table has memory_lock.
 */
#include <time.h>
#include <ucontext.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "emu_cuda.h"

dim3 emu_threadIdx, emu_blockIdx, emu_blockDim, emu_gridDim;

void emu_fatal(const char *what)
{
	fprintf(stderr, "emu: %s (block %u,%u thread %u)\n", what, emu_blockIdx.x, emu_blockIdx.y, emu_threadIdx.x);
	abort();
}

/* ---- fibers ---------------------------------------------------------------------- */

enum fiber_state { F_RUN, F_WAIT_BLOCK, F_WAIT_WARP, F_DONE };

struct fiber {
	ucontext_t ctx;
	enum fiber_state state;
	unsigned tid; /* linear thread index in the block */
};

#define EMU_STACK (64 * 1024)
#define EMU_MAX_THREADS 1024

static ucontext_t sched_ctx;
static struct fiber fibers[EMU_MAX_THREADS];
static char *stacks;
static struct fiber *cur;
static const std::function<void()> *cur_body;
static uint32_t warp_slots[EMU_MAX_THREADS / 32][32];

static void fiber_main(void)
{
	(*cur_body)();
	cur->state = F_DONE;
	/* uc_link returns to the scheduler */
}

static void set_thread_index(const struct fiber *f)
{
	emu_threadIdx.x = f->tid % emu_blockDim.x;
	emu_threadIdx.y = (f->tid / emu_blockDim.x) % emu_blockDim.y;
	emu_threadIdx.z = f->tid / (emu_blockDim.x * emu_blockDim.y);
}

static void yield(enum fiber_state why)
{
	cur->state = why;
	swapcontext(&cur->ctx, &sched_ctx);
}

void emu_syncthreads(void)
{
	yield(F_WAIT_BLOCK);
}

uint32_t emu_warp_exchange(uint32_t value, int src_lane)
{
	unsigned warp = cur->tid / 32, lane = cur->tid % 32;
	warp_slots[warp][lane] = value;
	yield(F_WAIT_WARP);
	uint32_t r = warp_slots[warp][src_lane];
	yield(F_WAIT_WARP); /* nobody overwrites a slot before every lane has read */
	return r;
}

/* Release the barriers every waiting thread has reached; false when stuck. */
static bool release_barriers(int n)
{
	bool released = false;
	for (int w = 0; w * 32 < n; w++) {
		int lanes = n - w * 32 < 32 ? n - w * 32 : 32, at_warp = 0, done = 0;
		for (int l = 0; l < lanes; l++) {
			at_warp += fibers[w * 32 + l].state == F_WAIT_WARP;
			done += fibers[w * 32 + l].state == F_DONE;
		}
		if (at_warp && done)
			emu_fatal("warp shuffle with an exited lane");
		if (at_warp == lanes) {
			for (int l = 0; l < lanes; l++)
				fibers[w * 32 + l].state = F_RUN;
			released = true;
		}
	}
	if (released)
		return true;
	int at_block = 0, done = 0;
	for (int i = 0; i < n; i++) {
		at_block += fibers[i].state == F_WAIT_BLOCK;
		done += fibers[i].state == F_DONE;
	}
	if (at_block && at_block + done == n) {
		for (int i = 0; i < n; i++)
			if (fibers[i].state == F_WAIT_BLOCK)
				fibers[i].state = F_RUN;
		return true;
	}
	return false;
}

static void run_block(int n, const std::function<void()> &body)
{
	if (!stacks) {
		stacks = (char *)malloc((size_t)EMU_MAX_THREADS * EMU_STACK);
		if (!stacks)
			emu_fatal("out of memory for fiber stacks");
	}
	cur_body = &body;
	for (int i = 0; i < n; i++) {
		struct fiber *f = &fibers[i];
		f->tid = (unsigned)i;
		f->state = F_RUN;
		getcontext(&f->ctx);
		f->ctx.uc_stack.ss_sp = stacks + (size_t)i * EMU_STACK;
		f->ctx.uc_stack.ss_size = EMU_STACK;
		f->ctx.uc_link = &sched_ctx;
		makecontext(&f->ctx, fiber_main, 0);
	}
	for (;;) {
		int done = 0;
		for (int i = 0; i < n; i++) {
			if (fibers[i].state != F_RUN)
				continue;
			cur = &fibers[i];
			set_thread_index(cur);
			swapcontext(&sched_ctx, &cur->ctx);
		}
		for (int i = 0; i < n; i++)
			done += fibers[i].state == F_DONE;
		if (done == n)
			break;
		if (!release_barriers(n))
			emu_fatal("deadlock: threads wait at a barrier others never reach");
	}
}

static std::mutex grid_lock; /* guards the fiber scheduler, the index variables and kernels' statics */

void emu_run_grid(dim3 grid, dim3 block, const std::function<void()> &body)
{
	std::lock_guard<std::mutex> hold(grid_lock);
	emu_gridDim = grid;
	emu_blockDim = block;
	int n = (int)(block.x * block.y * block.z);
	for (unsigned z = 0; z < grid.z; z++)
		for (unsigned y = 0; y < grid.y; y++)
			for (unsigned x = 0; x < grid.x; x++) {
				emu_blockIdx = dim3(x, y, z);
				run_block(n, body);
			}
}

/* ---- memory -------------------------------------------------------------------------- */

static std::mutex memory_lock; /* guards live, live_bytes, high_bytes */
static std::unordered_map<void *, size_t> live;
static size_t live_bytes, high_bytes;

size_t emu_live_bytes(void)
{
	std::lock_guard<std::mutex> hold(memory_lock);
	return live_bytes;
}

struct emu_pool {
	int unused;
};

cudaError_t cudaMallocFromPoolAsync(void **p, size_t bytes, cudaMemPool_t pool, cudaStream_t s)
{
	(void)pool;
	(void)s;
	/* Garbage, like fresh device memory: code that forgets to initialise shows it. */
	void *m = malloc(bytes ? bytes : 1);
	if (!m)
		return cudaErrorMemoryAllocation;
	memset(m, 0xa5, bytes < 4096 ? bytes : 4096);
	std::lock_guard<std::mutex> hold(memory_lock);
	live[m] = bytes;
	live_bytes += bytes;
	if (live_bytes > high_bytes)
		high_bytes = live_bytes;
	*p = m;
	return cudaSuccess;
}

cudaError_t cudaFreeAsync(void *p, cudaStream_t s)
{
	(void)s;
	std::lock_guard<std::mutex> hold(memory_lock);
	auto it = live.find(p);
	if (it == live.end())
		emu_fatal("cudaFreeAsync of a pointer not from cudaMallocFromPoolAsync");
	live_bytes -= it->second;
	live.erase(it);
	free(p);
	return cudaSuccess;
}

/* Outside the pool: not counted in the pool's high-water mark, like the real thing. */
cudaError_t cudaMalloc(void **p, size_t bytes)
{
	*p = malloc(bytes ? bytes : 1);
	return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFree(void *p)
{
	free(p);
	return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t bytes)
{
	*p = malloc(bytes ? bytes : 1);
	return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFreeHost(void *p)
{
	free(p);
	return cudaSuccess;
}

cudaError_t cudaMemPoolCreate(cudaMemPool_t *pool, const struct cudaMemPoolProps *props)
{
	(void)props;
	*pool = (cudaMemPool_t)calloc(1, sizeof(struct emu_pool));
	return cudaSuccess;
}

cudaError_t cudaMemPoolDestroy(cudaMemPool_t pool)
{
	free(pool);
	return cudaSuccess;
}

cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t, enum cudaMemPoolAttr, void *)
{
	return cudaSuccess;
}

cudaError_t cudaMemPoolGetAttribute(cudaMemPool_t, enum cudaMemPoolAttr attr, void *value)
{
	std::lock_guard<std::mutex> hold(memory_lock);
	uint64_t v = attr == cudaMemPoolAttrUsedMemHigh || attr == cudaMemPoolAttrReservedMemHigh ? high_bytes
												 : live_bytes;
	memcpy(value, &v, sizeof(v));
	return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
	*free_bytes = (size_t)8 << 30;
	*total_bytes = (size_t)16 << 30;
	return cudaSuccess;
}

/* ---- streams, capture, graphs ---------------------------------------------------------- */

struct emu_graph {
	std::vector<std::function<void()>> work;
	std::vector<const char *> names; /* what each node is, for EMU_TRACE */
};
struct emu_graph_exec {
	std::vector<std::function<void()>> work;
};
struct emu_stream {
	struct emu_graph *capture; /* non-NULL while capturing */
	int device;                /* current when the stream was made */
};
struct emu_event {
	int device;      /* current when the event was made */
	double recorded; /* host seconds at the last record: work runs when issued, so it is done by then */
	bool timing;     /* made without cudaEventDisableTiming */
};

static thread_local int current_device; /* CUDA's current device is per host thread, 0 until set */

/* EMU_DEVICES, read once: how many devices the emulator shows. */
static int device_count(void)
{
	static int count;
	static std::once_flag once;
	std::call_once(once, [] {
		const char *v = getenv("EMU_DEVICES");
		count = v && *v ? atoi(v) : 1;
		if (count < 1 || count > 8)
			emu_fatal("EMU_DEVICES must be 1..8");
	});
	return count;
}

int emu_stream_device(cudaStream_t s)
{
	return s ? s->device : current_device;
}

void emu_check_launch(void *stream)
{
	int device = emu_stream_device((cudaStream_t)stream);
	if (device != current_device) {
		char what[160];
		snprintf(what, sizeof(what), "kernel launched into a stream of device %d while device %d is current "
					     "(a GPU fails it: invalid resource handle)", device, current_device);
		emu_fatal(what);
	}
}

bool emu_capturing(void *stream)
{
	return stream && ((struct emu_stream *)stream)->capture;
}

void emu_capture_add(void *stream, const std::function<void()> &work, const char *name)
{
	struct emu_graph *g = ((struct emu_stream *)stream)->capture;
	g->work.push_back(work);
	g->names.push_back(name);
}

/* EMU_TRACE=1: each instantiated graph's node count and nodes by name, on
 * stderr. A node stands for one launch on a GPU, whose fixed cost (a few
 * microseconds) is what bounds a small model's step. */
static void trace_graph(const struct emu_graph *g)
{
	const char *v = getenv("EMU_TRACE");
	if (!v || !*v || strcmp(v, "0") == 0)
		return;
	std::vector<std::pair<std::string, int>> tally;
	for (const char *n : g->names) {
		auto it = std::find_if(tally.begin(), tally.end(), [&](const auto &t) { return t.first == n; });
		if (it == tally.end())
			tally.emplace_back(n, 1);
		else
			it->second++;
	}
	fprintf(stderr, "emu: graph of %zu nodes:", g->names.size());
	for (const auto &t : tally)
		fprintf(stderr, " %s x%d", t.first.c_str(), t.second);
	fprintf(stderr, "\n");
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned)
{
	*s = (cudaStream_t)calloc(1, sizeof(struct emu_stream));
	(*s)->device = current_device;
	return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s)
{
	free(s);
	return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
	return emu_capturing(s) ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}

/* Work runs when it is issued, so every stream is always idle. */
cudaError_t cudaStreamQuery(cudaStream_t s)
{
	return emu_capturing(s) ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}

/* Allowed across devices, as on a GPU; there is nothing to wait for here. */
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags)
{
	(void)s;
	return e && flags == 0 ? cudaSuccess : cudaErrorInvalidValue;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s)
{
	if (emu_capturing(s)) {
		emu_capture_add(s, [=]() { memset(p, value, bytes); }, "cudaMemsetAsync");
		return cudaSuccess;
	}
	memset(p, value, bytes);
	return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind, cudaStream_t s)
{
	if (emu_capturing(s)) {
		/* Pageable host memory cannot be captured; device-to-device copies can. */
		if (kind != cudaMemcpyDeviceToDevice)
			return cudaErrorStreamCaptureUnsupported;
		emu_capture_add(s, [=]() { memmove(dst, src, bytes); }, "cudaMemcpyAsync");
		return cudaSuccess;
	}
	if ((char *)dst < (const char *)src + bytes && (const char *)src < (char *)dst + bytes)
		emu_fatal("cudaMemcpyAsync with overlapping ranges");
	memcpy(dst, src, bytes);
	return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, enum cudaStreamCaptureMode)
{
	if (s->capture)
		return cudaErrorInvalidValue;
	s->capture = new emu_graph;
	return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph)
{
	if (!s->capture)
		return cudaErrorInvalidValue;
	*graph = s->capture;
	s->capture = NULL;
	return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t s, enum cudaStreamCaptureStatus *status)
{
	*status = s->capture ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
	return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long)
{
	*exec = new emu_graph_exec;
	(*exec)->work = graph->work;
	trace_graph(graph);
	return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s)
{
	if (emu_capturing(s))
		return cudaErrorStreamCaptureUnsupported;
	for (auto &w : exec->work)
		w();
	return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec)
{
	delete exec;
	return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph)
{
	delete graph;
	return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags)
{
	*e = (cudaEvent_t)calloc(1, sizeof(struct emu_event));
	(*e)->device = current_device;
	(*e)->timing = !(flags & cudaEventDisableTiming);
	return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
	if (!start->timing || !end->timing)
		return cudaErrorInvalidResourceHandle;
	*ms = (float)((end->recorded - start->recorded) * 1e3);
	return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e)
{
	free(e);
	return cudaSuccess;
}

/* CUDA refuses an event and a stream of different devices. */
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
	if (e->device != emu_stream_device(s))
		return cudaErrorInvalidResourceHandle;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	e->recorded = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
	return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t)
{
	return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t)
{
	return cudaSuccess;
}

/* ---- device ------------------------------------------------------------------------------ */

const char *cudaGetErrorString(cudaError_t e)
{
	switch (e) {
	case cudaSuccess:
		return "no error";
	case cudaErrorMemoryAllocation:
		return "out of memory";
	case cudaErrorStreamCaptureUnsupported:
		return "operation not permitted when stream is capturing";
	case cudaErrorInvalidDevice:
		return "invalid device ordinal";
	case cudaErrorInvalidResourceHandle:
		return "invalid resource handle";
	default:
		return "emulated CUDA error";
	}
}

cudaError_t cudaGetLastError(void)
{
	return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int *count)
{
	*count = device_count();
	return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *version)
{
	*version = 13000;
	return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device)
{
	if (device < 0 || device >= device_count())
		return cudaErrorInvalidDevice;
	memset(prop, 0, sizeof(*prop));
	snprintf(prop->name, sizeof(prop->name), "trainbook CUDA emulator");
	prop->major = 9;
	prop->minor = 0;
	prop->multiProcessorCount = 4; /* small grids: grid-stride loops get exercised */
	prop->totalGlobalMem = (size_t)16 << 30;
	return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
	if (device < 0 || device >= device_count())
		return cudaErrorInvalidDevice;
	current_device = device;
	return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device)
{
	*device = current_device;
	return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr, int)
{
	*value = 1;
	return cudaSuccess;
}
