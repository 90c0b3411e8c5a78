/*
 * replica.h — one copy of the model on one device, and a group of them
 * training data-parallel.
 *
 * What it is: per-device state (backend, model, optimizer, batch buffers)
 * and the step a replica runs on its shard: forward, loss, backward with
 * gradients all-reduced in buckets as backward produces them (a
 * communication thread per replica overlaps the all-reduce with the rest of
 * backward), then the optimizer. With one replica the all-reduce is skipped
 * and the step runs on the caller's thread; with N, one thread per replica.
 * What it is not: the epoch loop, evaluation or checkpoints (train.c, which
 * uses replica 0 for those since all replicas hold the same parameters).
 *
 * Threads: replica_group_step is called from the training thread; it
 * drives the replica threads and returns when every replica has finished
 * its step.
 */
#ifndef TB_REPLICA_H
#define TB_REPLICA_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "collective.h"
#include "data.h"
#include "model.h"
#include "optim.h"
#include "spec.h"

struct replica {
	int rank;
	struct backend *be;       /* owned */
	struct model *m;          /* owned */
	struct optim *o;          /* owned */
	float *x_dev;             /* [shard cap, sample] */
	int32_t *y_dev;           /* [shard cap] */
	float *dlogits;           /* [shard cap, classes] */
	float *stats_dev;         /* loss sum, correct count */
	int32_t *pred_dev;        /* [shard cap] */
	struct collective *comm;  /* not owned; NULL with one replica */
	struct gpu_step *gpu;     /* owned; GPU-only step features (gpu_step.h), NULL on the CPU */
	struct profile *profile;  /* owned; replica 0 with TRAINBOOK_PROFILE, else NULL (profile.h) */
	void *sync;               /* bucket queue and threads (replica.c) */
};

struct replica_group {
	int n;                                 /* replicas in this process */
	int rank_base, world;                  /* global ranks of this process: [rank_base, rank_base + n) of world */
	int process_rank;                      /* this process in a multi-node run (0 writes events and checkpoints) */
	struct collective **nccl;              /* owned handles when the replicas are GPUs */
	struct replica *r;
	struct collective_cpu_group *cpu_comm; /* owned, for CPU replicas */
	int shard_cap;                         /* samples per replica the buffers hold (replica 0: a whole
						  batch, since it also evaluates) */
	bool check_replicas;                   /* compare parameters after every step (debug) */
	void *threads;                         /* replica threads (replica.c) */
};

/*
 * Open `spec->train.devices` replicas on spec->train.device (cuda → cuda:0,
 * cuda:1, …; cpu → the thread budget split between replicas), build and
 * initialise identical models. Returns 0, or -1 with err filled.
 * `note` receives backend_open's note for replica 0.
 */
int replica_group_open(struct replica_group *g, const struct spec *spec, struct shape input, int classes,
		       char *note, size_t notelen, char *err, size_t errlen);
void replica_group_close(struct replica_group *g);

/*
 * One training step on a batch split across the replicas. `lr` is the
 * step's learning rate; the loss of each shard is weighted by its share of
 * the batch, so the summed gradient is the whole batch's mean gradient.
 * Adds each replica's loss sum and correct count to its stats_dev.
 */
void replica_group_step(struct replica_group *g, const struct spec *spec, const struct batch *b, int64_t step,
			double lr);

/*
 * Keep the training split on every GPU replica (gpu_step.h); batches
 * then carry no host data (x == NULL) and replicas assemble their shard
 * on the device. False, with why when worth telling, when batches come
 * from the host loader.
 */
bool replica_group_use_gpu_data(struct replica_group *g, const struct dataset *train, const struct spec_data *sd,
				 const struct loader_options *lo, char *why, size_t whylen);

/*
 * Train metrics without a host sync (GPUs): snapshot every replica's stats
 * pair into pinned memory behind the queued work and restart the sums;
 * false when the backend cannot (read them with replica_group_read_stats).
 * Poll gives the snapshot's totals once every replica's has landed (false
 * while one is on its way; wait: block until they have).
 */
bool replica_group_stats_start(struct replica_group *g);
bool replica_group_stats_poll(struct replica_group *g, bool wait, double *loss_sum, int64_t *correct);

/* Before a checkpoint: the optimizer's host state as the devices kept it. */
void replica_group_settle(struct replica_group *g);

/* Sum of the replicas' stats (downloads and zeroes them). */
void replica_group_read_stats(struct replica_group *g, double *loss_sum, int64_t *correct);

#endif
