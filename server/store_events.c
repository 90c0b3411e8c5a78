/*
 * store_events.c — appending worker events with their sequence numbers and
 * the derived rows (status, progress, metrics, checkpoints, best), and
 * reading them back for the feed and the exports (see store.h).
 *
 * Threads: any; every public function holds s->lock for its whole body, so
 * sequence numbers are gapless per run whoever appends.
 */
#include "store_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tb.h"

/* An event's number as an integer argument (a real is truncated); anything else binds NULL. */
static struct store_arg json_int_arg(json_t *v)
{
	if (json_is_integer(v))
		return INT(json_integer_value(v));
	return json_is_real(v) ? INT((int64_t)json_real_value(v)) : NULL_ARG;
}

/* An event's string as a text argument; anything else binds NULL. */
static struct store_arg json_text_arg(json_t *v)
{
	return TEXT(json_string_value(v));
}

static int step_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	if (rc < 0)
		srv_log_limited(&s->error_log, "store: %s", sqlite3_errmsg(s->db));
	return rc;
}

static int apply_status(struct store *s, int64_t id, json_t *ev)
{
	const char *status = json_string_value(json_object_get(ev, "status"));
	if (!status)
		return 0;
	static const char *const known[] = {"queued", "running", "completed", "failed",
					    "stopped", "interrupted"};
	bool ok = false;
	for (size_t i = 0; i < TB_ARRAY_LEN(known); i++)
		ok |= !strcmp(status, known[i]);
	if (!ok)
		return 0; /* a status we do not know stays in the event log only */
	/* A run joins the back of the queue (queued_at: FIFO within a user,
	 * kept across restarts); leaving the queue clears its position. A
	 * run's duration is the sum of its running segments (a stopped and
	 * resumed run does not count the time between): "running" opens one
	 * at ?8 (now), any end closes it. */
	const char *sql;
	if (!strcmp(status, "queued"))
		sql = "UPDATE runs SET status = ?2, reason = ?3, ended = NULL, queued_at = ?4, queue_position = NULL,"
		      " queue_reason = NULL WHERE id = ?1";
	else if (!strcmp(status, "running"))
		sql = "UPDATE runs SET status = ?2, reason = ?3, started = coalesce(started, ?4),"
		      " device = coalesce(?5, device), total_steps = coalesce(?6, total_steps),"
		      " epochs = coalesce(?7, epochs), steps_per_epoch = coalesce(?9, steps_per_epoch),"
		      " ended = NULL, running_since = coalesce(running_since, ?8), queue_position = NULL,"
		      " queue_reason = NULL WHERE id = ?1";
	else
		sql = "UPDATE runs SET status = ?2, reason = ?3, ended = ?4,"
		      " run_seconds = run_seconds + CASE WHEN running_since IS NULL THEN 0"
		      " ELSE max(0, ?8 - running_since) END, running_since = NULL, queue_position = NULL,"
		      " queue_reason = NULL WHERE id = ?1";
	/* All nine values go to each statement: one ignores those it does not name. */
	int rc = store_write(s, sql,
			     ARGS(INT(id), TEXT(status), json_text_arg(json_object_get(ev, "reason")),
				  INT(!strcmp(status, "queued") ? srv_unix_ms() : srv_unix_now()),
				  json_text_arg(json_object_get(ev, "device")),
				  json_int_arg(json_object_get(ev, "total_steps")),
				  json_int_arg(json_object_get(ev, "epochs")), REAL(srv_unix_now_f()),
				  json_int_arg(json_object_get(ev, "steps_per_epoch"))),
			     NULL);
	/* A run that ended writes what its curves buffered (a resume starts new windows). */
	if (rc == STORE_OK && strcmp(status, "queued") && strcmp(status, "running"))
		rc = store_series_flush_run(s, id);
	return rc;
}

static int apply_metric(struct store *s, int64_t id, int64_t seq, json_t *ev)
{
	json_t *values = json_object_get(ev, "values");
	if (!json_is_object(values))
		return 0;
	json_t *thinned = json_object_get(ev, "thinned");
	if (!json_is_object(thinned))
		thinned = NULL;
	char *vals = json_dumps(values, JSON_COMPACT | JSON_REAL_PRECISION(15)); /* as the worker wrote them */
	char *thin = thinned ? json_dumps(thinned, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	json_t *split = json_object_get(ev, "split");
	json_t *t = json_object_get(ev, "time");
	sqlite3_stmt *st = s->insert_metric;
	sqlite3_reset(st);
	store_bind(st, ARGS(INT(id), INT(seq), json_int_arg(json_object_get(ev, "step")),
			    json_int_arg(json_object_get(ev, "epoch")),
			    TEXT(json_is_string(split) ? json_string_value(split) : "train"),
			    json_is_number(t) ? REAL(json_number_value(t)) : NULL_ARG, TEXT(vals), TEXT(thin)));
	int rc = step_done(s, st);
	free(vals);
	free(thin);
	if (rc < 0)
		return rc;
	json_t *step = json_object_get(ev, "step");
	if (json_is_number(step) &&
	    (rc = store_series_add(s, id, json_is_string(split) ? json_string_value(split) : "train", seq,
				   (int64_t)json_number_value(step), json_is_number(t) ? json_number_value(t) : NAN,
				   values, thinned)) < 0)
		return rc;
	/* New names become export columns, in order of first appearance. */
	const char *key;
	json_t *v;
	int64_t k = 0;
	json_object_foreach(values, key, v)
	{
		st = s->insert_metric_name;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, seq * 64 + (k < 63 ? k++ : 63));
		if ((rc = step_done(s, st)) < 0)
			return rc;
	}
	sqlite3_clear_bindings(s->insert_metric_name);
	/* Only training metrics move the progress bar; test metrics repeat the step. */
	st = s->update_progress;
	sqlite3_reset(st);
	store_bind(st, ARGS(json_int_arg(json_object_get(ev, "step")), json_int_arg(json_object_get(ev, "epoch")),
			    INT(id)));
	return step_done(s, st);
}

static int apply_checkpoint(struct store *s, int64_t id, json_t *ev)
{
	const char *file = json_string_value(json_object_get(ev, "file"));
	const char *path = json_string_value(json_object_get(ev, "path"));
	if (!file || !path)
		return 0; /* runq strips "path" when it points outside the run dir */
	return store_write(s,
			   "INSERT OR REPLACE INTO checkpoints(run, file, path, step, epoch, bytes, best, time)"
			   " VALUES(?,?,?,?,?,?,?,?)",
			   ARGS(INT(id), TEXT(file), TEXT(path), json_int_arg(json_object_get(ev, "step")),
				json_int_arg(json_object_get(ev, "epoch")), json_int_arg(json_object_get(ev, "bytes")),
				INT(json_is_true(json_object_get(ev, "best"))), INT(srv_unix_now())),
			   NULL);
}

static int apply_summary(struct store *s, int64_t id, json_t *ev)
{
	json_t *best = json_object_get(ev, "best");
	const char *metric = json_string_value(json_object_get(best, "metric"));
	json_t *value = json_object_get(best, "value");
	if (!metric || !json_is_number(value))
		return 0;
	return store_write(s, "UPDATE runs SET best_metric = ?, best_value = ? WHERE id = ?",
			   ARGS(TEXT(metric), REAL(json_number_value(value)), INT(id)), NULL);
}

/* What a failed write means for the caller; the message goes to the log (rate-limited). */
static int write_error(struct store *s)
{
	int code = sqlite3_errcode(s->db);
	srv_log_limited(&s->error_log, "store: cannot write: %s", sqlite3_errmsg(s->db));
	return code == SQLITE_FULL ? STORE_EFULL : STORE_EIO;
}

/* One event inside the caller's transaction: its seq, the row, the derived rows. */
static int append_one(struct store *s, struct store_event *e)
{
	const char *type = json_string_value(json_object_get(e->event, "type"));
	if (!type)
		type = "";
	e->seq = 0;
	sqlite3_stmt *st = s->bump_seq;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, e->run);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : -1; /* DONE: the run was deleted; skip the event */
	}
	int64_t seq = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	st = s->append_event;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, e->run);
	sqlite3_bind_int64(st, 2, seq);
	sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->text, (int)e->len, SQLITE_STATIC);
	if (step_done(s, st) < 0)
		return -1;
	if (!strcmp(type, "status"))
		rc = apply_status(s, e->run, e->event);
	else if (!strcmp(type, "metric"))
		rc = apply_metric(s, e->run, seq, e->event);
	else if (!strcmp(type, "checkpoint"))
		rc = apply_checkpoint(s, e->run, e->event);
	else if (!strcmp(type, "summary"))
		rc = apply_summary(s, e->run, e->event);
	else
		rc = 0;
	if (rc == 0 && e->wseq > 0) {
		/* In the same transaction as the event: after a crash the count and
		 * the events agree, so a re-attached worker's resent ones are known. */
		st = s->set_worker_seq;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, e->wseq);
		sqlite3_bind_int64(st, 2, e->run);
		rc = step_done(s, st);
	}
	if (rc == 0)
		e->seq = seq;
	return rc;
}

int store_append_events(struct store *s, struct store_event *evs, size_t n)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_OK;
	if (store_exec(s, "BEGIN IMMEDIATE") < 0) {
		rc = write_error(s);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (append_one(s, &evs[i]) < 0) {
			rc = write_error(s);
			goto rollback;
		}
	}
	if (store_exec(s, "COMMIT") == 0)
		goto out;
	rc = write_error(s);
rollback:
	/* SQLite may have rolled back already (a failed COMMIT on a full disk
	 * does); a second ROLLBACK would only log "no transaction is active". */
	if (!sqlite3_get_autocommit(s->db))
		store_exec(s, "ROLLBACK");
	for (size_t i = 0; i < n; i++) {
		evs[i].seq = 0;
		/* Its buffered tiles may hold points that were just rolled back, and
		 * deltas written in the transaction are gone: start those over.
		 * (The coarse curve of such a run may miss a few points; the raw
		 * rows and the zoomed-in curve do not.) */
		store_series_forget(s, evs[i].run);
	}
out:
	/* The texts were bound without copying; let the statement forget them. */
	sqlite3_clear_bindings(s->append_event);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_append_event(struct store *s, int64_t id, const char *text, size_t len, json_t *event,
		       int64_t *seq_out)
{
	struct store_event e = {.run = id, .text = text, .len = len, .event = event};
	int rc = store_append_events(s, &e, 1);
	if (rc == STORE_OK && e.seq == 0)
		rc = STORE_ENOENT;
	if (rc == STORE_OK && seq_out)
		*seq_out = e.seq;
	return rc;
}

int store_append_json(struct store *s, int64_t id, json_t *event, int64_t *seq_out)
{
	char *text = json_dumps(event, JSON_COMPACT | JSON_REAL_PRECISION(10));
	if (!text)
		return -1;
	int rc = store_append_event(s, id, text, strlen(text), event, seq_out);
	free(text);
	return rc;
}

int store_events_foreach(struct store *s, int64_t id, int64_t since, int limit, bool skip_metrics,
			 store_event_fn cb, void *ctx)
{
	pthread_mutex_lock(&s->lock);
	int rc = -1;
	/* The second reads the partial index events_other: a run's few other
	 * events without a pass over its million metrics. */
	sqlite3_stmt *st = skip_metrics ? store_prepare_cached(s, "SELECT seq, json FROM events WHERE run = ?"
							   " AND seq > ? AND type <> 'metric'"
							   " ORDER BY seq LIMIT ?")
					: store_prepare_cached(s, "SELECT seq, json FROM events WHERE run = ? AND seq > ?"
							   " ORDER BY seq LIMIT ?");
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, since);
		sqlite3_bind_int(st, 3, limit);
		rc = 0;
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *json = (const char *)sqlite3_column_text(st, 1);
			size_t len = (size_t)sqlite3_column_bytes(st, 1);
			if (cb(ctx, sqlite3_column_int64(st, 0), json, len) != 0)
				break;
			rc++;
		}
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- exports ------------------------------------------------------------ */

json_t *store_metric_names(struct store *s, int64_t id)
{
	json_t *names = json_array();
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st =
		store_query_cached(s, "SELECT name FROM metric_names WHERE run = ? ORDER BY ord", ARGS(INT(id)));
	if (st) {
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(names, json_string((const char *)sqlite3_column_text(st, 0)));
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return names;
}

/* Hand each row of st (seq, step, epoch, split, time, vals) to cb; returns how many. */
static int each_metric_row(sqlite3_stmt *st, store_metric_fn cb, void *ctx)
{
	int n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *split = (const char *)sqlite3_column_text(st, 3);
		struct store_metric_row row = {
			.seq = sqlite3_column_int64(st, 0),
			.has_step = sqlite3_column_type(st, 1) != SQLITE_NULL,
			.step = sqlite3_column_int64(st, 1),
			.has_epoch = sqlite3_column_type(st, 2) != SQLITE_NULL,
			.epoch = sqlite3_column_int64(st, 2),
			.split = split ? split : "train",
			.has_time = sqlite3_column_type(st, 4) != SQLITE_NULL,
			.time = sqlite3_column_double(st, 4),
			.vals = (const char *)sqlite3_column_text(st, 5),
		};
		n++;
		if (cb(ctx, &row) != 0)
			break;
	}
	return n;
}

int store_metrics_foreach(struct store *s, int64_t id, int64_t after_seq, int limit, store_metric_fn cb,
			  void *ctx)
{
	int n = -1;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query_cached(s,
					      "SELECT seq, step, epoch, split, time, vals FROM metrics"
					      " WHERE run = ? AND seq > ? ORDER BY seq LIMIT ?",
					      ARGS(INT(id), INT(after_seq), INT(limit)));
	if (st) {
		n = each_metric_row(st, cb, ctx);
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

int store_metrics_recent(struct store *s, int64_t id, int limit, store_metric_fn cb, void *ctx)
{
	int n = -1;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st =
		store_query_cached(s,
				   "SELECT * FROM (SELECT seq, step, epoch, split, time, vals FROM metrics"
				   " WHERE run = ? AND coalesce(split, 'train') = 'train' ORDER BY seq DESC LIMIT ?)"
				   " ORDER BY seq",
				   ARGS(INT(id), INT(limit)));
	if (st) {
		n = each_metric_row(st, cb, ctx);
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

json_t *store_checkpoints_json(struct store *s, int64_t id)
{
	json_t *list = json_array();
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query(s,
				       "SELECT file, path, step, epoch, bytes, best, time"
				       " FROM checkpoints WHERE run = ? ORDER BY time, step",
				       ARGS(INT(id)));
	if (st) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:I, s:b, s:I}",
					      "file", (const char *)sqlite3_column_text(st, 0),
					      "path", (const char *)sqlite3_column_text(st, 1),
					      "step", (json_int_t)sqlite3_column_int64(st, 2),
					      "epoch", (json_int_t)sqlite3_column_int64(st, 3),
					      "bytes", (json_int_t)sqlite3_column_int64(st, 4),
					      "best", sqlite3_column_int(st, 5),
					      "time", (json_int_t)sqlite3_column_int64(st, 6));
			if (c)
				json_array_append_new(list, c);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return list;
}

int store_checkpoint_path(struct store *s, int64_t id, const char *file, char *path, size_t len)
{
	int rc = -1;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query_cached(s, "SELECT path FROM checkpoints WHERE run = ? AND file = ?",
					      ARGS(INT(id), TEXT(file)));
	if (st) {
		if (sqlite3_step(st) == SQLITE_ROW &&
		    srv_strlcpy(path, (const char *)sqlite3_column_text(st, 0), len))
			rc = 0;
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_last_checkpoint(struct store *s, int64_t id, char *path, size_t len)
{
	int rc = -1;
	pthread_mutex_lock(&s->lock);
	/* Highest step first, a step file before best.safetensors of the same
	 * step; the worker prunes old files (keep: N), so skip missing ones. */
	sqlite3_stmt *st = store_query(s,
				       "SELECT path FROM checkpoints WHERE run = ?"
				       " ORDER BY step DESC, file LIKE 'best%', time DESC",
				       ARGS(INT(id)));
	if (st) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *p = (const char *)sqlite3_column_text(st, 0);
			struct stat sb;
			if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && srv_strlcpy(path, p, len)) {
				rc = 0;
				break;
			}
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
