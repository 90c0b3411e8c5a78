/*
 * store.h — the server's records in SQLite (WAL) under
 * <workspace>/.trainbook/trainbook.db: runs, their events with per-run
 * sequence numbers, metric rows parsed for export, summaries of those
 * metrics for drawing curves at any zoom (store_series.c), checkpoints,
 * and the owner of each notebook. A schema_version table drives
 * migrations.
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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct store;

#define STORE_SCHEMA_VERSION 3

/*
 * The WAL file is truncated back to this size after each full checkpoint
 * (PRAGMA journal_size_limit), and a checkpoint that cannot keep up is
 * escalated before the file reaches 4x this (store.c, checkpoint_main).
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
	const char *notebook; /* only the runs of this notebook (NULL = any) */
	const char *cell;     /* only the runs of this cell (NULL = any) */
	bool with_spec;       /* add "spec" (the YAML) to each summary */
};
/* Run summaries, newest first. */
json_t *store_runs_json(struct store *s, const struct store_runs_query *q);

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

/* "r12" <-> 12; parse returns -1 on anything else. */
int64_t store_parse_run_id(const char *s);
void store_format_run_id(int64_t id, char *buf, size_t len);

#endif
