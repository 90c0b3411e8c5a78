/*
 * routes_worker.c — POST /api/worker/runs/{id}/events: the way home for a
 * worker a cluster started (executor slurm, report.c on its side). The
 * body is event lines in the worker's own numbering from ?first=; the
 * answer says how many are committed ("have": the worker may forget them)
 * and held ("taken"). The run's per-start secret in X-Trainbook-Run-Secret
 * is the only credential: the user's token is neither needed nor enough.
 * Wrong secrets count against the client address like wrong tokens.
 *
 * Threads: libmicrohttpd's polling thread; runq takes its own lock.
 */
#include <inttypes.h>
#include <stdio.h>

#include "app.h"
#include "routes.h"
#include "runq.h"

enum MHD_Result route_worker_events(struct http_req *r)
{
	enum MHD_Result reply;
	int wait = http_login_wait(r);
	if (wait)
		return http_too_many(r, wait);
	int64_t id = route_run_id(r, &reply);
	if (id < 0)
		return reply;
	int64_t have, taken;
	char err[256];
	int rc = runq_worker_post(r->app->runq, id, http_header(r, "X-Trainbook-Run-Secret"),
				  http_query_int(r, "first", 1), r->body.data ? r->body.data : "", r->body.len, &have,
				  &taken, err, sizeof err);
	if (rc == RUNQ_EDENIED) {
		http_login_outcome(r, false);
		return http_error(r, 403, "forbidden", "%s", err);
	}
	if (rc == RUNQ_EGONE)
		return http_error(r, 410, "gone", "%s", err);
	if (rc == RUNQ_EGAP)
		return http_json(
			r, 409,
			json_pack("{s:s, s:s, s:I}", "error", "gap", "message", err, "taken", (json_int_t)taken));
	if (rc != RUNQ_OK)
		return http_error(r, 500, "internal", "%s", err);
	return http_json(r, 200, json_pack("{s:I, s:I}", "have", (json_int_t)have, "taken", (json_int_t)taken));
}
