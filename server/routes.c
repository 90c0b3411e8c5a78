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

#include "notebooks.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
/* A spec is at most 1 MiB of YAML; escaped inside JSON it can grow. */
#define SPEC_BODY (2 * MiB + 64 * KiB)

const struct http_route http_routes[] = {
	{"GET", "/api/status", HTTP_TOKEN, 0, route_status, "server version, run counts, workspace"},
	{"GET", "/api/system", HTTP_TOKEN, 0, route_system, "GPU, CPU and memory use"},
	{"GET", "/api/routes", HTTP_TOKEN, 0, route_routes, "this table as JSON"},

	{"GET", "/api/notebooks", HTTP_TOKEN, 0, route_nb_list, "list notebooks"},
	{"POST", "/api/notebooks", HTTP_TOKEN, NB_MAX_BYTES + 64 * KiB, route_nb_create,
	 "create or upload a notebook"},
	{"GET", "/api/notebooks/{path*}", HTTP_TOKEN, 0, route_nb_get, "read (or ?download=1) a notebook"},
	{"PUT", "/api/notebooks/{path*}", HTTP_TOKEN, NB_MAX_BYTES, route_nb_save,
	 "save a notebook (If-Match)"},
	{"PATCH", "/api/notebooks/{path*}", HTTP_TOKEN, 64 * KiB, route_nb_rename, "rename a notebook"},
	{"DELETE", "/api/notebooks/{path*}", HTTP_TOKEN, 0, route_nb_delete, "delete a notebook"},

	{"POST", "/api/validate", HTTP_TOKEN, SPEC_BODY, route_validate, "check a spec, infer shapes"},
	{"POST", "/api/runs", HTTP_TOKEN, SPEC_BODY, route_run_create, "queue a run"},
	{"GET", "/api/runs", HTTP_TOKEN, 0, route_run_list, "list runs, newest first"},
	{"GET", "/api/runs/{id}", HTTP_TOKEN, 0, route_run_get, "one run"},
	{"DELETE", "/api/runs/{id}", HTTP_TOKEN, 0, route_run_delete, "delete a run and its files"},
	{"POST", "/api/runs/{id}/stop", HTTP_TOKEN, 4 * KiB, route_run_stop, "stop (checkpoint first)"},
	{"POST", "/api/runs/{id}/resume", HTTP_TOKEN, 4 * KiB, route_run_resume,
	 "resume from a checkpoint"},
	{"GET", "/api/runs/{id}/events", HTTP_TOKEN, 0, route_run_events, "stored events since a seq"},
	{"GET", "/api/runs/{id}/metrics.csv", HTTP_TOKEN, 0, route_metrics_csv, "metrics as CSV"},
	{"GET", "/api/runs/{id}/metrics.json", HTTP_TOKEN, 0, route_metrics_json, "metrics as JSON"},
	{"GET", "/api/runs/{id}/checkpoints", HTTP_TOKEN, 0, route_checkpoint_list, "list checkpoints"},
	{"GET", "/api/runs/{id}/checkpoints/{file}", HTTP_TOKEN, 0, route_checkpoint_get,
	 "download a checkpoint"},

	/* Reaches libmicrohttpd only when a WebSocket upgrade arrives on a reused
	 * keep-alive connection; the front door sends fresh ones to libwebsockets. */
	{"GET", "/ws", HTTP_TOKEN, 0, route_ws_over_http, "live feed (WebSocket)"},

	{"POST", "/login", HTTP_PUBLIC, 4 * KiB, route_login, "log in with the token (form)"},
	{"GET", "/", HTTP_PAGE, 0, route_page, "the page, or the login form"},
	{"GET", "/{file*}", HTTP_PUBLIC, 0, route_page, "static files of the page"},
};

const size_t http_nroutes = sizeof http_routes / sizeof http_routes[0];
