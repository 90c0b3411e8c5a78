/*
 * cuda_graph.cu — whole-step CUDA graphs and asynchronous read-back.
 *
 * What it is: capture of the backend's one stream into a graph (thread-
 * local capture mode, so another thread's unrelated CUDA calls cannot
 * invalidate it), replay, the device counter dropout reads during replay,
 * and pinned buffers that metrics land in while the GPU keeps working.
 * Why it pays: a ResNet-18 step is ~150 kernel launches; replaying them as
 * one graph removes the per-launch host cost that dominates small batches
 * and the MLP. What it is not: the decision when shapes are static — the
 * train loop captures after one eager step and recaptures if the batch
 * shape changes.
 *
 * Also the timing marks profile.c reads (events with timing on).
 *
 * Threads: the backend's thread.
 */
#include "backend_ext.h"
#include "cuda_internal.h"

struct backend_graph {
	cudaGraph_t graph;
	cudaGraphExec_t exec;
};

struct backend_readback {
	void *host;         /* pinned, `bytes` */
	size_t bytes;
	cudaEvent_t done;
	bool started;
};

static int graph_err(char *err, size_t errlen, const char *what, cudaError_t e)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", what, cudaGetErrorString(e));
	return -1;
}

CUDA_HIDDEN int cuda_capture_begin(struct backend *be, char *err, size_t errlen)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (cb->capturing) {
		if (err && errlen)
			snprintf(err, errlen, "a capture is already in progress");
		return -1;
	}
	cudaError_t e = cudaStreamBeginCapture(cb->stream, cudaStreamCaptureModeThreadLocal);
	if (e != cudaSuccess)
		return graph_err(err, errlen, "cudaStreamBeginCapture", e);
	cb->capturing = true;
	return 0;
}

CUDA_HIDDEN struct backend_graph *cuda_capture_end(struct backend *be, char *err, size_t errlen)
{
	struct cuda_backend *cb = cuda_enter(be);
	if (!cb->capturing) {
		if (err && errlen)
			snprintf(err, errlen, "no capture in progress");
		return NULL;
	}
	cb->capturing = false;
	cudaGraph_t graph = NULL;
	cudaError_t e = cudaStreamEndCapture(cb->stream, &graph);
	if (e != cudaSuccess) {
		graph_err(err, errlen, "cudaStreamEndCapture (an operation in the step cannot be captured)", e);
		if (graph)
			cudaGraphDestroy(graph);
		cudaGetLastError();
		return NULL;
	}
	struct backend_graph *g = (struct backend_graph *)calloc(1, sizeof(*g));
	CUDA_ASSERT(g);
	g->graph = graph;
	e = cudaGraphInstantiate(&g->exec, graph, 0);
	if (e != cudaSuccess) {
		graph_err(err, errlen, "cudaGraphInstantiate", e);
		cudaGraphDestroy(graph);
		free(g);
		cudaGetLastError();
		return NULL;
	}
	return g;
}

CUDA_HIDDEN int cuda_graph_launch(struct backend *be, struct backend_graph *g, char *err, size_t errlen)
{
	struct cuda_backend *cb = cuda_enter(be);
	cudaError_t e = cudaGraphLaunch(g->exec, cb->stream);
	return e == cudaSuccess ? 0 : graph_err(err, errlen, "cudaGraphLaunch", e);
}

CUDA_HIDDEN void cuda_graph_free(struct backend *be, struct backend_graph *g)
{
	if (!g)
		return;
	struct cuda_backend *cb = cuda_enter(be);
	/* A replay still in flight uses the executable graph. */
	CUDA_CHECK(cudaStreamSynchronize(cb->stream));
	cudaGraphExecDestroy(g->exec);
	cudaGraphDestroy(g->graph);
	free(g);
}

CUDA_HIDDEN void cuda_set_dropout_counter(struct backend *be, const uint64_t *counter_dev)
{
	struct cuda_backend *cb = cuda_enter(be);
	cb->dropout_counter = counter_dev;
}

/* ---- read-back ------------------------------------------------------------------ */

CUDA_HIDDEN struct backend_readback *cuda_readback_new(struct backend *be, size_t bytes)
{
	cuda_enter(be);
	struct backend_readback *r = (struct backend_readback *)calloc(1, sizeof(*r));
	CUDA_ASSERT(r);
	r->bytes = bytes;
	CUDA_CHECK(cudaMallocHost(&r->host, bytes ? bytes : 1));
	CUDA_CHECK(cudaEventCreateWithFlags(&r->done, cudaEventDisableTiming));
	return r;
}

CUDA_HIDDEN void cuda_readback_start(struct backend *be, struct backend_readback *r, const void *src)
{
	struct cuda_backend *cb = cuda_enter(be);
	cuda_not_capturing(cb, "cuda_readback_start");
	/* Pinned destination: the copy is truly asynchronous and the host goes on. */
	if (r->bytes)
		CUDA_CHECK(cudaMemcpyAsync(r->host, src, r->bytes, cudaMemcpyDeviceToHost, cb->stream));
	CUDA_CHECK(cudaEventRecord(r->done, cb->stream));
	r->started = true;
}

CUDA_HIDDEN const void *cuda_readback_poll(struct backend *be, struct backend_readback *r)
{
	cuda_enter(be);
	if (!r->started)
		return NULL;
	cudaError_t e = cudaEventQuery(r->done);
	if (e == cudaErrorNotReady)
		return NULL;
	CUDA_CHECK(e);
	return r->host;
}

CUDA_HIDDEN void cuda_readback_free(struct backend *be, struct backend_readback *r)
{
	if (!r)
		return;
	cuda_enter(be);
	if (r->started)
		cudaEventSynchronize(r->done);
	cudaEventDestroy(r->done);
	cudaFreeHost(r->host);
	free(r);
}

/* ---- timing marks ---------------------------------------------------------------- */

struct backend_marks {
	int capacity;
	cudaEvent_t *events;
};

CUDA_HIDDEN struct backend_marks *cuda_marks_new(struct backend *be, int capacity)
{
	cuda_enter(be);
	struct backend_marks *m = (struct backend_marks *)calloc(1, sizeof(*m));
	CUDA_ASSERT(m);
	m->events = (cudaEvent_t *)calloc((size_t)capacity, sizeof(*m->events));
	CUDA_ASSERT(m->events);
	m->capacity = capacity;
	for (int i = 0; i < capacity; i++)
		CUDA_CHECK(cudaEventCreateWithFlags(&m->events[i], cudaEventDefault));
	return m;
}

CUDA_HIDDEN void cuda_marks_record(struct backend *be, struct backend_marks *m, int index)
{
	struct cuda_backend *cb = cuda_enter(be);
	cuda_not_capturing(cb, "cuda_marks_record");
	CUDA_ASSERT(index >= 0 && index < m->capacity);
	CUDA_CHECK(cudaEventRecord(m->events[index], cb->stream));
}

CUDA_HIDDEN float cuda_marks_between(struct backend *be, struct backend_marks *m, int a, int b)
{
	cuda_enter(be);
	CUDA_ASSERT(a >= 0 && b >= 0 && a < m->capacity && b < m->capacity);
	CUDA_CHECK(cudaEventSynchronize(m->events[b]));
	float ms = 0;
	CUDA_CHECK(cudaEventElapsedTime(&ms, m->events[a], m->events[b]));
	return ms;
}

CUDA_HIDDEN void cuda_marks_free(struct backend *be, struct backend_marks *m)
{
	if (!m)
		return;
	cuda_enter(be);
	for (int i = 0; i < m->capacity; i++)
		cudaEventDestroy(m->events[i]);
	free(m->events);
	free(m);
}
