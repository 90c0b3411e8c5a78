/*
 * routes.h — the handlers named in the route table (routes.c), one file
 * per group: routes_status.c, routes_session.c (login, logout, me),
 * routes_users.c (instructors manage users), routes_notebooks.c,
 * routes_runs.c, routes_quota.c (quotas, lab sessions, extending a run),
 * routes_worker.c (cluster workers dial home),
 * routes_files.c, routes_static.c.
 *
 * Threads: every handler runs on libmicrohttpd's polling thread.
 */
#ifndef TB_SERVER_ROUTES_H
#define TB_SERVER_ROUTES_H

#include "config.h"
#include "http.h"
#include "secret.h"
#include "store.h"

#define ROUTE_EVENTS_MAX 10000       /* events in one page of GET …/events */
#define ROUTE_RUNS_MAX 1000          /* run summaries in one page of GET /api/runs */
#define ROUTE_WORKER_BODY (2u << 20) /* event lines in one POST of a worker (one line ≤ 1 MiB fits) */

/* routes_status.c */
enum MHD_Result route_status(struct http_req *r);
enum MHD_Result route_system(struct http_req *r);
enum MHD_Result route_routes(struct http_req *r);

/* routes_session.c */
enum MHD_Result route_api_login(struct http_req *r);
enum MHD_Result route_api_logout(struct http_req *r);
enum MHD_Result route_me(struct http_req *r);
enum MHD_Result route_me_password(struct http_req *r);
enum MHD_Result route_me_tokens(struct http_req *r);
enum MHD_Result route_me_token_new(struct http_req *r);
enum MHD_Result route_me_token_revoke(struct http_req *r);

/* routes_users.c */
enum MHD_Result route_users_list(struct http_req *r);
enum MHD_Result route_user_create(struct http_req *r);
enum MHD_Result route_users_import(struct http_req *r);
enum MHD_Result route_user_get(struct http_req *r);
enum MHD_Result route_user_patch(struct http_req *r);
enum MHD_Result route_user_delete(struct http_req *r);
enum MHD_Result route_user_link(struct http_req *r);
enum MHD_Result route_user_reset(struct http_req *r);
enum MHD_Result route_user_revoke(struct http_req *r);

/* routes_notebooks.c */
enum MHD_Result route_nb_list(struct http_req *r);
enum MHD_Result route_nb_get(struct http_req *r);
enum MHD_Result route_nb_create(struct http_req *r);
enum MHD_Result route_nb_save(struct http_req *r);
enum MHD_Result route_nb_rename(struct http_req *r);
enum MHD_Result route_nb_delete(struct http_req *r);
enum MHD_Result route_nb_copy(struct http_req *r);

/* routes_runs.c */
enum MHD_Result route_validate(struct http_req *r);
enum MHD_Result route_run_create(struct http_req *r);
enum MHD_Result route_run_list(struct http_req *r);
enum MHD_Result route_run_get(struct http_req *r);
enum MHD_Result route_run_stop(struct http_req *r);
enum MHD_Result route_run_kill(struct http_req *r);
enum MHD_Result route_run_resume(struct http_req *r);
enum MHD_Result route_run_delete(struct http_req *r);
enum MHD_Result route_run_events(struct http_req *r);
enum MHD_Result route_run_edit(struct http_req *r);
enum MHD_Result route_run_evaluate(struct http_req *r);
enum MHD_Result route_run_series(struct http_req *r);
enum MHD_Result route_series(struct http_req *r);

/* routes_quota.c */
enum MHD_Result route_quota_mine(struct http_req *r);
enum MHD_Result route_quotas(struct http_req *r);
enum MHD_Result route_quotas_put(struct http_req *r);
enum MHD_Result route_labs(struct http_req *r);
enum MHD_Result route_labs_put(struct http_req *r);
enum MHD_Result route_run_extend(struct http_req *r);

/* routes_sweeps.c */
enum MHD_Result route_sweep_list(struct http_req *r);
enum MHD_Result route_sweep_get(struct http_req *r);
enum MHD_Result route_sweep_stop(struct http_req *r);
/* POST /api/runs with a spec that has a sweep: section (routes_runs.c hands it over). */
enum MHD_Result route_sweep_create(struct http_req *r, const char *yaml, size_t len, const char *name,
				   const char *notebook, const char *cell);

/* routes_worker.c */
enum MHD_Result route_worker_events(struct http_req *r);

/* routes_files.c */
enum MHD_Result route_metrics_csv(struct http_req *r);
enum MHD_Result route_metrics_json(struct http_req *r);
enum MHD_Result route_checkpoint_list(struct http_req *r);
enum MHD_Result route_checkpoint_get(struct http_req *r);

/* routes_static.c */
enum MHD_Result route_page(struct http_req *r);
enum MHD_Result route_login(struct http_req *r);
enum MHD_Result route_logout(struct http_req *r);
enum MHD_Result route_ws_over_http(struct http_req *r);

/* routes_predict.c */
enum MHD_Result route_run_predict(struct http_req *r);
enum MHD_Result route_checkpoint_onnx(struct http_req *r);

/* Shared by the run routes: the run named by params[0], or a 404 reply. */
int64_t route_run_id(struct http_req *r, enum MHD_Result *reply);
/* The run of params[0] in *id and the request's JSON body (the caller's to free); NULL after a reply. */
json_t *route_run_body(struct http_req *r, int64_t *id, enum MHD_Result *reply);
/* The answer to a runq error: 404, 409, 429, 400 or 507 as the code says, else 500 with `err`. */
enum MHD_Result route_runq_fail(struct http_req *r, int code, const char *err);
/* {"run": …} of run `id` with `status`, or 404 when it is not stored. */
enum MHD_Result route_reply_run(struct http_req *r, unsigned status, int64_t id);
/* The same, also answering 404 when no such run is stored (routes_files.c). */
int64_t route_existing_run(struct http_req *r, enum MHD_Result *reply);
/*
 * Open a recorded checkpoint of run `id` for reading (routes_files.c), or
 * -1: it must be a regular file inside the run's folder. Fills *st.
 */
struct app;
struct stat;
int route_checkpoint_open(struct app *app, int64_t id, const char *path, struct stat *st);

/* Shared by the login routes (routes_session.c): Set-Cookie for a session value, or to clear it (NULL). */
void route_set_cookie(struct http_req *r, struct MHD_Response *resp, const char *value);
/* End the request's session (accounts) and close its feed connections. */
void route_session_end(struct http_req *r);

/*
 * One login attempt, for the API (JSON) and the form (HTML) alike:
 * accounts mode takes name + password or a one-time link, single-user mode
 * the token. Throttling, logging and starting the session (the one the
 * browser came with ends) are done here; the caller only words the answer.
 */
enum route_login_outcome { ROUTE_LOGIN_OK, ROUTE_LOGIN_WRONG, ROUTE_LOGIN_THROTTLED, ROUTE_LOGIN_BAD, ROUTE_LOGIN_EIO };
struct route_login {
	/* in: copies of the request's parts, so the check may run on any thread */
	struct app *app;
	char client[64];                 /* the address's throttle key */
	char agent[257];                 /* User-Agent, kept with the session */
	char old_cookie[SECRET_HEX + 1]; /* the session the browser came with, or "" */
	char name[STORE_NAME_MAX * 2], password[SECRET_PASSWORD_MAX + 1], link[256], token[CFG_TOKEN_MAX + 2];
	bool has_name, has_password, has_link, has_token;
	/* out */
	enum route_login_outcome outcome;
	int wait_s;              /* THROTTLED: for Retry-After */
	char message[300];       /* for the user, when not OK */
	char cookie[SECRET_HEX]; /* OK: the session cookie's value */
	struct store_user user;  /* OK, accounts mode: who logged in */
};

/*
 * Start the attempt (fields may be NULL). It belongs to the request
 * (r->defer_ctx). A password check goes to the slow-work pool: while
 * r->deferred the handler returns MHD_YES, and it is called again with the
 * outcome filled in. Otherwise the outcome is there at once.
 */
struct route_login *route_login_start(struct http_req *r, const char *name, const char *password, const char *link,
				      const char *token);

#endif
