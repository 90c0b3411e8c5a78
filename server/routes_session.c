/*
 * routes_session.c — logging in and out over the API (POST /api/login,
 * /api/logout), who is logged in (GET /api/me), setting one's password
 * and managing one's API tokens. In single-user mode /api/login takes the
 * token and /api/me names the OS user; passwords and API tokens exist in
 * accounts mode only.
 *
 * What it is not: the HTML login form (routes_static.c) or the rules of
 * sessions (accounts.c).
 *
 * Threads: libmicrohttpd's polling thread. A password check (argon2id,
 * ~45 ms) runs inline on it: logins are rare next to everything else.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "routes.h"
#include "throttle.h"
#include "ws.h"

#define TOKEN_LABEL_MAX 64

void route_set_cookie(struct http_req *r, struct MHD_Response *resp, const char *value)
{
	struct app *app = r->app;
	/* Secure when asked, or when the browser came over https (a TLS proxy in front). */
	const char *origin = http_header(r, "Origin");
	bool secure = app->cfg.secure_cookies || (origin && !strncmp(origin, "https://", 8));
	long max_age = !value ? 0 : app->cfg.accounts ? (long)app->policy.max_s : 2592000L;
	char cookie[512];
	snprintf(cookie, sizeof cookie, "%s=%s; Path=%s; HttpOnly; SameSite=Strict; Max-Age=%ld%s",
		 app->ident.cookie_name, value ? value : "", app->cfg.base_url, max_age, secure ? "; Secure" : "");
	MHD_add_response_header(resp, "Set-Cookie", cookie);
}

/* The session the request came with, if any, ends: a login always starts a new one (no fixation). */
static void rotate_out(struct http_req *r)
{
	char value[SECRET_HEX + 1], hash[SECRET_HEX];
	if (ident_cookie_value(&r->app->ident, http_header(r, "Cookie"), value, sizeof value)) {
		secret_hash(value, strlen(value), hash);
		store_session_revoke(r->app->store, hash, srv_unix_now());
		if (r->app->ws)
			ws_disconnect(r->app->ws, 0, hash);
	}
}

int route_session_begin(struct http_req *r, const struct store_user *u, const char *method, char *cookie)
{
	rotate_out(r);
	return acct_session_start(r->app->store, &r->app->policy, u, method, r->client, http_header(r, "User-Agent"),
				  cookie);
}

void route_session_end(struct http_req *r)
{
	if (!r->app->cfg.accounts || !r->who.session[0])
		return;
	store_session_revoke(r->app->store, r->who.session, srv_unix_now());
	if (r->app->ws)
		ws_disconnect(r->app->ws, 0, r->who.session);
}

/* 200 {"user":…} with the session cookie. */
static enum MHD_Result logged_in(struct http_req *r, json_t *user, const char *cookie)
{
	json_t *body = json_pack("{s:o}", "user", user);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	route_set_cookie(r, resp, cookie);
	return http_send(r, 200, resp);
}

static json_t *single_user_json(const struct app *app)
{
	return json_pack("{s:s, s:s}", "name", app->owner, "role", "instructor");
}

static void outcome(struct route_login *out, enum route_login_outcome o, int wait_s, const char *message)
{
	out->outcome = o;
	out->wait_s = wait_s;
	snprintf(out->message, sizeof out->message, "%s", message);
}

/* Single-user mode: the token, throttled per address as everywhere. */
static void token_login(struct http_req *r, const char *token, struct route_login *out)
{
	int wait = http_login_wait(r);
	if (wait) {
		outcome(out, ROUTE_LOGIN_THROTTLED, wait, "too many wrong tokens from your address");
		return;
	}
	bool ok = auth_token_equal(&r->app->auth, token, strlen(token));
	http_login_outcome(r, ok);
	if (!ok) {
		srv_log("login: wrong token from %s", r->client);
		outcome(out, ROUTE_LOGIN_WRONG, 0, "That token is not right.");
		return;
	}
	srv_strlcpy(out->cookie, r->app->auth.session, sizeof out->cookie);
	outcome(out, ROUTE_LOGIN_OK, 0, "");
}

/*
 * Wrong passwords are throttled per account name and per client address:
 * a guesser spread over many addresses still gets ten tries a minute at
 * one account, and one address guessing at many accounts is slowed too.
 * A right password clears only its account's count, so one's own
 * successful logins cannot buy more guesses at others.
 */
static void password_login(struct http_req *r, const char *typed_name, const char *password, struct route_login *out)
{
	struct app *app = r->app;
	char name[STORE_NAME_MAX], err[160];
	if (!acct_name_fold(typed_name, name, sizeof name, err, sizeof err))
		snprintf(name, sizeof name, "%s", "-"); /* no such user; still costs a verification */
	char key[STORE_NAME_MAX + 8];
	snprintf(key, sizeof key, "user:%s", name);
	int64_t now_ms = srv_mono_ms();
	int wait_addr = throttle_wait_s(app->logins, r->client, now_ms);
	int wait_user = throttle_wait_s(app->account_logins, key, now_ms);
	if (wait_addr || wait_user) {
		outcome(out, ROUTE_LOGIN_THROTTLED, wait_addr > wait_user ? wait_addr : wait_user,
			wait_user >= wait_addr ? "too many wrong passwords for this account"
					       : "too many wrong passwords from your address");
		return;
	}
	int rc = acct_password_check(app->store, name, password, &out->user);
	if (rc == ACCT_EIO) {
		outcome(out, ROUTE_LOGIN_EIO, 0, "the store could not be read");
		return;
	}
	if (rc != ACCT_OK) {
		throttle_failed(app->logins, r->client, now_ms);
		throttle_failed(app->account_logins, key, now_ms);
		srv_log("login: wrong password for '%s' from %s", name, r->client);
		outcome(out, ROUTE_LOGIN_WRONG, 0, "Wrong name or password.");
		return;
	}
	throttle_succeeded(app->account_logins, key);
	if (route_session_begin(r, &out->user, "password", out->cookie) != ACCT_OK) {
		outcome(out, ROUTE_LOGIN_EIO, 0, "cannot record the session");
		return;
	}
	outcome(out, ROUTE_LOGIN_OK, 0, "");
}

static void link_login(struct http_req *r, const char *link, struct route_login *out)
{
	struct app *app = r->app;
	int wait = http_login_wait(r);
	if (wait) {
		outcome(out, ROUTE_LOGIN_THROTTLED, wait, "too many wrong login links from your address");
		return;
	}
	/* The whole URL pasted works as well as its secret. */
	const char *secret = strstr(link, "link=");
	secret = secret ? secret + 5 : link;
	int rc = acct_link_check(app->store, secret, &out->user);
	if (rc == ACCT_EIO) {
		outcome(out, ROUTE_LOGIN_EIO, 0, "the store could not be read");
		return;
	}
	if (rc != ACCT_OK) {
		throttle_failed(app->logins, r->client, srv_mono_ms());
		outcome(out, ROUTE_LOGIN_WRONG, 0,
			"This login link does not work (used already, expired or replaced by a newer one). "
			"Ask your instructor for a new one.");
		return;
	}
	if (route_session_begin(r, &out->user, "link", out->cookie) != ACCT_OK) {
		outcome(out, ROUTE_LOGIN_EIO, 0, "cannot record the session");
		return;
	}
	outcome(out, ROUTE_LOGIN_OK, 0, "");
}

void route_login_attempt(struct http_req *r, const char *name, const char *password, const char *link,
			 const char *token, struct route_login *out)
{
	memset(out, 0, sizeof *out);
	if (!r->app->cfg.accounts && token)
		token_login(r, token, out);
	else if (!r->app->cfg.accounts)
		outcome(out, ROUTE_LOGIN_BAD, 0, "Paste the token into the field.");
	else if (name && *name && password)
		password_login(r, name, password, out);
	else if (link && *link)
		link_login(r, link, out);
	else
		outcome(out, ROUTE_LOGIN_BAD, 0, "Give your name and password, or open your login link.");
}

enum MHD_Result route_api_login(struct http_req *r)
{
	enum MHD_Result reply;
	json_t *body = http_body_json(r, &reply);
	if (!body)
		return reply;
	struct route_login l;
	route_login_attempt(r, json_string_value(json_object_get(body, "name")),
			    json_string_value(json_object_get(body, "password")),
			    json_string_value(json_object_get(body, "link")),
			    json_string_value(json_object_get(body, "token")), &l);
	json_decref(body);
	switch (l.outcome) {
	case ROUTE_LOGIN_OK:
		return logged_in(r, r->app->cfg.accounts ? store_user_json(&l.user) : single_user_json(r->app), l.cookie);
	case ROUTE_LOGIN_THROTTLED:
		return http_too_many_what(r, l.wait_s, l.message);
	case ROUTE_LOGIN_WRONG:
		return http_error(r, 401, "unauthorized", "%s", l.message);
	case ROUTE_LOGIN_BAD:
		return http_error(r, 400, "bad_request", "%s",
				  r->app->cfg.accounts ? "expected {\"name\": …, \"password\": …} or {\"link\": …}"
						       : "expected {\"token\": …} (this server has no accounts)");
	default:
		return http_error(r, 500, "internal", "%s", l.message);
	}
}

enum MHD_Result route_api_logout(struct http_req *r)
{
	route_session_end(r);
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	route_set_cookie(r, resp, NULL);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return http_send(r, 204, resp);
}

enum MHD_Result route_me(struct http_req *r)
{
	struct app *app = r->app;
	if (!app->cfg.accounts) {
		json_t *me = single_user_json(app);
		json_object_set_new(me, "accounts", json_false());
		return http_json(r, 200, me);
	}
	struct store_user u;
	if (store_user_by_id(app->store, r->who.id, &u) != STORE_OK)
		return http_error(r, 500, "internal", "the store could not be read");
	json_t *me = store_user_json(&u);
	json_object_set_new(me, "accounts", json_true());
	json_object_set_new(me, "via", json_string(r->who.session[0] ? "session" : "token"));
	json_object_set_new(me, "login", r->who.method[0] ? json_string(r->who.method) : json_null());
	char home[STORE_NAME_MAX + 16];
	snprintf(home, sizeof home, "users/%s/", u.name);
	json_object_set_new(me, "home", json_string(home));
	return http_json(r, 200, me);
}

static enum MHD_Result accounts_only(struct http_req *r)
{
	return http_error(r, 400, "bad_request", "this server runs without accounts (start it with --accounts)");
}

/*
 * A password of one's own. Changing one needs the current password,
 * unless this session began with a one-time link (the student setting a
 * first password, or one the instructor reset).
 */
enum MHD_Result route_me_password(struct http_req *r)
{
	struct app *app = r->app;
	if (!app->cfg.accounts)
		return accounts_only(r);
	enum MHD_Result reply;
	json_t *body = http_body_json(r, &reply);
	if (!body)
		return reply;
	const char *password = json_string_value(json_object_get(body, "password"));
	const char *current = json_string_value(json_object_get(body, "current"));
	struct store_user u;
	char err[200];
	if (!password) {
		reply = http_error(r, 400, "bad_request", "expected {\"password\": \"…\"}");
	} else if (store_user_by_id(app->store, r->who.id, &u) != STORE_OK) {
		reply = http_error(r, 500, "internal", "the store could not be read");
	} else if (u.has_password && strcmp(r->who.method, "link")) {
		char key[STORE_NAME_MAX + 8];
		snprintf(key, sizeof key, "user:%s", u.name);
		int wait = throttle_wait_s(app->account_logins, key, srv_mono_ms());
		struct store_user check;
		if (wait) {
			reply = http_too_many_what(r, wait, "too many wrong passwords for this account");
		} else if (!current || acct_password_check(app->store, u.name, current, &check) != ACCT_OK) {
			throttle_failed(app->account_logins, key, srv_mono_ms());
			reply = http_error(r, 403, "forbidden", "the current password is not right");
		} else {
			reply = acct_set_password(app->store, u.id, password, err, sizeof err) < 0
					? http_error(r, 400, "bad_request", "%s", err)
					: http_json(r, 204, NULL);
		}
	} else {
		reply = acct_set_password(app->store, u.id, password, err, sizeof err) < 0
				? http_error(r, 400, "bad_request", "%s", err)
				: http_json(r, 204, NULL);
	}
	json_decref(body);
	return reply;
}

enum MHD_Result route_me_tokens(struct http_req *r)
{
	if (!r->app->cfg.accounts)
		return accounts_only(r);
	return http_json(r, 200, json_pack("{s:o}", "tokens", store_tokens_json(r->app->store, r->who.id)));
}

enum MHD_Result route_me_token_new(struct http_req *r)
{
	if (!r->app->cfg.accounts)
		return accounts_only(r);
	json_t *body = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
	const char *label = json_string_value(json_object_get(body, "name"));
	if (!label || !*label)
		label = "script";
	enum MHD_Result reply;
	char token[SECRET_HEX];
	int64_t id;
	if (strlen(label) > TOKEN_LABEL_MAX)
		reply = http_error(r, 400, "bad_request", "a token's name is at most %d characters", TOKEN_LABEL_MAX);
	else if (acct_token_new(r->app->store, r->who.id, label, token, &id) != ACCT_OK)
		reply = http_error(r, 500, "internal", "cannot record the token");
	else
		reply = http_json(r, 201, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "name", label, "token", token));
	json_decref(body);
	return reply;
}

enum MHD_Result route_me_token_revoke(struct http_req *r)
{
	/* The route's rule (own-token) has checked that {id} is the caller's. */
	int64_t id = strtoll(r->params[0], NULL, 10);
	if (store_token_revoke(r->app->store, id, srv_unix_now()) != STORE_OK)
		return http_error(r, 500, "internal", "cannot revoke the token");
	return http_json(r, 204, NULL);
}
