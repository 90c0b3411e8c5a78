/*
 * cuda_nccl.cu — the GPU collective of collective.h on NCCL:
 * tb_cuda_nccl_unique_id and tb_cuda_nccl_open, which backend.c dlsyms.
 *
 * NCCL is loaded at run time (dlopen "libnccl.so.2", or the path in
 * $TRAINBOOK_NCCL_LIB), not linked: libtrainbook-cuda.so then loads on a
 * machine without NCCL, a single-GPU run never touches it, and a
 * multi-GPU run without it fails with "NCCL not found: <dlerror>" instead
 * of the whole CUDA backend failing to load. nccl.h is used for its types
 * only, and through decltype for the exact type of every function we look
 * up. A build without nccl.h compiles this file to nothing: the module then
 * lacks both symbols and backend.c says it was built without NCCL.
 *
 * What it is: per local rank, one communicator on its backend's device, a
 * non-blocking communication stream and two events. A collective waits on
 * the device for the work already issued on the backend's compute stream
 * (event recorded there, cudaStreamWaitEvent on the comm stream) and runs
 * on the comm stream. allreduce_sum/broadcast return when it has finished;
 * allreduce_start returns at once and join makes the compute stream wait
 * for the comm stream on the device — what replica.c uses during backward,
 * so buckets are reduced while later layers' gradients are computed. What it
 * is not: bucketing, threads, or the decision when to reduce (replica.c).
 *
 * Threads: tb_cuda_nccl_open and destroy run on the training thread, which
 * drives every local rank, so communicator set-up and teardown are grouped
 * (ncclGroupStart/End) as NCCL requires of one thread with several GPUs.
 * allreduce_start and join run on the replica's own thread; allreduce_sum
 * and broadcast on whichever thread calls, one thread per handle. The CUDA
 * current device is per thread, so each call makes its rank's device
 * current there (cuda_enter). NCCL calls that
 * may switch devices are bracketed by a save/restore of the current
 * device, so cuda_enter's per-thread cache stays true.
 */
#if __has_include(<nccl.h>)

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <nccl.h>

#include "cuda_internal.h"

extern "C" {
#include "collective.h"
}

static_assert(sizeof(ncclUniqueId) == NCCL_ID_BYTES, "collective.h's NCCL_ID_BYTES must match nccl.h");

/* Polls of a running collective spent yielding before sleeping between polls: about 10 ms of
 * spinning keeps a bucket's latency low; a longer wait is a slow peer, not worth a core. */
#define NCCL_SPIN_POLLS 20000
#define NCCL_SLEEP_US 100
/* Check NCCL's asynchronous error state (a peer process died, a network error) every this many polls. */
#define NCCL_ERROR_POLL_EVERY 64

/* The NCCL library, loaded once per process. The function pointers are
 * written under `lock` before any handle exists and never change after, so
 * the communication threads read them without it. */
static struct {
	pthread_mutex_t lock;
	void *handle;
	int version; /* ncclGetVersion's code, e.g. 22809 for 2.28.9 */
	decltype(&ncclGetVersion) get_version;
	decltype(&ncclGetUniqueId) get_unique_id;
	decltype(&ncclCommInitRank) comm_init_rank;
	decltype(&ncclGroupStart) group_start;
	decltype(&ncclGroupEnd) group_end;
	decltype(&ncclAllReduce) all_reduce;
	decltype(&ncclBroadcast) broadcast;
	decltype(&ncclCommDestroy) comm_destroy;
	decltype(&ncclCommAbort) comm_abort;
	decltype(&ncclCommGetAsyncError) comm_get_async_error;
	decltype(&ncclGetErrorString) get_error_string;
	decltype(&ncclGetLastError) get_last_error; /* NCCL 2.13+; NULL before */
} nccl = {PTHREAD_MUTEX_INITIALIZER};

/* The local ranks one tb_cuda_nccl_open made; their communicators are
 * destroyed together, in one group, when the last handle goes. */
struct nccl_clique {
	int n;
	int live; /* handles not yet destroyed (atomic: destroy may come from any thread) */
	struct nccl_rank *ranks;
};

struct nccl_rank {
	struct collective pub;      /* what the caller holds; pub.impl points back here */
	struct nccl_clique *clique; /* owner of this struct */
	struct backend *be;         /* whose compute stream orders our work; not owned, outlives us */
	int device;
	ncclComm_t comm;            /* destroyed with the clique */
	cudaStream_t stream;        /* communication stream on `device` */
	cudaEvent_t ready;          /* recorded on the compute stream: the gradients are issued */
	cudaEvent_t done;           /* recorded on the comm stream by join: every started collective is issued */
};

/* "<code's meaning>[: <NCCL's last message>]" for an NCCL result. */
static void nccl_describe(ncclResult_t r, ncclComm_t comm, char *buf, size_t len)
{
	const char *last = nccl.get_last_error ? nccl.get_last_error(comm) : NULL;
	snprintf(buf, len, "%s%s%s", nccl.get_error_string(r), last && *last ? ": " : "", last && *last ? last : "");
}

/*
 * Load NCCL and look up what we call. Returns 0, or -1 with err naming the
 * library that could not be loaded or the function it lacks.
 */
static int nccl_load(char *err, size_t errlen)
{
	pthread_mutex_lock(&nccl.lock);
	if (nccl.handle) {
		pthread_mutex_unlock(&nccl.lock);
		return 0;
	}
	const char *env = getenv("TRAINBOOK_NCCL_LIB");
	const char *path = env && *env ? env : "libnccl.so.2";
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		cuda_errf(err, errlen, "NCCL not found: %s (multi-GPU training needs NCCL 2: install it, e.g. "
				       "pip install nvidia-nccl-cu13, or set TRAINBOOK_NCCL_LIB to libnccl.so.2)",
			  dlerror());
		pthread_mutex_unlock(&nccl.lock);
		return -1;
	}
	const struct {
		const char *name;
		void **slot;
		bool required;
	} symbols[] = {
		{"ncclGetVersion", (void **)&nccl.get_version, true},
		{"ncclGetUniqueId", (void **)&nccl.get_unique_id, true},
		{"ncclCommInitRank", (void **)&nccl.comm_init_rank, true},
		{"ncclGroupStart", (void **)&nccl.group_start, true},
		{"ncclGroupEnd", (void **)&nccl.group_end, true},
		{"ncclAllReduce", (void **)&nccl.all_reduce, true},
		{"ncclBroadcast", (void **)&nccl.broadcast, true},
		{"ncclCommDestroy", (void **)&nccl.comm_destroy, true},
		{"ncclCommAbort", (void **)&nccl.comm_abort, true},
		{"ncclCommGetAsyncError", (void **)&nccl.comm_get_async_error, true},
		{"ncclGetErrorString", (void **)&nccl.get_error_string, true},
		{"ncclGetLastError", (void **)&nccl.get_last_error, false},
	};
	for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		*symbols[i].slot = dlsym(h, symbols[i].name);
		if (!*symbols[i].slot && symbols[i].required) {
			cuda_errf(err, errlen, "%s does not export %s (trainbook needs NCCL 2.4 or newer)", path,
				  symbols[i].name);
			for (size_t j = 0; j < sizeof(symbols) / sizeof(symbols[0]); j++)
				*symbols[j].slot = NULL;
			dlclose(h);
			pthread_mutex_unlock(&nccl.lock);
			return -1;
		}
	}
	nccl.version = 0;
	nccl.get_version(&nccl.version);
	nccl.handle = h; /* kept for the life of the process, as backend.c keeps this module */
	pthread_mutex_unlock(&nccl.lock);
	return 0;
}

/* A failure mid-step cannot be undone (the step's gradients are lost on some
 * ranks and peers may be waiting), so it ends the worker, like a CUDA error. */
__attribute__((noreturn)) static void nccl_fatal(const struct nccl_rank *r, const char *call, const char *detail)
{
	fprintf(stderr, "trainbook: NCCL error in %s (rank %d of %d, CUDA device %d): %s\n", call, r->pub.rank,
		r->pub.world, r->device, detail);
	fflush(stderr);
	abort();
}

static void nccl_check(const struct nccl_rank *r, ncclResult_t res, const char *call)
{
	if (res == ncclSuccess)
		return;
	char why[512];
	nccl_describe(res, r->comm, why, sizeof(why));
	nccl_fatal(r, call, why);
}

/*
 * Wait until the communication stream is idle. A plain cudaStreamSynchronize
 * would wait forever when a peer process dies mid-collective; polling lets
 * NCCL's asynchronous error state end the run with its cause instead.
 */
static void nccl_wait(const struct nccl_rank *r, const char *call)
{
	for (long polls = 0;; polls++) {
		cudaError_t e = cudaStreamQuery(r->stream);
		if (e == cudaSuccess)
			return;
		if (e != cudaErrorNotReady)
			nccl_fatal(r, call, cudaGetErrorString(e));
		if (polls % NCCL_ERROR_POLL_EVERY == 0) {
			ncclResult_t async = ncclSuccess;
			nccl_check(r, nccl.comm_get_async_error(r->comm, &async), "ncclCommGetAsyncError");
			if (async != ncclSuccess && async != ncclInProgress)
				nccl_check(r, async, call);
		}
		if (polls < NCCL_SPIN_POLLS)
			sched_yield();
		else
			usleep(NCCL_SLEEP_US);
	}
}

/* Make the comm stream wait for everything issued so far on the compute
 * stream — the bucket's gradients among it — without blocking the host. */
static void nccl_after_compute(struct nccl_rank *r)
{
	struct cuda_backend *cb = cuda_enter(r->be);
	CUDA_CHECK(cudaEventRecord(r->ready, cb->stream));
	CUDA_CHECK(cudaStreamWaitEvent(r->stream, r->ready, 0));
}

/* Communication thread. */
static void nccl_allreduce_sum(struct collective *c, float *buf, int64_t n)
{
	struct nccl_rank *r = (struct nccl_rank *)c->impl;
	if (n <= 0)
		return;
	nccl_after_compute(r);
	nccl_check(r, nccl.all_reduce(buf, buf, (size_t)n, ncclFloat32, ncclSum, r->comm, r->stream), "ncclAllReduce");
	nccl_wait(r, "ncclAllReduce");
}

/*
 * The replica's own thread, as backward hands over a bucket: queue the
 * all-reduce behind the bucket's gradients and return. A failure NCCL
 * reports later (a dead peer) is caught by join's error check.
 */
static void nccl_allreduce_start(struct collective *c, float *buf, int64_t n)
{
	struct nccl_rank *r = (struct nccl_rank *)c->impl;
	if (n <= 0)
		return;
	nccl_after_compute(r);
	nccl_check(r, nccl.all_reduce(buf, buf, (size_t)n, ncclFloat32, ncclSum, r->comm, r->stream), "ncclAllReduce");
}

/* The replica's own thread, before the optimizer: the compute stream waits on the device. */
static void nccl_join(struct collective *c)
{
	struct nccl_rank *r = (struct nccl_rank *)c->impl;
	struct cuda_backend *cb = cuda_enter(r->be);
	ncclResult_t async = ncclSuccess;
	nccl_check(r, nccl.comm_get_async_error(r->comm, &async), "ncclCommGetAsyncError");
	if (async != ncclSuccess && async != ncclInProgress)
		nccl_check(r, async, "ncclAllReduce");
	CUDA_CHECK(cudaEventRecord(r->done, r->stream));
	CUDA_CHECK(cudaStreamWaitEvent(cb->stream, r->done, 0));
}

/* Communication thread (or the training thread before the replicas start). */
static void nccl_broadcast(struct collective *c, float *buf, int64_t n, int root)
{
	struct nccl_rank *r = (struct nccl_rank *)c->impl;
	if (n <= 0)
		return;
	nccl_after_compute(r);
	nccl_check(r, nccl.broadcast(buf, buf, (size_t)n, ncclFloat32, root, r->comm, r->stream), "ncclBroadcast");
	nccl_wait(r, "ncclBroadcast");
}

/*
 * Tear down the communicators of ranks[0, n): one group, so that NCCL's
 * intra-process teardown of several ranks from one thread cannot wait on
 * ranks not yet reached. `abort_them` after a failed open (the
 * communicators may be half made), destroy otherwise.
 */
static void nccl_comms_free(struct nccl_rank *ranks, int n, bool abort_them)
{
	int saved = -1;
	cudaGetDevice(&saved);
	nccl.group_start();
	for (int i = 0; i < n; i++) {
		if (!ranks[i].comm)
			continue;
		if (abort_them)
			nccl.comm_abort(ranks[i].comm);
		else
			nccl.comm_destroy(ranks[i].comm);
		ranks[i].comm = NULL;
	}
	nccl.group_end();
	if (saved >= 0)
		cudaSetDevice(saved);
}

/* The stream and event of one rank (its backend's device is made current). */
static void nccl_rank_release(struct nccl_rank *r)
{
	if (!r->be)
		return;
	cuda_enter(r->be);
	if (r->stream) {
		cudaStreamSynchronize(r->stream);
		cudaStreamDestroy(r->stream);
		r->stream = NULL;
	}
	if (r->ready) {
		cudaEventDestroy(r->ready);
		r->ready = NULL;
	}
	if (r->done) {
		cudaEventDestroy(r->done);
		r->done = NULL;
	}
}

static void nccl_clique_free(struct nccl_clique *q, bool abort_comms)
{
	if (!q)
		return;
	for (int i = 0; i < q->n; i++)
		nccl_rank_release(&q->ranks[i]);
	nccl_comms_free(q->ranks, q->n, abort_comms);
	free(q->ranks);
	free(q);
}

/* Before the backend it runs on is destroyed (replica.c closes collectives first). */
static void nccl_destroy(struct collective *c)
{
	struct nccl_rank *r = (struct nccl_rank *)c->impl;
	struct nccl_clique *q = r->clique;
	nccl_rank_release(r);
	if (__atomic_sub_fetch(&q->live, 1, __ATOMIC_ACQ_REL) == 0)
		nccl_clique_free(q, false);
}

CUDA_EXPORT int tb_cuda_nccl_unique_id(void *id, char *err, size_t errlen)
{
	if (nccl_load(err, errlen) < 0)
		return -1;
	ncclUniqueId u;
	ncclResult_t r = nccl.get_unique_id(&u);
	if (r != ncclSuccess) {
		char why[512];
		nccl_describe(r, NULL, why, sizeof(why));
		cuda_errf(err, errlen, "ncclGetUniqueId failed: %s", why);
		return -1;
	}
	memcpy(id, &u, NCCL_ID_BYTES);
	return 0;
}

/* The layout checks NCCL would otherwise fail on with a less direct message. */
static int nccl_check_layout(struct backend **bes, int n, int rank_base, int world, char *err, size_t errlen)
{
	if (n < 1 || world < 1 || rank_base < 0 || rank_base + n > world) {
		cuda_errf(err, errlen, "cannot open NCCL ranks [%d, %d) of a world of %d", rank_base, rank_base + n,
			  world);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (!bes[i] || bes[i]->ext != &cuda_ext) { /* ours: the table only this module fills */
			cuda_errf(err, errlen, "NCCL rank %d is not on a CUDA backend", rank_base + i);
			return -1;
		}
		for (int j = 0; j < i; j++) {
			int dj = ((struct cuda_backend *)bes[j]->impl)->device;
			if (dj == ((struct cuda_backend *)bes[i]->impl)->device) {
				cuda_errf(err, errlen, "NCCL ranks %d and %d are both on CUDA device %d (one device per rank)",
					  rank_base + j, rank_base + i, dj);
				return -1;
			}
		}
	}
	return 0;
}

/*
 * Open local ranks [rank_base, rank_base + n) of `world`, rank i on
 * bes[i]'s device. Every local rank is initialised inside one group (they
 * wait for each other, and one thread drives them all). Returns 0 with one
 * handle per rank in out, or -1 with err and nothing left allocated.
 */
CUDA_EXPORT int tb_cuda_nccl_open(struct backend **bes, int n, int rank_base, int world, const void *id,
				  struct collective **out, char *err, size_t errlen)
{
	if (nccl_check_layout(bes, n, rank_base, world, err, errlen) < 0)
		return -1;
	if (nccl_load(err, errlen) < 0)
		return -1;
	struct nccl_clique *q = (struct nccl_clique *)calloc(1, sizeof(*q));
	struct nccl_rank *ranks = (struct nccl_rank *)calloc((size_t)n, sizeof(*ranks));
	if (!q || !ranks) {
		free(q);
		free(ranks);
		cuda_errf(err, errlen, "out of host memory");
		return -1;
	}
	q->n = n;
	q->live = n;
	q->ranks = ranks;
	ncclUniqueId uid;
	memcpy(&uid, id, sizeof(uid));
	cudaError_t e;
	ncclResult_t res = ncclSuccess, end;
	int saved = -1;

	for (int i = 0; i < n; i++) {
		struct nccl_rank *r = &ranks[i];
		struct cuda_backend *cb = cuda_enter(bes[i]);
		r->clique = q;
		r->be = bes[i];
		r->device = cb->device;
		r->pub.rank = rank_base + i;
		r->pub.world = world;
		r->pub.impl = r;
		r->pub.allreduce_sum = nccl_allreduce_sum;
		r->pub.broadcast = nccl_broadcast;
		r->pub.allreduce_start = nccl_allreduce_start;
		r->pub.join = nccl_join;
		r->pub.destroy = nccl_destroy;
		/* Non-blocking: the legacy default stream must not serialise the comm stream with anything. */
		if ((e = cudaStreamCreateWithFlags(&r->stream, cudaStreamNonBlocking)) != cudaSuccess) {
			r->stream = NULL;
			cuda_errf(err, errlen, "cannot create a communication stream on CUDA device %d: %s", r->device,
				  cudaGetErrorString(e));
			goto fail;
		}
		if ((e = cudaEventCreateWithFlags(&r->done, cudaEventDisableTiming)) != cudaSuccess) {
			r->done = NULL;
			cuda_errf(err, errlen, "cannot create a CUDA event on device %d: %s", r->device,
				  cudaGetErrorString(e));
			goto fail;
		}
		if ((e = cudaEventCreateWithFlags(&r->ready, cudaEventDisableTiming)) != cudaSuccess) {
			r->ready = NULL;
			cuda_errf(err, errlen, "cannot create a CUDA event on device %d: %s", r->device,
				  cudaGetErrorString(e));
			goto fail;
		}
	}

	/* ncclCommInitRank takes the device from the calling thread: make each rank's current in turn. */
	cudaGetDevice(&saved);
	res = nccl.group_start();
	for (int i = 0; i < n && res == ncclSuccess; i++) {
		cuda_enter(bes[i]);
		res = nccl.comm_init_rank(&ranks[i].comm, world, uid, rank_base + i);
	}
	end = nccl.group_end();
	if (saved >= 0)
		cudaSetDevice(saved);
	if (res == ncclSuccess)
		res = end;
	if (res != ncclSuccess) {
		char why[512];
		nccl_describe(res, NULL, why, sizeof(why));
		cuda_errf(err, errlen, "NCCL %d.%d.%d could not open ranks %d..%d of %d: %s", nccl.version / 10000,
			  nccl.version / 100 % 100, nccl.version % 100, rank_base, rank_base + n - 1, world, why);
		goto fail;
	}
	for (int i = 0; i < n; i++)
		out[i] = &ranks[i].pub;
	return 0;

fail:
	nccl_clique_free(q, true);
	for (int i = 0; i < n; i++)
		out[i] = NULL;
	return -1;
}

#endif /* __has_include(<nccl.h>) */
