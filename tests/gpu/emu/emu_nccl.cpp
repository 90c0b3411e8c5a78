/*
 * emu_nccl.cpp — NCCL for the CPU emulator: the calls engine/cuda/cuda_nccl.cu
 * makes, built as libnccl-emu.so.2 for that file's dlopen (point
 * TRAINBOOK_NCCL_LIB at it). It links against the emulated CUDA library
 * for the current device and the device of a stream.
 *
 * What it is: the ranks of a communicator are threads of this process that
 * meet by unique id. A collective is a rendezvous: every rank posts its
 * buffers, then each computes its result from all of them — a sum in rank
 * order, so every rank gets the same bits, run after run — and a second
 * rendezvous keeps every buffer in place until all ranks have read it.
 * Misuses that cost a hang or corrupt data with real NCCL end here with an
 * error code and a message (ncclGetLastError): several ranks initialised
 * from one thread outside a group, two ranks on one device, a stream of
 * another device than the communicator's, ranks that disagree on the
 * collective or its size. A rank that waits more than EMU_NCCL_TIMEOUT
 * seconds (default 60) for its peers gets ncclSystemError instead of a
 * hang. EMU_NCCL_FAIL=init makes ncclCommInitRank fail, to test the
 * caller's error path.
 *
 * What it is not: multi-process, asynchronous (emulated streams run work
 * when it is issued, so a collective is complete when it returns), or any
 * reduction but a float sum.
 *
 * Threads: any; `lock` guards the cliques and their rendezvous state;
 * group state and the last error are per thread, as in NCCL.
 */
#include <nccl.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <vector>

enum emu_op { EMU_OP_ALLREDUCE, EMU_OP_BROADCAST };
static const char *const emu_op_names[] = {"ncclAllReduce", "ncclBroadcast"};

/* What one rank brought to the current collective. */
struct emu_post {
	enum emu_op op;
	size_t count;
	int root; /* broadcast only; -1 otherwise */
	const float *send;
};

/* The ranks sharing one unique id. */
struct emu_clique {
	ncclUniqueId id;
	int nranks;
	std::vector<int> device;    /* per rank; -1 until the rank joins */
	int joined;                 /* ranks that have joined */
	int live;                   /* joined communicators not yet destroyed */
	int arrived;                /* ranks at the current rendezvous */
	unsigned long generation;   /* rendezvous completed so far */
	std::vector<emu_post> post; /* per rank, valid between the two rendezvous of a collective */
};

struct ncclComm {
	struct emu_clique *clique; /* NULL until joined */
	ncclUniqueId id;
	int rank, nranks;
	int device; /* current when ncclCommInitRank was called, as NCCL takes it */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER; /* a rank joined, or a rendezvous completed */
static std::vector<emu_clique *> cliques;                 /* guarded by lock */
static std::atomic<unsigned long> ids_made;

static thread_local int group_depth;
static thread_local std::vector<ncclComm *> group_inits; /* ncclCommInitRank calls deferred to ncclGroupEnd */
static thread_local char last_error[512];

static ncclResult_t emu_fail(ncclResult_t r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static ncclResult_t emu_fail(ncclResult_t r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return r;
}

static double emu_timeout_s(void)
{
	const char *v = getenv("EMU_NCCL_TIMEOUT");
	double t = v && *v ? atof(v) : 60;
	return t > 0 ? t : 60;
}

/* Wait on `changed` until done() or the timeout; returns done(). Caller holds lock. */
template <typename F> static bool emu_wait(F done)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	double t = emu_timeout_s();
	deadline.tv_sec += (time_t)t;
	deadline.tv_nsec += (long)((t - (double)(time_t)t) * 1e9);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (!done())
		if (pthread_cond_timedwait(&changed, &lock, &deadline) == ETIMEDOUT)
			return done();
	return true;
}

/* Every rank of q meets here; false when some never came. Caller holds lock. */
static bool emu_rendezvous(struct emu_clique *q)
{
	unsigned long generation = q->generation;
	if (++q->arrived == q->nranks) {
		q->arrived = 0;
		q->generation++;
		pthread_cond_broadcast(&changed);
		return true;
	}
	return emu_wait([&] { return q->generation != generation; });
}

/* Register c with the clique of its id. Caller holds lock. */
static ncclResult_t emu_join(ncclComm *c)
{
	const char *inject = getenv("EMU_NCCL_FAIL");
	if (inject && strcmp(inject, "init") == 0)
		return emu_fail(ncclSystemError, "emulated failure of rank %d's initialisation (EMU_NCCL_FAIL=init)",
				c->rank);
	struct emu_clique *q = NULL;
	for (struct emu_clique *k : cliques)
		if (memcmp(&k->id, &c->id, sizeof(c->id)) == 0)
			q = k;
	if (!q) {
		q = new emu_clique();
		q->id = c->id;
		q->nranks = c->nranks;
		q->device.assign((size_t)c->nranks, -1);
		q->post.resize((size_t)c->nranks);
		cliques.push_back(q);
	}
	if (q->nranks != c->nranks)
		return emu_fail(ncclInvalidArgument, "rank %d was given %d ranks, an earlier rank %d", c->rank, c->nranks,
				q->nranks);
	if (q->device[(size_t)c->rank] >= 0)
		return emu_fail(ncclInvalidArgument, "rank %d initialised twice", c->rank);
	for (int r = 0; r < q->nranks; r++)
		if (q->device[(size_t)r] == c->device)
			return emu_fail(ncclInvalidUsage, "Duplicate GPU detected: rank %d and rank %d both on CUDA device %d",
					r, c->rank, c->device);
	q->device[(size_t)c->rank] = c->device;
	q->joined++;
	q->live++;
	c->clique = q;
	pthread_cond_broadcast(&changed);
	return ncclSuccess;
}

/* NCCL's init returns when every rank has joined. Caller holds lock. */
static ncclResult_t emu_wait_joined(ncclComm *c)
{
	struct emu_clique *q = c->clique;
	if (emu_wait([&] { return q->joined == q->nranks; }))
		return ncclSuccess;
	return emu_fail(ncclSystemError,
			"rank %d: only %d of %d ranks joined within %g s (one thread initialising several ranks must "
			"put the calls between ncclGroupStart and ncclGroupEnd)",
			c->rank, q->joined, q->nranks, emu_timeout_s());
}

extern "C" ncclResult_t ncclGetVersion(int *version)
{
	*version = NCCL_VERSION_CODE;
	return ncclSuccess;
}

extern "C" ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->internal, sizeof(id->internal), "emu-nccl pid %d id %lu", (int)getpid(), ids_made++);
	return ncclSuccess;
}

extern "C" ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
	if (!comm || nranks < 1 || rank < 0 || rank >= nranks)
		return emu_fail(ncclInvalidArgument, "ncclCommInitRank: rank %d of %d", rank, nranks);
	ncclComm *c = new ncclComm();
	c->id = id;
	c->rank = rank;
	c->nranks = nranks;
	cudaGetDevice(&c->device);
	/* Like NCCL, the handle exists even when initialisation then fails: the caller aborts it. */
	*comm = c;
	if (group_depth > 0) {
		group_inits.push_back(c);
		return ncclSuccess;
	}
	pthread_mutex_lock(&lock);
	ncclResult_t r = emu_join(c);
	if (r == ncclSuccess)
		r = emu_wait_joined(c);
	pthread_mutex_unlock(&lock);
	return r;
}

extern "C" ncclResult_t ncclGroupStart(void)
{
	group_depth++;
	return ncclSuccess;
}

/* The outermost group end joins every deferred rank, then waits for all, as NCCL does. */
extern "C" ncclResult_t ncclGroupEnd(void)
{
	if (group_depth == 0)
		return emu_fail(ncclInvalidUsage, "ncclGroupEnd without ncclGroupStart");
	if (--group_depth > 0)
		return ncclSuccess;
	std::vector<ncclComm *> inits;
	inits.swap(group_inits);
	ncclResult_t r = ncclSuccess;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < inits.size() && r == ncclSuccess; i++)
		r = emu_join(inits[i]);
	for (size_t i = 0; i < inits.size() && r == ncclSuccess; i++)
		r = emu_wait_joined(inits[i]);
	pthread_mutex_unlock(&lock);
	return r;
}

static ncclResult_t emu_release(ncclComm_t c)
{
	if (!c)
		return ncclSuccess;
	pthread_mutex_lock(&lock);
	struct emu_clique *q = c->clique;
	if (q && --q->live == 0) {
		for (size_t i = 0; i < cliques.size(); i++)
			if (cliques[i] == q)
				cliques.erase(cliques.begin() + (long)i);
		delete q;
	}
	pthread_mutex_unlock(&lock);
	delete c;
	return ncclSuccess;
}

extern "C" ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
	return emu_release(comm);
}

extern "C" ncclResult_t ncclCommAbort(ncclComm_t comm)
{
	return emu_release(comm);
}

extern "C" ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *async_error)
{
	if (!comm || !async_error)
		return emu_fail(ncclInvalidArgument, "ncclCommGetAsyncError: NULL argument");
	*async_error = ncclSuccess; /* every emulated error is returned by the call that meets it */
	return ncclSuccess;
}

extern "C" const char *ncclGetErrorString(ncclResult_t r)
{
	switch (r) {
	case ncclSuccess:
		return "no error";
	case ncclUnhandledCudaError:
		return "unhandled cuda error";
	case ncclSystemError:
		return "unhandled system error";
	case ncclInternalError:
		return "internal error";
	case ncclInvalidArgument:
		return "invalid argument";
	case ncclInvalidUsage:
		return "invalid usage";
	case ncclRemoteError:
		return "remote process exited or there was a network error";
	case ncclInProgress:
		return "NCCL operation in progress";
	default:
		return "unknown result code";
	}
}

extern "C" const char *ncclGetLastError(ncclComm_t comm)
{
	(void)comm;
	return last_error;
}

static bool emu_same_call(const struct emu_post *a, const struct emu_post *b)
{
	return a->op == b->op && a->count == b->count && a->root == b->root;
}

/*
 * One collective: post, meet, compute this rank's result from every rank's
 * send buffer, meet again (nobody overwrites a buffer another still reads),
 * then write it.
 */
static ncclResult_t emu_collective(ncclComm *c, enum emu_op op, const void *send, void *recv, size_t count,
				   ncclDataType_t type, int root, cudaStream_t stream)
{
	const char *name = emu_op_names[op];
	if (!c || !c->clique)
		return emu_fail(ncclInvalidArgument, "%s: communicator not initialised", name);
	if (group_depth > 0)
		return emu_fail(ncclInvalidUsage, "%s inside ncclGroupStart/End is not emulated", name);
	if (type != ncclFloat32)
		return emu_fail(ncclInvalidArgument, "%s: only ncclFloat32 is emulated", name);
	if (op == EMU_OP_BROADCAST && (root < 0 || root >= c->nranks))
		return emu_fail(ncclInvalidArgument, "%s: root %d of %d ranks", name, root, c->nranks);
	int stream_device = emu_stream_device(stream);
	if (stream_device != c->device)
		return emu_fail(ncclUnhandledCudaError,
				"%s: rank %d's communicator is on device %d but its stream on device %d (CUDA: invalid "
				"resource handle)",
				name, c->rank, c->device, stream_device);
	struct emu_clique *q = c->clique;
	struct emu_post mine = {op, count, op == EMU_OP_BROADCAST ? root : -1, (const float *)send};

	pthread_mutex_lock(&lock);
	q->post[(size_t)c->rank] = mine;
	bool met = emu_rendezvous(q);
	int differs = -1;
	for (int r = 0; met && r < q->nranks; r++)
		if (!emu_same_call(&q->post[(size_t)r], &mine))
			differs = r;
	struct emu_post other = differs >= 0 ? q->post[(size_t)differs] : mine;
	pthread_mutex_unlock(&lock);
	if (!met)
		return emu_fail(ncclSystemError, "%s: rank %d waited %g s for the other ranks", name, c->rank,
				emu_timeout_s());
	if (differs >= 0)
		return emu_fail(ncclInvalidUsage, "%s: rank %d called %s of %zu floats, rank %d %s of %zu floats", name,
				c->rank, name, count, differs, emu_op_names[other.op], other.count);

	/* Posts stay valid until the second rendezvous: read them without the lock. */
	std::vector<float> result(count);
	if (op == EMU_OP_ALLREDUCE) {
		memcpy(result.data(), q->post[0].send, count * sizeof(float));
		for (int r = 1; r < q->nranks; r++) {
			const float *x = q->post[(size_t)r].send;
			for (size_t i = 0; i < count; i++)
				result[i] += x[i];
		}
	} else {
		memcpy(result.data(), q->post[(size_t)root].send, count * sizeof(float));
	}

	pthread_mutex_lock(&lock);
	met = emu_rendezvous(q);
	pthread_mutex_unlock(&lock);
	if (!met)
		return emu_fail(ncclSystemError, "%s: rank %d waited %g s for the other ranks to read", name, c->rank,
				emu_timeout_s());
	memcpy(recv, result.data(), count * sizeof(float));
	return ncclSuccess;
}

extern "C" ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
				      ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
	if (op != ncclSum)
		return emu_fail(ncclInvalidArgument, "ncclAllReduce: only ncclSum is emulated");
	return emu_collective(comm, EMU_OP_ALLREDUCE, sendbuff, recvbuff, count, datatype, -1, stream);
}

extern "C" ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
				      int root, ncclComm_t comm, cudaStream_t stream)
{
	return emu_collective(comm, EMU_OP_BROADCAST, sendbuff, recvbuff, count, datatype, root, stream);
}
