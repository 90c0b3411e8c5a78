/*
 * replica.c — data-parallel replicas (see replica.h).
 *
 * Gradient buckets: model_backward reports each top-level layer's gradient
 * range as soon as it is final; ranges are joined until a bucket holds
 * BUCKET_FLOATS, then all-reduced while the compute thread carries on with
 * earlier layers: a GPU collective (NCCL) queues it on its own stream
 * behind the bucket's gradients and the optimizer waits for it on the
 * device (allreduce_start/join, no thread waits); a CPU collective runs it
 * on the replica's communication thread. Every replica forms the same buckets in the same order
 * (the model is identical), which is what a collective requires.
 *
 * Threads: the training thread runs replica 0 and drives replicas 1..N-1,
 * one thread each, through two barriers per step; with a CPU collective
 * each replica also owns a communication thread. `lock` in struct
 * replica_sync guards its queue.
 */
#include "replica.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist.h"
#include "gpu_step.h"
#include "loss.h"
#include "profile.h"
#include "tb.h"

#define BUCKET_FLOATS (1 << 20) /* 4 MiB: amortises a collective call, still overlaps with backward */
#define QUEUE_MAX 64

struct bucket {
	int64_t offset, count;
};

struct replica_sync {
	struct replica *r;
	pthread_t comm_thread;
	pthread_mutex_t lock;          /* guards queue, head, tail, pending, quit */
	pthread_cond_t changed;
	struct bucket queue[QUEUE_MAX];
	int head, tail;                /* ring indices */
	int pending;                   /* buckets queued or being reduced */
	bool quit;
	int64_t lo, hi;                /* the bucket being gathered (compute thread only) */
	bool threaded;                 /* comm_thread runs (collectives without a device queue) */
};

static void *comm_main(void *arg)
{
	struct replica_sync *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (s->head == s->tail && !s->quit)
			pthread_cond_wait(&s->changed, &s->lock);
		if (s->head == s->tail)
			break; /* quit with nothing left */
		struct bucket b = s->queue[s->head % QUEUE_MAX];
		pthread_mutex_unlock(&s->lock);
		s->r->comm->allreduce_sum(s->r->comm, s->r->m->grads + b.offset, b.count);
		pthread_mutex_lock(&s->lock);
		s->head++;
		s->pending--;
		pthread_cond_broadcast(&s->changed);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void flush_bucket(struct replica_sync *s)
{
	if (s->hi == s->lo)
		return;
	struct collective *c = s->r->comm;
	if (c->allreduce_start) {
		/* A device queue (NCCL): queue it behind the bucket's gradients and carry on. */
		c->allreduce_start(c, s->r->m->grads + s->lo, s->hi - s->lo);
		s->lo = s->hi = 0;
		return;
	}
	pthread_mutex_lock(&s->lock);
	while (s->tail - s->head == QUEUE_MAX)
		pthread_cond_wait(&s->changed, &s->lock);
	s->queue[s->tail % QUEUE_MAX] = (struct bucket){s->lo, s->hi - s->lo};
	s->tail++;
	s->pending++;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	s->lo = s->hi = 0;
}

/* model_backward's hook: ranges arrive in descending, adjacent order. */
static void on_grads_ready(void *ctx, int64_t offset, int64_t count)
{
	struct replica_sync *s = ctx;
	if (s->hi == s->lo) {
		s->lo = offset;
		s->hi = offset + count;
	} else {
		TB_ASSERT(offset + count == s->lo);
		s->lo = offset;
	}
	if (s->hi - s->lo >= BUCKET_FLOATS)
		flush_bucket(s);
}

static void wait_all_reduced(struct replica_sync *s)
{
	flush_bucket(s);
	struct collective *c = s->r->comm;
	if (c->allreduce_start) {
		c->join(c); /* the optimizer, issued next, waits on the device */
		return;
	}
	pthread_mutex_lock(&s->lock);
	while (s->pending > 0)
		pthread_cond_wait(&s->changed, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

static void sync_start(struct replica *r)
{
	struct replica_sync *s = tb_xcalloc(1, sizeof(*s));
	s->r = r;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
	r->sync = s;
	model_set_grads_hook(r->m, on_grads_ready, s);
	if (r->comm->allreduce_start)
		return; /* no thread needed: the device queues the collectives */
	s->threaded = true;
	if (pthread_create(&s->comm_thread, NULL, comm_main, s) != 0) {
		fprintf(stderr, "trainbook: cannot start a communication thread\n");
		abort();
	}
}

static void sync_stop(struct replica *r)
{
	struct replica_sync *s = r->sync;
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->quit = true;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	if (s->threaded)
		pthread_join(s->comm_thread, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->changed);
	free(s);
	r->sync = NULL;
}

/* A replica with no samples in this batch still takes part in every collective. */
static void empty_backward(struct replica *r)
{
	r->be->fill(r->be, r->m->grads, 0.0f, r->m->n_weights);
	for (int i = r->m->nlayers - 1; i >= 0; i--) {
		const struct layer *l = &r->m->layers[i];
		if (l->nparams && r->m->grads_ready)
			r->m->grads_ready(r->m->grads_ready_ctx, l->weights_offset, l->nparams);
	}
}

/* Forward, loss and backward of n samples whose batch is already in x_dev/y_dev. */
static void forward_backward(struct replica *r, const struct spec *spec, int n, float share)
{
	const float *logits = model_forward(r->m, r->x_dev, n, true);
	profile_enter(r->profile, "loss", PROFILE_OTHER);
	loss_apply(r->be, &spec->loss, logits, r->y_dev, n, r->m->classes, share, r->dlogits, r->stats_dev, NULL);
	if (r->gpu)
		gpu_step_scale_loss_grad(r->gpu, r->dlogits, (int64_t)n * r->m->classes);
	profile_leave(r->profile);
	model_backward(r->m, r->x_dev, r->dlogits, n);
}

/*
 * The device work of a step, from the batch on the device to the
 * optimizer: what a CUDA graph records. With device_scalars the optimizer
 * scalars were uploaded before (optim_begin_step) and the device finishes
 * them (clip, step count); otherwise optim_step computes them on the host,
 * which reads the gradients.
 */
static void step_body(struct replica *r, const struct spec *spec, int n, float share, double lr,
		      bool device_scalars)
{
	if (n > 0) {
		if (r->gpu && gpu_step_has_data(r->gpu)) {
			profile_enter(r->profile, "batch (gather, augment)", PROFILE_OTHER);
			gpu_step_load_batch(r->gpu, n, r->x_dev, r->y_dev);
			profile_leave(r->profile);
		}
		forward_backward(r, spec, n, share);
	} else {
		empty_backward(r);
	}
	if (r->sync) {
		profile_enter(r->profile, "gradient all-reduce (wait)", PROFILE_OTHER);
		wait_all_reduced(r->sync);
		profile_leave(r->profile);
	}
	profile_enter(r->profile, "optimizer", PROFILE_OTHER);
	if (device_scalars) {
		gpu_step_prepare_optim(r->gpu);
		optim_apply(r->o, r->m);
	} else {
		optim_step(r->o, r->m, lr);
	}
	profile_leave(r->profile);
}

static void run_step(struct replica *r, const struct spec *spec, const struct batch *b, int lo, int hi, int64_t step,
		     double lr)
{
	int n = hi - lo;
	size_t sample = (size_t)shape_numel(r->m->input);
	float share = (float)n / (float)b->n;
	r->m->step = (uint64_t)step;
	if (n > 0 && b->x) {
		profile_enter(r->profile, "batch (upload)", PROFILE_OTHER);
		r->be->upload(r->be, r->x_dev, b->x + (size_t)lo * sample, (size_t)n * sample * sizeof(float));
		r->be->upload(r->be, r->y_dev, b->y + lo, (size_t)n * sizeof(int32_t));
		profile_leave(r->profile);
	}
	struct gpu_step *g = r->gpu;
	if (g) {
		if (n > 0 && !b->x)
			gpu_step_seek(g, b->epoch, b->position * spec->data.batch_size + lo);
		gpu_step_begin(g, step);
	}
	if (!gpu_step_device_clip(g)) {
		step_body(r, spec, n, share, lr, false);
		return;
	}
	optim_begin_step(r->o, r->m, lr, false);
	/* A full step has the whole batch: the shape a graph was recorded with. */
	bool full = n == b->n && n == spec->data.batch_size;
	if (full && gpu_step_replay(g, n))
		return;
	if (gpu_step_capture_due(g, n, full) && gpu_step_capture_begin(g)) {
		step_body(r, spec, n, share, lr, true);
		if (gpu_step_capture_end(g, n) && gpu_step_replay(g, n))
			return;
		/* The capture failed (graphs are now off) and the recorded work never ran: run it. */
	}
	step_body(r, spec, n, share, lr, true);
	gpu_step_ran_eager(g, full);
}

static void replica_step(struct replica *r, const struct spec *spec, const struct batch *b, int lo, int hi,
			 int64_t step, double lr)
{
	profile_step_begin(r->profile);
	run_step(r, spec, b, lo, hi, step, lr);
	profile_step_end(r->profile);
}

/* ---- replica threads ---------------------------------------------------- */

struct group_threads {
	pthread_t *threads;          /* replicas 1..n-1 */
	pthread_barrier_t start, done;
	bool quit;                   /* read after `start` */
	/* the current job, written by the training thread before `start` */
	const struct spec *spec;
	const struct batch *batch;
	int64_t step;
	double lr;
	struct replica_group *g;
};

struct thread_arg {
	struct group_threads *gt;
	int rank;
};

static void shard_bounds(int n, int world, int rank, int *lo, int *hi)
{
	*lo = (int)((int64_t)n * rank / world);
	*hi = (int)((int64_t)n * (rank + 1) / world);
}

static void *replica_main(void *arg)
{
	struct thread_arg *ta = arg;
	struct group_threads *gt = ta->gt;
	int rank = ta->rank;
	free(ta);
	for (;;) {
		pthread_barrier_wait(&gt->start);
		if (gt->quit)
			break;
		int lo, hi;
		shard_bounds(gt->batch->n, gt->g->world, gt->g->rank_base + rank, &lo, &hi);
		replica_step(&gt->g->r[rank], gt->spec, gt->batch, lo, hi, gt->step, gt->lr);
		pthread_barrier_wait(&gt->done);
	}
	return NULL;
}

static void check_identical(struct replica_group *g)
{
	size_t bytes = (size_t)g->r[0].m->n_weights * sizeof(float);
	float *first = tb_xmalloc(bytes), *other = tb_xmalloc(bytes);
	g->r[0].be->download(g->r[0].be, first, g->r[0].m->weights, bytes);
	for (int i = 1; i < g->n; i++) {
		g->r[i].be->download(g->r[i].be, other, g->r[i].m->weights, bytes);
		TB_ASSERT(memcmp(first, other, bytes) == 0); /* replicas drifted apart */
	}
	free(first);
	free(other);
}

void replica_group_step(struct replica_group *g, const struct spec *spec, const struct batch *b, int64_t step,
			double lr)
{
	TB_ASSERT(b->n <= g->shard_cap * g->world);
	if (g->world == 1) {
		replica_step(&g->r[0], spec, b, 0, b->n, step, lr);
		return;
	}
	struct group_threads *gt = g->threads;
	TB_ASSERT(gt);
	gt->spec = spec;
	gt->batch = b;
	gt->step = step;
	gt->lr = lr;
	if (g->n > 1)
		pthread_barrier_wait(&gt->start);
	int lo, hi;
	shard_bounds(b->n, g->world, g->rank_base, &lo, &hi);
	replica_step(&g->r[0], spec, b, lo, hi, step, lr);
	if (g->n > 1)
		pthread_barrier_wait(&gt->done);
	if (g->check_replicas)
		check_identical(g);
}

bool replica_group_use_gpu_data(struct replica_group *g, const struct dataset *train, const struct spec_data *sd,
				 const struct loader_options *lo, char *why, size_t whylen)
{
	for (int i = 0; i < g->n; i++) {
		if (!gpu_step_use_data(g->r[i].gpu, train, sd, lo, why, whylen)) {
			/* All or none: replicas share one batch source. */
			for (int j = 0; j < i; j++)
				gpu_step_drop_data(g->r[j].gpu);
			return false;
		}
	}
	return true;
}

void replica_group_settle(struct replica_group *g)
{
	for (int i = 0; i < g->n; i++)
		gpu_step_settle(g->r[i].gpu);
}

void replica_group_read_stats(struct replica_group *g, double *loss_sum, int64_t *correct)
{
	*loss_sum = 0;
	*correct = 0;
	for (int i = 0; i < g->n; i++) {
		struct replica *r = &g->r[i];
		float stats[2];
		r->be->download(r->be, stats, r->stats_dev, sizeof(stats));
		r->be->fill(r->be, r->stats_dev, 0.0f, 2);
		*loss_sum += stats[0];
		*correct += (int64_t)stats[1];
	}
}

bool replica_group_stats_start(struct replica_group *g)
{
	for (int i = 0; i < g->n; i++) {
		if (!gpu_step_stats_start(g->r[i].gpu, g->r[i].stats_dev)) {
			TB_ASSERT(i == 0); /* one module serves every replica: all can or none */
			return false;
		}
	}
	return true;
}

bool replica_group_stats_poll(struct replica_group *g, bool wait, double *loss_sum, int64_t *correct)
{
	for (int i = 0; !wait && i < g->n; i++)
		if (!gpu_step_stats_landed(g->r[i].gpu))
			return false;
	*loss_sum = 0;
	*correct = 0;
	for (int i = 0; i < g->n; i++) {
		float stats[2];
		gpu_step_stats_take(g->r[i].gpu, stats);
		*loss_sum += stats[0];
		*correct += (int64_t)stats[1];
	}
	return true;
}

/* ---- opening and closing -------------------------------------------------- */

/* The device replica `rank` opens: the CPU again when replica 0 got a host-memory backend ("auto" without a GPU). */
static void device_for_rank(const char *base, bool on_host, int rank, char *out, size_t len)
{
	if (on_host) {
		snprintf(out, len, "cpu");
		return;
	}
	int first = 0;
	if (strncmp(base, "cuda:", 5) == 0)
		first = atoi(base + 5);
	snprintf(out, len, "cuda:%d", first + rank);
}

static int open_replica(struct replica *r, const struct spec *spec, const char *device, int threads,
			struct shape input, int classes, int shard, bool graphs, char *note, size_t notelen, char *err,
			size_t errlen)
{
	r->be = backend_open(device, spec->train.precision_kind, threads, note, notelen, err, errlen);
	if (!r->be)
		return -1;
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	r->m = model_build(&spec->model, input, classes, r->be, &errs);
	if (!r->m) {
		tb_fmt(err, errlen, "%d:%d: %s", errs.list[0].pos.line, errs.list[0].pos.column, errs.list[0].message);
		return -1;
	}
	model_init(r->m, spec->train.seed); /* same seed: every replica starts identical */
	model_reserve(r->m, shard);
	r->o = optim_new(&spec->optimizer, r->be, r->m->n_weights);
	size_t sample = (size_t)shape_numel(input);
	r->x_dev = r->be->alloc(r->be, (size_t)shard * sample * sizeof(float));
	r->y_dev = r->be->alloc(r->be, (size_t)shard * sizeof(int32_t));
	r->dlogits = r->be->alloc(r->be, (size_t)shard * classes * sizeof(float));
	r->pred_dev = r->be->alloc(r->be, (size_t)shard * sizeof(int32_t));
	r->stats_dev = r->be->alloc(r->be, 2 * sizeof(float));
	/* A process's first replica stands for all when profiling; a profiled step runs eagerly (a
	 * graph cannot be split into sections). */
	if (r->rank % TB_MAX(spec->train.devices, 1) == 0)
		r->profile = profile_new(r->be);
	r->m->profile = r->profile;
	r->gpu = gpu_step_new(r->be, r->m, r->o, spec, graphs && !r->profile);
	return 0;
}

static void close_replica(struct replica *r)
{
	sync_stop(r);
	if (!r->be)
		return;
	if (r->x_dev) {
		r->be->free(r->be, r->x_dev);
		r->be->free(r->be, r->y_dev);
		r->be->free(r->be, r->dlogits);
		r->be->free(r->be, r->pred_dev);
		r->be->free(r->be, r->stats_dev);
	}
	gpu_step_free(r->gpu);
	profile_free(r->profile);
	optim_free(r->o);
	model_free(r->m);
	backend_destroy(r->be);
	memset(r, 0, sizeof(*r));
}

static int start_threads(struct replica_group *g)
{
	struct group_threads *gt = tb_xcalloc(1, sizeof(*gt));
	gt->g = g;
	gt->threads = tb_xcalloc((size_t)g->n, sizeof(pthread_t));
	pthread_barrier_init(&gt->start, NULL, (unsigned)g->n);
	pthread_barrier_init(&gt->done, NULL, (unsigned)g->n);
	g->threads = gt;
	for (int i = 1; i < g->n; i++) {
		struct thread_arg *ta = tb_xmalloc(sizeof(*ta));
		*ta = (struct thread_arg){gt, i};
		if (pthread_create(&gt->threads[i], NULL, replica_main, ta) != 0) {
			fprintf(stderr, "trainbook: cannot start a replica thread\n");
			abort();
		}
	}
	return 0;
}

static void stop_threads(struct replica_group *g)
{
	struct group_threads *gt = g->threads;
	if (!gt)
		return;
	gt->quit = true;
	pthread_barrier_wait(&gt->start);
	for (int i = 1; i < g->n; i++)
		pthread_join(gt->threads[i], NULL);
	pthread_barrier_destroy(&gt->start);
	pthread_barrier_destroy(&gt->done);
	free(gt->threads);
	free(gt);
	g->threads = NULL;
}

/* GPUs: NCCL across the local replicas and, in a multi-node run, across processes. */
static int open_nccl(struct replica_group *g, const struct dist_env *d, char *err, size_t errlen)
{
	unsigned char id[NCCL_ID_BYTES];
	if (d->rank == 0 && collective_nccl_unique_id(id, err, errlen) < 0)
		return -1;
	if (d->world > 1) {
		const char *path = getenv("TRAINBOOK_RENDEZVOUS");
		if (dist_rendezvous_file(path && *path ? path : "trainbook-rendezvous.bin", d, id, sizeof(id), 300, err,
					 errlen) < 0)
			return -1;
	}
	struct backend **bes = tb_xcalloc((size_t)g->n, sizeof(*bes));
	for (int i = 0; i < g->n; i++)
		bes[i] = g->r[i].be;
	g->nccl = tb_xcalloc((size_t)g->n, sizeof(*g->nccl));
	int rc = collective_nccl_open(bes, g->n, g->rank_base, g->world, id, g->nccl, err, errlen);
	free(bes);
	for (int i = 0; rc == 0 && i < g->n; i++)
		g->r[i].comm = g->nccl[i];
	return rc;
}

int replica_group_open(struct replica_group *g, const struct spec *spec, struct shape input, int classes,
		       char *note, size_t notelen, char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	struct dist_env d;
	if (dist_env_detect(&d, err, errlen) < 0)
		return -1;
	g->n = spec->train.devices > 0 ? spec->train.devices : 1;
	g->world = g->n * d.world;
	g->rank_base = g->n * d.rank;
	g->process_rank = d.rank;
	g->r = tb_xcalloc((size_t)g->n, sizeof(*g->r));
	g->shard_cap = (spec->data.batch_size + g->world - 1) / g->world;
	const char *check = getenv("TRAINBOOK_CHECK_REPLICAS");
	g->check_replicas = check && *check && strcmp(check, "0") != 0;
	/* TRAINBOOK_COLLECTIVE=1 opens the collective for a world of one too, so one GPU can check the
	 * NCCL path against the plain one: a sum over one rank must leave every bit as it was (tests/gpu). */
	const char *force = getenv("TRAINBOOK_COLLECTIVE");
	bool collective = g->world > 1 || (force && *force && strcmp(force, "0") != 0);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = spec->train.threads > 0 ? spec->train.threads : (int)cores;
	int per_replica = TB_MAX(1, threads / g->n);
	for (int i = 0; i < g->n; i++) {
		char device[64];
		if (i == 0 && d.local_rank == 0)
			snprintf(device, sizeof(device), "%s", spec->train.device);
		else if (i == 0)
			device_for_rank(spec->train.device, false, d.local_rank * g->n, device, sizeof(device));
		else
			device_for_rank(spec->train.device, g->r[0].be->host_memory, d.local_rank * g->n + i, device, sizeof(device));
		g->r[i].rank = g->rank_base + i;
		int cap = i == 0 ? spec->data.batch_size : g->shard_cap;
		/* Graphs record one device's stream; an all-reduce from another thread would escape them. */
		if (open_replica(&g->r[i], spec, device, g->n == 1 ? spec->train.threads : per_replica, input, classes,
				 cap, !collective, i == 0 ? note : NULL, i == 0 ? notelen : 0, err, errlen) < 0)
			goto fail;
	}
	if (collective) {
		bool cpu = g->r[0].be->host_memory; /* the in-process collective sums host buffers */
		if (cpu && d.world > 1) {
			tb_fmt(err, errlen, "a multi-process run (%s rank %d of %d) needs GPUs: the CPU collective works "
					    "within one process only (use train.devices)", d.source, d.rank, d.world);
			goto fail;
		}
		if (cpu) {
			g->cpu_comm = collective_cpu_group_new(g->n);
			for (int i = 0; i < g->n; i++)
				g->r[i].comm = collective_cpu_rank(g->cpu_comm, i);
		} else if (open_nccl(g, &d, err, errlen) < 0) {
			goto fail;
		}
		for (int i = 0; i < g->n; i++)
			sync_start(&g->r[i]);
		if (g->n > 1)
			start_threads(g);
	}
	return 0;
fail:
	replica_group_close(g);
	return -1;
}

void replica_group_close(struct replica_group *g)
{
	if (!g->r)
		return;
	stop_threads(g);
	for (int i = 0; i < g->n; i++)
		sync_stop(&g->r[i]);
	/* Communicators go before the backends (devices) they live on. */
	for (int i = 0; g->nccl && i < g->n; i++)
		if (g->nccl[i])
			g->nccl[i]->destroy(g->nccl[i]);
	free(g->nccl);
	for (int i = 0; i < g->n; i++)
		close_replica(&g->r[i]);
	collective_cpu_group_free(g->cpu_comm);
	free(g->r);
	memset(g, 0, sizeof(*g));
}
