/*
 * store_sweeps.c — sweeps in the store (see store.h): a sweep row, one
 * row per trial (its YAML, its values, its run once queued, the latest
 * value of the sweep's metric) and the values trials reached at each ASHA
 * rung. A trial's status is its run's: it is read from the runs table,
 * never copied.
 *
 * What it is not: the sweep logic (sweeps.c decides what to queue and
 * whom to stop) or HTTP (routes_sweeps.c).
 *
 * Threads: any; every function holds s->lock for its whole body. Sweep
 * statements are rare, so they are prepared per call, not cached.
 */
#include "store_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tb.h"

static const char *col_text(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? t : "";
}

int64_t store_parse_sweep_id(const char *s)
{
	/* The same digits rule as run ids ("r12"), with an "s". */
	char buf[32];
	if (!s || s[0] != 's' || strlen(s) >= sizeof buf)
		return -1;
	snprintf(buf, sizeof buf, "r%s", s + 1);
	return store_parse_run_id(buf);
}

int store_sweep_create(struct store *s, const struct store_sweep_new *n, int64_t *id)
{
	pthread_mutex_lock(&s->lock);
	int rc = store_exec(s, "BEGIN IMMEDIATE") < 0 ? STORE_EIO : STORE_OK;
	if (rc == STORE_OK)
		rc = store_write(s,
				 "INSERT INTO sweeps(name, owner, notebook, cell, spec, status, created, metric, split,"
				 " maximize, parallel, reduction, rungs, params)"
				 " VALUES(?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
				 ARGS(TEXT(n->name), TEXT(n->owner), TEXT(n->notebook), TEXT(n->cell), TEXT(n->spec),
				      INT((int64_t)time(NULL)), TEXT(n->metric), TEXT(n->split), INT(n->maximize),
				      INT(n->parallel), INT(n->reduction), TEXT(n->rungs), TEXT(n->params)),
				 NULL);
	if (rc == STORE_OK)
		*id = sqlite3_last_insert_rowid(s->db);
	for (int t = 0; rc == STORE_OK && t < n->ntrials; t++)
		rc = store_write(s, "INSERT INTO sweep_trials(sweep, trial, spec, vals) VALUES(?, ?, ?, ?)",
				 ARGS(INT(*id), INT(t), TEXT(n->trial_specs[t]), TEXT(n->trial_vals[t])), NULL);
	if (rc == STORE_OK && store_exec(s, "COMMIT") < 0)
		rc = STORE_EIO;
	if (rc != STORE_OK)
		store_exec(s, "ROLLBACK");
	pthread_mutex_unlock(&s->lock);
	return rc == STORE_OK ? 0 : -1;
}

bool store_sweep_owner(struct store *s, int64_t id, char *owner, size_t len)
{
	bool found = false;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query(s, "SELECT owner FROM sweeps WHERE id = ?", ARGS(INT(id)));
	if (st) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			srv_strlcpy(owner, col_text(st, 0), len);
			found = true;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

int store_sweep_set_status(struct store *s, int64_t id, const char *status)
{
	int rc = store_write_locked(s,
				    "UPDATE sweeps SET status = ?1, ended = CASE WHEN ?1 = 'running' THEN NULL"
				    " ELSE ?2 END WHERE id = ?3",
				    ARGS(TEXT(status), INT((int64_t)time(NULL)), INT(id)), 0);
	return rc == STORE_OK ? 0 : -1;
}

int store_sweeps_running(struct store *s, int64_t *ids, int max)
{
	return store_read_ids(s, "SELECT id FROM sweeps WHERE status = 'running' ORDER BY id", NULL, 0, ids, max);
}

int store_sweep_live_runs(struct store *s, int64_t id, int64_t *runs, int max)
{
	return store_read_ids(s,
			      "SELECT r.id FROM sweep_trials t JOIN runs r ON r.id = t.run"
			      " WHERE t.sweep = ? AND r.status IN ('queued', 'running') ORDER BY t.trial",
			      ARGS(INT(id)), runs, max);
}

int store_sweep_state(struct store *s, int64_t id, struct store_sweep_state *out)
{
	int rc = -1;
	memset(out, 0, sizeof *out);
	out->next_trial = -1;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(
		s, "SELECT status, split, metric, maximize, parallel, reduction, owner, name, notebook, cell,"
		   " (SELECT count(*) FROM sweep_trials WHERE sweep = w.id),"
		   " (SELECT count(*) FROM sweep_trials t JOIN runs r ON r.id = t.run"
		   "   WHERE t.sweep = w.id AND r.status IN ('queued', 'running')),"
		   " (SELECT count(*) FROM sweep_trials WHERE sweep = w.id AND run IS NULL),"
		   " (SELECT min(trial) FROM sweep_trials WHERE sweep = w.id AND run IS NULL), rungs"
		   " FROM sweeps w WHERE id = ?");
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			srv_strlcpy(out->status, col_text(st, 0), sizeof out->status);
			srv_strlcpy(out->split, col_text(st, 1), sizeof out->split);
			srv_strlcpy(out->metric, col_text(st, 2), sizeof out->metric);
			out->maximize = sqlite3_column_int(st, 3);
			out->parallel = sqlite3_column_int(st, 4);
			out->reduction = sqlite3_column_int(st, 5);
			srv_strlcpy(out->owner, col_text(st, 6), sizeof out->owner);
			srv_strlcpy(out->name, col_text(st, 7), sizeof out->name);
			srv_strlcpy(out->notebook, col_text(st, 8), sizeof out->notebook);
			srv_strlcpy(out->cell, col_text(st, 9), sizeof out->cell);
			out->ntrials = sqlite3_column_int(st, 10);
			out->active = sqlite3_column_int(st, 11);
			out->pending = sqlite3_column_int(st, 12);
			if (sqlite3_column_type(st, 13) != SQLITE_NULL)
				out->next_trial = sqlite3_column_int(st, 13);
			json_t *rungs = json_loads(col_text(st, 14), 0, NULL);
			for (size_t k = 0; k < json_array_size(rungs) && out->nrungs < 16; k++)
				out->rungs[out->nrungs++] = (int)json_integer_value(json_array_get(rungs, k));
			json_decref(rungs);
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

char *store_trial_spec(struct store *s, int64_t sweep, int trial)
{
	char *spec = NULL;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query(s, "SELECT spec FROM sweep_trials WHERE sweep = ? AND trial = ?",
				       ARGS(INT(sweep), INT(trial)));
	if (st) {
		if (sqlite3_step(st) == SQLITE_ROW)
			spec = tb_xstrdup(col_text(st, 0));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return spec;
}

int store_trial_set_run(struct store *s, int64_t sweep, int trial, int64_t run)
{
	int rc = store_write_locked(s, "UPDATE sweep_trials SET run = ?3 WHERE sweep = ?1 AND trial = ?2",
				    ARGS(INT(sweep), INT(trial), INT(run)), 0);
	return rc == STORE_OK ? 0 : -1;
}

bool store_trial_of_run(struct store *s, int64_t run, int64_t *sweep, int *trial)
{
	bool found = false;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query(s, "SELECT sweep, trial FROM sweep_trials WHERE run = ?", ARGS(INT(run)));
	if (st) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			*sweep = sqlite3_column_int64(st, 0);
			*trial = sqlite3_column_int(st, 1);
			found = true;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

int store_trial_record(struct store *s, int64_t sweep, int trial, int epochs, double value)
{
	int rc = store_write_locked(s, "UPDATE sweep_trials SET metric = ?, epochs = ? WHERE sweep = ? AND trial = ?",
				    ARGS(isfinite(value) ? REAL(value) : NULL_ARG, /* a diverged trial has no value */
					 INT(epochs), INT(sweep), INT(trial)),
				    0);
	return rc == STORE_OK ? 0 : -1;
}

int store_rung_add(struct store *s, int64_t sweep, int epoch, int trial, double value, double *values, int max)
{
	int n = 0;
	pthread_mutex_lock(&s->lock);
	int rc = store_write(s, "INSERT OR REPLACE INTO sweep_rungs(sweep, epoch, trial, value) VALUES(?, ?, ?, ?)",
			     ARGS(INT(sweep), INT(epoch), INT(trial), isfinite(value) ? REAL(value) : NULL_ARG), NULL);
	sqlite3_stmt *st = rc == STORE_OK
				   ? store_query(s, "SELECT value FROM sweep_rungs WHERE sweep = ? AND epoch = ?",
						 ARGS(INT(sweep), INT(epoch)))
				   : NULL;
	if (st) {
		while (n < max && sqlite3_step(st) == SQLITE_ROW)
			values[n++] = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

int store_trial_asha_stopped(struct store *s, int64_t sweep, int trial, int epoch)
{
	int rc = store_write_locked(s, "UPDATE sweep_trials SET asha_stopped = ?3 WHERE sweep = ?1 AND trial = ?2",
				    ARGS(INT(sweep), INT(trial), INT(epoch)), 0);
	return rc == STORE_OK ? 0 : -1;
}

/* ---- JSON ------------------------------------------------------------------------ */

#define SWEEP_COLUMNS                                                                                                  \
	"id, name, owner, notebook, cell, status, created, ended, metric, split, maximize, parallel,"                  \
	" reduction, rungs, params,"                                                                                   \
	" (SELECT count(*) FROM sweep_trials WHERE sweep = w.id),"                                                     \
	" (SELECT count(*) FROM sweep_trials t JOIN runs r ON r.id = t.run WHERE t.sweep = w.id"                       \
	"   AND r.status NOT IN ('queued', 'running'))"

static json_t *parsed_or_null(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);
	return v ? v : json_null();
}

static json_t *sweep_row_json(sqlite3_stmt *st)
{
	char sid[32];
	snprintf(sid, sizeof sid, "s%" PRId64, (int64_t)sqlite3_column_int64(st, 0));
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:b, s:i, s:i, s:o, s:o, s:i, s:i}", "id", sid,
			      "name", col_text(st, 1), "owner", col_text(st, 2), "status", col_text(st, 5), "created",
			      (json_int_t)sqlite3_column_int64(st, 6), "metric", col_text(st, 8), "split",
			      col_text(st, 9), "maximize", sqlite3_column_int(st, 10), "parallel",
			      sqlite3_column_int(st, 11), "reduction", sqlite3_column_int(st, 12), "rungs",
			      parsed_or_null(col_text(st, 13)), "params", parsed_or_null(col_text(st, 14)), "trials",
			      sqlite3_column_int(st, 15), "done", sqlite3_column_int(st, 16));
	json_object_set_new(o, "notebook",
			    sqlite3_column_type(st, 3) == SQLITE_NULL ? json_null() : json_string(col_text(st, 3)));
	json_object_set_new(o, "cell",
			    sqlite3_column_type(st, 4) == SQLITE_NULL ? json_null() : json_string(col_text(st, 4)));
	json_object_set_new(o, "ended",
			    sqlite3_column_type(st, 7) == SQLITE_NULL ? json_null()
								      : json_integer(sqlite3_column_int64(st, 7)));
	return o;
}

/* The best trial so far of sweep `id` (lock held): {trial, run, value, epochs, values} or null. */
static json_t *best_json(struct store *s, int64_t id, bool maximize)
{
	sqlite3_stmt *st = store_prepare(
		s, maximize ? "SELECT trial, run, metric, epochs, vals FROM sweep_trials"
			      " WHERE sweep = ? AND metric IS NOT NULL ORDER BY metric DESC, trial LIMIT 1"
			    : "SELECT trial, run, metric, epochs, vals FROM sweep_trials"
			      " WHERE sweep = ? AND metric IS NOT NULL ORDER BY metric ASC, trial LIMIT 1");
	json_t *best = json_null();
	if (!st)
		return best;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		char rid[32];
		snprintf(rid, sizeof rid, "r%" PRId64, (int64_t)sqlite3_column_int64(st, 1));
		best = json_pack("{s:i, s:s, s:f, s:i, s:o}", "trial", sqlite3_column_int(st, 0) + 1, "run", rid,
				 "value", sqlite3_column_double(st, 2), "epochs", sqlite3_column_int(st, 3), "values",
				 parsed_or_null(col_text(st, 4)));
	}
	sqlite3_finalize(st);
	return best;
}

json_t *store_sweeps_json(struct store *s, const char *owner)
{
	json_t *list = json_array();
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st =
		store_prepare(s, owner ? "SELECT " SWEEP_COLUMNS " FROM sweeps w WHERE owner = ? ORDER BY id DESC"
				       : "SELECT " SWEEP_COLUMNS " FROM sweeps w ORDER BY id DESC");
	if (st) {
		if (owner)
			sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *o = sweep_row_json(st);
			json_object_set_new(o, "best",
					    best_json(s, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 10)));
			json_array_append_new(list, o);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return list;
}

json_t *store_sweep_json(struct store *s, int64_t id)
{
	json_t *o = NULL;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query(s, "SELECT " SWEEP_COLUMNS " FROM sweeps w WHERE id = ?", ARGS(INT(id)));
	if (!st)
		goto out;
	bool maximize = false;
	if (sqlite3_step(st) == SQLITE_ROW) {
		o = sweep_row_json(st);
		maximize = sqlite3_column_int(st, 10);
	}
	sqlite3_finalize(st);
	if (!o)
		goto out;
	json_object_set_new(o, "best", best_json(s, id, maximize));
	json_t *trials = json_array();
	st = store_query(s,
			 "SELECT t.trial, t.run, r.status, r.reason, t.vals, t.metric, t.epochs, t.asha_stopped,"
			 " r.epoch, r.epochs FROM sweep_trials t LEFT JOIN runs r ON r.id = t.run"
			 " WHERE t.sweep = ? ORDER BY t.trial",
			 ARGS(INT(id)));
	if (st) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			char rid[32];
			snprintf(rid, sizeof rid, "r%" PRId64, (int64_t)sqlite3_column_int64(st, 1));
			bool queued = sqlite3_column_type(st, 1) != SQLITE_NULL;
			json_t *t = json_pack("{s:i, s:o, s:s, s:o}", "trial", sqlite3_column_int(st, 0) + 1, "run",
					      queued ? json_string(rid) : json_null(), "status",
					      queued ? col_text(st, 2) : "pending", "values",
					      parsed_or_null(col_text(st, 4)));
			json_object_set_new(t, "reason",
					    sqlite3_column_type(st, 3) == SQLITE_NULL ? json_null()
										      : json_string(col_text(st, 3)));
			json_object_set_new(t, "metric",
					    sqlite3_column_type(st, 5) == SQLITE_NULL
						    ? json_null()
						    : json_real(sqlite3_column_double(st, 5)));
			json_object_set_new(t, "epochs", json_integer(sqlite3_column_int(st, 6)));
			json_object_set_new(t, "asha_stopped_at",
					    sqlite3_column_type(st, 7) == SQLITE_NULL
						    ? json_null()
						    : json_integer(sqlite3_column_int(st, 7)));
			json_object_set_new(t, "epoch", json_integer(sqlite3_column_int(st, 8)));
			json_object_set_new(t, "total_epochs", json_integer(sqlite3_column_int(st, 9)));
			json_array_append_new(trials, t);
		}
		sqlite3_finalize(st);
	}
	json_object_set_new(o, "trial_list", trials);
	json_t *rungs = json_array();
	st = store_query(s, "SELECT epoch, trial, value FROM sweep_rungs WHERE sweep = ? ORDER BY epoch, trial",
			 ARGS(INT(id)));
	if (st) {
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(rungs, json_pack("{s:i, s:i, s:o}", "epoch", sqlite3_column_int(st, 0),
							       "trial", sqlite3_column_int(st, 1) + 1, "value",
							       sqlite3_column_type(st, 2) == SQLITE_NULL
								       ? json_null()
								       : json_real(sqlite3_column_double(st, 2))));
		sqlite3_finalize(st);
	}
	json_object_set_new(o, "rung_values", rungs);
out:
	pthread_mutex_unlock(&s->lock);
	return o;
}
