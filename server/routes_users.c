/*
 * routes_users.c — /api/users: what an instructor does with accounts in
 * the page, the same operations as `trainbook users …` (both go through
 * accounts.c). Every route here is instructors-only by its rule in the
 * route table.
 *
 * What it is not: logging in (routes_session.c).
 *
 * Threads: libmicrohttpd's polling thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "routes.h"
#include "ws.h"

static enum MHD_Result accounts_only(struct http_req *r)
{
	return http_error(r, 400, "bad_request", "this server runs without accounts (start it with --accounts)");
}

/* The active user named by params[0], or a 404 reply. */
static bool user_param(struct http_req *r, struct store_user *u, enum MHD_Result *reply)
{
	if (!r->app->cfg.accounts) {
		*reply = accounts_only(r);
		return false;
	}
	int rc = store_user_get(r->app->store, r->params[0], u);
	if (rc == STORE_OK && !u->archived)
		return true;
	*reply = rc == STORE_EIO ? http_error(r, 500, "internal", "the store could not be read")
				 : http_error(r, 404, "not_found", "no user %s", r->params[0]);
	return false;
}

/* How many active instructors there are, to keep at least one. */
static int instructors(struct app *app)
{
	json_t *users = store_users_json(app->store);
	size_t i;
	json_t *u;
	int n = 0;
	json_array_foreach(users, i, u)
	{
		n += !strcmp(json_string_value(json_object_get(u, "role")), "instructor") &&
		     json_is_null(json_object_get(u, "archived"));
	}
	json_decref(users);
	return n;
}

enum MHD_Result route_users_list(struct http_req *r)
{
	if (!r->app->cfg.accounts)
		return accounts_only(r);
	return http_json(r, 200, json_pack("{s:o}", "users", store_users_json(r->app->store)));
}

static enum MHD_Result created(struct http_req *r, struct acct_roster_row *rows, size_t n)
{
	struct app *app = r->app;
	const char *format = http_query(r, "format");
	if (format && !strcmp(format, "csv")) {
		char *csv = acct_roster_csv(rows, n);
		struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(csv), csv, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(resp, "Content-Type", "text/csv; charset=utf-8");
		MHD_add_response_header(resp, "Content-Disposition", "attachment; filename=\"login-links.csv\"");
		MHD_add_response_header(resp, "Cache-Control", "no-store");
		return http_send(r, 201, resp);
	}
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		struct store_user u;
		if (store_user_get(app->store, rows[i].name, &u) != STORE_OK)
			continue;
		json_t *j = store_user_json(&u);
		json_object_set_new(j, "link", json_string(rows[i].link));
		json_array_append_new(list, j);
	}
	return http_json(r, 201, json_pack("{s:o}", "users", list));
}

enum MHD_Result route_user_create(struct http_req *r)
{
	struct app *app = r->app;
	if (!app->cfg.accounts)
		return accounts_only(r);
	enum MHD_Result reply;
	json_t *body = http_body_json(r, &reply);
	if (!body)
		return reply;
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *email = json_string_value(json_object_get(body, "email"));
	const char *role = json_string_value(json_object_get(body, "role"));
	struct acct_roster_row row = {.line = 1};
	char err[400];
	if (!name) {
		reply = http_error(r, 400, "bad_request", "expected {\"name\": …, \"email\"?: …, \"role\"?: …}");
	} else if (!acct_name_fold(name, row.name, sizeof row.name, err, sizeof err) ||
		   !acct_email_ok(email ? email : "", err, sizeof err)) {
		reply = http_error(r, 400, "bad_request", "%s", err);
	} else if (role && strcmp(role, "student") && strcmp(role, "instructor")) {
		reply = http_error(r, 400, "bad_request", "role is student or instructor, not '%.40s'", role);
	} else {
		srv_strlcpy(row.email, email ? email : "", sizeof row.email);
		row.instructor = role && !strcmp(role, "instructor");
		struct store_user u;
		if (acct_create_users(app->store, app->cfg.workspace, &app->policy, &row, 1, err, sizeof err) < 0)
			reply = strstr(err, "taken") ? http_error(r, 409, "exists", "the name %s is taken", row.name)
						     : http_error(r, 500, "internal", "%s", err);
		else if (store_user_get(app->store, row.name, &u) != STORE_OK)
			reply = http_error(r, 500, "internal", "the store could not be read");
		else
			reply = http_json(r, 201,
					  json_pack("{s:o, s:s}", "user", store_user_json(&u), "link", row.link));
	}
	json_decref(body);
	return reply;
}

enum MHD_Result route_users_import(struct http_req *r)
{
	struct app *app = r->app;
	if (!app->cfg.accounts)
		return accounts_only(r);
	json_t *errors = json_array();
	size_t n = 0;
	struct acct_roster_row *rows = acct_roster_parse(r->body.data ? r->body.data : "", r->body.len, &n, errors);
	enum MHD_Result reply;
	char err[400];
	if (!rows) {
		json_t *first = json_array_get(errors, 0);
		char msg[500];
		snprintf(msg, sizeof msg, "line %d: %s%s; nobody was added",
			 (int)json_integer_value(json_object_get(first, "line")),
			 json_string_value(json_object_get(first, "message")),
			 json_array_size(errors) > 1 ? " (and more)" : "");
		reply = http_json(
			r, 400,
			json_pack("{s:s, s:s, s:O}", "error", "invalid_roster", "message", msg, "errors", errors));
	} else if (acct_create_users(app->store, app->cfg.workspace, &app->policy, rows, n, err, sizeof err) < 0) {
		reply = strstr(err, "taken") ? http_error(r, 409, "exists", "%s", err)
					     : http_error(r, 500, "internal", "%s", err);
	} else {
		srv_log("users: %zu imported from a roster", n);
		reply = created(r, rows, n);
	}
	free(rows);
	json_decref(errors);
	return reply;
}

enum MHD_Result route_user_get(struct http_req *r)
{
	struct store_user u;
	enum MHD_Result reply;
	if (!user_param(r, &u, &reply))
		return reply;
	json_t *j = store_user_json(&u);
	json_object_set_new(j, "tokens", store_tokens_json(r->app->store, u.id));
	return http_json(r, 200, json_pack("{s:o}", "user", j));
}

enum MHD_Result route_user_patch(struct http_req *r)
{
	struct app *app = r->app;
	struct store_user u;
	enum MHD_Result reply;
	if (!user_param(r, &u, &reply))
		return reply;
	json_t *body = http_body_json(r, &reply);
	if (!body)
		return reply;
	const char *role = json_string_value(json_object_get(body, "role"));
	json_t *email = json_object_get(body, "email");
	char err[300];
	if (role && strcmp(role, "student") && strcmp(role, "instructor")) {
		reply = http_error(r, 400, "bad_request", "role is student or instructor, not '%.40s'", role);
	} else if (email && !json_is_null(email) &&
		   (!json_is_string(email) || !acct_email_ok(json_string_value(email), err, sizeof err))) {
		reply = http_error(r, 400, "bad_request", "%s", json_is_string(email) ? err : "email must be text");
	} else if (role && u.instructor && !strcmp(role, "student") && instructors(app) <= 1) {
		reply = http_error(r, 409, "conflict", "%s is the last instructor; make someone else one first",
				   u.name);
	} else {
		bool ok = true;
		if (role)
			ok = store_user_set_role(app->store, u.id, !strcmp(role, "instructor")) == STORE_OK;
		if (ok && email)
			ok = store_user_set_email(app->store, u.id, json_string_value(email)) == STORE_OK;
		/* A new role applies at once: sessions and feeds carry the old one. */
		if (ok && role && (!strcmp(role, "instructor")) != u.instructor && app->ws)
			ws_disconnect(app->ws, u.id, NULL, 0);
		if (ok && store_user_by_id(app->store, u.id, &u) == STORE_OK)
			reply = http_json(r, 200, json_pack("{s:o}", "user", store_user_json(&u)));
		else
			reply = http_error(r, 500, "internal", "the store could not record the change");
	}
	json_decref(body);
	return reply;
}

enum MHD_Result route_user_delete(struct http_req *r)
{
	struct app *app = r->app;
	struct store_user u;
	enum MHD_Result reply;
	if (!user_param(r, &u, &reply))
		return reply;
	if (u.instructor && instructors(app) <= 1)
		return http_error(r, 409, "conflict", "%s is the last instructor; make someone else one first", u.name);
	char err[400];
	if (acct_archive(app->store, app->cfg.workspace, u.name, err, sizeof err) < 0)
		return http_error(r, 500, "internal", "%s", err);
	if (app->ws)
		ws_disconnect(app->ws, u.id, NULL, 0);
	srv_log("users: %s archived", u.name);
	return http_json(r, 204, NULL);
}

enum MHD_Result route_user_link(struct http_req *r)
{
	struct store_user u;
	enum MHD_Result reply;
	if (!user_param(r, &u, &reply))
		return reply;
	char link[ACCT_LINK_MAX];
	if (acct_new_link(r->app->store, &r->app->policy, u.id, link, sizeof link) != ACCT_OK)
		return http_error(r, 500, "internal", "cannot record the link");
	return http_json(r, 201, json_pack("{s:s, s:s}", "name", u.name, "link", link));
}

enum MHD_Result route_user_reset(struct http_req *r)
{
	struct store_user u;
	enum MHD_Result reply;
	if (!user_param(r, &u, &reply))
		return reply;
	char link[ACCT_LINK_MAX];
	if (acct_reset(r->app->store, &r->app->policy, u.id, link, sizeof link) != ACCT_OK)
		return http_error(r, 500, "internal", "cannot reset the login");
	if (r->app->ws)
		ws_disconnect(r->app->ws, u.id, NULL, 0);
	return http_json(r, 201, json_pack("{s:s, s:s}", "name", u.name, "link", link));
}

enum MHD_Result route_user_revoke(struct http_req *r)
{
	struct app *app = r->app;
	struct store_user u;
	enum MHD_Result reply;
	if (!user_param(r, &u, &reply))
		return reply;
	json_t *body = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
	bool tokens = json_is_true(json_object_get(body, "tokens"));
	json_decref(body);
	int64_t now = srv_unix_now();
	int sessions = store_sessions_revoke_user(app->store, u.id, now);
	int ntokens = tokens ? store_tokens_revoke_user(app->store, u.id, now) : 0;
	if (sessions < 0 || ntokens < 0)
		return http_error(r, 500, "internal", "the store could not record the change");
	if (app->ws)
		ws_disconnect(app->ws, u.id, NULL, 0);
	return http_json(r, 200, json_pack("{s:i, s:i}", "sessions", sessions, "tokens", ntokens));
}
