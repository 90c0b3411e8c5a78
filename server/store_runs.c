/*
 * store_runs.c — run rows: creating a run, reading it (info for the run
 * queue, JSON summaries for the API with durations and queue places),
 * listing runs (by owner, notebook, cell), what a person edits about a run
 * (name, notes, tags, archived), the queue's bookkeeping (worker pid, job,
 * resume and evaluate) and deleting a run with everything recorded about
 * it (see store.h). Opening the database is store.c; the events a run
 * appends are store_events.c.
 *
 * Threads: any; every public function holds s->lock for its whole body.
 */
#include "store_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

int64_t store_parse_run_id(const char *s)
{
	if (!s || s[0] != 'r' || !s[1])
		return -1;
	int64_t v = 0;
	for (const char *p = s + 1; *p; p++) {
		if (*p < '0' || *p > '9' || v > INT64_MAX / 10 - 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v > 0 ? v : -1;
}

void store_format_run_id(int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "r%" PRId64, id);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

int store_run_create(struct store *s, const struct store_run_new *r, int64_t *id)
{
	pthread_mutex_lock(&s->lock);
	/* series_ready: its curve summaries are kept as its metrics arrive;
	 * queued_at (ms): where it joins the scheduler's queue. */
	int rc =
		store_write(s,
			    "INSERT INTO runs(name, status, notebook, cell, spec, created, owner, params, series_ready,"
			    " queued_at) VALUES(?, 'queued', ?, ?, ?, ?, ?, ?, 1, ?)",
			    ARGS(TEXT(r->name), TEXT(r->notebook), TEXT(r->cell), TEXT(r->spec), INT(srv_unix_now()),
				 TEXT(r->owner), TEXT(r->params), INT(srv_unix_ms())),
			    NULL);
	if (rc == STORE_OK)
		*id = sqlite3_last_insert_rowid(s->db);
	pthread_mutex_unlock(&s->lock);
	return rc == STORE_OK ? 0 : -1;
}

int store_run_info(struct store *s, int64_t id, struct store_run_info *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&s->lock);
	int rc = -1;
	sqlite3_stmt *st = store_query_cached(s,
					      "SELECT status, spec, last_seq, coalesce(worker_pid, 0),"
					      " resume, evaluate, reason, job, job_secret, worker_seq, owner"
					      " FROM runs WHERE id = ?",
					      ARGS(INT(id)));
	if (!st)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->id = id;
		srv_strlcpy(out->status, (const char *)sqlite3_column_text(st, 0), sizeof out->status);
		out->spec = tb_xstrdup((const char *)sqlite3_column_text(st, 1));
		out->last_seq = sqlite3_column_int64(st, 2);
		out->worker_pid = sqlite3_column_int(st, 3);
		const char *resume = (const char *)sqlite3_column_text(st, 4);
		out->resume = resume ? tb_xstrdup(resume) : NULL;
		const char *evaluate = (const char *)sqlite3_column_text(st, 5);
		out->evaluate = evaluate ? tb_xstrdup(evaluate) : NULL;
		const char *reason = (const char *)sqlite3_column_text(st, 6);
		out->reason = reason ? tb_xstrdup(reason) : NULL;
		const char *job = (const char *)sqlite3_column_text(st, 7);
		const char *secret = (const char *)sqlite3_column_text(st, 8);
		srv_strlcpy(out->job, job ? job : "", sizeof out->job);
		srv_strlcpy(out->job_secret, secret ? secret : "", sizeof out->job_secret);
		out->worker_seq = sqlite3_column_int64(st, 9);
		srv_strlcpy(out->owner, (const char *)sqlite3_column_text(st, 10), sizeof out->owner);
		rc = 0;
	}
	store_release(s, st);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void store_run_info_free(struct store_run_info *info)
{
	free(info->spec);
	free(info->resume);
	free(info->evaluate);
	free(info->reason);
	info->spec = NULL;
	info->resume = NULL;
	info->evaluate = NULL;
	info->reason = NULL;
}

/*
 * Column order is what run_row_json reads; spec stays last so a summary
 * can leave it out. ?9 is now (unix seconds, fractional): the duration of a
 * running run counts its current segment up to the answer. A queued run's
 * place (queue_position, queue_reason) is the scheduler's last pass
 * (scheduler.h): fair share, not the order of arrival, so queue_ahead is
 * that position less one, and null until a pass has placed the run.
 */
#define RUN_SUMMARY_COLUMNS                                                                                            \
	"id, name, status, reason, notebook, cell, device, created, started, ended, owner,"                            \
	" last_seq, step, total_steps, epoch, epochs, best_metric, best_value, params,"                                \
	" notes, tags, archived, run_seconds + CASE WHEN running_since IS NULL THEN 0"                                 \
	" ELSE max(0, ?9 - running_since) END, running_since,"                                                         \
	" CASE WHEN status = 'queued' THEN queue_position END, steps_per_epoch,"                                       \
	" queue_reason, compute_s, duration_limit, need_gpus, est_bytes"
#define RUN_COLUMNS RUN_SUMMARY_COLUMNS ", spec"
#define RUN_SPEC_COLUMN 31

static json_t *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? json_string((const char *)t) : json_null();
}

static json_t *col_int(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, i));
}

static json_t *col_json(sqlite3_stmt *st, int i, json_t *(*empty)(void))
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	json_t *v = t ? json_loads(t, 0, NULL) : NULL;
	return v ? v : empty();
}

static json_t *col_real(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() : json_real(sqlite3_column_double(st, i));
}

/* A row of RUN_SUMMARY_COLUMNS (and spec after them when `with_spec`). */
static json_t *run_row_json(sqlite3_stmt *st, bool with_spec)
{
	char id[32];
	store_format_run_id(sqlite3_column_int64(st, 0), id, sizeof id);
	json_t *best = json_null();
	if (sqlite3_column_type(st, 16) != SQLITE_NULL)
		best = json_pack("{s:o, s:o}", "metric", col_text(st, 16), "value",
				 sqlite3_column_type(st, 17) == SQLITE_NULL ? json_null()
									    : json_real(sqlite3_column_double(st, 17)));
	json_t *run =
		json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I,"
			  " s:{s:o, s:o, s:o, s:o, s:o}, s:o, s:o}",
			  "id", id, "name", col_text(st, 1), "status", col_text(st, 2), "reason", col_text(st, 3),
			  "notebook", col_text(st, 4), "cell", col_text(st, 5), "device", col_text(st, 6), "created",
			  col_int(st, 7), "started", col_int(st, 8), "ended", col_int(st, 9), "owner", col_text(st, 10),
			  "last_seq", (json_int_t)sqlite3_column_int64(st, 11), "progress", "step", col_int(st, 12),
			  "total_steps", col_int(st, 13), "epoch", col_int(st, 14), "epochs", col_int(st, 15),
			  "steps_per_epoch", col_int(st, 25), "best", best, "params", col_json(st, 18, json_object));
	json_object_set_new(run, "notes", col_text(st, 19));
	json_object_set_new(run, "tags", col_json(st, 20, json_array));
	json_object_set_new(run, "archived", json_boolean(sqlite3_column_int(st, 21)));
	json_object_set_new(run, "seconds", col_real(st, 22));
	json_object_set_new(run, "running_since", col_real(st, 23));
	/* Where a waiting run stands, as the scheduler's last pass put it. */
	json_t *queue = json_null(), *ahead = json_null();
	if (sqlite3_column_type(st, 24) != SQLITE_NULL) {
		int64_t position = sqlite3_column_int64(st, 24);
		queue = json_pack("{s:I, s:o}", "position", (json_int_t)position, "reason", col_text(st, 26));
		ahead = json_integer(position > 0 ? position - 1 : 0);
	}
	json_object_set_new(run, "queue_ahead", ahead);
	json_object_set_new(run, "queue", queue);
	json_object_set_new(run, "compute_seconds", json_real(sqlite3_column_double(st, 27)));
	json_object_set_new(run, "duration_limit", col_int(st, 28));
	json_object_set_new(run, "gpus", col_int(st, 29));
	json_object_set_new(run, "estimated_bytes", col_int(st, 30));
	if (with_spec)
		json_object_set_new(run, "spec", col_text(st, RUN_SPEC_COLUMN));
	return run;
}

/* One run by a cached statement of RUN_COLUMNS or RUN_SUMMARY_COLUMNS. */
static json_t *run_by_id(struct store *s, const char *literal_sql, int64_t id, bool with_spec)
{
	pthread_mutex_lock(&s->lock);
	json_t *run = NULL;
	sqlite3_stmt *st = store_query_cached(s, literal_sql, ARGS(INT(id)));
	if (st) {
		sqlite3_bind_double(st, 9, srv_unix_now_f());
		if (sqlite3_step(st) == SQLITE_ROW)
			run = run_row_json(st, with_spec);
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return run;
}

json_t *store_run_json(struct store *s, int64_t id)
{
	return run_by_id(s, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?1", id, true);
}

json_t *store_run_summary_json(struct store *s, int64_t id)
{
	return run_by_id(s, "SELECT " RUN_SUMMARY_COLUMNS " FROM runs WHERE id = ?1", id, false);
}

json_t *store_runs_json(struct store *s, const struct store_runs_query *q)
{
	json_t *list = json_array();
	pthread_mutex_lock(&s->lock);
	/* Two statements, not "owner = ?5 OR ?5 IS NULL": each keeps its own
	 * index (the primary key, runs_owner) without a table scan. */
	sqlite3_stmt *st =
		q->owner ? store_prepare_cached(s, "SELECT " RUN_COLUMNS " FROM runs"
						   " WHERE id < ?1 AND owner = ?5"
						   " AND (?3 IS NULL OR notebook = ?3) AND (?4 IS NULL OR cell = ?4)"
						   " ORDER BY id DESC LIMIT ?2")
			 : store_prepare_cached(s, "SELECT " RUN_COLUMNS " FROM runs WHERE id < ?1"
						   " AND (?3 IS NULL OR notebook = ?3) AND (?4 IS NULL OR cell = ?4)"
						   " ORDER BY id DESC LIMIT ?2");
	if (st) {
		sqlite3_bind_int64(st, 1, q->before > 0 ? q->before : INT64_MAX);
		sqlite3_bind_int(st, 2, q->limit);
		bind_text_or_null(st, 3, q->notebook);
		bind_text_or_null(st, 4, q->cell);
		if (q->owner)
			sqlite3_bind_text(st, 5, q->owner, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 9, srv_unix_now_f());
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(list, run_row_json(st, q->with_spec));
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return list;
}

int store_run_edit(struct store *s, int64_t id, const struct store_run_edit *e)
{
	int rc = store_write_locked(s,
				    "UPDATE runs SET name = coalesce(?2, name),"
				    " notes = CASE WHEN ?3 IS NULL THEN notes WHEN ?3 = '' THEN NULL ELSE ?3 END,"
				    " tags = coalesce(?4, tags), archived = coalesce(?5, archived) WHERE id = ?1",
				    ARGS(INT(id), TEXT(e->name), TEXT(e->notes), TEXT(e->tags),
					 e->archived >= 0 ? INT(e->archived) : NULL_ARG),
				    STORE_WRITE_ONE_ROW);
	return rc == STORE_OK ? 0 : -1;
}

bool store_run_owner(struct store *s, int64_t id, char *owner, size_t len)
{
	bool found = false;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query_cached(s, "SELECT owner FROM runs WHERE id = ?", ARGS(INT(id)));
	if (st) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			srv_strlcpy(owner, (const char *)sqlite3_column_text(st, 0), len);
			found = true;
		}
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

int store_runs_with_status(struct store *s, const char *status, int64_t *ids, int max)
{
	return store_read_ids(s, "SELECT id FROM runs WHERE status = ? ORDER BY id LIMIT ?",
			      ARGS(TEXT(status), INT(max)), ids, max);
}

int store_count_status(struct store *s, const char *status)
{
	return (int)store_read_int(s, "SELECT count(*) FROM runs WHERE status = ?", ARGS(TEXT(status)));
}

int store_run_set_pid(struct store *s, int64_t id, int pid)
{
	int rc = store_write_locked(s, "UPDATE runs SET worker_pid = ? WHERE id = ?",
				    ARGS(pid ? INT(pid) : NULL_ARG, INT(id)), STORE_WRITE_CACHED);
	return rc == STORE_OK ? 0 : -1;
}

int store_run_set_job(struct store *s, int64_t id, const char *job, const char *secret)
{
	int rc = store_write_locked(s, "UPDATE runs SET job = ?, job_secret = ?, worker_seq = 0 WHERE id = ?",
				    ARGS(TEXT(job), TEXT(secret), INT(id)), STORE_WRITE_CACHED);
	return rc == STORE_OK ? 0 : -1;
}

/* One text column of one run (NULL clears it); -1 when there is no such run. */
static int set_run_text(struct store *s, const char *sql, int64_t id, const char *value)
{
	return store_write_locked(s, sql, ARGS(TEXT(value), INT(id)), STORE_WRITE_ONE_ROW) == STORE_OK ? 0 : -1;
}

int store_run_set_resume(struct store *s, int64_t id, const char *checkpoint)
{
	return set_run_text(s, "UPDATE runs SET resume = ? WHERE id = ?", id, checkpoint);
}

int store_run_set_evaluate(struct store *s, int64_t id, const char *restore)
{
	return set_run_text(s, "UPDATE runs SET evaluate = ? WHERE id = ?", id, restore);
}

int store_run_delete(struct store *s, int64_t id)
{
	static const char *const tables[] = {"events", "metrics", "metric_names", "checkpoints", "series_tiles"};
	pthread_mutex_lock(&s->lock);
	int rc = store_exec(s, "BEGIN IMMEDIATE");
	for (size_t i = 0; rc == 0 && i < TB_ARRAY_LEN(tables) + 1; i++) {
		char sql[96];
		if (i < TB_ARRAY_LEN(tables))
			snprintf(sql, sizeof sql, "DELETE FROM %s WHERE run = ?", tables[i]);
		else
			snprintf(sql, sizeof sql, "DELETE FROM runs WHERE id = ?");
		if (store_write(s, sql, ARGS(INT(id)), NULL) != STORE_OK)
			rc = -1;
	}
	if (rc == 0)
		rc = store_exec(s, "COMMIT");
	else
		store_exec(s, "ROLLBACK");
	if (rc == 0)
		store_series_forget(s, id);
	pthread_mutex_unlock(&s->lock);
	return rc;
}
