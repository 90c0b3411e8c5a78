/*
 * store_sched.c — what the scheduler keeps in the store (see store.h,
 * "scheduling"): the queue in its order, what each run needs, the place
 * and reason of each waiting run, usage per user and day and its decayed
 * total, quota overrides and the instructor's settings.
 *
 * Threads: any; every public function holds s->lock for its whole body.
 */
#include "store_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

int store_queued_runs(struct store *s, struct store_queued *out, int max)
{
	int n = 0;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query_cached(s,
					      "SELECT id, owner, coalesce(queued_at, created * 1000), need_gpus,"
					      " need_index, coalesce(est_bytes, 0), coalesce(queue_position, 0),"
					      " coalesce(queue_reason, '') FROM runs WHERE status = 'queued'"
					      " ORDER BY queued_at, id LIMIT ?",
					      ARGS(INT(max)));
	if (!st) {
		n = -1;
		goto out;
	}
	while (n < max && sqlite3_step(st) == SQLITE_ROW) {
		struct store_queued *q = &out[n++];
		memset(q, 0, sizeof *q);
		q->id = sqlite3_column_int64(st, 0);
		srv_strlcpy(q->owner, (const char *)sqlite3_column_text(st, 1), sizeof q->owner);
		q->queued_ms = sqlite3_column_int64(st, 2);
		q->need_known = sqlite3_column_type(st, 3) != SQLITE_NULL;
		q->need_gpus = sqlite3_column_int(st, 3);
		q->need_index = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 4);
		q->est_bytes = sqlite3_column_int64(st, 5);
		q->position = sqlite3_column_int(st, 6);
		srv_strlcpy(q->reason, (const char *)sqlite3_column_text(st, 7), sizeof q->reason);
	}
	store_release(s, st);
out:
	pthread_mutex_unlock(&s->lock);
	return n;
}

int store_run_set_need(struct store *s, int64_t id, int gpus, int index, int64_t est_bytes)
{
	int rc = store_write_locked(s, "UPDATE runs SET need_gpus = ?, need_index = ?, est_bytes = ? WHERE id = ?",
				    ARGS(INT(gpus), INT(index), est_bytes > 0 ? INT(est_bytes) : NULL_ARG, INT(id)),
				    STORE_WRITE_CACHED);
	return rc == STORE_OK ? 0 : -1;
}

int store_set_queue(struct store *s, const struct store_queue_place *p, size_t n)
{
	if (!n)
		return 0;
	pthread_mutex_lock(&s->lock);
	int rc = store_exec(s, "BEGIN IMMEDIATE");
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (store_write_cached(
			    s,
			    "UPDATE runs SET queue_position = ?, queue_reason = ? WHERE id = ? AND status = 'queued'",
			    ARGS(p[i].position > 0 ? INT(p[i].position) : NULL_ARG, TEXT(p[i].reason), INT(p[i].id)),
			    NULL) != STORE_OK)
			rc = -1;
	if (rc == 0)
		rc = store_exec(s, "COMMIT");
	else if (!sqlite3_get_autocommit(s->db))
		store_exec(s, "ROLLBACK");
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_run_set_duration_limit(struct store *s, int64_t id, int64_t seconds)
{
	int rc = store_write_locked(s, "UPDATE runs SET duration_limit = ? WHERE id = ?",
				    ARGS(seconds > 0 ? INT(seconds) : NULL_ARG, INT(id)), STORE_WRITE_ONE_ROW);
	return rc == STORE_OK ? 0 : -1;
}

int64_t store_run_duration_limit(struct store *s, int64_t id)
{
	return store_read_int(s, "SELECT coalesce(duration_limit, 0) FROM runs WHERE id = ?", ARGS(INT(id)));
}

/* ---- usage ------------------------------------------------------------------------ */

/* A user's decayed GPU and CPU seconds as of now_ms (0 when none); lock held. 0 or -1. */
static int decayed_usage(struct store *s, const char *user, int64_t now_ms, double half_life_s, double *gpu,
			 double *cpu)
{
	sqlite3_stmt *st =
		store_query_cached(s, "SELECT gpu_s, cpu_s, as_of FROM usage_decayed WHERE user = ?", ARGS(TEXT(user)));
	if (!st)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		double dt = (double)(now_ms - sqlite3_column_int64(st, 2)) / 1000.0;
		double f = dt > 0 && half_life_s > 0 ? exp2(-dt / half_life_s) : 1.0;
		*gpu = sqlite3_column_double(st, 0) * f;
		*cpu = sqlite3_column_double(st, 1) * f;
	}
	store_release(s, st);
	return 0;
}

int store_usage_add(struct store *s, const char *user, int64_t run, bool gpu, double seconds, int64_t now_ms,
		    const char *day, double half_life_s)
{
	pthread_mutex_lock(&s->lock);
	int rc = store_exec(s, "BEGIN IMMEDIATE");
	if (rc)
		goto out;
	/* Decay what is there to now, then add: one row per user, exact at any half-life. */
	double g = 0, c = 0;
	rc = decayed_usage(s, user, now_ms, half_life_s, &g, &c);
	if (gpu)
		g += seconds;
	else
		c += seconds;
	if (rc == 0)
		rc = store_write_cached(
			s, "INSERT OR REPLACE INTO usage_decayed(user, gpu_s, cpu_s, as_of) VALUES(?, ?, ?, ?)",
			ARGS(TEXT(user), REAL(g), REAL(c), INT(now_ms)), NULL);
	if (rc == 0)
		rc = store_write_cached(s,
					"INSERT INTO usage_days(user, day, gpu_s, cpu_s) VALUES(?1, ?2, ?3, ?4)"
					" ON CONFLICT(user, day) DO UPDATE SET gpu_s = gpu_s + ?3, cpu_s = cpu_s + ?4",
					ARGS(TEXT(user), TEXT(day), REAL(gpu ? seconds : 0), REAL(gpu ? 0 : seconds)),
					NULL);
	if (rc == 0 && run > 0)
		rc = store_write_cached(s, "UPDATE runs SET compute_s = compute_s + ? WHERE id = ?",
					ARGS(REAL(seconds), INT(run)), NULL);
	if (rc == 0)
		rc = store_exec(s, "COMMIT");
	else if (!sqlite3_get_autocommit(s->db))
		store_exec(s, "ROLLBACK");
out:
	pthread_mutex_unlock(&s->lock);
	return rc < 0 ? -1 : 0;
}

int store_usage_get(struct store *s, const char *user, int64_t now_ms, double half_life_s, const char *day,
		    const char *week, struct store_usage *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&s->lock);
	int rc = -1;
	if (decayed_usage(s, user, now_ms, half_life_s, &out->gpu_decayed, &out->cpu_decayed) < 0)
		goto out;
	/* Days are "YYYY-MM-DD": text order is date order. */
	sqlite3_stmt *st =
		store_prepare_cached(s, "SELECT coalesce(sum(CASE WHEN day = ?2 THEN gpu_s END), 0),"
					" coalesce(sum(CASE WHEN day = ?2 THEN cpu_s END), 0), coalesce(sum(gpu_s), 0),"
					" coalesce(sum(cpu_s), 0) FROM usage_days WHERE user = ?1 AND day >= ?3");
	if (!st)
		goto out;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, week, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->gpu_day = sqlite3_column_double(st, 0);
		out->cpu_day = sqlite3_column_double(st, 1);
		out->gpu_week = sqlite3_column_double(st, 2);
		out->cpu_week = sqlite3_column_double(st, 3);
	}
	store_release(s, st);
	rc = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int64_t store_checkpoint_bytes(struct store *s, const char *user)
{
	return store_read_int(
		s, "SELECT coalesce(sum(c.bytes), 0) FROM checkpoints c JOIN runs r ON r.id = c.run WHERE r.owner = ?",
		ARGS(TEXT(user)));
}

int store_count_user_status(struct store *s, const char *user, const char *status)
{
	return (int)store_read_int(s, "SELECT count(*) FROM runs WHERE owner = ? AND status = ?",
				   ARGS(TEXT(user), TEXT(status)));
}

/* ---- quotas and settings ------------------------------------------------------------- */

static char *get_text(struct store *s, const char *literal_sql, const char *key)
{
	char *v = NULL;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query_cached(s, literal_sql, ARGS(TEXT(key)));
	if (st) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = tb_xstrdup((const char *)sqlite3_column_text(st, 0));
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return v;
}

static int put_text(struct store *s, const char *upsert, const char *del, const char *key, const char *value)
{
	int rc = value ? store_write_locked(s, upsert, ARGS(TEXT(key), TEXT(value)), 0)
		       : store_write_locked(s, del, ARGS(TEXT(key)), 0);
	return rc == STORE_OK ? 0 : -1;
}

char *store_quota_get(struct store *s, const char *subject)
{
	return get_text(s, "SELECT limits FROM quotas WHERE subject = ?", subject);
}

int store_quota_set(struct store *s, const char *subject, const char *json)
{
	return put_text(s, "INSERT OR REPLACE INTO quotas(subject, limits) VALUES(?, ?)",
			"DELETE FROM quotas WHERE subject = ?", subject, json);
}

json_t *store_quotas_json(struct store *s)
{
	json_t *all = json_object();
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare_cached(s, "SELECT subject, limits FROM quotas ORDER BY subject");
	if (st) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *v = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
			if (v)
				json_object_set_new(all, (const char *)sqlite3_column_text(st, 0), v);
		}
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return all;
}

char *store_setting_get(struct store *s, const char *key)
{
	return get_text(s, "SELECT value FROM settings WHERE key = ?", key);
}

int store_setting_set(struct store *s, const char *key, const char *value)
{
	return put_text(s, "INSERT OR REPLACE INTO settings(key, value) VALUES(?, ?)",
			"DELETE FROM settings WHERE key = ?", key, value);
}
