/*
 * collective.h — what data-parallel training needs from the replicas'
 * interconnect: a sum all-reduce and a broadcast over backend memory.
 *
 * Two implementations share this interface: an in-process shared-memory
 * all-reduce for CPU replicas (collective_cpu.c, so the data-parallel path
 * runs in CI), and NCCL for GPUs (engine/cuda/cuda_nccl.cu, exported by
 * the CUDA module, which loads libnccl.so.2 only when a run opens it).
 * Each call returns when the result is in `buf`; on a GPU the collective
 * runs after the work already issued on the rank's backend stream, so the
 * caller may go on with that stream (the optimizer) at once.
 *
 * Summation order: every rank receives the same bits, so replicas stay
 * identical. The CPU collective adds the ranks' buffers in rank order, so
 * its result does not depend on which replica arrives first. NCCL's order
 * is its algorithm's (ring or tree, in chunks spread over channels), which
 * NCCL picks from the topology, the number of ranks and the message size:
 * fixed for a given machine, world size and bucket, so such runs repeat,
 * but not rank order, and a run on other GPUs or another interconnect may
 * differ from it in the last bits.
 *
 * Threads: each rank's handle is used by one thread at a time (the
 * replica's communication thread); the calls are collective — every rank
 * calls the same operations, with the same counts, in the same order.
 * Destroy every handle, before the backends they run on.
 */
#ifndef TB_COLLECTIVE_H
#define TB_COLLECTIVE_H

#include <stddef.h>
#include <stdint.h>

struct backend;

struct collective {
	int rank, world;
	void *impl;
	/* buf[i] = sum over ranks of buf[i] (in place, backend memory). */
	void (*allreduce_sum)(struct collective *c, float *buf, int64_t n);
	/* buf = root's buf on every rank. */
	void (*broadcast)(struct collective *c, float *buf, int64_t n, int root);
	/*
	 * Optional (NULL where the implementation has no device queue, as the
	 * CPU's): start buf's all-reduce after the work already issued on this
	 * rank's backend and return at once; join makes the backend's later
	 * work wait for every all-reduce started, without blocking the host.
	 * Both from the thread that drives the rank's backend. On GPUs the
	 * all-reduce of a bucket then overlaps the rest of backward on the
	 * device, and no thread waits for it.
	 */
	void (*allreduce_start)(struct collective *c, float *buf, int64_t n);
	void (*join)(struct collective *c);
	void (*destroy)(struct collective *c);
};

/* A group of `world` in-process CPU ranks; handles are taken per rank. */
struct collective_cpu_group;
struct collective_cpu_group *collective_cpu_group_new(int world);
struct collective *collective_cpu_rank(struct collective_cpu_group *g, int rank);
void collective_cpu_group_free(struct collective_cpu_group *g);

/*
 * NCCL, provided by the CUDA module (libtrainbook-cuda.so, loaded by
 * backend.c). A unique id (NCCL_ID_BYTES) is made once by global rank 0
 * and shared with every process; then each process opens its `n` local
 * ranks [rank_base, rank_base + n) of `world`, one per CUDA backend in
 * `bes` (each on its own device). Errors name the cause (module built
 * without NCCL, "NCCL not found: …" when libnccl.so.2 — or
 * $TRAINBOOK_NCCL_LIB — cannot be loaded, NCCL's own message otherwise).
 */
#define NCCL_ID_BYTES 128
int collective_nccl_unique_id(void *id, char *err, size_t errlen);
int collective_nccl_open(struct backend **bes, int n, int rank_base, int world, const void *id,
			 struct collective **out, char *err, size_t errlen);

#endif
