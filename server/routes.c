/*
 * routes.c — the route table: every URL the server answers, its method,
 * who may call it, how big a body it takes and who handles it. The
 * integration tests read this table (trainbook serve --list-routes) to
 * check that every token route refuses a request without the token, so a
 * new route cannot slip past auth unnoticed.
 *
 * Threads: read-only data.
 */
#include "routes.h"

#include <stdint.h>

#include "notebooks.h"
#include "store.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
/* A spec is at most 1 MiB of YAML; escaped inside JSON it can grow. */
#define SPEC_BODY (2 * MiB + 64 * KiB)

/* Numeric query parameters: the request is refused (400) before the handler
 * runs unless each is a whole number in range; handlers read them with
 * http_query_int. */
static const struct http_int_param download_query[] = {{"download", 0, 1}, {NULL, 0, 0}};
static const struct http_int_param events_query[] = {
	{"since", 0, INT64_MAX}, {"limit", 1, ROUTE_EVENTS_MAX}, {NULL, 0, 0}};
static const struct http_int_param runs_query[] = {
	{"limit", 1, ROUTE_RUNS_MAX}, {"hparams", 0, 1}, {NULL, 0, 0}};
static const struct http_int_param series_query[] = {
	{"from", 0, INT64_MAX}, {"to", 0, INT64_MAX}, {"span", 1, INT64_MAX}, {"points", 1, STORE_SERIES_POINTS_MAX},
	{NULL, 0, 0}};

const struct http_route http_routes[] = {
	{"GET", "/api/status", HTTP_TOKEN, 0, route_status, "server version, run counts, workspace", NULL},
	{"GET", "/api/system", HTTP_TOKEN, 0, route_system, "GPU, CPU and memory use", NULL},
	{"GET", "/api/routes", HTTP_TOKEN, 0, route_routes, "this table as JSON", NULL},

	{"GET", "/api/notebooks", HTTP_TOKEN, 0, route_nb_list, "list notebooks", NULL},
	{"POST", "/api/notebooks", HTTP_TOKEN, NB_MAX_BYTES + 64 * KiB, route_nb_create,
	 "create or upload a notebook", NULL},
	{"GET", "/api/notebooks/{path*}", HTTP_TOKEN, 0, route_nb_get, "read (or ?download=1) a notebook",
	 download_query},
	{"PUT", "/api/notebooks/{path*}", HTTP_TOKEN, NB_MAX_BYTES, route_nb_save,
	 "save a notebook (If-Match)", NULL},
	{"PATCH", "/api/notebooks/{path*}", HTTP_TOKEN, 64 * KiB, route_nb_rename, "rename a notebook", NULL},
	{"DELETE", "/api/notebooks/{path*}", HTTP_TOKEN, 0, route_nb_delete, "delete a notebook", NULL},

	{"POST", "/api/validate", HTTP_TOKEN, SPEC_BODY, route_validate, "check a spec, infer shapes", NULL},
	{"POST", "/api/runs", HTTP_TOKEN, SPEC_BODY, route_run_create, "queue a run", NULL},
	{"GET", "/api/runs", HTTP_TOKEN, 0, route_run_list,
	 "list run summaries, newest first (?limit=&before=rN&notebook=&cell=&hparams=1)", runs_query},
	{"GET", "/api/runs/{id}", HTTP_TOKEN, 0, route_run_get, "one run", NULL},
	{"PATCH", "/api/runs/{id}", HTTP_TOKEN, 80 * KiB, route_run_edit, "name, notes, tags, archived", NULL},
	{"DELETE", "/api/runs/{id}", HTTP_TOKEN, 0, route_run_delete, "delete a run and its files", NULL},
	{"POST", "/api/runs/{id}/stop", HTTP_TOKEN, 4 * KiB, route_run_stop, "stop (checkpoint first)", NULL},
	{"POST", "/api/runs/{id}/resume", HTTP_TOKEN, 4 * KiB, route_run_resume,
	 "resume from a checkpoint", NULL},
	{"POST", "/api/runs/{id}/evaluate", HTTP_TOKEN, 4 * KiB, route_run_evaluate,
	 "evaluate a checkpoint on the test split", NULL},
	{"GET", "/api/runs/{id}/events", HTTP_TOKEN, 0, route_run_events,
	 "stored events since a seq (&exclude=metric)", events_query},
	{"GET", "/api/runs/{id}/series", HTTP_TOKEN, 0, route_run_series,
	 "one metric downsampled for drawing (?metric=&split=&from=&to=&span=&points=)", series_query},
	{"GET", "/api/series", HTTP_TOKEN, 0, route_series,
	 "the same metric of several runs (?runs=r1,r2&metric=…)", series_query},
	{"GET", "/api/runs/{id}/metrics.csv", HTTP_TOKEN, 0, route_metrics_csv, "metrics as CSV", NULL},
	{"GET", "/api/runs/{id}/metrics.json", HTTP_TOKEN, 0, route_metrics_json, "metrics as JSON", NULL},
	{"GET", "/api/runs/{id}/checkpoints", HTTP_TOKEN, 0, route_checkpoint_list, "list checkpoints", NULL},
	{"GET", "/api/runs/{id}/checkpoints/{file}", HTTP_TOKEN, 0, route_checkpoint_get,
	 "download a checkpoint", NULL},

	/* Reaches libmicrohttpd only when a WebSocket upgrade arrives on a reused
	 * keep-alive connection; the front door sends fresh ones to libwebsockets. */
	{"GET", "/ws", HTTP_TOKEN, 0, route_ws_over_http, "live feed (WebSocket)", NULL},

	{"POST", "/login", HTTP_PUBLIC, 4 * KiB, route_login, "log in with the token (form)", NULL},
	{"GET", "/", HTTP_PAGE, 0, route_page, "the page, or the login form", NULL},
	{"GET", "/{file*}", HTTP_PUBLIC, 0, route_page, "static files of the page", NULL},
};

const size_t http_nroutes = sizeof http_routes / sizeof http_routes[0];
