/*
 * runq.h — the run queue and worker supervisor: runs wait in the store as
 * "queued"; a supervisor thread asks the scheduler (scheduler.h, through
 * runq_sched.c) which of them start where — fair share by decayed usage,
 * packed onto GPUs by memory, held back by quotas and lab sessions — and
 * starts one worker per run, reads its JSON-lines events from a pipe,
 * stores each with its sequence number and hands it to the feed, counts
 * the device time it uses, stops it at its duration limit, and turns every
 * way a worker can end (final status, crash, hang, garbage, stop, server
 * shutdown) into a recorded run status.
 *
 * What it is not: HTTP or WebSocket. Routes call runq_submit/stop/resume/
 * delete/extend and read quotas; the feed learns of events through struct
 * runq_hooks.
 *
 * Threads: the supervisor thread owns the worker processes and their pipes;
 * the public functions may be called from any thread and take q->lock.
 * The event hook runs with q->lock held, on the supervisor thread (worker
 * events, exits) or on the caller's thread (status events an API call
 * causes), so a run's events reach it in sequence order. Neither hook may
 * call back into runq.
 */
#ifndef TB_SERVER_RUNQ_H
#define TB_SERVER_RUNQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct runq;
struct gpumon_device;

#define RUNQ_LINE_MAX (1u << 20) /* one event line; a longer one is garbage */
#define RUNQ_MAX_GPUS 64         /* places for runs: GPUs or MIG instances */
#define RUNQ_MAX_WORKERS 256
#define RUNQ_SPEC_MAX (1u << 20)

enum runq_err {
	RUNQ_OK = 0,
	RUNQ_ENOENT = -1,   /* no such run: 404 */
	RUNQ_ESTATE = -2,   /* not in a state that allows it: 409 */
	RUNQ_EFULL = -3,    /* too many runs waiting: 429 */
	RUNQ_EINVALID = -4, /* the run cannot be placed (e.g. asks for a GPU there is not): 400 */
	RUNQ_EIO = -5,      /* disk or store failure: 500 */
	RUNQ_ENOSPACE = -6, /* the disk is full: 507 until space returns */
	RUNQ_EDENIED = -7,  /* a worker showed the wrong secret: 403 */
	RUNQ_EGAP = -8,     /* a worker sent events past a gap: 409, resend from what we have */
	RUNQ_EGONE = -9,    /* the run has no worker any more (ended, deleted): 410, stop sending */
	RUNQ_EQUOTA = -10,  /* a quota of the owner is reached (quota.h): 429 "quota" */
};

struct runq_hooks {
	/* An event was stored as `seq` of `run`; json is the event object's text. */
	void (*event)(void *ctx, int64_t run, int64_t seq, const char *json, size_t len);
	/* A run's status or progress changed, or it was deleted (when run_deleted is NULL). */
	void (*run_changed)(void *ctx, int64_t run);
	/* A run of `owner` was deleted (its records are gone already). */
	void (*run_deleted)(void *ctx, int64_t run, const char *owner);
	/*
	 * May `owner` still run `spec` now? Asked right before a worker starts
	 * (roles, data roots and the files themselves may have changed since
	 * the run was queued). 0, or -1 with a reason the run fails with.
	 * NULL = always.
	 */
	int (*admit)(void *ctx, const char *owner, const char *spec, char *err, size_t errlen);
	/*
	 * The places for GPU runs — GPUs or MIG instances, with their memory
	 * and processes as NVML last read them (gpumon.h) — into out; returns
	 * how many. NULL = gpu_count GPUs of unknown memory.
	 */
	int (*devices)(void *ctx, struct gpumon_device *out, int max);
	/* A spec's estimated peak memory on one device of its kind, bytes; 0 = unknown. NULL = unknown. */
	int64_t (*estimate)(void *ctx, const char *spec, size_t len, bool gpu);
	void *ctx;
};

struct exec_config;
struct sched_config;

struct runq_config {
	const char *workspace;  /* the store and notebooks live here */
	const char *runs_dir;   /* runs live in <runs_dir>/<id>/; NULL = <workspace>/.trainbook/runs */
	const struct exec_config *executor; /* where workers run (executor.h); NULL = local */
	const char *exe;        /* this binary; workers are "<exe> worker …" */
	const char *worker_cmd; /* test hook: run "<worker_cmd> SPEC --out DIR" instead; NULL/"" = off */
	const char *owner;      /* recorded on every run */
	int cpu_runs;           /* CPU slots; CFG_RUNS_AUTO (-1): one per core, as memory allows */
	int gpu_count;          /* GPUs NVML sees */
	int gpu_runs;           /* runs per GPU */
	int worker_timeout;     /* seconds without an event before a worker counts as hung */
	int stop_timeout;       /* seconds between SIGTERM and SIGKILL */
	int max_queued;         /* runs waiting at once */
	bool accounts;          /* workers run in the workspace (relative data paths) and know their user */
	bool separation;        /* sandbox workers: writes only in the run dir, private TMPDIR (sandbox.c) */
	const struct sched_config *sched; /* fair share, quotas, lab sessions (config.h); NULL = fair, none */
	int64_t worker_memory;  /* bytes a worker may use (TRAINBOOK_MEMORY_LIMIT); 0 = the machine's allowance */
};

int runq_new(const struct runq_config *cfg, struct store *store, const struct runq_hooks *hooks,
	     struct runq **out, char *err, size_t errlen);
/* Mark runs left "running" by a previous server as interrupted; start the supervisor. */
int runq_start(struct runq *q);
/* Stop accepting, SIGTERM every worker, wait for them (SIGKILL after stop_timeout). */
void runq_shutdown(struct runq *q);
void runq_free(struct runq *q);

struct runq_submit {
	const char *spec;     /* YAML, already validated */
	size_t spec_len;
	const char *name;     /* NULL = derived from the notebook or "run" */
	const char *notebook; /* or NULL */
	const char *cell;     /* or NULL */
	const char *owner;    /* the user it runs for; NULL = the configured owner */
};

int runq_submit(struct runq *q, const struct runq_submit *sub, int64_t *id, char *err, size_t errlen);
int runq_stop(struct runq *q, int64_t id, char *err, size_t errlen);
/* End it now, without a checkpoint (SIGKILL, scancel); `by` names who, for the reason. */
int runq_kill(struct runq *q, int64_t id, const char *by, char *err, size_t errlen);
/* checkpoint_file NULL = the newest checkpoint (or from scratch when there is none). */
int runq_resume(struct runq *q, int64_t id, const char *checkpoint_file, char *err, size_t errlen);
int runq_delete(struct runq *q, int64_t id, char *err, size_t errlen);
/*
 * Evaluate a checkpoint of an ended run on its test split (checkpoint_file
 * NULL = the newest). The run is queued and runs like a resume, but the
 * worker only evaluates, and when it ends the run gets back the status and
 * reason it had, whatever happened (the final status event says how the
 * evaluation ended in "evaluation").
 */
int runq_evaluate(struct runq *q, int64_t id, const char *checkpoint_file, char *err, size_t errlen);
/* A run's record changed outside the queue (a rename): tell the feed. */
void runq_changed(struct runq *q, int64_t id);

/*
 * Events a dial-home worker (executor slurm) sends: JSON lines numbered
 * from `first` in the worker's own numbering. Lines already taken are
 * skipped (a resend after a lost answer or a reconnect), so each event is
 * stored once. On RUNQ_OK *have is how many of the worker's events are
 * committed (it may forget those) and *taken how many the server holds
 * (resend from taken + 1 after RUNQ_EGAP).
 */
int runq_worker_post(struct runq *q, int64_t run, const char *secret, int64_t first, const char *body,
		     size_t len, int64_t *have, int64_t *taken, char *err, size_t errlen);

/*
 * Where dial-home workers send their events, "http://HOST:PORT/BASE/",
 * known once the server has its port; a slurm-report-url setting wins.
 * Call before runq_start.
 */
void runq_set_report_url(struct runq *q, const char *url);

/* The run a worker pid belongs to, 0 for none (for GPU process lists). */
int64_t runq_run_of_pid(struct runq *q, int pid);

/*
 * Raise run `id`'s duration limit by `seconds` (an instructor's "extend"):
 * from its current limit (the run's own, or its owner's quota), or from
 * now when it has none. *limit gets the new limit in seconds.
 */
int runq_extend(struct runq *q, int64_t id, int64_t seconds, int64_t *limit, char *err, size_t errlen);

/* A user's quota limits (config, then the role's and the user's overrides) and use now. */
struct quota_limits;
struct quota_use;
int runq_quota(struct runq *q, const char *user, struct quota_limits *limits, struct quota_use *use);
/* The lab sessions (the config file's, then the instructor's), and the one in force now (or -1). */
struct sched_lab;
int runq_labs(struct runq *q, struct sched_lab *out, int max, int *active);
/* The instructor's lab sessions are in the store: read them again at the next pass. */
void runq_reschedule(struct runq *q);

/*
 * Which slot a spec needs: parses train.device and train.devices with the
 * engine's spec parser. `cpu` → CPU; `cuda`, `cuda:N` → GPU (index N or any);
 * `auto` → GPU when gpu_count > 0. Exposed for unit tests.
 */
struct runq_need {
	bool gpu;
	int gpu_index; /* -1 = any */
	int ngpus;     /* GPUs wanted (train.devices), ≥ 1 when gpu */
	int devices;   /* train.devices: GPUs, or CPU replicas (a core each) */
	int nodes;     /* train.nodes: processes under a cluster launcher, one per node */
};
int runq_classify(const char *yaml, size_t len, int gpu_count, struct runq_need *need, char *err,
		  size_t errlen);

#endif
