/*
 * http.c — request life cycle on libmicrohttpd (see http.h).
 *
 * Threads: access_cb and completed_cb run on libmicrohttpd's polling
 * thread; http_add_connection on the front-door thread (libmicrohttpd
 * wakes its thread through its ITC for that); the slow-work pool's threads
 * run only the jobs http_defer hands them and resume their connections.
 */
#include "http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "identity.h"
#include "tb.h"
#include "throttle.h"

#define DEFER_THREADS_MAX 4

struct defer_job {
	struct http_req *r;
	void (*fn)(void *ctx);
	void *ctx;
	struct defer_job *next;
};

struct http_server {
	struct MHD_Daemon *daemon;
	struct app *app;
	pthread_t pool[DEFER_THREADS_MAX]; /* the slow-work pool (http_defer) */
	int npool;
	pthread_mutex_t lock;              /* guards everything below */
	pthread_cond_t wake;               /* the pool: a job came, or stop */
	pthread_cond_t idle;               /* signalled when parked reaches 0 */
	struct defer_job *head, *tail;     /* http_defer's queue */
	bool stop;                         /* the pool ends once its queue is empty */
	int parked;                        /* requests between http_suspend and http_resume */
	bool closing;                      /* http_free has begun: parked work should give up */
};

static bool match_one(const char *pattern, const char *path, char **params, int *n)
{
	const char *p = pattern, *s = path;
	*n = 0;
	if (*p != '/' || *s != '/')
		return false;
	for (;;) {
		p++;
		s++;
		size_t pl = strcspn(p, "/"), sl = strcspn(s, "/");
		if (pl >= 3 && p[0] == '{' && p[pl - 1] == '}') {
			bool rest = p[pl - 2] == '*';
			size_t take = rest ? strlen(s) : sl;
			if (take == 0 || *n >= HTTP_MAX_PARAMS)
				goto no;
			params[(*n)++] = strndup(s, take);
			if (rest)
				return p[pl] == '\0';
		} else if (pl != sl || strncmp(p, s, pl)) {
			goto no;
		}
		p += pl;
		s += sl;
		if (*p == '\0' || *s == '\0') {
			if (*p == '\0' && *s == '\0')
				return true;
			goto no;
		}
	}
no:
	while (*n)
		free(params[--*n]);
	return false;
}

const struct http_route *http_match(const char *method, const char *path, char **params, int *nparams,
				    bool *path_known)
{
	*path_known = false;
	if (!strcmp(method, "HEAD"))
		method = "GET"; /* libmicrohttpd drops the body of HEAD replies itself */
	for (size_t i = 0; i < http_nroutes; i++) {
		const struct http_route *rt = &http_routes[i];
		if (!rt->handler)
			continue;
		if (!match_one(rt->pattern, path, params, nparams))
			continue;
		if (!strcmp(rt->method, method))
			return rt;
		*path_known = true;
		while (*nparams)
			free(params[--*nparams]);
	}
	return NULL;
}

const char *http_access_name(enum http_access a)
{
	static const char *const names[] = {"", "token", "public", "page", "secret"};
	return (unsigned)a < TB_ARRAY_LEN(names) ? names[a] : "";
}

void http_print_routes(void *stdio_file)
{
	FILE *f = stdio_file;
	for (size_t i = 0; i < http_nroutes; i++) {
		const struct http_route *rt = &http_routes[i];
		const char *rule = (unsigned)rt->rule < ACCESS_NRULES ? access_rules[rt->rule].name : "none";
		fprintf(f, "%-7s %-38s %-7s %-15s %s\n", rt->method, rt->pattern, http_access_name(rt->access), rule,
			rt->summary);
	}
}

const char *http_header(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* Decimal digits only, optional leading '-', no spaces, no overflow. */
static bool parse_int(const char *s, int64_t *out)
{
	const char *p = s;
	bool neg = *p == '-';
	if (neg)
		p++;
	if (!*p || strlen(p) > 19)
		return false;
	int64_t v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		int d = *p - '0';
		if (v > (INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = neg ? -v : v;
	return true;
}

int64_t http_query_int(struct http_req *r, const char *name, int64_t dflt)
{
	const char *v = http_query(r, name);
	int64_t n;
	return v && parse_int(v, &n) ? n : dflt;
}

struct int_check {
	const struct http_int_param *params;
	const struct http_int_param *bad; /* the first parameter that failed */
	char value[32];
};

/* libmicrohttpd calls this for every query argument, repeated names included. */
static enum MHD_Result check_int_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct int_check *c = cls;
	for (const struct http_int_param *p = c->params; p->name; p++) {
		int64_t n;
		if (strcmp(key, p->name))
			continue;
		if (!value || !parse_int(value, &n) || n < p->min || n > p->max) {
			c->bad = p;
			srv_strlcpy(c->value, value ? value : "", sizeof c->value);
			return MHD_NO;
		}
	}
	return MHD_YES;
}

const char *http_csp_nonce(struct http_req *r)
{
	if (!r->csp_nonce[0] && srv_random_hex(r->csp_nonce, 16) < 0)
		r->csp_nonce[0] = '\0'; /* no nonce: styles fall back to files only */
	return r->csp_nonce;
}

/*
 * One policy for every answer. The page's code and styles are files of our
 * own ('self'); the only inline styles allowed are <style> elements that
 * carry this answer's nonce (the login form's, CodeMirror's rules), never
 * style="…" attributes or inline script. img-src data: is for the stored
 * chart PNGs of run cells. connect-src 'self' covers the ws:// feed on the
 * same host and port (CSP level 3).
 */
static void add_csp(struct http_req *r, struct MHD_Response *resp)
{
	char csp[512], style[96] = "style-src 'self'";
	if (r->csp_nonce[0])
		snprintf(style, sizeof style, "style-src 'self' 'nonce-%s'", r->csp_nonce);
	snprintf(csp, sizeof csp,
		 "default-src 'self'; script-src 'self'; %s; img-src 'self' data:; connect-src 'self'; "
		 "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
		 style);
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
}

enum MHD_Result http_send(struct http_req *r, unsigned status, struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* The start-up URL carries the token: no Referer to other sites. Not
	 * no-referrer: under it Chromium sends Origin: null on form posts. */
	MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	add_csp(r, resp);
	enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

enum MHD_Result http_raw(struct http_req *r, unsigned status, const char *content_type,
			 const char *data, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (content_type)
		MHD_add_response_header(resp, "Content-Type", content_type);
	if (content_type && !strncmp(content_type, "application/json", 16))
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	return http_send(r, status, resp);
}

enum MHD_Result http_json(struct http_req *r, unsigned status, json_t *body)
{
	if (!body)
		return http_raw(r, status, NULL, "", 0);
	char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(body);
	if (!text)
		return http_raw(r, 500, "application/json",
				"{\"error\":\"internal\",\"message\":\"cannot encode reply\"}", 52);
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return http_send(r, status, resp);
}

/* Length of the UTF-8 sequence at s as jansson accepts it (no overlong
 * forms, surrogates or code points past U+10FFFF), 0 when invalid. */
static size_t utf8_sequence(const unsigned char *s)
{
	static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (n <= 1)
		return n;
	uint32_t cp = s[0] & (0x7fu >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	return cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : n;
}

enum MHD_Result http_error(struct http_req *r, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* Messages quote the request (a path parameter is any bytes) and the
	 * 512-byte cut can split a character; jansson refuses invalid UTF-8,
	 * which turned the error into an empty reply
	 * (tests/fuzz/http/crashes/error-message-not-utf8). */
	for (unsigned char *p = (unsigned char *)msg; *p;) {
		size_t n = utf8_sequence(p);
		if (n)
			p += n;
		else
			*p++ = '?';
	}
	if (status >= 500)
		srv_log("%s %s: %u %s", r->method, r->path ? r->path : "?", status, msg);
	return http_json(r, status, json_pack("{s:s, s:s}", "error", code, "message", msg));
}

json_t *http_body_json(struct http_req *r, enum MHD_Result *reply)
{
	if (json_is_object(r->body_json))
		return json_incref(r->body_json); /* parsed already for the access rule */
	json_error_t jerr;
	json_t *j = r->body.len ? json_loadb(r->body.data, r->body.len, 0, &jerr) : NULL;
	if (!json_is_object(j)) {
		if (!r->body.len)
			*reply = http_error(r, 400, "bad_request", "expected a JSON object in the body");
		else if (!j)
			*reply = http_error(r, 400, "bad_request", "body is not JSON: line %d: %s", jerr.line,
					    jerr.text);
		else
			*reply = http_error(r, 400, "bad_request", "expected a JSON object in the body");
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- parked requests and slow work off the polling thread ---------------- */

void http_suspend(struct http_req *r)
{
	struct http_server *h = r->app->http;
	pthread_mutex_lock(&h->lock);
	h->parked++;
	pthread_mutex_unlock(&h->lock);
	MHD_suspend_connection(r->conn);
}

void http_resume(struct http_req *r)
{
	/* Read what is needed first: once resumed, the request may end (and be freed) at once. */
	struct http_server *h = r->app->http;
	struct MHD_Connection *conn = r->conn;
	pthread_mutex_lock(&h->lock);
	MHD_resume_connection(conn);
	if (--h->parked == 0)
		pthread_cond_broadcast(&h->idle);
	pthread_mutex_unlock(&h->lock);
}

bool http_closing(const struct http_req *r)
{
	struct http_server *h = r->app->http;
	pthread_mutex_lock(&h->lock);
	bool closing = h->closing;
	pthread_mutex_unlock(&h->lock);
	return closing;
}

/* A pool thread: run jobs until stopped and the queue is empty. */
static void *defer_main(void *arg)
{
	struct http_server *h = arg;
	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!h->head && !h->stop)
			pthread_cond_wait(&h->wake, &h->lock);
		struct defer_job *j = h->head;
		if (!j)
			break; /* stopping, nothing left */
		h->head = j->next;
		if (!h->head)
			h->tail = NULL;
		pthread_mutex_unlock(&h->lock);
		j->fn(j->ctx);
		j->r->deferred = false;
		/* The handler runs again on the polling thread and answers. */
		http_resume(j->r);
		free(j);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

bool http_defer(struct http_req *r, void (*fn)(void *ctx), void *ctx)
{
	struct http_server *h = r->app->http;
	if (!h || !h->npool) {
		fn(ctx);
		return false;
	}
	struct defer_job *j = tb_xcalloc(1, sizeof *j);
	*j = (struct defer_job){.r = r, .fn = fn, .ctx = ctx};
	r->deferred = true;
	http_suspend(r);
	pthread_mutex_lock(&h->lock);
	if (h->tail)
		h->tail->next = j;
	else
		h->head = j;
	h->tail = j;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	return true;
}

static void defer_start(struct http_server *h)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int want = cores < 1 ? 1 : cores > DEFER_THREADS_MAX ? DEFER_THREADS_MAX : (int)cores;
	for (int i = 0; i < want; i++)
		if (pthread_create(&h->pool[h->npool], NULL, defer_main, h) == 0)
			h->npool++;
	/* No threads: http_defer runs the work inline, as before the pool. */
}

/* Finish every queued job (each resumes its connection), then join the pool. */
static void defer_stop(struct http_server *h)
{
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_broadcast(&h->wake);
	pthread_mutex_unlock(&h->lock);
	for (int i = 0; i < h->npool; i++)
		pthread_join(h->pool[i], NULL);
	h->npool = 0;
}

static bool state_changing(const char *method)
{
	return strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "OPTIONS");
}

int http_login_wait(struct http_req *r)
{
	return throttle_wait_s(r->app->logins, r->client, srv_mono_ms());
}

void http_login_outcome(struct http_req *r, bool ok)
{
	if (ok)
		throttle_succeeded(r->app->logins, r->client);
	else
		throttle_failed(r->app->logins, r->client, srv_mono_ms());
}

enum MHD_Result http_too_many(struct http_req *r, int wait_s)
{
	return http_too_many_what(r, wait_s, "too many wrong tokens from your address");
}

enum MHD_Result http_too_many_what(struct http_req *r, int wait_s, const char *what)
{
	char msg[200], after[16];
	snprintf(msg, sizeof msg, "%s: try again in %d s", what, wait_s);
	snprintf(after, sizeof after, "%d", wait_s);
	json_t *body = json_pack("{s:s, s:s}", "error", "too_many_attempts", "message", msg);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "Retry-After", after);
	return http_send(r, 429, resp);
}

/*
 * Fetch metadata (Sec-Fetch-Site, sent by every current browser): a state
 * change started by another site, or by a sibling sub-domain, is refused
 * even when its Origin could not be checked. "same-origin" is our page,
 * "none" the user typing a URL; a missing header is curl or a script.
 */
static bool fetch_site_ok(const char *site)
{
	return !site || !strcmp(site, "same-origin") || !strcmp(site, "none");
}

/* Who is asking: the peer address as the throttle's key. */
static void client_key(struct http_req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	srv_addr_key(ci ? ci->client_addr : NULL, r->client, sizeof r->client);
}

/* What the route's row says of every request: numeric query parameters, body size. */
static enum MHD_Result route_checks(struct http_req *r, bool *answered)
{
	*answered = true;
	if (r->route->ints) {
		struct int_check c = {.params = r->route->ints};
		MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_int_arg, &c);
		if (c.bad)
			return http_error(r, 400, "bad_request", "%s must be a whole number from %lld to %lld, not '%s'",
					  c.bad->name, (long long)c.bad->min, (long long)c.bad->max, c.value);
	}
	const char *cl = http_header(r, "Content-Length");
	if (cl && strtoull(cl, NULL, 10) > r->route->body_max)
		return http_error(r, 413, "too_large", "the body is limited to %zu bytes", r->route->body_max);
	*answered = false;
	return MHD_YES;
}

bool http_request_https(struct http_req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	return auth_forwarded_https(&r->app->auth, ci ? ci->client_addr : NULL,
				    http_header(r, "X-Forwarded-Proto"));
}

/* First call for a request: everything that can be decided from the headers. */
static enum MHD_Result first_call(struct http_server *h, struct http_req *r, const char *url,
				  bool *answered)
{
	struct app *app = h->app;
	const char *base = app->cfg.base_url;
	size_t blen = strlen(base);
	*answered = true;
	if (strncmp(url, base, blen)) {
		/* "/trainbook" without the slash: send the browser to the app. */
		if (strlen(url) + 1 == blen && !strncmp(url, base, blen - 1)) {
			struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
			MHD_add_response_header(resp, "Location", base);
			return http_send(r, 302, resp);
		}
		return http_error(r, 404, "not_found", "not found (the app lives under %s)", base);
	}
	r->path = tb_xmalloc(strlen(url) - blen + 2);
	r->path[0] = '/';
	strcpy(r->path + 1, url + blen);
	bool known;
	r->route = http_match(r->method, r->path, r->params, &r->nparams, &known);
	client_key(r);
	if (r->route && r->route->access == HTTP_RUN_SECRET)
		return route_checks(r, answered); /* the handler checks the run's secret */
	const char *host = http_header(r, "Host");
	if (!auth_host_ok(&app->auth, host))
		return http_error(r, 403, "forbidden",
				  "Host '%s' is not this server (start it with --allow-host NAME to accept it)",
				  host ? host : "");
	/* Any method: a cross-origin GET has no business here either, and our
	 * own page's same-origin GETs carry no Origin at all. */
	if (!auth_origin_ok(http_header(r, "Origin"), host))
		return http_error(r, 403, "forbidden", "cross-origin request refused");
	if (state_changing(r->method) && !fetch_site_ok(http_header(r, "Sec-Fetch-Site")))
		return http_error(r, 403, "forbidden", "a request from another site may not change anything here");
	int wait = 0;
	enum ident_result who = ident_check(&app->ident, http_header(r, "Cookie"), http_header(r, "Authorization"),
					    NULL, r->client, &r->who, &wait);
	if (who == IDENT_THROTTLED)
		return http_too_many(r, wait);
	r->authorized = who == IDENT_OK;
	/* Every /api/ path needs a login but the few the table marks public (logging in itself). */
	bool api = !strncmp(r->path, "/api/", 5) || !strcmp(r->path, "/api");
	bool public_api = api && r->route && r->route->access == HTTP_PUBLIC && !strncmp(r->route->pattern, "/api/", 5);
	if (((api && !public_api) || (r->route && r->route->access == HTTP_TOKEN)) && !r->authorized) {
		if (app->cfg.accounts)
			return http_error(r, 401, "unauthorized",
					  "log in first (scripts: Authorization: token <your API token>)");
		return http_error(r, 401, "unauthorized",
				  "this needs the token printed at start-up (Authorization: token …)");
	}
	if (!r->route) {
		if (known)
			return http_error(r, 405, "method_not_allowed", "%s is not allowed here", r->method);
		return http_error(r, 404, "not_found", "no such route: %s", r->path);
	}
	/* Who may touch what the URL names: decided here, never by the handler. */
	struct access_verdict v;
	if (!access_url(&app->access, &r->who, r->route->rule, r->params, r->nparams, &v))
		return http_error(r, v.status, v.code, "%s", v.message);
	return route_checks(r, answered);
}

/*
 * Rules that name fields of the body (a notebook to create, copy or run)
 * are decided once it is all in, still before the handler. The parsed
 * body stays with the request, so the handler does not parse it again.
 */
static bool body_allowed(struct http_req *r, enum MHD_Result *reply)
{
	enum access_rule rule = r->route->rule;
	if (rule <= ACCESS_NONE || rule >= ACCESS_NRULES || !access_rules[rule].reads_body || r->who.instructor)
		return true;
	if (r->body.len && !r->body_json) /* once: a deferred handler comes back through here */
		r->body_json = json_loadb(r->body.data, r->body.len, 0, NULL);
	struct access_verdict v;
	if (access_body(&r->app->access, &r->who, rule, r->body_json, &v))
		return true;
	*reply = http_error(r, v.status, v.code, "%s", v.message);
	return false;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct http_server *h = cls;
	struct http_req *r = *con_cls;
	if (!r) {
		r = tb_xcalloc(1, sizeof *r);
		r->conn = conn;
		r->app = h->app;
		r->method = method;
		*con_cls = r;
		return first_call(h, r, url, &r->answered);
	}
	if (*upload_data_size) {
		/* After an early answer the rest of the body is read and dropped. */
		if (!r->answered && !r->too_large) {
			if (r->body.len + *upload_data_size > r->route->body_max)
				r->too_large = true;
			else
				srv_buf_append(&r->body, upload_data, *upload_data_size);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->answered)
		return MHD_YES;
	if (r->too_large)
		return http_error(r, 413, "too_large", "the body is limited to %zu bytes", r->route->body_max);
	enum MHD_Result reply;
	if (!body_allowed(r, &reply))
		return reply;
	return r->route->handler(r);
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct http_req *r = *con_cls;
	if (!r)
		return;
	if (r->job_free)
		r->job_free(r->job);
	for (int i = 0; i < r->nparams; i++)
		free(r->params[i]);
	free(r->path);
	srv_buf_free(&r->body);
	json_decref(r->body_json);
	if (r->defer_free)
		r->defer_free(r->defer_ctx);
	free(r);
	*con_cls = NULL;
}

/*
 * %XX decoding of the path and query, like libmicrohttpd's own, except
 * that %00 becomes DEL (0x7f): a NUL would cut the C string short and
 * "a.ipynb%00.txt" would name a.ipynb, whereas every path check refuses
 * control characters outright.
 */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	static const char hex[] = "0123456789abcdef";
	char *w = s;
	for (const char *p = s; *p; p++) {
		const char *hi = p[0] == '%' && p[1] ? strchr(hex, tolower((unsigned char)p[1])) : NULL;
		const char *lo = hi && p[2] ? strchr(hex, tolower((unsigned char)p[2])) : NULL;
		if (hi && lo) {
			int c = (int)((hi - hex) * 16 + (lo - hex));
			*w++ = c ? (char)c : 0x7f;
			p += 2;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	srv_log("http: %s", msg);
}

struct http_server *http_new(struct app *app, char *err, size_t errlen)
{
	struct http_server *h = tb_xcalloc(1, sizeof *h);
	h->app = app;
	/* No listen socket: the front door accepts and hands us connections.
	 * (THREAD_PER_CONNECTION refuses EPOLL, and NO_LISTEN_SOCKET ignores
	 * a thread pool, so one epoll thread serves HTTP.) */
	unsigned flags = MHD_USE_NO_LISTEN_SOCKET | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	pthread_cond_init(&h->idle, NULL);
	h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, h,
				     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				     MHD_OPTION_NOTIFY_COMPLETED, completed_cb, h,
				     MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)16384,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
				     MHD_OPTION_END);
	if (!h->daemon) {
		snprintf(err, errlen, "libmicrohttpd: cannot start");
		pthread_mutex_destroy(&h->lock);
		pthread_cond_destroy(&h->wake);
		pthread_cond_destroy(&h->idle);
		free(h);
		return NULL;
	}
	defer_start(h);
	return h;
}

void http_free(struct http_server *h)
{
	if (!h)
		return;
	/* libmicrohttpd must not close a parked request under its worker: the
	 * pool finishes its queue (each job resumes its request), the rest of
	 * the parked work is told to give up, and we wait until every parked
	 * request has been resumed. */
	defer_stop(h);
	pthread_mutex_lock(&h->lock);
	h->closing = true;
	while (h->parked > 0)
		pthread_cond_wait(&h->idle, &h->lock);
	pthread_mutex_unlock(&h->lock);
	MHD_stop_daemon(h->daemon);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->wake);
	pthread_cond_destroy(&h->idle);
	free(h);
}

int http_add_connection(struct http_server *h, int fd, const struct sockaddr *addr, socklen_t len)
{
	return MHD_add_connection(h->daemon, fd, addr, len) == MHD_YES ? 0 : -1;
}
