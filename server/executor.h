/*
 * executor.h — where a run's worker runs and how the supervisor controls
 * it: the one contract of DESIGN.md ("Classroom and cluster") — start(run)
 * → handle; stop(handle, grace); poll → status and reason — with one row
 * per kind in executor_kinds[] (executor_local.c: a child process with
 * its events on a pipe; executor_slurm.c: an sbatch job whose worker dials
 * home over HTTP).
 *
 * What it is not: the scheduler (scheduler.c decides which run starts where,
 * through runq_sched.c; an executor only says how many it can take at
 * once, or that it places GPUs itself), or event
 * handling (runq_worker.c turns the lines a worker sends into stored
 * events, whichever way they arrive).
 *
 * Threads: every slot runs on the supervisor thread with q->lock held,
 * except open/close (runq_new/runq_free) and stop/kill, which API calls
 * make on HTTP threads, also with q->lock held.
 */
#ifndef TB_SERVER_EXECUTOR_H
#define TB_SERVER_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct runq;
struct runq_worker;
struct runq_need;

/* What starting one run needs. */
struct exec_start {
	int64_t run;
	const char *run_dir; /* realpath of the run's folder; spec.yaml is in it */
	const char *spec_path;
	const char *resume; /* checkpoint to resume from, or NULL */
	bool evaluate;      /* only evaluate `resume` (--evaluate) and train nothing */
	const struct runq_need *need;
	const int *gpus;      /* GPU places the scheduler chose (executors that place GPUs) */
	const char *visible;  /* CUDA_VISIBLE_DEVICES for them ("0,1", "MIG-…"); "" = leave it */
	int64_t placed_bytes; /* memory the run was placed with: per GPU, or on the CPU; 0 = none known */
	const char *secret;   /* per-start secret a dialing-home worker shows */
	const char *owner;    /* the user it runs for (accounts), or NULL */
};

/* How a worker ended, as its executor saw it. */
struct exec_end {
	bool lost;     /* its exit status could not be learnt */
	bool signaled; /* ended by signal `sig` */
	int sig;
	int code; /* exit code when not signaled */
	/* The executor's verdict when the worker sent no final status:
	 * "failed" or "interrupted" with `reason` in its own words; NULL = let
	 * runq_worker.c word it from the fields above. */
	const char *status;
	char reason[512];
};

/* What the scheduler may place on an executor. */
struct exec_capacity {
	bool places_gpus; /* true: the scheduler picks GPU indices (cpu_runs, gpu_runs);
				       * false: the executor's own scheduler does, and at most `jobs`
				       * runs are handed to it at once */
	int jobs;
	int gpus; /* !places_gpus: GPUs one run may ask for (a node's) */
};

struct executor;

struct executor_kind {
	const char *name; /* the `executor` setting's value */
	const char *summary;
	/* Workers send their events to POST /api/worker/runs/{id}/events (with
	 * the per-start secret) instead of a pipe; they may outlive the server
	 * and are re-attached when it starts again. */
	bool dials_home;
	/* Check the settings and the tools the kind needs; 0 or -1 with err. */
	int (*open)(struct executor *ex, char *err, size_t errlen);
	void (*close)(struct executor *ex);
	struct exec_capacity (*capacity)(const struct executor *ex, const struct runq *q);
	/* Start w's worker; fills w's handle (pid and pipe, or job id). */
	int (*start)(struct executor *ex, struct runq_worker *w, const struct exec_start *st, char *err, size_t errlen);
	/* Ask the worker to checkpoint and stop (SIGTERM). */
	void (*stop)(struct executor *ex, struct runq_worker *w);
	/* End it now (SIGKILL, scancel): the grace is over or the run is deleted. */
	void (*kill)(struct executor *ex, struct runq_worker *w);
	/* Once per supervisor pass, before ended(): batched state queries. */
	void (*tick)(struct executor *ex, struct runq *q, int64_t now_ms);
	/* True once w's worker is gone for good; fills `end`. */
	bool (*ended)(struct executor *ex, struct runq_worker *w, struct exec_end *end);
	/* After a server restart, for a run recorded with a handle (w->job):
	 * true when it still lives and w now follows it. NULL: workers die with
	 * the server, so such runs are interrupted. */
	bool (*reattach)(struct executor *ex, struct runq_worker *w);
};

struct executor {
	const struct executor_kind *kind;
	struct runq *q;         /* the queue it serves */
	struct exec_config cfg; /* a copy of the settings */
	void *priv;             /* the kind's own state, owned by it */
};

extern const struct executor_kind executor_local;
extern const struct executor_kind executor_slurm;

/* The kind named `name`, or NULL; the settings parser and runq_new use it. */
const struct executor_kind *executor_find(const char *name);
/* "local, slurm": for error messages. */
const char *executor_names(void);

#endif
