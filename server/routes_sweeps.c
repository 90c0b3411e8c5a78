/*
 * routes_sweeps.c — /api/sweeps: list sweeps, read one (its trials, the
 * best so far, the ASHA rungs), stop one; and the creation of a sweep
 * when POST /api/runs brings a spec with a sweep: section.
 *
 * Threads: libmicrohttpd's polling thread. Creating a sweep parses each
 * trial's spec (pure, fast: no data is read) inline.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "app.h"
#include "routes.h"
#include "store.h"
#include "sweeps.h"

static int64_t sweep_id(struct http_req *r, enum MHD_Result *reply)
{
	int64_t id = store_parse_sweep_id(r->params[0]);
	if (id < 0)
		*reply = http_error(r, 404, "not_found", "no sweep %s (sweep ids look like s3)", r->params[0]);
	return id;
}

static enum MHD_Result reply_sweep(struct http_req *r, unsigned status, int64_t id)
{
	json_t *sweep = store_sweep_json(r->app->store, id);
	if (!sweep)
		return http_error(r, 404, "not_found", "no sweep s%" PRId64, id);
	char why[256];
	if (!strcmp(json_string_value(json_object_get(sweep, "status")), "running") &&
	    sweeps_waiting(r->app->sweeps, id, why, sizeof why))
		json_object_set_new(sweep, "waiting", json_string(why));
	return http_json(r, status, json_pack("{s:o}", "sweep", sweep));
}

enum MHD_Result route_sweep_create(struct http_req *r, const char *yaml, size_t len, const char *name,
				   const char *notebook, const char *cell)
{
	struct sweeps_new n = {
		.yaml = yaml, .len = len, .name = name, .notebook = notebook, .cell = cell, .owner = r->who.name};
	int64_t id;
	json_t *errors = NULL;
	char err[512];
	int rc = sweeps_create(r->app->sweeps, &n, &id, &errors, err, sizeof err);
	if (rc == SWEEPS_EINVALID)
		return http_json(r, 400,
				 json_pack("{s:s, s:s, s:o}", "error", "invalid_spec", "message", err, "errors",
					   errors ? errors : json_array()));
	if (rc)
		return http_error(r, 500, "internal", "%s", err);
	return reply_sweep(r, 201, id);
}

enum MHD_Result route_sweep_list(struct http_req *r)
{
	/* The route's rule lets any user list; students see their own sweeps only. */
	return http_json(r, 200,
			 json_pack("{s:o}", "sweeps", store_sweeps_json(r->app->store, access_list_owner(&r->who))));
}

enum MHD_Result route_sweep_get(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = sweep_id(r, &reply);
	return id < 0 ? reply : reply_sweep(r, 200, id);
}

enum MHD_Result route_sweep_stop(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = sweep_id(r, &reply);
	if (id < 0)
		return reply;
	char err[512];
	int rc = sweeps_stop(r->app->sweeps, id, err, sizeof err);
	if (rc == SWEEPS_ENOENT)
		return http_error(r, 404, "not_found", "%s", err);
	if (rc == SWEEPS_ESTATE)
		return http_error(r, 409, "conflict", "%s", err);
	if (rc)
		return http_error(r, 500, "internal", "%s", err);
	return reply_sweep(r, 202, id);
}
