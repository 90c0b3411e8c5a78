/*
 * store.h — the server's records in SQLite (WAL) under
 * <workspace>/.trainbook/trainbook.db: runs, their events with per-run
 * sequence numbers, metric rows parsed for export, summaries of those
 * metrics for drawing curves at any zoom (store_series.c), checkpoints,
 * the owner of each notebook, and the classroom accounts (users, sessions,
 * API tokens, one-time login links; store_accounts.c). A schema_version
 * table drives migrations.
 *
 * What it is: the single source of truth a reconnecting client catches up
 * from; an event is committed here before anyone sees it. What it is not:
 * the scheduler (runq.c decides what status a run gets) or the HTTP layer.
 *
 * Threads: every function takes the store's lock, so any thread may call
 * any function; calls are short (one statement or one transaction).
 */
#ifndef TB_SERVER_STORE_H
#define TB_SERVER_STORE_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct store;

#define STORE_SCHEMA_VERSION 7

/*
 * The WAL is folded back into the database before it holds more than this
 * (plus one transaction), and the file is cut back to this size when it
 * starts over (PRAGMA journal_size_limit); see store.c, "WAL upkeep".
 */
#define STORE_WAL_LIMIT (8ll << 20)

/* Open (creating and migrating) the database file. */
int store_open(const char *path, struct store **out, char *err, size_t errlen);
void store_free(struct store *s);

/* ---- runs ---------------------------------------------------------------- */

struct store_run_new {
	const char *name;     /* shown in lists; required */
	const char *spec;     /* YAML source; required */
	const char *notebook; /* workspace-relative path or NULL */
	const char *cell;     /* cell id or NULL */
	const char *owner;    /* OS user name */
	const char *params;   /* JSON object of key hyperparameters (spec_summary_params) or NULL */
};

/* Insert a run with status "queued" and last_seq 0. */
int store_run_create(struct store *s, const struct store_run_new *r, int64_t *id);

/* What the scheduler needs about a run; `spec` is malloc'd (store_run_info_free). */
struct store_run_info {
	int64_t id;
	char status[16];
	char *spec;
	int64_t last_seq;
	int worker_pid;       /* 0 when none recorded */
	char *resume;         /* checkpoint the next start resumes from, or NULL */
	char *evaluate;       /* set: the next start only evaluates `resume`, then restores this
			       * {"status":…,"reason":…} (JSON text); NULL otherwise */
	char *reason;         /* the run's reason, or NULL */
	char job[32];         /* the executor's handle (a Slurm job id), "" for none */
	char job_secret[65];  /* what that job's worker dials home with */
	int64_t worker_seq;   /* that worker's events stored so far (its own numbering) */
	char owner[64];       /* the user who started it */
};
int store_run_info(struct store *s, int64_t id, struct store_run_info *out); /* -1: no such run */
void store_run_info_free(struct store_run_info *info);

/* The run object of docs/api.md, spec included; NULL when there is no such run. */
json_t *store_run_json(struct store *s, int64_t id);
/*
 * The same without the spec (a spec may be 1 MiB): what lists and the live
 * feed carry. "params" holds a few key hyperparameters instead.
 */
json_t *store_run_summary_json(struct store *s, int64_t id);
/* Which runs store_runs_json lists. */
struct store_runs_query {
	int limit;            /* at most this many */
	int64_t before;       /* ids below this one (0 = from the newest) */
	const char *owner;    /* only the runs of this user (NULL = anyone's) */
	const char *notebook; /* only the runs of this notebook (NULL = any) */
	const char *cell;     /* only the runs of this cell (NULL = any) */
	bool with_spec;       /* add "spec" (the YAML) to each summary */
};
/* Run summaries, newest first. */
json_t *store_runs_json(struct store *s, const struct store_runs_query *q);
/* The owner of a run; false when there is no such run. */
bool store_run_owner(struct store *s, int64_t id, char *owner, size_t len);

/* What a person changes about a run (PATCH /api/runs/<id>); NULL / -1 = unchanged. */
struct store_run_edit {
	const char *name;
	const char *notes;   /* "" clears */
	const char *tags;    /* a JSON array of strings, as text */
	int archived;        /* -1, 0 or 1 */
};
int store_run_edit(struct store *s, int64_t id, const struct store_run_edit *e); /* -1: no such run */

/* Runs in status `status`, oldest first; returns how many (≤ max). */
int store_runs_with_status(struct store *s, const char *status, int64_t *ids, int max);
int store_count_status(struct store *s, const char *status);

int store_run_set_pid(struct store *s, int64_t id, int pid);
/* The executor's handle of the run's current start (NULL = none) and the
 * secret its worker dials home with; the worker's numbering starts again. */
int store_run_set_job(struct store *s, int64_t id, const char *job, const char *secret);
/* Checkpoint path the next start passes to --resume; NULL clears it. */
int store_run_set_resume(struct store *s, int64_t id, const char *checkpoint);
/* The status to restore after an evaluation (JSON text, see store_run_info); NULL clears it. */
int store_run_set_evaluate(struct store *s, int64_t id, const char *restore);
/* Remove the run and everything recorded about it. */
int store_run_delete(struct store *s, int64_t id);

/* ---- events ---------------------------------------------------------------- */

/* What appending can fail with; negative, 0 is success. */
enum store_err {
	STORE_OK = 0,
	STORE_ENOENT = -1, /* the run does not exist (deleted) */
	STORE_EFULL = -2,  /* the disk is full: nothing of the call was stored */
	STORE_EIO = -3,    /* any other write failure: nothing of the call was stored */
};

/*
 * Append events, each a JSON object whose exact serialisation is `text`
 * (stored as is), and give each the next sequence number of its run, all
 * in ONE transaction: a worker's burst of events costs one commit, not
 * one each. In the same transaction: status events update the run's
 * status, reason, device, times and totals; metric events add a metric row
 * and progress; checkpoint events with a "path" add a checkpoint row;
 * summary events set "best". An event of a run that no longer exists is
 * skipped (its seq stays 0). On failure nothing is stored, every seq is 0,
 * and the return value says why.
 */
struct store_event {
	int64_t run;
	const char *text; /* borrowed for the call */
	size_t len;
	json_t *event;    /* borrowed: the parsed text */
	int64_t wseq;     /* > 0: the sending worker's own number; runs.worker_seq follows it */
	int64_t seq;      /* out: the sequence number given, 0 when not stored */
};
int store_append_events(struct store *s, struct store_event *evs, size_t n);

/* One event; STORE_ENOENT when its run is gone. */
int store_append_event(struct store *s, int64_t id, const char *text, size_t len,
		       json_t *event, int64_t *seq_out);

/* Convenience for events the server writes itself: serialises and appends. */
int store_append_json(struct store *s, int64_t id, json_t *event, int64_t *seq_out);

/*
 * Calls cb for each event of `id` with seq > since, in order, at most
 * limit; with skip_metrics, only the events that are not metrics (what a
 * view needs besides the curves, which it reads as series).
 */
typedef int (*store_event_fn)(void *ctx, int64_t seq, const char *json, size_t len);
int store_events_foreach(struct store *s, int64_t id, int64_t since, int limit, bool skip_metrics,
			 store_event_fn cb, void *ctx);

/* ---- series (store_series.c) ------------------------------------------------ */

/*
 * One metric of one split as at most `points` buckets for drawing: each
 * bucket its count of raw points, mean, min and max (a folded event's
 * window included) and its last point, so neither the extremes nor the
 * last point are ever lost. Buckets are `bucket` steps wide and aligned
 * to multiples of it; bucket 1 is every raw point as stored ("exact").
 * from/to default to the split's first and last step. The width is what
 * `points` buckets over `span` steps need (default: over from..to): runs
 * of different lengths asked with one span share one grid, and a run's
 * newest points are not cut off by a range fixed before they arrived.
 */
#define STORE_SERIES_POINTS_MAX 20000
struct store_series_query {
	int64_t run;
	const char *split, *metric;
	bool has_from, has_to;
	int64_t from, to;
	int64_t span;        /* steps the buckets are sized for; 0 = to - from + 1 */
	int points;          /* 1..STORE_SERIES_POINTS_MAX */
};
/* The answer of GET /api/runs/<id>/series as JSON text (malloc'd), or NULL when there is no such run. */
char *store_series_json(struct store *s, const struct store_series_query *q, size_t *len);
/*
 * Each metric of a run in a few numbers for tables: {"test/accuracy":
 * {"last", "min", "max", "step" (of the last), "count"}}; {} for none.
 */
json_t *store_run_metrics_json(struct store *s, int64_t run);

/* ---- exports ----------------------------------------------------------------- */

/* The metric names a run has reported, in order of first appearance (export columns). */
json_t *store_metric_names(struct store *s, int64_t id);

/* One metric row; the pointers live until the callback returns. */
struct store_metric_row {
	int64_t seq;
	bool has_step, has_epoch, has_time;
	int64_t step, epoch;
	double time;       /* seconds since the epoch, as the worker wrote it */
	const char *split; /* "train" when the event named none */
	const char *vals;  /* {"name": value, …} as JSON text */
};
typedef int (*store_metric_fn)(void *ctx, const struct store_metric_row *row);
/* Metric rows of `id` with seq > after_seq, in order, at most limit; returns how many (or -1). */
int store_metrics_foreach(struct store *s, int64_t id, int64_t after_seq, int limit, store_metric_fn cb,
			  void *ctx);

/* The last `limit` train metric rows of `id`, oldest first (the board's series at start-up). */
int store_metrics_recent(struct store *s, int64_t id, int limit, store_metric_fn cb, void *ctx);

/* Checkpoint rows, oldest first, each with its absolute "path". */
json_t *store_checkpoints_json(struct store *s, int64_t id);
int store_checkpoint_path(struct store *s, int64_t id, const char *file, char *path, size_t len);
/* Path of the checkpoint with the highest step; -1 when there is none. */
int store_last_checkpoint(struct store *s, int64_t id, char *path, size_t len);

/* ---- notebooks -------------------------------------------------------------- */

int store_notebook_touch(struct store *s, const char *path, const char *owner);
int store_notebook_rename(struct store *s, const char *from, const char *to);
int store_notebook_delete(struct store *s, const char *path);
/* Owner of a notebook record, or false when it has none yet. */
bool store_notebook_owner(struct store *s, const char *path, char *owner, size_t len);

/* ---- accounts (store_accounts.c) ------------------------------------------ */

#define STORE_NAME_MAX 64
#define STORE_EEXIST (-4) /* the name is taken (also by an archived user) */

struct store_user {
	int64_t id;
	char name[STORE_NAME_MAX];
	char email[256];       /* "" when none */
	bool instructor;
	bool has_password;
	int64_t created, last_login, archived; /* unix times; 0 = never / not archived */
};

/* A user as JSON: name, email, role, has_password, created, last_login, archived. */
json_t *store_user_json(const struct store_user *u);

/* Create users in ONE transaction: all or none (STORE_EEXIST names the first taken one in *bad). */
struct store_user_new {
	const char *name;
	const char *email;     /* NULL or "" = none */
	bool instructor;
	int64_t id;            /* out */
};
int store_users_create(struct store *s, struct store_user_new *users, size_t n, size_t *bad);
int store_user_get(struct store *s, const char *name, struct store_user *out); /* STORE_ENOENT */
int store_user_by_id(struct store *s, int64_t id, struct store_user *out);
/* Every user, archived ones too, by name. */
json_t *store_users_json(struct store *s);
int store_user_set_role(struct store *s, int64_t id, bool instructor);
int store_user_set_email(struct store *s, int64_t id, const char *email);
/* The argon2id PHC string, or NULL to remove the password. */
int store_user_set_password(struct store *s, int64_t id, const char *phc);
/* The stored PHC string of an active user; STORE_ENOENT when no such user or no password. */
int store_user_password(struct store *s, const char *name, struct store_user *out, char *phc, size_t len);
int store_user_logged_in(struct store *s, int64_t id, int64_t now);
/* Mark archived and end every session, token and link of the user. */
int store_user_archive(struct store *s, int64_t id, int64_t now);

/* A session row; hash is the SHA-256 of the cookie value. */
struct store_session_new {
	const char *hash;
	int64_t user;
	const char *method;     /* "password", "link" */
	int64_t now, expires;
	const char *address, *user_agent;
};
int store_session_create(struct store *s, const struct store_session_new *n);
/*
 * The active user of a live session: not revoked, not past `expires`,
 * seen within idle_s. last_seen is brought up to date when it is
 * `touch_s` or more behind. STORE_ENOENT otherwise. *method gets the
 * session's method (may be NULL).
 */
int store_session_user(struct store *s, const char *hash, int64_t now, int64_t idle_s, int64_t touch_s,
		       struct store_user *out, char *method, size_t method_len);
int store_session_revoke(struct store *s, const char *hash, int64_t now);
/* Revoke every live session of a user; returns how many (or -1). */
int store_sessions_revoke_user(struct store *s, int64_t user, int64_t now);
/* Forget sessions and links that ended more than `keep_s` ago. */
int store_sessions_prune(struct store *s, int64_t now, int64_t keep_s);

int store_token_create(struct store *s, const char *hash, int64_t user, const char *name, int64_t now,
		       int64_t *id);
/* The active user of an unrevoked token (last_used updated at most every touch_s), and the token's id. */
int store_token_user(struct store *s, const char *hash, int64_t now, int64_t touch_s, struct store_user *out,
		     int64_t *token_id);
/* A user's tokens (id, name, created, last_used, revoked), newest first; never the secret. */
json_t *store_tokens_json(struct store *s, int64_t user);
/* The user a token id belongs to; STORE_ENOENT when there is none. */
int store_token_owner(struct store *s, int64_t id, int64_t *user);
int store_token_revoke(struct store *s, int64_t id, int64_t now);
int store_tokens_revoke_user(struct store *s, int64_t user, int64_t now);

/* A new one-time login link; the user's earlier unused links stop working. */
int store_link_create(struct store *s, const char *hash, int64_t user, int64_t now, int64_t expires);
/*
 * Use a link: marks it used in the same statement that checks it, so two
 * requests racing with one link cannot both win. STORE_ENOENT when it is
 * unknown, used, expired or its user archived.
 */
int store_link_use(struct store *s, const char *hash, int64_t now, struct store_user *out);
/* Whose link it is, without using it (the page a link opens names them); as store_link_use otherwise. */
int store_link_peek(struct store *s, const char *hash, int64_t now, struct store_user *out);

/* ---- scheduling: the queue, usage, quotas, settings (store_sched.c) ----- */

/* A waiting run as a scheduling pass reads it. */
struct store_queued {
	int64_t id;
	char owner[STORE_NAME_MAX];
	int64_t queued_ms;    /* when it (last) joined the queue, unix ms */
	bool need_known;      /* false: the columns below were never filled (store_run_set_need) */
	int need_gpus;        /* 0 = a CPU run */
	int need_index;       /* cuda:N, or -1 */
	int64_t est_bytes;    /* estimated peak memory; 0 = unknown */
	int position;         /* where the last pass put it (0 = not yet) … */
	char reason[320];     /* … and why it waits (SCHED_REASON_MAX) */
};
/* Queued runs in queue order (queued_at, id): at most max; returns how many (or -1). */
int store_queued_runs(struct store *s, struct store_queued *out, int max);
/* What a run needs, recorded at submission (or when a pass first reads it). */
int store_run_set_need(struct store *s, int64_t id, int gpus, int index, int64_t est_bytes);

/* A waiting run's place as the last pass decided it (reason NULL and position 0 clear it). */
struct store_queue_place {
	int64_t id;
	int position;
	const char *reason;
};
/* All in one transaction; only runs still queued are touched. */
int store_set_queue(struct store *s, const struct store_queue_place *p, size_t n);

/* An instructor's extension of a run's duration limit, seconds; 0 = none (the quota's). */
int store_run_set_duration_limit(struct store *s, int64_t id, int64_t seconds);
int64_t store_run_duration_limit(struct store *s, int64_t id);

/* Use of one user, for the quotas and for fair share. */
struct store_usage {
	double gpu_decayed, cpu_decayed; /* device-seconds, decayed to `now` */
	double gpu_day, cpu_day;         /* since the start of `day` (local) */
	double gpu_week, cpu_week;       /* since the start of `week` (local Monday) */
};
/*
 * Add `seconds` of device time (GPU when `gpu`) to `user` on local day
 * `day` ("2026-12-08"), to the decayed total (decayed first to now_ms with
 * half_life_s) and to run `run`'s own count, in one transaction.
 */
int store_usage_add(struct store *s, const char *user, int64_t run, bool gpu, double seconds, int64_t now_ms,
		    const char *day, double half_life_s);
int store_usage_get(struct store *s, const char *user, int64_t now_ms, double half_life_s, const char *day,
		    const char *week, struct store_usage *out);
/* Bytes of checkpoints the user's runs keep. */
int64_t store_checkpoint_bytes(struct store *s, const char *user);
/* The user's runs in `status`. */
int store_count_user_status(struct store *s, const char *user, const char *status);

/* Quota overrides (quota.h), as JSON text, by subject "role:student" or "user:alice". */
char *store_quota_get(struct store *s, const char *subject);             /* NULL: none */
int store_quota_set(struct store *s, const char *subject, const char *json); /* NULL removes */
/* Every override: {subject: limits object}. */
json_t *store_quotas_json(struct store *s);

/* Small settings kept for the instructor (e.g. "lab_sessions": a JSON list). */
char *store_setting_get(struct store *s, const char *key);               /* NULL: unset */
int store_setting_set(struct store *s, const char *key, const char *value);

/* "r12" <-> 12; parse returns -1 on anything else. */
/* ---- sweeps (store_sweeps.c) -------------------------------------------------- */

struct store_sweep_new {
	const char *name, *owner, *notebook, *cell; /* notebook/cell may be NULL */
	const char *spec;          /* the sweep's YAML as written */
	const char *metric;        /* validation.accuracy, … (engine/sweep.h sweep_metric) */
	const char *split;         /* the split the metric is read from */
	bool maximize;
	int parallel, reduction;
	const char *rungs;         /* JSON array of rung epochs ("[]" without ASHA) */
	const char *params;        /* JSON array of the swept key paths */
	int ntrials;
	const char *const *trial_specs; /* each trial's YAML */
	const char *const *trial_vals;  /* each trial's values, JSON array parallel to params */
};
int store_sweep_create(struct store *s, const struct store_sweep_new *n, int64_t *id);
bool store_sweep_owner(struct store *s, int64_t id, char *owner, size_t len);
int store_sweep_set_status(struct store *s, int64_t id, const char *status); /* ended set unless running */
/* Sweeps with status running (ids, up to max). */
int store_sweeps_running(struct store *s, int64_t *ids, int max);

/* What the sweeps thread needs of a sweep and its trials' runs. */
struct store_sweep_state {
	char status[16], split[16], metric[64];
	bool maximize;
	int parallel, reduction;
	int rungs[16];             /* ASHA rung epochs */
	int nrungs;
	int ntrials;
	int active;                /* trials whose run is queued or running */
	int pending;               /* trials not queued yet */
	int next_trial;            /* the first pending one, -1 for none */
	char owner[STORE_NAME_MAX], name[128];
	char notebook[PATH_MAX], cell[64];
};
int store_sweep_state(struct store *s, int64_t id, struct store_sweep_state *out); /* -1: no such sweep */
/* The YAML of a trial (malloc'd), or NULL. */
char *store_trial_spec(struct store *s, int64_t sweep, int trial);
int store_trial_set_run(struct store *s, int64_t sweep, int trial, int64_t run);
/* The (sweep, trial) a run belongs to; false for runs of no sweep. */
bool store_trial_of_run(struct store *s, int64_t run, int64_t *sweep, int *trial);
/* Runs of the trials of sweep `id` that are queued or running (ids, up to max). */
int store_sweep_live_runs(struct store *s, int64_t id, int64_t *runs, int max);
/* A trial's latest value of the sweep's metric at `epochs` epochs. */
int store_trial_record(struct store *s, int64_t sweep, int trial, int epochs, double value);
/* Record `value` at rung `epoch`; fills values (all recorded there, this one included), returns their count. */
int store_rung_add(struct store *s, int64_t sweep, int epoch, int trial, double value, double *values, int max);
int store_trial_asha_stopped(struct store *s, int64_t sweep, int trial, int epoch);
/* GET /api/sweeps: summaries, newest first; owner NULL = everyone's. */
json_t *store_sweeps_json(struct store *s, const char *owner);
/* GET /api/sweeps/<id>: the summary, its trials with their runs' status, the rungs. NULL: no such sweep. */
json_t *store_sweep_json(struct store *s, int64_t id);
int64_t store_parse_sweep_id(const char *s); /* "s12" → 12, -1 when not one */

int64_t store_parse_run_id(const char *s);
void store_format_run_id(int64_t id, char *buf, size_t len);

#endif
