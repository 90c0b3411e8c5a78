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

#define USER_COLUMNS                                                                                                   \
	"id, name, coalesce(email, ''), role, password IS NOT NULL, created,"                                          \
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
			 u->instructor ? "instructor" : "student", "has_password", u->has_password, "created",
			 (json_int_t)u->created, "last_login", time_or_null(u->last_login), "archived",
			 time_or_null(u->archived));
}

/* Statements in one transaction, in order; the caller holds the lock. */
static int in_transaction(struct store *s, int (*body)(struct store *s, void *ctx), void *ctx)
{
	if (store_exec(s, "BEGIN IMMEDIATE") < 0)
		return STORE_EIO;
	int rc = body(s, ctx);
	if (rc == STORE_OK && store_exec(s, "COMMIT") < 0)
		rc = STORE_EIO;
	if (rc != STORE_OK)
		store_exec(s, "ROLLBACK");
	return rc;
}

struct users_new {
	struct store_user_new *users;
	size_t n;
	size_t *bad;
};

static int users_new_body(struct store *s, void *ctx)
{
	struct users_new *u = ctx;
	for (size_t i = 0; i < u->n; i++) {
		struct store_user_new *nu = &u->users[i];
		int rc = store_write(
			s, "INSERT INTO users(name, email, role, created) VALUES(?, ?, ?, strftime('%s', 'now'))",
			ARGS(TEXT(nu->name), TEXT(nu->email && nu->email[0] ? nu->email : NULL),
			     TEXT(nu->instructor ? "instructor" : "student")),
			NULL);
		if (rc != STORE_OK) {
			if (u->bad)
				*u->bad = i;
			return rc;
		}
		nu->id = sqlite3_last_insert_rowid(s->db);
	}
	return STORE_OK;
}

int store_users_create(struct store *s, struct store_user_new *users, size_t n, size_t *bad)
{
	struct users_new u = {users, n, bad};
	pthread_mutex_lock(&s->lock);
	int rc = in_transaction(s, users_new_body, &u);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* One user by a text or integer key; the caller holds the lock. */
static int user_where(struct store *s, const char *sql, const char *name, int64_t id, struct store_user *out)
{
	sqlite3_stmt *st = store_query_cached(s, sql, ARGS(name ? TEXT(name) : INT(id)));
	if (!st)
		return STORE_EIO;
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

int store_user_set_role(struct store *s, int64_t id, bool instructor)
{
	return store_write_locked(s, "UPDATE users SET role = ?2 WHERE id = ?1",
				  ARGS(INT(id), TEXT(instructor ? "instructor" : "student")), STORE_WRITE_ONE_ROW);
}

int store_user_set_email(struct store *s, int64_t id, const char *email)
{
	return store_write_locked(s, "UPDATE users SET email = ?2 WHERE id = ?1",
				  ARGS(INT(id), TEXT(email && *email ? email : NULL)), STORE_WRITE_ONE_ROW);
}

int store_user_set_password(struct store *s, int64_t id, const char *phc)
{
	return store_write_locked(s, "UPDATE users SET password = ?2 WHERE id = ?1", ARGS(INT(id), TEXT(phc)),
				  STORE_WRITE_ONE_ROW);
}

int store_user_logged_in(struct store *s, int64_t id, int64_t now)
{
	return store_write_locked(s, "UPDATE users SET last_login = ?2 WHERE id = ?1", ARGS(INT(id), INT(now)),
				  STORE_WRITE_ONE_ROW);
}

int store_user_password(struct store *s, const char *name, struct store_user *out, char *phc, size_t len)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_EIO;
	sqlite3_stmt *st = store_query_cached(s,
					      "SELECT " USER_COLUMNS ", password FROM users"
					      " WHERE name = ? AND archived IS NULL AND password IS NOT NULL",
					      ARGS(TEXT(name)));
	if (st) {
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

struct archive {
	int64_t id, now;
};

static int archive_body(struct store *s, void *ctx)
{
	static const char *const steps[] = {
		"UPDATE users SET archived = ?2, password = NULL WHERE id = ?1 AND archived IS NULL",
		"UPDATE sessions SET revoked = ?2 WHERE user = ?1 AND revoked IS NULL",
		"UPDATE api_tokens SET revoked = ?2 WHERE user = ?1 AND revoked IS NULL",
		"UPDATE login_links SET used = ?2 WHERE user = ?1 AND used IS NULL",
	};
	struct archive *a = ctx;
	for (size_t i = 0; i < TB_ARRAY_LEN(steps); i++) {
		int changes = 0;
		int rc = store_write(s, steps[i], ARGS(INT(a->id), INT(a->now)), &changes);
		if (rc != STORE_OK)
			return rc;
		if (i == 0 && changes == 0)
			return STORE_ENOENT; /* no such user, or archived already */
	}
	return STORE_OK;
}

int store_user_archive(struct store *s, int64_t id, int64_t now)
{
	struct archive a = {id, now};
	pthread_mutex_lock(&s->lock);
	int rc = in_transaction(s, archive_body, &a);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- sessions --------------------------------------------------------------- */

int store_session_create(struct store *s, const struct store_session_new *n)
{
	/* A user agent is the client's to choose: keep a bounded prefix. */
	char agent[257];
	srv_strlcpy(agent, n->user_agent ? n->user_agent : "", sizeof agent);
	return store_write_locked(
		s,
		"INSERT INTO sessions(hash, user, method, created, last_seen, expires, address, user_agent)"
		" VALUES(?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
		ARGS(TEXT(n->hash), INT(n->user), TEXT(n->method), INT(n->now), INT(n->expires),
		     TEXT(n->address ? n->address : ""), TEXT(agent)),
		0);
}

int store_session_user(struct store *s, const char *hash, int64_t now, int64_t idle_s, int64_t touch_s,
		       struct store_user *out, char *method, size_t method_len)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_EIO;
	sqlite3_stmt *st = store_query_cached(
		s,
		"SELECT s.last_seen, s.method, "
		"u.id, u.name, coalesce(u.email, ''), u.role, u.password IS NOT NULL,"
		" u.created, coalesce(u.last_login, 0), coalesce(u.archived, 0)"
		" FROM sessions s JOIN users u ON u.id = s.user"
		" WHERE s.hash = ?1 AND s.revoked IS NULL AND s.expires > ?2 AND s.last_seen > ?2 - ?3"
		" AND u.archived IS NULL",
		ARGS(TEXT(hash), INT(now), INT(idle_s)));
	if (!st)
		goto out;
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
	if (rc == STORE_OK && now - last_seen >= touch_s)
		store_write(s, "UPDATE sessions SET last_seen = ?2 WHERE hash = ?1", ARGS(TEXT(hash), INT(now)), NULL);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_session_revoke(struct store *s, const char *hash, int64_t now)
{
	return store_write_locked(s, "UPDATE sessions SET revoked = ?2 WHERE hash = ?1 AND revoked IS NULL",
				  ARGS(TEXT(hash), INT(now)), STORE_WRITE_ONE_ROW);
}

/* Revoke with ?1 = a user, ?2 = now: how many rows, or -1. */
static int revoke_all(struct store *s, const char *sql, int64_t user, int64_t now)
{
	pthread_mutex_lock(&s->lock);
	int changes = 0;
	int rc = store_write(s, sql, ARGS(INT(user), INT(now)), &changes);
	pthread_mutex_unlock(&s->lock);
	return rc == STORE_OK ? changes : -1;
}

int store_sessions_revoke_user(struct store *s, int64_t user, int64_t now)
{
	return revoke_all(s, "UPDATE sessions SET revoked = ?2 WHERE user = ?1 AND revoked IS NULL AND expires > ?2",
			  user, now);
}

int store_sessions_prune(struct store *s, int64_t now, int64_t keep_s)
{
	pthread_mutex_lock(&s->lock);
	int rc = store_write(s, "DELETE FROM sessions WHERE max(expires, coalesce(revoked, 0)) < ?2 - ?1",
			     ARGS(INT(keep_s), INT(now)), NULL);
	if (rc == STORE_OK)
		rc = store_write(s, "DELETE FROM login_links WHERE max(expires, coalesce(used, 0)) < ?2 - ?1",
				 ARGS(INT(keep_s), INT(now)), NULL);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- API tokens ------------------------------------------------------------- */

int store_token_create(struct store *s, const char *hash, int64_t user, const char *name, int64_t now, int64_t *id)
{
	pthread_mutex_lock(&s->lock);
	int rc = store_write(s, "INSERT INTO api_tokens(hash, user, name, created) VALUES(?, ?, ?, ?)",
			     ARGS(TEXT(hash), INT(user), TEXT(name), INT(now)), NULL);
	if (rc == STORE_OK)
		*id = sqlite3_last_insert_rowid(s->db);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_token_user(struct store *s, const char *hash, int64_t now, int64_t touch_s, struct store_user *out,
		     int64_t *token_id)
{
	pthread_mutex_lock(&s->lock);
	int rc = STORE_EIO;
	sqlite3_stmt *st = store_query_cached(
		s,
		"SELECT t.id, coalesce(t.last_used, 0), u.id, u.name, coalesce(u.email, ''), u.role,"
		" u.password IS NOT NULL, u.created, coalesce(u.last_login, 0), coalesce(u.archived, 0)"
		" FROM api_tokens t JOIN users u ON u.id = t.user"
		" WHERE t.hash = ? AND t.revoked IS NULL AND u.archived IS NULL",
		ARGS(TEXT(hash)));
	if (!st)
		goto out;
	rc = STORE_ENOENT;
	int64_t id = 0, last_used = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		last_used = sqlite3_column_int64(st, 1);
		read_user(st, 2, out);
		rc = STORE_OK;
	}
	store_release(s, st);
	if (rc == STORE_OK)
		*token_id = id;
	if (rc == STORE_OK && now - last_used >= touch_s)
		store_write(s, "UPDATE api_tokens SET last_used = ?2 WHERE id = ?1", ARGS(INT(id), INT(now)), NULL);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

json_t *store_tokens_json(struct store *s, int64_t user)
{
	json_t *list = json_array();
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query(s,
				       "SELECT id, name, created, coalesce(last_used, 0), coalesce(revoked, 0)"
				       " FROM api_tokens WHERE user = ? ORDER BY id DESC",
				       ARGS(INT(user)));
	if (st) {
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(list, json_pack("{s:I, s:s, s:I, s:o, s:o}", "id",
							      (json_int_t)sqlite3_column_int64(st, 0), "name",
							      (const char *)sqlite3_column_text(st, 1), "created",
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
	sqlite3_stmt *st = store_query(s, "SELECT user FROM api_tokens WHERE id = ?", ARGS(INT(id)));
	if (st) {
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
	return store_write_locked(s, "UPDATE api_tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
				  ARGS(INT(id), INT(now)), 0);
}

int store_tokens_revoke_user(struct store *s, int64_t user, int64_t now)
{
	return revoke_all(s, "UPDATE api_tokens SET revoked = ?2 WHERE user = ?1 AND revoked IS NULL", user, now);
}

/* ---- one-time login links -------------------------------------------------- */

struct link_new {
	const char *hash;
	int64_t user, now, expires;
};

static int link_new_body(struct store *s, void *ctx)
{
	struct link_new *l = ctx;
	int rc = store_write(s, "UPDATE login_links SET used = ?2 WHERE user = ?1 AND used IS NULL",
			     ARGS(INT(l->user), INT(l->now)), NULL);
	if (rc == STORE_OK)
		rc = store_write(s, "INSERT INTO login_links(hash, user, created, expires) VALUES(?, ?, ?, ?)",
				 ARGS(TEXT(l->hash), INT(l->user), INT(l->now), INT(l->expires)), NULL);
	return rc;
}

int store_link_create(struct store *s, const char *hash, int64_t user, int64_t now, int64_t expires)
{
	struct link_new l = {hash, user, now, expires};
	pthread_mutex_lock(&s->lock);
	int rc = in_transaction(s, link_new_body, &l);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* The live link `hash`'s user through `sql` (?1 hash, ?2 now, one row: the user id). Lock held. */
static int link_user(struct store *s, const char *sql, const char *hash, int64_t now, struct store_user *out)
{
	sqlite3_stmt *st = store_query(s, sql, ARGS(TEXT(hash), INT(now)));
	if (!st)
		return STORE_EIO;
	int64_t user = 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		user = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (!user)
		return STORE_ENOENT;
	int rc = user_where(s, "SELECT " USER_COLUMNS " FROM users WHERE id = ?", NULL, user, out);
	return rc == STORE_OK && out->archived ? STORE_ENOENT : rc;
}

int store_link_use(struct store *s, const char *hash, int64_t now, struct store_user *out)
{
	pthread_mutex_lock(&s->lock);
	/* Check and mark in one statement: of two requests with the same link
	 * exactly one sees a row come back. */
	int rc = link_user(s,
			   "UPDATE login_links SET used = ?2 WHERE hash = ?1 AND used IS NULL AND expires > ?2"
			   " RETURNING user",
			   hash, now, out);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_link_peek(struct store *s, const char *hash, int64_t now, struct store_user *out)
{
	pthread_mutex_lock(&s->lock);
	int rc = link_user(s, "SELECT user FROM login_links WHERE hash = ?1 AND used IS NULL AND expires > ?2", hash,
			   now, out);
	pthread_mutex_unlock(&s->lock);
	return rc;
}
