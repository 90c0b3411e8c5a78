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

#include "access.h"
#include "accounts.h"
#include "util.h"

struct app;
struct http_server;
struct http_req;

#define HTTP_MAX_PARAMS 4

typedef enum MHD_Result (*http_handler)(struct http_req *req);

/* Who must have signed in: the first gate. What they may touch is the row's access_rule. */
enum http_access {
	HTTP_TOKEN = 1,  /* needs a login: the token, a session or an API token (every /api/ route but login, and /ws) */
	HTTP_PUBLIC = 2, /* the login forms and static files */
	HTTP_PAGE = 3,   /* the page: login form without a login */
	HTTP_RUN_SECRET = 4, /* a worker started by a cluster: its run's secret (X-Trainbook-Run-Secret),
			      * checked by the handler; never a login, and no Host/Origin rules
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
	enum access_rule rule;  /* what the caller may touch (access.h); every row names one */
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
	bool authorized;                 /* the request carried a valid cookie, token or API token */
	struct acct_who who;             /* who that is (single-user: the OS user, an instructor) */
	json_t *body_json;               /* the body parsed for an access rule, kept for the handler */
	/* Slow work (http_defer): the handler's state across the suspension. */
	void *defer_ctx;                 /* the handler's, freed with defer_free when the request ends */
	void (*defer_free)(void *ctx);
	bool deferred;                   /* suspended now; the handler runs again once the work is done */
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

/* Print the table, one route a line: METHOD PATTERN ACCESS RULE SUMMARY. */
void http_print_routes(void *stdio_file);
/* The names of the access column: "token", "public", "page". */
const char *http_access_name(enum http_access a);

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
/* 429 {"error":"too_many_attempts"} with Retry-After; `what` says what was wrong too often. */
enum MHD_Result http_too_many(struct http_req *r, int wait_s);
/*
 * Whether the browser reached us over https (through a trusted proxy that
 * says so: auth_forwarded_https). Cookies set in the answer get `Secure`
 * when it is true.
 */
bool http_request_https(struct http_req *r);
enum MHD_Result http_too_many_what(struct http_req *r, int wait_s, const char *what);
/*
 * Run fn(ctx) off libmicrohttpd's thread (argon2id takes ~45 ms a login;
 * 60 logins at once must not stall everyone's page for seconds): the
 * connection is suspended, a worker of a small pool (one per core, at most
 * 4) runs fn, and the handler is called again, with r->deferred false,
 * once it is done. Returns true when suspended (the handler returns
 * MHD_YES at once), false when fn already ran inline (no pool). fn must
 * not touch r: copy what it needs into ctx first. Built on http_suspend.
 */
bool http_defer(struct http_req *r, void (*fn)(void *ctx), void *ctx);

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

/* Parse the body as a JSON object (a new reference); on failure replies 400 and returns NULL. */
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
