/*
 * app.h — the pieces of a running server, handed to every route handler.
 *
 * What it is: a plain struct wiring modules together (serve_main.c fills it
 * in order and tears it down in reverse). What it is not: a place for
 * logic or mutable state of its own; each module guards its own.
 *
 * Threads: filled on the main thread before any other thread starts; the
 * pointers are read-only afterwards.
 */
#ifndef TB_SERVER_APP_H
#define TB_SERVER_APP_H

#include <limits.h>
#include <stdint.h>

#include "access.h"
#include "accounts.h"
#include "auth.h"
#include "config.h"
#include "identity.h"
#include "notebooks.h"

struct store;
struct runq;
struct sweeps;
struct ws_server;
struct sysmon;
struct board;
struct http_server;
struct throttle;

#define TB_SERVER_VERSION "0.1.0"

struct app {
	struct cfg cfg;              /* settings after file + flags */
	struct auth auth;            /* token and accepted hosts */
	struct store *store;         /* <workspace>/.trainbook/trainbook.db */
	struct nb_store nb;          /* notebooks in the workspace */
	struct runq *runq;           /* queue and workers */
	struct sweeps *sweeps;       /* sweeps: their trials go through runq */
	struct ws_server *ws;        /* live feed */
	struct board *board;         /* the instructor board's summaries (board.h) */
	struct sysmon *sysmon;       /* GPU / CPU / memory sampler */
	struct http_server *http;    /* libmicrohttpd */
	struct throttle *logins;     /* wrong tokens per client address (HTTP and WebSocket) */
	struct throttle *account_logins; /* wrong passwords per account name (accounts mode) */
	struct acct_policy policy;   /* session and link lifetimes, where links point */
	struct ident ident;          /* who a request is (cookie, token, API token) */
	struct access_ctx access;    /* what the access rules are decided against */
	char owner[64];              /* OS user name, owner of what this server creates */
	char exe[PATH_MAX];          /* this binary, for spawning workers */
	int64_t started;             /* unix time of start-up */
	int port;                    /* the port actually bound */
};

/* <runs-dir>/rN (default <workspace>/.trainbook/runs/rN) */
void app_run_dir(const struct app *app, int64_t run, char *buf, size_t len);

#endif
