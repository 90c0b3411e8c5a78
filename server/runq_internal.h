/*
 * runq_internal.h — state shared by runq.c (queue, supervisor, API),
 * runq_sched.c (the scheduler's inputs and decisions, usage, duration
 * limits, quotas), runq_worker.c (one worker's events and end, whatever
 * runs it) and the executors (executor_local.c, executor_slurm.c). Not for
 * other modules.
 */
#ifndef TB_SERVER_RUNQ_INTERNAL_H
#define TB_SERVER_RUNQ_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sys/types.h>

#include "config.h"
#include "executor.h"
#include "runq.h"
#include "util.h"

#define RUNQ_VISIBLE_MAX 512 /* CUDA_VISIBLE_DEVICES of one worker */
#define RUNQ_FOLD_WAIT_MS 10 /* poll timeout while folded train metrics wait for the rate */

/*
 * Train metric events a worker sent faster than RUNQ_METRICS_PER_S, folded
 * into one: the last event of the window, plus how many it stands for and
 * each value's min and max over them ("thinned" in docs/api.md). Status,
 * checkpoint, summary, log and evaluation (split ≠ train) events are never
 * folded.
 */
struct runq_fold {
	json_t *last;      /* the newest folded event, or NULL when nothing is folded */
	json_t *min, *max; /* {name: value} over the folded events */
	int64_t count;
	json_t *from_step; /* step of the first folded event */
};

/* An event that waits for the next commit (runq_flush), in arrival order. */
struct runq_pending {
	struct runq_worker *w; /* the worker that sent it; NULL for server-made events */
	int64_t run;
	int64_t wseq;          /* the worker's own number for it (dial-home workers), 0 = none */
	char *text;            /* owned */
	size_t len;
	json_t *event;         /* owned */
	bool changed;          /* tell run_changed after the commit */
};

/* One live worker, whoever runs it. Every field is guarded by q->lock. */
struct runq_worker {
	int64_t run;
	/* The executor's handle: */
	pid_t pid;                /* local: the child process; 0 under Slurm */
	int out_fd;               /* local: read end of the worker's stdout; -1 after EOF or when it dials home */
	char job[32];             /* slurm: the job id; "" for local */
	char job_state[24];       /* slurm: the last state squeue reported ("PENDING", "RUNNING", …) */
	char job_reason[64];      /* slurm: squeue's reason while pending ("Priority", "Resources") */
	int64_t job_seen_ms;      /* slurm: when squeue last listed the job */
	int job_position, job_queue; /* slurm: place among the pending jobs, as last told; -1 = tell again */
	bool job_gone;            /* slurm: squeue and sacct agree the job has ended */
	/* Dial-home workers (events over HTTP, or the shared events file): */
	bool remote;
	char secret[65];          /* what the worker must show; fresh for every start */
	int64_t wseq_in;          /* the worker's events taken so far (stored, queued or folded) */
	int64_t wseq_done;        /* … of which committed: the acknowledgement */
	int64_t fold_wseq;        /* the worker number of the newest folded event */
	int64_t file_off;         /* events.jsonl offset after event wseq_in; -1 = unknown */
	char *line;               /* the line being assembled, ≤ RUNQ_LINE_MAX */
	size_t len, cap;
	int64_t last_event_ms;    /* monotonic; for --worker-timeout */
	int64_t kill_at_ms;       /* SIGKILL due at this time after a SIGTERM; 0 = none */
	int64_t changed_sent_ms;  /* last progress-only run_changed, to throttle them */
	bool got_final;           /* the worker reported completed/failed/stopped */
	char final_status[16];    /* … which of them */
	bool stop_requested;      /* POST stop or shutdown sent SIGTERM */
	bool deleting;            /* the run is gone; discard output, remove the dir at exit */
	bool garbage;             /* the worker wrote something that is not an event */
	bool hung;                /* no event for worker_timeout seconds */
	bool store_failed;        /* its events could not be stored (disk full): ended as failed */
	char *restore;            /* an evaluation: the run's status to put back when it ends
				   * (JSON text, owned; see store_run_info.evaluate), else NULL */
	struct runq_fold fold;    /* train metrics past the rate, waiting to go out as one */
	double metric_tokens;     /* token bucket of train metric events (RUNQ_METRICS_PER_S) */
	int64_t metric_tokens_ms; /* when the bucket was last topped up */
	int64_t clock_offset_ms;  /* dial-home workers: their event time minus our monotonic clock */
	char fail_reason[512];    /* why the server ended it (garbage, hang), or "" */
	struct runq_need need;
	int gpus[RUNQ_MAX_GPUS];  /* the places it holds (indices into the scheduler's GPU devices) */
	int ngpus;
	char run_dir[PATH_MAX];   /* realpath of <workspace>/.trainbook/runs/<id> */
	/* Scheduling (runq_sched.c): */
	char owner[64];           /* whose run: usage, quotas */
	int64_t charge_bytes;     /* memory it was placed with per device (TRAINBOOK_GPU_MEMORY_LIMIT) */
	int64_t started_ms;       /* monotonic: its duration limit counts from here */
	int64_t acct_ms;          /* monotonic: device time counted up to here */
	double usage_pending;     /* device-seconds not in the store yet */
	double ran_s;             /* seconds it has been running (its duration limit's clock) */
	int64_t usage_flushed_ms; /* monotonic: when they last went to the store */
	int64_t limit_own;        /* seconds: an instructor's extension (runs.duration_limit), 0 = none */
	int64_t limit_quota;      /* seconds: its owner's max_run_seconds as of the last pass, 0 = none */
	char limit_reason[256];   /* it was stopped at its duration limit: the status reason */
	bool evicted;             /* stopped for using more GPU memory than placed with (fail_reason says so) */
	bool final_told;          /* its final status event already carries the reason above */
};

/* Where the scheduler put a run (runq_spawn). */
struct runq_place {
	int gpus[RUNQ_MAX_GPUS];  /* scheduler GPU device indices; none for a CPU or cluster run */
	int ngpus;
	char visible[RUNQ_VISIBLE_MAX]; /* CUDA_VISIBLE_DEVICES for it, "" = leave the variable alone */
	int64_t charge_bytes;     /* GPU memory it may use, per device; 0 = no limit known */
};

struct runq {
	char workspace[PATH_MAX];
	char runs_dir[PATH_MAX];  /* <workspace>/.trainbook/runs */
	char exe[PATH_MAX];
	char worker_cmd[PATH_MAX];
	char owner[64];
	struct runq_config cfg;   /* string fields point at the copies above */
	struct store *store;
	struct runq_hooks hooks;
	int wake[2];              /* self-pipe: API calls wake the supervisor's poll */
	pthread_t thread;
	bool thread_started;

	struct executor ex;       /* local or slurm; set up in runq_new, read-only after */
	char events_file[16];     /* "events.jsonl" in a run dir: what dial-home workers append */

	struct sched_config sched; /* a copy of cfg.sched (fair share, quotas, lab sessions); read-only */
	int cpu_slots;            /* CPU runs at once: cpu_runs, or what "auto" came to */
	int64_t cpu_memory;       /* bytes CPU runs are packed into (the host's less 10%); 0 = unknown */

	pthread_mutex_t lock;     /* guards everything below and every runq_worker */
	struct runq_worker *workers[RUNQ_MAX_WORKERS];
	int nworkers;
	bool sched_dirty;         /* something changed that may let a queued run start */
	int64_t sched_next_ms;    /* monotonic: the next pass even when nothing changed (usage, clock) */
	struct gpumon_device *devs; /* the GPU places as last read (hooks.devices), RUNQ_MAX_GPUS of room */
	int ndevs;
	bool stopping;            /* shutdown began: start nothing new */
	struct runq_pending *pending; /* events read but not yet committed (runq_flush) */
	size_t npending, pending_cap;
	/* Disk trouble: the store could not be written. Runs whose events were
	 * refused end as failed, nothing new starts, and the supervisor checks
	 * for space every RUNQ_SPACE_CHECK_MS until the reserve file can be
	 * written again. */
	bool disk_full;
	char disk_reason[256];
	int64_t space_check_ms;
	struct srv_log_limit disk_log;
	char reserve_path[PATH_MAX]; /* <workspace>/.trainbook/reserve */
};

/* ---- runq_worker.c (caller holds q->lock) ---- */

/*
 * Start a worker for `run` through q->ex where `place` says; on success it
 * is in q->workers. `evaluate` (store_run_info.evaluate) makes it evaluate
 * `resume` only, and is the status the run gets back when it ends.
 */
int runq_spawn(struct runq *q, int64_t run, const struct runq_need *need, const struct runq_place *place,
	       const char *spec, const char *resume, const char *evaluate, const char *owner, char *err,
	       size_t errlen);
/* After a restart: follow `run`'s still-live job (recorded handle and secret; `evaluate` as for
 * runq_spawn); true when adopted. */
bool runq_reattach(struct runq *q, int64_t run, const char *job, const char *secret, int64_t wseq,
		   const char *owner, const char *evaluate);
/* Read what the worker wrote on its pipe and store/publish each complete line:
 * 1 read something, 0 nothing there now, -1 end of output. */
int runq_worker_read(struct runq *q, struct runq_worker *w);
/* Take event lines a dial-home worker sent, numbered from `first`: lines
 * already taken are skipped, a gap is refused. Returns the count taken, or
 * -1 (gap: nothing taken). */
int runq_worker_take(struct runq *q, struct runq_worker *w, int64_t first, const char *data, size_t len);
/* If the worker has ended, record how, release it and return true. */
bool runq_worker_reap(struct runq *q, struct runq_worker *w);
/* Hang detection and kill deadlines. */
void runq_worker_timers(struct runq *q, struct runq_worker *w, int64_t now_ms);
/* Queue the folded train metrics once the rate allows another event. */
void runq_worker_fold_due(struct runq *q, struct runq_worker *w, int64_t now_ms);
/* Ask it to checkpoint and stop now, kill it after stop_timeout. */
void runq_worker_terminate(struct runq *q, struct runq_worker *w);
/* Read new complete lines of the run's events.jsonl (dial-home workers). */
void runq_worker_follow_file(struct runq *q, struct runq_worker *w);

/* ---- runq_sched.c (caller holds q->lock) ---- */

/* Resolve cpu-runs auto and the CPU's memory (runq_new). */
void runq_sched_init(struct runq *q);
/* A scheduling pass when something changed or the period is up: start, evict, place the rest. */
void runq_schedule(struct runq *q, int64_t now_ms);
/* Count device time of the workers, send it to the store now and then; stop those past their limit. */
void runq_account(struct runq *q, int64_t now_ms);
/* Send w's uncounted device time to the store (before it is released). */
void runq_account_flush(struct runq *q, struct runq_worker *w, int64_t now_ms);
/* May `owner` queue a run (a GPU run when `gpu`)? RUNQ_OK or RUNQ_EQUOTA with the quota's words. */
int runq_quota_check(struct runq *q, const char *owner, bool gpu, char *err, size_t errlen);
/* The engine's estimate of a spec's peak memory on one device of its kind (the hooks' estimate;
 * 0 = unknown). Needs no lock: it may read the data's headers (a CSV, all of it), so callers make it
 * before taking q->lock. */
int64_t runq_estimate(struct runq *q, const char *spec, size_t len, const struct runq_need *need);
/* What a run needs, as the scheduler keeps it (runs.need_gpus, need_index, est_bytes). */
void runq_record_need(struct runq *q, int64_t run, const struct runq_need *need, int64_t est_bytes);

/* ---- runq.c ---- */

struct runq_worker *runq_find_worker(struct runq *q, int64_t run);

/* Queue a worker's event for the next commit; takes text and event. wseq:
 * the worker's number for it (dial-home workers; 0 = none). */
void runq_pending_add(struct runq *q, struct runq_worker *w, char *text, size_t len, json_t *event,
		      bool changed, int64_t wseq);
/* Commit every queued event in one transaction, then publish them in order. */
void runq_flush(struct runq *q);
/* The store refused a write (STORE_EFULL / STORE_EIO): enter disk-trouble mode. */
void runq_disk_trouble(struct runq *q, int store_rc);
/* Train metrics folded so far for `w`, queued as one event (before any later event). */
void runq_fold_flush(struct runq *q, struct runq_worker *w);

/* Store a server-made event (status, log) and publish it (after what is queued). */
int runq_emit(struct runq *q, int64_t run, json_t *event);
int runq_emit_status(struct runq *q, int64_t run, const char *status, const char *reason);
/*
 * The end of an evaluation: the status it had before (`restore`, JSON text
 * {"status","reason"}) with "evaluation": how the evaluation ended.
 * runq_restore_event builds the event (new reference); runq_emit_restore
 * stores and publishes it.
 */
json_t *runq_restore_event(const char *restore, const char *outcome);
int runq_emit_restore(struct runq *q, int64_t run, const char *restore, const char *outcome);
/* A queued run that cannot start fails; an evaluation (`evaluate` non-NULL) that cannot start leaves the run as it was. */
void runq_start_failed(struct runq *q, int64_t run, const char *evaluate, const char *err);
void runq_run_dir(const struct runq *q, int64_t run, char *buf, size_t len);

#endif
