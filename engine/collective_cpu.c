/*
 * collective_cpu.c — in-process all-reduce for CPU replicas (see
 * collective.h).
 *
 * Each rank publishes its buffer; after a barrier, rank r sums chunk r of
 * every rank's buffer in rank order into a shared scratch; after a second
 * barrier every rank copies the whole scratch back. The work is split by
 * chunk so replicas reduce in parallel, and the rank-ordered sum keeps the
 * result independent of arrival order.
 *
 * Threads: one thread per rank calls in; `lock` guards `scratch` growth,
 * the rest is phased by the barrier.
 */
#include "collective.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

struct collective_cpu_group {
	int world;
	pthread_barrier_t barrier;
	float **published;        /* per rank: the buffer of the current call (phase-protected) */
	float *scratch;           /* the reduced result (phase-protected) */
	int64_t scratch_cap;
	pthread_mutex_t lock;     /* guards scratch growth */
	struct collective *ranks; /* world handles */
};

static void grow_scratch(struct collective_cpu_group *g, int64_t n)
{
	pthread_mutex_lock(&g->lock);
	if (n > g->scratch_cap) {
		free(g->scratch);
		g->scratch = tb_xmalloc((size_t)n * sizeof(float));
		g->scratch_cap = n;
	}
	pthread_mutex_unlock(&g->lock);
}

static void cpu_allreduce_sum(struct collective *c, float *buf, int64_t n)
{
	struct collective_cpu_group *g = c->impl;
	if (g->world == 1)
		return;
	g->published[c->rank] = buf;
	if (c->rank == 0)
		grow_scratch(g, n);
	pthread_barrier_wait(&g->barrier);
	int64_t chunk = (n + g->world - 1) / g->world;
	int64_t lo = TB_MIN(n, chunk * c->rank), hi = TB_MIN(n, lo + chunk);
	for (int64_t i = lo; i < hi; i++) {
		float acc = g->published[0][i];
		for (int r = 1; r < g->world; r++)
			acc += g->published[r][i];
		g->scratch[i] = acc;
	}
	pthread_barrier_wait(&g->barrier);
	memcpy(buf, g->scratch, (size_t)n * sizeof(float));
	/* Nobody may publish the next buffer while others still read the scratch. */
	pthread_barrier_wait(&g->barrier);
}

static void cpu_broadcast(struct collective *c, float *buf, int64_t n, int root)
{
	struct collective_cpu_group *g = c->impl;
	if (g->world == 1)
		return;
	g->published[c->rank] = buf;
	pthread_barrier_wait(&g->barrier);
	if (c->rank != root)
		memcpy(buf, g->published[root], (size_t)n * sizeof(float));
	pthread_barrier_wait(&g->barrier);
}

static void cpu_destroy(struct collective *c)
{
	(void)c; /* handles belong to the group */
}

struct collective_cpu_group *collective_cpu_group_new(int world)
{
	TB_ASSERT(world >= 1);
	struct collective_cpu_group *g = tb_xcalloc(1, sizeof(*g));
	g->world = world;
	pthread_barrier_init(&g->barrier, NULL, (unsigned)world);
	pthread_mutex_init(&g->lock, NULL);
	g->published = tb_xcalloc((size_t)world, sizeof(float *));
	g->ranks = tb_xcalloc((size_t)world, sizeof(struct collective));
	for (int r = 0; r < world; r++) {
		g->ranks[r] = (struct collective){
			.rank = r, .world = world, .impl = g,
			.allreduce_sum = cpu_allreduce_sum, .broadcast = cpu_broadcast, .destroy = cpu_destroy,
		};
	}
	return g;
}

struct collective *collective_cpu_rank(struct collective_cpu_group *g, int rank)
{
	TB_ASSERT(rank >= 0 && rank < g->world);
	return &g->ranks[rank];
}

void collective_cpu_group_free(struct collective_cpu_group *g)
{
	if (!g)
		return;
	pthread_barrier_destroy(&g->barrier);
	pthread_mutex_destroy(&g->lock);
	free(g->published);
	free(g->scratch);
	free(g->ranks);
	free(g);
}
