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
 * Threads: libmicrohttpd's polling thread, except the argon2id work
 * (password logins, setting a password: ~45 ms each), which http_defer
 * hands to its pool on copies of what it needs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "routes.h"
#include "tb.h"
#include "throttle.h"
#include "ws.h"

#define TOKEN_LABEL_MAX 64

void route_set_cookie(struct http_req *r, struct MHD_Response *resp, const char *value)
{
	struct app *app = r->app;
	/* Secure when asked, or when the browser came over https: a trusted
	 * proxy says so (http_request_https), or the page's own Origin does.
	 * Over plain http (an SSH tunnel, localhost) a Secure cookie would be
	 * refused, so never by default. */
	const char *origin = http_header(r, "Origin");
	bool secure = app->cfg.secure_cookies || http_request_https(r) || (origin && !strncmp(origin, "https://", 8));
	long max_age = !value ? 0 : app->cfg.accounts ? (long)app->policy.max_s : 2592000L;
	char cookie[512];
	snprintf(cookie, sizeof cookie, "%s=%s; Path=%s; HttpOnly; SameSite=Strict; Max-Age=%ld%s",
		 app->ident.cookie_name, value ? value : "", app->cfg.base_url, max_age, secure ? "; Secure" : "");
	MHD_add_response_header(resp, "Set-Cookie", cookie);
}

void route_session_end(struct http_req *r)
{
	if (!r->app->cfg.accounts || !r->who.session[0])
		return;
	store_session_revoke(r->app->store, r->who.session, srv_unix_now());
	if (r->app->ws)
		ws_disconnect(r->app->ws, 0, r->who.session, 0);
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

/* ---- one login attempt (any thread: it reads only its own copies) --------- */

static void outcome(struct route_login *l, enum route_login_outcome o, int wait_s, const char *message)
{
	l->outcome = o;
	l->wait_s = wait_s;
	snprintf(l->message, sizeof l->message, "%s", message);
}

/* A new session for l->user; the one the browser came with ends (a login never keeps it: no fixation). */
static int session_begin(struct route_login *l, const char *method)
{
	struct app *app = l->app;
	if (l->old_cookie[0]) {
		char hash[SECRET_HEX];
		secret_hash(l->old_cookie, strlen(l->old_cookie), hash);
		store_session_revoke(app->store, hash, srv_unix_now());
		if (app->ws)
			ws_disconnect(app->ws, 0, hash, 0);
	}
	return acct_session_start(app->store, &app->policy, &l->user, method, l->client, l->agent, l->cookie);
}

/* Single-user mode: the token, throttled per address as everywhere. */
static void token_login(struct route_login *l)
{
	struct app *app = l->app;
	if ((l->wait_s = throttle_wait_s(app->logins, l->client, srv_mono_ms()))) {
		outcome(l, ROUTE_LOGIN_THROTTLED, l->wait_s, "too many wrong tokens from your address");
		return;
	}
	if (!auth_token_equal(&app->auth, l->token, strlen(l->token))) {
		throttle_failed(app->logins, l->client, srv_mono_ms());
		srv_log("login: wrong token from %s", l->client);
		outcome(l, ROUTE_LOGIN_WRONG, 0, "That token is not right.");
		return;
	}
	throttle_succeeded(app->logins, l->client);
	srv_strlcpy(l->cookie, app->auth.session, sizeof l->cookie);
	outcome(l, ROUTE_LOGIN_OK, 0, "");
}

/*
 * Wrong passwords are throttled per account name and per client address:
 * a guesser spread over many addresses still gets ten tries a minute at
 * one account, and one address guessing at many accounts is slowed too.
 * A right password clears only its account's count, so one's own
 * successful logins cannot buy more guesses at others.
 */
static void password_login(void *ctx)
{
	struct route_login *l = ctx;
	struct app *app = l->app;
	char name[STORE_NAME_MAX], err[160];
	if (!acct_name_fold(l->name, name, sizeof name, err, sizeof err))
		snprintf(name, sizeof name, "%s", "-"); /* no such user; still costs a verification */
	char key[STORE_NAME_MAX + 8];
	snprintf(key, sizeof key, "user:%s", name);
	int64_t now_ms = srv_mono_ms();
	int wait_addr = throttle_wait_s(app->logins, l->client, now_ms);
	int wait_user = throttle_wait_s(app->account_logins, key, now_ms);
	if (wait_addr || wait_user) {
		outcome(l, ROUTE_LOGIN_THROTTLED, wait_addr > wait_user ? wait_addr : wait_user,
			wait_user >= wait_addr ? "too many wrong passwords for this account"
					       : "too many wrong passwords from your address");
		return;
	}
	int rc = acct_password_check(app->store, name, l->password, &l->user);
	if (rc == ACCT_EIO) {
		outcome(l, ROUTE_LOGIN_EIO, 0, "the store could not be read");
		return;
	}
	if (rc != ACCT_OK) {
		throttle_failed(app->logins, l->client, now_ms);
		throttle_failed(app->account_logins, key, now_ms);
		srv_log("login: wrong password for '%s' from %s", name, l->client);
		outcome(l, ROUTE_LOGIN_WRONG, 0, "Wrong name or password.");
		return;
	}
	throttle_succeeded(app->account_logins, key);
	if (session_begin(l, "password") != ACCT_OK)
		outcome(l, ROUTE_LOGIN_EIO, 0, "cannot record the session");
	else
		outcome(l, ROUTE_LOGIN_OK, 0, "");
}

static void link_login(struct route_login *l)
{
	struct app *app = l->app;
	if ((l->wait_s = throttle_wait_s(app->logins, l->client, srv_mono_ms()))) {
		outcome(l, ROUTE_LOGIN_THROTTLED, l->wait_s, "too many wrong login links from your address");
		return;
	}
	/* The whole URL pasted works as well as its secret. */
	const char *secret = strstr(l->link, "link=");
	secret = secret ? secret + 5 : l->link;
	int rc = acct_link_check(app->store, secret, &l->user);
	if (rc == ACCT_EIO) {
		outcome(l, ROUTE_LOGIN_EIO, 0, "the store could not be read");
		return;
	}
	if (rc != ACCT_OK) {
		throttle_failed(app->logins, l->client, srv_mono_ms());
		outcome(l, ROUTE_LOGIN_WRONG, 0, ACCT_LINK_DENIED_MESSAGE);
		return;
	}
	if (session_begin(l, "link") != ACCT_OK)
		outcome(l, ROUTE_LOGIN_EIO, 0, "cannot record the session");
	else
		outcome(l, ROUTE_LOGIN_OK, 0, "");
}

static void copy_field(char *dst, size_t len, const char *src, bool *has)
{
	*has = src != NULL;
	srv_strlcpy(dst, src ? src : "", len);
}

static void login_free(void *ctx)
{
	/* The password does not linger in freed memory. */
	explicit_bzero(ctx, sizeof(struct route_login));
	free(ctx);
}

struct route_login *route_login_start(struct http_req *r, const char *name, const char *password, const char *link,
				      const char *token)
{
	struct route_login *l = tb_xcalloc(1, sizeof *l);
	r->defer_ctx = l;
	r->defer_free = login_free;
	l->app = r->app;
	srv_strlcpy(l->client, r->client, sizeof l->client);
	const char *agent = http_header(r, "User-Agent");
	srv_strlcpy(l->agent, agent ? agent : "", sizeof l->agent);
	if (!ident_cookie_value(&r->app->ident, http_header(r, "Cookie"), l->old_cookie, sizeof l->old_cookie))
		l->old_cookie[0] = '\0';
	copy_field(l->name, sizeof l->name, name, &l->has_name);
	copy_field(l->password, sizeof l->password, password, &l->has_password);
	copy_field(l->link, sizeof l->link, link, &l->has_link);
	copy_field(l->token, sizeof l->token, token, &l->has_token);
	if (!r->app->cfg.accounts && l->has_token)
		token_login(l);
	else if (!r->app->cfg.accounts)
		outcome(l, ROUTE_LOGIN_BAD, 0, "Paste the token into the field.");
	else if (l->name[0] && l->has_password)
		http_defer(r, password_login, l); /* argon2id: off the polling thread */
	else if (l->link[0])
		link_login(l);
	else
		outcome(l, ROUTE_LOGIN_BAD, 0, "Give your name and password, or open your login link.");
	return l;
}

enum MHD_Result route_api_login(struct http_req *r)
{
	struct route_login *l = r->defer_ctx;
	if (!l) {
		enum MHD_Result reply;
		json_t *body = http_body_json(r, &reply);
		if (!body)
			return reply;
		l = route_login_start(r, json_string_value(json_object_get(body, "name")),
				      json_string_value(json_object_get(body, "password")),
				      json_string_value(json_object_get(body, "link")),
				      json_string_value(json_object_get(body, "token")));
		json_decref(body);
	}
	if (r->deferred)
		return MHD_YES; /* the password is being checked; we are called again */
	switch (l->outcome) {
	case ROUTE_LOGIN_OK:
		return logged_in(r, r->app->cfg.accounts ? store_user_json(&l->user) : single_user_json(r->app),
				 l->cookie);
	case ROUTE_LOGIN_THROTTLED:
		return http_too_many_what(r, l->wait_s, l->message);
	case ROUTE_LOGIN_WRONG:
		return http_error(r, 401, "unauthorized", "%s", l->message);
	case ROUTE_LOGIN_BAD:
		return http_error(r, 400, "bad_request", "%s",
				  r->app->cfg.accounts ? "expected {\"name\": …, \"password\": …} or {\"link\": …}"
						       : "expected {\"token\": …} (this server has no accounts)");
	default:
		return http_error(r, 500, "internal", "%s", l->message);
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

/* Setting a password: argon2id work, done on the slow-work pool (see route_me_password). */
struct password_job {
	struct app *app;
	struct store_user user;
	bool need_current; /* a password exists and this session did not begin with a link */
	bool has_current;
	char password[SECRET_PASSWORD_MAX + 1], current[SECRET_PASSWORD_MAX + 1];
	unsigned status; /* out: 204, 400, 403, 429, 500 */
	int wait_s;
	char message[200];
};

static void password_job_free(void *ctx)
{
	struct password_job *j = ctx;
	/* Passwords do not linger in freed memory. */
	explicit_bzero(j, sizeof *j);
	free(j);
}

static void set_password(void *ctx)
{
	struct password_job *j = ctx;
	struct app *app = j->app;
	j->status = 204;
	if (j->need_current) {
		char key[STORE_NAME_MAX + 8];
		snprintf(key, sizeof key, "user:%s", j->user.name);
		struct store_user check;
		if ((j->wait_s = throttle_wait_s(app->account_logins, key, srv_mono_ms()))) {
			j->status = 429;
			snprintf(j->message, sizeof j->message, "too many wrong passwords for this account");
			return;
		}
		if (!j->has_current || acct_password_check(app->store, j->user.name, j->current, &check) != ACCT_OK) {
			throttle_failed(app->account_logins, key, srv_mono_ms());
			j->status = 403;
			snprintf(j->message, sizeof j->message, "the current password is not right");
			return;
		}
	}
	if (acct_set_password(app->store, j->user.id, j->password, j->message, sizeof j->message) < 0)
		j->status = 400;
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
	struct password_job *j = r->defer_ctx;
	if (!j) {
		enum MHD_Result reply;
		json_t *body = http_body_json(r, &reply);
		if (!body)
			return reply;
		const char *password = json_string_value(json_object_get(body, "password"));
		const char *current = json_string_value(json_object_get(body, "current"));
		j = tb_xcalloc(1, sizeof *j);
		r->defer_ctx = j;
		r->defer_free = password_job_free;
		j->app = app;
		bool ok = password && store_user_by_id(app->store, r->who.id, &j->user) == STORE_OK;
		if (ok) {
			srv_strlcpy(j->password, password, sizeof j->password);
			j->has_current = current != NULL;
			srv_strlcpy(j->current, current ? current : "", sizeof j->current);
			j->need_current = j->user.has_password && strcmp(r->who.method, "link");
		}
		json_decref(body);
		if (!password)
			return http_error(r, 400, "bad_request", "expected {\"password\": \"…\"}");
		if (!ok)
			return http_error(r, 500, "internal", "the store could not be read");
		http_defer(r, set_password, j);
	}
	if (r->deferred)
		return MHD_YES; /* hashing; we are called again */
	switch (j->status) {
	case 204:
		return http_json(r, 204, NULL);
	case 429:
		return http_too_many_what(r, j->wait_s, j->message);
	case 403:
		return http_error(r, 403, "forbidden", "%s", j->message);
	default:
		return http_error(r, 400, "bad_request", "%s", j->message);
	}
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
		reply = http_json(r, 201,
				  json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "name", label, "token", token));
	json_decref(body);
	return reply;
}

enum MHD_Result route_me_token_revoke(struct http_req *r)
{
	/* The route's rule (own-token) has checked that {id} is the caller's. */
	int64_t id = strtoll(r->params[0], NULL, 10);
	if (store_token_revoke(r->app->store, id, srv_unix_now()) != STORE_OK)
		return http_error(r, 500, "internal", "cannot revoke the token");
	if (r->app->ws)
		ws_disconnect(r->app->ws, 0, NULL, id); /* a script's feed ends with its token */
	return http_json(r, 204, NULL);
}
