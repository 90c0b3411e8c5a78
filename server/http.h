/*
 * http.h — the HTTP side on libmicrohttpd: request life cycle (base URL,
 * route match, Host / Origin / token checks, bounded bodies), the route
 * table's types, and reply helpers that add the common headers.
 *
 * What it is not: the handlers (routes_*.c) or the listening socket
 * (frontdoor.c hands accepted connections to http_add_connection).
 *
 * Threads: libmicrohttpd's internal polling thread runs every handler;
 * http_add_connection is called from the front-door thread.
 */
#ifndef TB_SERVER_HTTP_H
#define TB_SERVER_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util.h"

struct app;
struct http_server;
struct http_req;

#define HTTP_MAX_PARAMS 4

typedef enum MHD_Result (*http_handler)(struct http_req *req);

enum http_access {
	HTTP_TOKEN = 1,  /* needs the token (every /api/ route and /ws) */
	HTTP_PUBLIC = 2, /* the login form and static files */
	HTTP_PAGE = 3,   /* the page: login form without the token */
	HTTP_RUN_SECRET = 4, /* a worker started by a cluster: its run's secret (X-Trainbook-Run-Secret),
			      * checked by the handler; never the token, and no Host/Origin rules
			      * (no browser sends it) */
};

/* "token", "public", "page", "secret": for --list-routes and GET /api/routes. */
const char *http_access_name(enum http_access a);

/* A numeric query parameter a route takes: checked before its handler runs. */
struct http_int_param {
	const char *name;       /* NULL ends a list */
	int64_t min, max;       /* accepted range, both included */
};

struct http_route {
	const char *method;     /* GET POST PUT PATCH DELETE */
	const char *pattern;    /* "/api/runs/{id}/events"; "{name*}" takes the rest */
	enum http_access access;
	size_t body_max;        /* bytes accepted; 0 = no body */
	http_handler handler;
	const char *summary;    /* one line for --list-routes */
	const struct http_int_param *ints; /* numeric query parameters; NULL = none */
};

extern const struct http_route http_routes[];
extern const size_t http_nroutes;

struct http_req {
	struct MHD_Connection *conn;
	struct app *app;
	const struct http_route *route;
	const char *method;
	char *path;                      /* below the base URL, starting with '/' */
	char *params[HTTP_MAX_PARAMS];   /* the {…} parts of the pattern, in order */
	int nparams;
	struct srv_buf body;             /* up to route->body_max bytes */
	bool too_large;
	bool answered;                   /* an error was queued from the headers alone */
	bool authorized;                 /* the request carried the session cookie or the token */
	char csp_nonce[40];              /* "" until http_csp_nonce made one for this answer */
	char client[64];                 /* srv_addr_key of the peer, the login throttle's key */
	void *job;                       /* a handler's state across http_suspend (a worker job); owned */
	void (*job_free)(void *job);     /* called when the request ends */
};

struct http_server *http_new(struct app *app, char *err, size_t errlen);
/* Stop the daemon: open connections are closed. */
void http_free(struct http_server *h);
/* Serve an accepted socket; the server owns fd from now on (closes it on failure). */
int http_add_connection(struct http_server *h, int fd, const struct sockaddr *addr, socklen_t len);

/* Match METHOD + path against the table; fills params (malloc'd) on success. */
const struct http_route *http_match(const char *method, const char *path, char **params, int *nparams,
				    bool *path_known);

/* Print the table, one route a line: METHOD PATTERN ACCESS SUMMARY. */
void http_print_routes(void *stdio_file);

/* ---- helpers for handlers ---- */
const char *http_header(struct http_req *r, const char *name);
const char *http_query(struct http_req *r, const char *name);
/* A numeric parameter of r->route->ints (already checked against its range), or dflt when absent. */
int64_t http_query_int(struct http_req *r, const char *name, int64_t dflt);

/*
 * A fresh random nonce for this answer's Content-Security-Policy: the
 * policy then allows <style nonce="…"> (the login form's, CodeMirror's).
 * Valid for this request only.
 */
const char *http_csp_nonce(struct http_req *r);

/*
 * The login throttle for the request's client address: 0 when it may show
 * a token now, else the seconds to wait. Record each token it showed with
 * http_login_outcome (a wrong one costs a try, a right one clears them).
 */
int http_login_wait(struct http_req *r);
void http_login_outcome(struct http_req *r, bool ok);
/* 429 {"error":"too_many_attempts"} with Retry-After. */
enum MHD_Result http_too_many(struct http_req *r, int wait_s);
/*
 * Park the request while something slow runs elsewhere (a worker process):
 * the handler returns MHD_YES without answering, and after http_resume —
 * callable from any thread, once — libmicrohttpd calls the handler again,
 * which then finds its r->job done and answers. The request cannot end
 * while parked, so whoever resumes may use r until http_resume and never
 * after. http_free waits for every parked request to be resumed;
 * http_closing tells the slow work to give up.
 */
void http_suspend(struct http_req *r);
void http_resume(struct http_req *r);
bool http_closing(const struct http_req *r);

/* Parse the body as a JSON object; on failure replies 400 and returns NULL. */
json_t *http_body_json(struct http_req *r, enum MHD_Result *reply);

/* Queue `resp` with the common headers (nosniff, referrer, framing, CSP); destroys resp. */
enum MHD_Result http_send(struct http_req *r, unsigned status, struct MHD_Response *resp);
/* JSON reply; takes ownership of body (NULL = no body). */
enum MHD_Result http_json(struct http_req *r, unsigned status, json_t *body);
/* Reply with text we already have (copied). */
enum MHD_Result http_raw(struct http_req *r, unsigned status, const char *content_type,
			 const char *data, size_t len);
/* {"error":code,"message":…} */
enum MHD_Result http_error(struct http_req *r, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
