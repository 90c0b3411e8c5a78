/*
 * http.c — request life cycle on libmicrohttpd (see http.h).
 *
 * Threads: access_cb and completed_cb run on libmicrohttpd's polling
 * thread; http_add_connection on the front-door thread (libmicrohttpd
 * wakes its thread through its ITC for that).
 */
#include "http.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "auth.h"
#include "tb.h"

struct http_server {
	struct MHD_Daemon *daemon;
	struct app *app;
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

void http_print_routes(void *stdio_file)
{
	FILE *f = stdio_file;
	static const char *const access[] = {"", "token", "public", "page"};
	for (size_t i = 0; i < http_nroutes; i++)
		fprintf(f, "%-7s %-38s %-7s %s\n", http_routes[i].method, http_routes[i].pattern,
			access[http_routes[i].access], http_routes[i].summary);
}

const char *http_header(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

enum MHD_Result http_send(struct http_req *r, unsigned status, struct MHD_Response *resp)
{
	(void)r;
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* The start-up URL carries the token: no Referer to other sites. Not
	 * no-referrer: under it Chromium sends Origin: null on form posts. */
	MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
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

static bool state_changing(const char *method)
{
	return strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "OPTIONS");
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
	const char *host = http_header(r, "Host");
	if (!auth_host_ok(&app->auth, host))
		return http_error(r, 403, "forbidden",
				  "Host '%s' is not this server (start it with --allow-host NAME to accept it)",
				  host ? host : "");
	if (state_changing(r->method) && !auth_origin_ok(http_header(r, "Origin"), host))
		return http_error(r, 403, "forbidden", "cross-origin request refused");
	r->authorized = auth_request_ok(&app->auth, http_header(r, "Authorization"),
					http_header(r, "Cookie"), NULL);
	bool known;
	r->route = http_match(r->method, r->path, r->params, &r->nparams, &known);
	bool api = !strncmp(r->path, "/api/", 5) || !strcmp(r->path, "/api");
	if ((api || (r->route && r->route->access == HTTP_TOKEN)) && !r->authorized)
		return http_error(r, 401, "unauthorized",
				  "this needs the token printed at start-up (Authorization: token …)");
	if (!r->route) {
		if (known)
			return http_error(r, 405, "method_not_allowed", "%s is not allowed here", r->method);
		return http_error(r, 404, "not_found", "no such route: %s", r->path);
	}
	const char *cl = http_header(r, "Content-Length");
	if (cl && strtoull(cl, NULL, 10) > r->route->body_max)
		return http_error(r, 413, "too_large", "the body is limited to %zu bytes", r->route->body_max);
	*answered = false;
	return MHD_YES;
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
	for (int i = 0; i < r->nparams; i++)
		free(r->params[i]);
	free(r->path);
	srv_buf_free(&r->body);
	free(r);
	*con_cls = NULL;
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
			 MHD_USE_ITC | MHD_USE_ERROR_LOG;
	h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, h,
				     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				     MHD_OPTION_NOTIFY_COMPLETED, completed_cb, h,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)16384,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
				     MHD_OPTION_END);
	if (!h->daemon) {
		snprintf(err, errlen, "libmicrohttpd: cannot start");
		free(h);
		return NULL;
	}
	return h;
}

void http_free(struct http_server *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	free(h);
}

int http_add_connection(struct http_server *h, int fd, const struct sockaddr *addr, socklen_t len)
{
	return MHD_add_connection(h->daemon, fd, addr, len) == MHD_YES ? 0 : -1;
}
