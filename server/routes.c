/*
 * routes.c — the route table: every URL the server answers, its method,
 * who must have logged in, what the caller may touch (the access rule of
 * access.h), how big a body it takes and who handles it. The integration
 * tests read this table (trainbook serve --list-routes) to check that
 * every token route refuses a request without a login, and that every
 * rule keeps one student out of another's work (the isolation sweep), so
 * a new route cannot slip past auth or ownership unnoticed.
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
/* 2,000 rows of name, e-mail and role. */
#define ROSTER_BODY (1 * MiB)
/* An image of at most 8 MiB, as base64 in JSON (4/3 of it) or a multipart part, with room for the rest. */
#define PREDICT_BODY (11 * MiB)

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
static const struct http_int_param worker_query[] = {{"first", 1, INT64_MAX}, {NULL, 0, 0}};

/*
 * Columns: method, pattern, who must have logged in (access), what the
 * caller may touch (rule, access.h: decided by http.c before the handler),
 * body limit, handler, summary, numeric query parameters.
 */
const struct http_route http_routes[] = {
	{"GET", "/api/status", HTTP_TOKEN, ACCESS_USER, 0, route_status, "server version, run counts, workspace", NULL},
	{"GET", "/api/system", HTTP_TOKEN, ACCESS_USER, 0, route_system,
	 "GPU, CPU and memory use (others' GPU processes unnamed)", NULL},
	{"GET", "/api/routes", HTTP_TOKEN, ACCESS_USER, 0, route_routes, "this table and the feed's as JSON", NULL},

	{"POST", "/api/login", HTTP_PUBLIC, ACCESS_PUBLIC, 4 * KiB, route_api_login,
	 "log in (name + password, a one-time link, or the token): sets the cookie", NULL},
	{"POST", "/api/logout", HTTP_TOKEN, ACCESS_USER, 4 * KiB, route_api_logout, "end this session", NULL},
	{"GET", "/api/me", HTTP_TOKEN, ACCESS_USER, 0, route_me, "who is logged in: name, role, mode", NULL},
	{"POST", "/api/me/password", HTTP_TOKEN, ACCESS_USER, 8 * KiB, route_me_password, "set my password", NULL},
	{"GET", "/api/me/tokens", HTTP_TOKEN, ACCESS_USER, 0, route_me_tokens, "my API tokens (never their secrets)",
	 NULL},
	{"POST", "/api/me/tokens", HTTP_TOKEN, ACCESS_USER, 4 * KiB, route_me_token_new,
	 "a new API token for scripts (shown once)", NULL},
	{"DELETE", "/api/me/tokens/{id}", HTTP_TOKEN, ACCESS_TOKEN, 0, route_me_token_revoke,
	 "revoke one of my API tokens", NULL},

	{"GET", "/api/users", HTTP_TOKEN, ACCESS_INSTRUCTOR, 0, route_users_list, "every user, with role and state", NULL},
	{"POST", "/api/users", HTTP_TOKEN, ACCESS_INSTRUCTOR, 8 * KiB, route_user_create,
	 "add a user: answers a one-time login link", NULL},
	{"POST", "/api/users/import", HTTP_TOKEN, ACCESS_INSTRUCTOR, ROSTER_BODY, route_users_import,
	 "import a roster (CSV body): a link per user (?format=csv)", NULL},
	{"GET", "/api/users/{name}", HTTP_TOKEN, ACCESS_INSTRUCTOR, 0, route_user_get, "one user", NULL},
	{"PATCH", "/api/users/{name}", HTTP_TOKEN, ACCESS_INSTRUCTOR, 8 * KiB, route_user_patch,
	 "change a user's role or e-mail", NULL},
	{"DELETE", "/api/users/{name}", HTTP_TOKEN, ACCESS_INSTRUCTOR, 0, route_user_delete,
	 "archive a user: logins end, their home moves to archive/", NULL},
	{"POST", "/api/users/{name}/link", HTTP_TOKEN, ACCESS_INSTRUCTOR, 4 * KiB, route_user_link,
	 "a new one-time login link for a user", NULL},
	{"POST", "/api/users/{name}/reset", HTTP_TOKEN, ACCESS_INSTRUCTOR, 4 * KiB, route_user_reset,
	 "reset a login: password removed, sessions ended, new link", NULL},
	{"POST", "/api/users/{name}/revoke", HTTP_TOKEN, ACCESS_INSTRUCTOR, 4 * KiB, route_user_revoke,
	 "end a user's sessions (and API tokens)", NULL},

	{"GET", "/api/notebooks", HTTP_TOKEN, ACCESS_USER, 0, route_nb_list, "list the notebooks the caller may read",
	 NULL},
	{"POST", "/api/notebooks", HTTP_TOKEN, ACCESS_NB_NEW, NB_MAX_BYTES + 64 * KiB, route_nb_create,
	 "create or upload a notebook", NULL},
	{"POST", "/api/notebooks/copy", HTTP_TOKEN, ACCESS_NB_COPY, 64 * KiB, route_nb_copy,
	 "copy a notebook (course/ into your home; publish into course/)", NULL},
	{"GET", "/api/notebooks/{path*}", HTTP_TOKEN, ACCESS_NB_READ, 0, route_nb_get,
	 "read (or ?download=1) a notebook", download_query},
	{"PUT", "/api/notebooks/{path*}", HTTP_TOKEN, ACCESS_NB_WRITE, NB_MAX_BYTES, route_nb_save,
	 "save a notebook (If-Match)", NULL},
	{"PATCH", "/api/notebooks/{path*}", HTTP_TOKEN, ACCESS_NB_MOVE, 64 * KiB, route_nb_rename, "rename a notebook",
	 NULL},
	{"DELETE", "/api/notebooks/{path*}", HTTP_TOKEN, ACCESS_NB_WRITE, 0, route_nb_delete, "delete a notebook",
	 NULL},

	{"POST", "/api/validate", HTTP_TOKEN, ACCESS_USER, SPEC_BODY, route_validate,
	 "check a spec, infer shapes (and where its data may come from)", NULL},
	{"POST", "/api/runs", HTTP_TOKEN, ACCESS_RUN_NEW, SPEC_BODY, route_run_create,
	 "queue a run (a spec with a sweep: section queues a sweep: {\"sweep\": …})", NULL},
	{"GET", "/api/runs", HTTP_TOKEN, ACCESS_USER, 0, route_run_list,
	 "list run summaries, newest first (?limit=&before=rN&notebook=&cell=&hparams=1); students: their own",
	 runs_query},
	{"GET", "/api/runs/{id}", HTTP_TOKEN, ACCESS_RUN, 0, route_run_get, "one run", NULL},
	{"PATCH", "/api/runs/{id}", HTTP_TOKEN, ACCESS_RUN, 80 * KiB, route_run_edit, "name, notes, tags, archived",
	 NULL},
	{"DELETE", "/api/runs/{id}", HTTP_TOKEN, ACCESS_RUN, 0, route_run_delete, "delete a run and its files", NULL},
	{"POST", "/api/runs/{id}/stop", HTTP_TOKEN, ACCESS_RUN, 4 * KiB, route_run_stop, "stop (checkpoint first)",
	 NULL},
	{"POST", "/api/runs/{id}/kill", HTTP_TOKEN, ACCESS_RUN, 4 * KiB, route_run_kill,
	 "end a run now, without a checkpoint", NULL},
	{"POST", "/api/runs/{id}/resume", HTTP_TOKEN, ACCESS_RUN, 4 * KiB, route_run_resume,
	 "resume from a checkpoint", NULL},
	{"POST", "/api/runs/{id}/evaluate", HTTP_TOKEN, ACCESS_RUN, 4 * KiB, route_run_evaluate,
	 "evaluate a checkpoint on the test split", NULL},
	{"POST", "/api/runs/{id}/extend", HTTP_TOKEN, ACCESS_INSTRUCTOR, 4 * KiB, route_run_extend,
	 "raise a run's duration limit by {\"seconds\": N}", NULL},
	{"GET", "/api/runs/{id}/events", HTTP_TOKEN, ACCESS_RUN, 0, route_run_events,
	 "stored events since a seq (&exclude=metric)", events_query},
	{"GET", "/api/runs/{id}/series", HTTP_TOKEN, ACCESS_RUN, 0, route_run_series,
	 "one metric downsampled for drawing (?metric=&split=&from=&to=&span=&points=)", series_query},
	{"GET", "/api/series", HTTP_TOKEN, ACCESS_USER, 0, route_series,
	 "the same metric of several runs (?runs=r1,r2&metric=…); students: their own", series_query},
	{"GET", "/api/runs/{id}/metrics.csv", HTTP_TOKEN, ACCESS_RUN, 0, route_metrics_csv, "metrics as CSV", NULL},
	{"GET", "/api/runs/{id}/metrics.json", HTTP_TOKEN, ACCESS_RUN, 0, route_metrics_json, "metrics as JSON", NULL},
	{"GET", "/api/runs/{id}/checkpoints", HTTP_TOKEN, ACCESS_RUN, 0, route_checkpoint_list, "list checkpoints",
	 NULL},
	{"GET", "/api/runs/{id}/checkpoints/{file}", HTTP_TOKEN, ACCESS_RUN, 0, route_checkpoint_get,
	 "download a checkpoint", NULL},
	{"GET", "/api/runs/{id}/checkpoints/{file}/model.onnx", HTTP_TOKEN, ACCESS_RUN, 0, route_checkpoint_onnx,
	 "a checkpoint as ONNX (exported by a short-lived worker)", NULL},
	{"POST", "/api/runs/{id}/predict", HTTP_TOKEN, ACCESS_RUN, PREDICT_BODY, route_run_predict,
	 "classify a PNG/JPEG with a checkpoint (multipart or JSON base64)", NULL},

	{"GET", "/api/quota", HTTP_TOKEN, ACCESS_USER, 0, route_quota_mine, "my quota limits and what I have used",
	 NULL},
	{"GET", "/api/quotas", HTTP_TOKEN, ACCESS_INSTRUCTOR, 0, route_quotas,
	 "limits per role and every user's limits and use", NULL},
	{"PUT", "/api/quotas", HTTP_TOKEN, ACCESS_INSTRUCTOR, 64 * KiB, route_quotas_put,
	 "set limits for roles and users ({} clears an override)", NULL},
	{"GET", "/api/lab-sessions", HTTP_TOKEN, ACCESS_USER, 0, route_labs, "weekly lab sessions and the one on now",
	 NULL},
	{"PUT", "/api/lab-sessions", HTTP_TOKEN, ACCESS_INSTRUCTOR, 64 * KiB, route_labs_put,
	 "replace the instructor's lab sessions", NULL},
	{"GET", "/api/sweeps", HTTP_TOKEN, ACCESS_USER, 0, route_sweep_list,
	 "list sweeps, newest first, with the best trial so far; students: their own", NULL},
	{"GET", "/api/sweeps/{id}", HTTP_TOKEN, ACCESS_SWEEP, 0, route_sweep_get,
	 "one sweep: trials (values, run, status, metric), best so far, ASHA rungs", NULL},
	{"POST", "/api/sweeps/{id}/stop", HTTP_TOKEN, ACCESS_SWEEP, 4 * KiB, route_sweep_stop,
	 "stop a sweep: no more trials, its queued and running ones stopped", NULL},

	/* A worker a cluster started (executor slurm) sends its events home: one
	 * run, its own secret, at most ~1 MiB of lines a request. */
	{"POST", "/api/worker/runs/{id}/events", HTTP_RUN_SECRET, ACCESS_RUN_SECRET, ROUTE_WORKER_BODY, route_worker_events,
	 "a cluster worker's events (the run's secret, never the token)", worker_query},

	/* Reaches libmicrohttpd only when a WebSocket upgrade arrives on a reused
	 * keep-alive connection; the front door sends fresh ones to libwebsockets,
	 * where each feed message type has its own rule (feed.c). */
	{"GET", "/ws", HTTP_TOKEN, ACCESS_USER, 0, route_ws_over_http, "live feed (WebSocket)", NULL},

	{"POST", "/login", HTTP_PUBLIC, ACCESS_PUBLIC, 4 * KiB, route_login, "log in (form)", NULL},
	{"POST", "/logout", HTTP_PUBLIC, ACCESS_PUBLIC, 4 * KiB, route_logout, "log out (form): ends the session",
	 NULL},
	{"GET", "/", HTTP_PAGE, ACCESS_PUBLIC, 0, route_page, "the page, or the login form", NULL},
	{"GET", "/{file*}", HTTP_PUBLIC, ACCESS_PUBLIC, 0, route_page, "static files of the page", NULL},
};

const size_t http_nroutes = sizeof http_routes / sizeof http_routes[0];
