/*
 * routes.h — the handlers named in the route table (routes.c), one file
 * per group: routes_status.c, routes_notebooks.c, routes_runs.c,
 * routes_worker.c, routes_files.c, routes_static.c.
 *
 * Threads: every handler runs on libmicrohttpd's polling thread.
 */
#ifndef TB_SERVER_ROUTES_H
#define TB_SERVER_ROUTES_H

#include "http.h"

#define ROUTE_EVENTS_MAX 10000 /* events in one page of GET …/events */
#define ROUTE_RUNS_MAX 1000    /* run summaries in one page of GET /api/runs */
#define ROUTE_WORKER_BODY (2u << 20) /* event lines in one POST of a worker (one line ≤ 1 MiB fits) */

/* routes_status.c */
enum MHD_Result route_status(struct http_req *r);
enum MHD_Result route_system(struct http_req *r);
enum MHD_Result route_routes(struct http_req *r);

/* routes_notebooks.c */
enum MHD_Result route_nb_list(struct http_req *r);
enum MHD_Result route_nb_get(struct http_req *r);
enum MHD_Result route_nb_create(struct http_req *r);
enum MHD_Result route_nb_save(struct http_req *r);
enum MHD_Result route_nb_rename(struct http_req *r);
enum MHD_Result route_nb_delete(struct http_req *r);

/* routes_runs.c */
enum MHD_Result route_validate(struct http_req *r);
enum MHD_Result route_run_create(struct http_req *r);
enum MHD_Result route_run_list(struct http_req *r);
enum MHD_Result route_run_get(struct http_req *r);
enum MHD_Result route_run_stop(struct http_req *r);
enum MHD_Result route_run_resume(struct http_req *r);
enum MHD_Result route_run_delete(struct http_req *r);
enum MHD_Result route_run_events(struct http_req *r);

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
enum MHD_Result route_ws_over_http(struct http_req *r);

/* routes_predict.c */
enum MHD_Result route_run_predict(struct http_req *r);
enum MHD_Result route_checkpoint_onnx(struct http_req *r);

/* Shared by the run routes: the run named by params[0], or a 404 reply. */
int64_t route_run_id(struct http_req *r, enum MHD_Result *reply);
/* The same, also answering 404 when no such run is stored (routes_files.c). */
int64_t route_existing_run(struct http_req *r, enum MHD_Result *reply);
/*
 * Open a recorded checkpoint of run `id` for reading (routes_files.c), or
 * -1: it must be a regular file inside the run's folder. Fills *st.
 */
struct app;
struct stat;
int route_checkpoint_open(struct app *app, int64_t id, const char *path, struct stat *st);

#endif
