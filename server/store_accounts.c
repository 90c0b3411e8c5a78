/*
 * store_accounts.c — users, sessions, API tokens and one-time login links
 * in the store (see store.h). Rows hold hashes of secrets, never the
 * secrets: a copy of the database lets nobody log in.
 *
 * What it is not: the rules (who may create whom, how long a session
 * lives: accounts.c) or the hashing (secret.c).
 *
 * Threads: any; every public function holds s->lock for its whole body, so
 * the CLI (`trainbook users`, its own process and connection) and the
 * server may both write: SQLite's WAL lock and the busy timeout serialise
 * the two processes.
 */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

#define USER_COLUMNS "id, name, coalesce(email, ''), role, password IS NOT NULL, created," \
		     " coalesce(last_login, 0), coalesce(archived, 0)"

static void read_user(sqlite3_stmt *st, int col, struct store_user *u)
{
	memset(u, 0, sizeof *u);
	u->id = sqlite3_column_int64(st, col);
	srv_strlcpy(u->name, (const char *)sqlite3_column_text(st, col + 1), sizeof u->name);
	srv_strlcpy(u->email, (const char *)sqlite3_column_text(st, col + 2), sizeof u->email);
	u->instructor = !strcmp((const char *)sqlite3_column_text(st, col + 3), "instructor");
	u->has_password = sqlite3_column_int(st, col + 4) != 0;
	u->created = sqlite3_column_int64(st, col + 5);
	u->last_login = sqlite3_column_int64(st, col + 6);
	u->archived = sqlite3_column_int64(st, col + 7);
}

static json_t *time_or_null(int64_t t)
{
	return t ? json_integer(t) : json_null();
}

json_t *store_user_json(const struct store_user *u)
{
	return json_pack("{s:s, s:o, s:s, s:b, s:I, s:o, s:o}", "name", u->name, "email",
			 u->email[0] ? json_string(u->email) : json_null(), "role",
			 u->instructor ? "instructor" : "student", "has_password", u->has_password,
			 "created", (json_int_t)u->created, "last_login", time_or_null(u->last_login),
			 "archived", time_or_null(u->archived));
}

static int step_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	srv_log_limited(&s->error_log, "store: %s", sqlite3_errmsg(s->db));
	return rc == SQLITE_FULL ? STORE_EFULL : STORE_EIO;
}

int store_users_create(struct store *s, struct store_user_new *users, size_t n, size_t *bad)
{
	pthread_mutex_lock(&s->lock);
	int rc = store_exec(s, "BEGIN IMMEDIATE") < 0 ? STORE_EIO : STORE_OK;
	sqlite3_stmt *st = rc ? NULL : store_prepare(s, "INSERT INTO users(name, email, role, created)"
							" VALUES(?, ?, ?, strftime('%s', 'now'))");
	if (!rc && !st)
		rc = STORE_EIO;
	for (size_t i = 0; rc == STORE_OK && i < n; i++) {
		sqlite3_bind_text(st, 1, users[i].name, -1, SQLITE_STATIC);
		if (users[i].email && users[i].email[0])
			sqlite3_bind_text(st, 2, users[i].email, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 2);
		sqlite3_bind_text(st, 3, users[i].instructor ? "instructor" : "student", -1, SQLITE_STATIC);
		int step = sqlite3_step(st);
		if (step == SQLITE_DONE) {
			users[i].id = sqlite3_last_insert_rowid(s->db);
		} else {
			rc = sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE ? STORE_EEXIST : STORE_EIO;
			if (bad)
				*bad = i;
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	sqlite3_finalize(st);
	if (rc == STORE_OK && store_exec(s, "COMMIT") < 0)
		rc = STORE_EIO;
	if (rc != STORE_OK)
		store_exec(s, "ROLLBACK");
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* One user by a text or integer key; the caller holds the lock. */
static int user_where(struct store *s, const char *sql, const char *name, int64_t id, struct store_user *out)
{
	sqlite3_stmt *st = store_prepare_cached(s, sql);
	if (!st)
		return STORE_EIO;
	if (name)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(st, 1, id);
	int rc = STORE_ENOENT;
	if (sqlite3_step(st) == SQLITE_ROW) {
		read_user(st, 0, out);
		rc = STORE_OK;
	}
	store_release(s, st);
	return rc;
}

int store_user_get(struct store *s, const char *name, struct store_user *out)
{
	pthread_mutex_lock(&s->lock);
	int rc = user_where(s, "SELECT " USER_COLUMNS " FROM users WHERE name = ?", name, 0, out);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_user_by_id(struct store *s, int64_t id, struct store_user *out)
{
	pthread_mutex_lock(&s->lock);
	int rc = user_where(s, "SELECT " USER_COLUMNS " FROM users WHERE id = ?", NULL, id, out);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

json_t *store_users_json(struct store *s)
{
	json_t *list = json_array();
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s, "SELECT " USER_COLUMNS ","
					    " (SELECT count(*) FROM sessions WHERE user = users.id AND revoked IS NULL"
					    "  AND expires > strftime('%s', 'now'))"
					    " FROM users ORDER BY name");
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		struct store_user u;
		read_user(st, 0, &u);
		json_t *j = store_user_json(&u);
		json_object_set_new(j, "sessions", json_integer(sqlite3_column_int(st, 8)));
		json_array_append_new(list, j);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return list;
}

/* UPDATE … WHERE id = ?1 with text ?2 (NULL allowed) or integer ?2; STORE_ENOENT when no row changed. */
static int update_user(struct store *s, const char *sql, int64_t id, const char *text, int64_t num, bool is_text)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_EIO;
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		if (is_text && text)
			sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
		else if (is_text)
			sqlite3_bind_null(st, 2);
		else
			sqlite3_bind_int64(st, 2, num);
		rc = step_done(s, st);
		if (rc == STORE_OK && sqlite3_changes(s->db) == 0)
			rc = STORE_ENOENT;
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_user_set_role(struct store *s, int64_t id, bool instructor)
{
	return update_user(s, "UPDATE users SET role = ?2 WHERE id = ?1", id,
			   instructor ? "instructor" : "student", 0, true);
}

int store_user_set_email(struct store *s, int64_t id, const char *email)
{
	return update_user(s, "UPDATE users SET email = ?2 WHERE id = ?1", id, email && *email ? email : NULL, 0,
			   true);
}

int store_user_set_password(struct store *s, int64_t id, const char *phc)
{
	return update_user(s, "UPDATE users SET password = ?2 WHERE id = ?1", id, phc, 0, true);
}

int store_user_logged_in(struct store *s, int64_t id, int64_t now)
{
	return update_user(s, "UPDATE users SET last_login = ?2 WHERE id = ?1", id, NULL, now, false);
}

int store_user_password(struct store *s, const char *name, struct store_user *out, char *phc, size_t len)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_EIO;
	sqlite3_stmt *st = store_prepare_cached(s, "SELECT " USER_COLUMNS ", password FROM users"
						   " WHERE name = ? AND archived IS NULL AND password IS NOT NULL");
	if (st) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		rc = STORE_ENOENT;
		if (sqlite3_step(st) == SQLITE_ROW) {
			read_user(st, 0, out);
			srv_strlcpy(phc, (const char *)sqlite3_column_text(st, 8), len);
			rc = STORE_OK;
		}
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Run a statement with ?1 = id and ?2 = now; the caller holds the lock. */
static int exec_id_now(struct store *s, const char *sql, int64_t id, int64_t now, int *changes)
{
	sqlite3_stmt *st = store_prepare(s, sql);
	if (!st)
		return STORE_EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	int rc = step_done(s, st);
	if (changes)
		*changes = sqlite3_changes(s->db);
	sqlite3_finalize(st);
	return rc;
}

int store_user_archive(struct store *s, int64_t id, int64_t now)
{
	static const char *const steps[] = {
		"UPDATE users SET archived = ?2, password = NULL WHERE id = ?1 AND archived IS NULL",
		"UPDATE sessions SET revoked = ?2 WHERE user = ?1 AND revoked IS NULL",
		"UPDATE api_tokens SET revoked = ?2 WHERE user = ?1 AND revoked IS NULL",
		"UPDATE login_links SET used = ?2 WHERE user = ?1 AND used IS NULL",
	};
	pthread_mutex_lock(&s->lock);
	int rc = store_exec(s, "BEGIN IMMEDIATE") < 0 ? STORE_EIO : STORE_OK;
	for (size_t i = 0; rc == STORE_OK && i < TB_ARRAY_LEN(steps); i++) {
		int changes = 0;
		rc = exec_id_now(s, steps[i], id, now, &changes);
		if (rc == STORE_OK && i == 0 && changes == 0)
			rc = STORE_ENOENT; /* no such user, or archived already */
	}
	if (rc == STORE_OK && store_exec(s, "COMMIT") < 0)
		rc = STORE_EIO;
	if (rc != STORE_OK)
		store_exec(s, "ROLLBACK");
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- sessions --------------------------------------------------------------- */

int store_session_create(struct store *s, const struct store_session_new *n)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_EIO;
	sqlite3_stmt *st = store_prepare(s, "INSERT INTO sessions(hash, user, method, created, last_seen, expires,"
					    " address, user_agent) VALUES(?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)");
	if (st) {
		sqlite3_bind_text(st, 1, n->hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, n->user);
		sqlite3_bind_text(st, 3, n->method, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, n->now);
		sqlite3_bind_int64(st, 5, n->expires);
		sqlite3_bind_text(st, 6, n->address ? n->address : "", -1, SQLITE_TRANSIENT);
		/* A user agent is the client's to choose: keep a bounded prefix. */
		sqlite3_bind_text(st, 7, n->user_agent ? n->user_agent : "",
				  n->user_agent ? (int)strnlen(n->user_agent, 256) : 0, SQLITE_TRANSIENT);
		rc = step_done(s, st);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_session_user(struct store *s, const char *hash, int64_t now, int64_t idle_s, int64_t touch_s,
		       struct store_user *out, char *method, size_t method_len)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_EIO;
	sqlite3_stmt *st = store_prepare_cached(
		s, "SELECT s.last_seen, s.method, " "u.id, u.name, coalesce(u.email, ''), u.role, u.password IS NOT NULL,"
		   " u.created, coalesce(u.last_login, 0), coalesce(u.archived, 0)"
		   " FROM sessions s JOIN users u ON u.id = s.user"
		   " WHERE s.hash = ?1 AND s.revoked IS NULL AND s.expires > ?2 AND s.last_seen > ?2 - ?3"
		   " AND u.archived IS NULL");
	if (!st)
		goto out;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, idle_s);
	rc = STORE_ENOENT;
	int64_t last_seen = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		last_seen = sqlite3_column_int64(st, 0);
		if (method)
			srv_strlcpy(method, (const char *)sqlite3_column_text(st, 1), method_len);
		read_user(st, 2, out);
		rc = STORE_OK;
	}
	store_release(s, st);
	/* A write per request would cost a commit each; the idle clock only
	 * needs to be right to within touch_s. */
	if (rc == STORE_OK && now - last_seen >= touch_s) {
		st = store_prepare_cached(s, "UPDATE sessions SET last_seen = ?2 WHERE hash = ?1");
		if (st) {
			sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 2, now);
			if (sqlite3_step(st) != SQLITE_DONE)
				srv_log_limited(&s->error_log, "store: %s", sqlite3_errmsg(s->db));
			store_release(s, st);
		}
	}
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_session_revoke(struct store *s, const char *hash, int64_t now)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_EIO;
	sqlite3_stmt *st = store_prepare(s, "UPDATE sessions SET revoked = ?2 WHERE hash = ?1 AND revoked IS NULL");
	if (st) {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, now);
		rc = step_done(s, st);
		if (rc == STORE_OK && sqlite3_changes(s->db) == 0)
			rc = STORE_ENOENT;
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_sessions_revoke_user(struct store *s, int64_t user, int64_t now)
{
	pthread_mutex_lock(&s->lock);
	int changes = 0;
	int rc = exec_id_now(s, "UPDATE sessions SET revoked = ?2 WHERE user = ?1 AND revoked IS NULL"
				" AND expires > ?2", user, now, &changes);
	pthread_mutex_unlock(&s->lock);
	return rc == STORE_OK ? changes : -1;
}

int store_sessions_prune(struct store *s, int64_t now, int64_t keep_s)
{
	pthread_mutex_lock(&s->lock);
	int rc = exec_id_now(s, "DELETE FROM sessions WHERE max(expires, coalesce(revoked, 0)) < ?2 - ?1",
			     keep_s, now, NULL);
	if (rc == STORE_OK)
		rc = exec_id_now(s, "DELETE FROM login_links WHERE max(expires, coalesce(used, 0)) < ?2 - ?1", keep_s,
				 now, NULL);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- API tokens ------------------------------------------------------------- */

int store_token_create(struct store *s, const char *hash, int64_t user, const char *name, int64_t now,
		       int64_t *id)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_EIO;
	sqlite3_stmt *st = store_prepare(s, "INSERT INTO api_tokens(hash, user, name, created) VALUES(?, ?, ?, ?)");
	if (st) {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, user);
		sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, now);
		rc = step_done(s, st);
		if (rc == STORE_OK)
			*id = sqlite3_last_insert_rowid(s->db);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_token_user(struct store *s, const char *hash, int64_t now, int64_t touch_s, struct store_user *out)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_EIO;
	sqlite3_stmt *st = store_prepare_cached(
		s, "SELECT t.id, coalesce(t.last_used, 0), u.id, u.name, coalesce(u.email, ''), u.role,"
		   " u.password IS NOT NULL, u.created, coalesce(u.last_login, 0), coalesce(u.archived, 0)"
		   " FROM api_tokens t JOIN users u ON u.id = t.user"
		   " WHERE t.hash = ? AND t.revoked IS NULL AND u.archived IS NULL");
	if (!st)
		goto out;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
	rc = STORE_ENOENT;
	int64_t id = 0, last_used = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		last_used = sqlite3_column_int64(st, 1);
		read_user(st, 2, out);
		rc = STORE_OK;
	}
	store_release(s, st);
	if (rc == STORE_OK && now - last_used >= touch_s)
		exec_id_now(s, "UPDATE api_tokens SET last_used = ?2 WHERE id = ?1", id, now, NULL);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

json_t *store_tokens_json(struct store *s, int64_t user)
{
	json_t *list = json_array();
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s, "SELECT id, name, created, coalesce(last_used, 0), coalesce(revoked, 0)"
					    " FROM api_tokens WHERE user = ? ORDER BY id DESC");
	if (st) {
		sqlite3_bind_int64(st, 1, user);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(
				list, json_pack("{s:I, s:s, s:I, s:o, s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0),
						"name", (const char *)sqlite3_column_text(st, 1), "created",
						(json_int_t)sqlite3_column_int64(st, 2), "last_used",
						time_or_null(sqlite3_column_int64(st, 3)), "revoked",
						time_or_null(sqlite3_column_int64(st, 4))));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return list;
}

int store_token_owner(struct store *s, int64_t id, int64_t *user)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_EIO;
	sqlite3_stmt *st = store_prepare(s, "SELECT user FROM api_tokens WHERE id = ?");
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		rc = STORE_ENOENT;
		if (sqlite3_step(st) == SQLITE_ROW) {
			*user = sqlite3_column_int64(st, 0);
			rc = STORE_OK;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_token_revoke(struct store *s, int64_t id, int64_t now)
{
	pthread_mutex_lock(&s->lock);
	int rc = exec_id_now(s, "UPDATE api_tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL", id, now,
			     NULL);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_tokens_revoke_user(struct store *s, int64_t user, int64_t now)
{
	pthread_mutex_lock(&s->lock);
	int changes = 0;
	int rc = exec_id_now(s, "UPDATE api_tokens SET revoked = ?2 WHERE user = ?1 AND revoked IS NULL", user, now,
			     &changes);
	pthread_mutex_unlock(&s->lock);
	return rc == STORE_OK ? changes : -1;
}

/* ---- one-time login links -------------------------------------------------- */

int store_link_create(struct store *s, const char *hash, int64_t user, int64_t now, int64_t expires)
{
	pthread_mutex_lock(&s->lock);
	int rc = store_exec(s, "BEGIN IMMEDIATE") < 0 ? STORE_EIO : STORE_OK;
	if (rc == STORE_OK)
		rc = exec_id_now(s, "UPDATE login_links SET used = ?2 WHERE user = ?1 AND used IS NULL", user, now,
				 NULL);
	sqlite3_stmt *st = rc ? NULL : store_prepare(s, "INSERT INTO login_links(hash, user, created, expires)"
							 " VALUES(?, ?, ?, ?)");
	if (rc == STORE_OK && !st)
		rc = STORE_EIO;
	if (st) {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, user);
		sqlite3_bind_int64(st, 3, now);
		sqlite3_bind_int64(st, 4, expires);
		rc = step_done(s, st);
		sqlite3_finalize(st);
	}
	if (rc == STORE_OK && store_exec(s, "COMMIT") < 0)
		rc = STORE_EIO;
	if (rc != STORE_OK)
		store_exec(s, "ROLLBACK");
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_link_use(struct store *s, const char *hash, int64_t now, struct store_user *out)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_EIO;
	/* Check and mark in one statement: of two requests with the same link
	 * exactly one sees a row come back. */
	sqlite3_stmt *st = store_prepare(s, "UPDATE login_links SET used = ?2 WHERE hash = ?1 AND used IS NULL"
					    " AND expires > ?2 RETURNING user");
	if (!st)
		goto out;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, now);
	int64_t user = 0;
	rc = STORE_ENOENT;
	if (sqlite3_step(st) == SQLITE_ROW)
		user = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (user) {
		rc = user_where(s, "SELECT " USER_COLUMNS " FROM users WHERE id = ?", NULL, user, out);
		if (rc == STORE_OK && out->archived)
			rc = STORE_ENOENT;
	}
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}
