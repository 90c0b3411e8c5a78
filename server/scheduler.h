/*
 * scheduler.h — which queued runs start now, and why each other one waits:
 * the scheduler of DESIGN.md ("Classroom and cluster"), a pure function of
 * (queue, usage, devices with their memory, quotas, lab sessions, clock)
 * → decisions. runq_sched.c gathers the inputs from the store, the
 * workers and NVML and carries the decisions out, for the local executor
 * and Slurm alike; tests/unit/server/test_sched.c drives it with a
 * simulated clock and emulated GPU memory.
 *
 * The rules (docs/classroom.md, "Scheduling"):
 *   - Runs wait in pools: the CPU, the GPUs (one device per GPU, or per
 *     MIG instance), or a cluster (Slurm takes the place, we only hand
 *     over at most `slots` runs).
 *   - Fair share: among the users with a run waiting in a pool, the one
 *     with the lowest decayed usage of that pool goes first; a user's own
 *     runs go in the order they were queued. Each run picked in a pass (or
 *     counted ahead when ordering the rest) adds SCHED_PICK_CHARGE_S to
 *     its user's usage, so a user with ten runs waiting does not take every
 *     free slot, or every place at the front, from a user with one.
 *   - Classes before usage: a lab session's members while it is on, then
 *     instructors (policy.instructors_first), then everyone else.
 *   - Packing: a run fits a device while its free slots and memory allow:
 *     the runs' charges (estimated peak memory) plus a margin fit the
 *     device, and what NVML says is free holds them too. A run without an
 *     estimate is charged an equal share (memory less margin, divided by
 *     the slots) and fits while the plan has that share, so slots decide
 *     for it as --gpu-runs always did.
 *   - A user's concurrent-runs quota, a used-up minutes quota (blocked)
 *     and an exclusive lab session hold runs back with their reason.
 *   - A running run that uses more GPU memory than its charge plus the
 *     margin, on a GPU it shares, is evicted (it fails with the reason)
 *     so its neighbours keep their memory.
 *   - policy.fifo: plain first come, first served (a run that does not fit
 *     lets later ones that do pass it), for comparison.
 *
 * What it is not: I/O of any kind, clocks, locks or the store. Nothing
 * here allocates except the output arrays.
 *
 * Threads: pure; any thread.
 */
#ifndef TB_SERVER_SCHEDULER_H
#define TB_SERVER_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_NAME_MAX 64
#define SCHED_MAX_DEVICES 128 /* devices one input may list (GPUs, MIG instances, the CPU) */
#define SCHED_RUN_DEVICES 16  /* devices one run may hold */
#define SCHED_REASON_MAX 320
#define SCHED_BLOCK_MAX 200
/*
 * The usage a run picked (or counted ahead) adds to its user's key: about
 * what a short classroom run costs. With it, two free slots in one pass
 * go to two users of equal usage, and a user's second waiting run is
 * placed behind other users' first ones unless their usage is that much
 * higher.
 */
#define SCHED_PICK_CHARGE_S 300.0

enum sched_pool { SCHED_POOL_CPU, SCHED_POOL_GPU, SCHED_POOL_CLUSTER, SCHED_NPOOLS };

/* A place runs go: the CPU, one GPU or MIG instance, or a cluster. */
struct sched_device {
	enum sched_pool pool;
	char label[48];      /* how reasons name it: "the CPU", "GPU 0", "GPU 1 (MIG 2)", "Slurm" */
	int slots;           /* runs on it at once at most (0: it takes none) */
	int64_t total_bytes; /* memory runs are packed into; 0 = unknown: slots alone decide */
	int64_t free_bytes;  /* free now as measured (every process counted); -1 = not measured */
};

struct sched_user {
	char name[SCHED_NAME_MAX];
	bool instructor;
	double usage[SCHED_NPOOLS];                  /* decayed device-seconds as of the input's clock */
	int max_running;                             /* concurrent-runs quota (all pools); -1 = no limit */
	char blocked[SCHED_NPOOLS][SCHED_BLOCK_MAX]; /* non-empty: why none of the user's runs in that
						      * pool may start now (a used-up quota) */
};

struct sched_queued {
	int64_t id;
	int user;          /* index into sched_input.users */
	int64_t queued_ms; /* when it (last) joined the queue; ties go by id */
	enum sched_pool pool;
	int ndevices;      /* devices it needs at once (GPUs); < 1 counts as 1 */
	int pinned;        /* the device index it must have (cuda:N), or -1 */
	int64_t est_bytes; /* estimated peak memory per device; 0 = unknown */
};

struct sched_running {
	int64_t id;
	int user;
	enum sched_pool pool;
	int devices[SCHED_RUN_DEVICES]; /* indices into sched_input.devices */
	int ndevices;
	int64_t charge_bytes; /* the memory it was placed with, per device */
	int64_t used_bytes;   /* measured now, per device (the most of its devices); -1 = not measured */
};

/* A weekly window of a lab: its students first, or only they. */
struct sched_lab {
	int weekday;            /* 0 = Sunday … 6 = Saturday, local time */
	int start_min, end_min; /* minutes after local midnight, start < end ≤ 1440 */
	bool exclusive;         /* only members' runs start; else members go first */
	char users[512];        /* members, comma-separated; "" = every student */
};

struct sched_policy {
	bool fifo;                /* first come, first served: no fair share, no classes */
	bool instructors_first;   /* instructors' runs before students' (outside a lab's priority) */
	int64_t margin_bytes;     /* kept free on every GPU with known memory (the CPU's total leaves its own) */
	int64_t backfill_wait_ms; /* a run that has waited this long for room keeps the runs behind it
				  * from passing it in its pool; 0 = they always may */
};

struct sched_input {
	int64_t now_ms;   /* wall clock, unix milliseconds */
	int utc_offset_s; /* local time = UTC + this (lab sessions) */
	struct sched_policy policy;
	const struct sched_device *devices;
	int ndevices; /* ≤ SCHED_MAX_DEVICES */
	const struct sched_user *users;
	int nusers;
	const struct sched_queued *queued;
	int nqueued;
	const struct sched_running *running;
	int nrunning;
	const struct sched_lab *labs;
	int nlabs;
};

struct sched_start {
	int64_t id;
	int devices[SCHED_RUN_DEVICES];
	int ndevices;
	int64_t charge_bytes; /* per device: what it is placed with (its GPU memory limit) */
};

struct sched_wait {
	int64_t id;
	int position; /* 1 = the next to start in its pool */
	char reason[SCHED_REASON_MAX];
};

struct sched_evict {
	int64_t id;
	char reason[SCHED_REASON_MAX];
};

struct sched_output {
	struct sched_start *starts; /* in the order to start them */
	int nstarts;
	struct sched_wait *waits; /* every queued run not started, in input order */
	int nwaits;
	struct sched_evict *evicts;
	int nevicts;
	int lab; /* the lab session in force (index into labs), or -1 */
};

/* Decide; out's arrays are allocated here (sched_output_free). */
void sched_decide(const struct sched_input *in, struct sched_output *out);
void sched_output_free(struct sched_output *out);

/* What a run that does not bring an estimate is charged on `d`: an equal share of its memory less the margin. */
int64_t sched_fallback_charge(const struct sched_device *d, int64_t margin_bytes);

/* The lab session in force at now_ms (local time), or -1. */
int sched_lab_active(const struct sched_lab *labs, int n, int64_t now_ms, int utc_offset_s);
/* Is `user` one of `lab`'s members? */
bool sched_lab_member(const struct sched_lab *lab, const char *user, bool instructor);

/* value × 2^(−dt / half_life): usage `dt` seconds later. */
double sched_decay(double value, double dt_s, double half_life_s);

#endif
