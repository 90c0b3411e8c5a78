/*
 * routes.h — the handlers named in the route table (routes.c), one file
 * per group: routes_status.c, routes_notebooks.c, routes_runs.c,
 * routes_files.c, routes_static.c.
 *
 * Threads: every handler runs on libmicrohttpd's polling thread.
 */
#ifndef TB_SERVER_ROUTES_H
#define TB_SERVER_ROUTES_H

#include "http.h"

#define ROUTE_EVENTS_MAX 10000 /* events in one page of GET …/events */
#define ROUTE_RUNS_MAX 1000    /* run summaries in one page of GET /api/runs */

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
enum MHD_Result route_run_edit(struct http_req *r);
enum MHD_Result route_run_evaluate(struct http_req *r);
enum MHD_Result route_run_series(struct http_req *r);
enum MHD_Result route_series(struct http_req *r);

/* routes_files.c */
enum MHD_Result route_metrics_csv(struct http_req *r);
enum MHD_Result route_metrics_json(struct http_req *r);
enum MHD_Result route_checkpoint_list(struct http_req *r);
enum MHD_Result route_checkpoint_get(struct http_req *r);

/* routes_static.c */
enum MHD_Result route_page(struct http_req *r);
enum MHD_Result route_login(struct http_req *r);
enum MHD_Result route_ws_over_http(struct http_req *r);

/* Shared by the run routes: the run named by params[0], or a 404 reply. */
int64_t route_run_id(struct http_req *r, enum MHD_Result *reply);

#endif
