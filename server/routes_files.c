/*
 * routes_files.c — what a run leaves behind: metrics as CSV or JSON, one
 * metric as a series downsampled for drawing, and its checkpoints (list
 * and download). A checkpoint is served only when its real path lies
 * inside the run's directory.
 *
 * Threads: libmicrohttpd's polling thread.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "app.h"
#include "export.h"
#include "routes.h"
#include "store.h"
#include "util.h"

void app_run_dir(const struct app *app, int64_t run, char *buf, size_t len)
{
	snprintf(buf, len, "%s/r%" PRId64, app->cfg.runs_dir, run);
}

int64_t route_existing_run(struct http_req *r, enum MHD_Result *reply)
{
	int64_t id = route_run_id(r, reply);
	if (id < 0)
		return -1;
	struct store_run_info info;
	if (store_run_info(r->app->store, id, &info) < 0) {
		*reply = http_error(r, 404, "not_found", "no run %s", r->params[0]);
		return -1;
	}
	store_run_info_free(&info);
	return id;
}

/* A metric or split name as the worker writes them: [A-Za-z0-9_.-], 1 to max bytes. */
static bool plain_name(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

#define SERIES_POINTS_DEFAULT 2000
#define SERIES_RUNS_MAX 100

/* metric, split, from, to, points of a series request; false after replying 400. */
static bool series_query(struct http_req *r, struct store_series_query *q, enum MHD_Result *reply)
{
	const char *split = http_query(r, "split");
	*q = (struct store_series_query){
		.metric = http_query(r, "metric"),
		.split = split ? split : "train",
		.from = http_query_int(r, "from", -1), /* ranged ≥ 0 in the route table: -1 is "not given" */
		.to = http_query_int(r, "to", -1),
		.span = http_query_int(r, "span", 0),
		.points = (int)http_query_int(r, "points", SERIES_POINTS_DEFAULT),
	};
	q->has_from = q->from >= 0;
	q->has_to = q->to >= 0;
	if (!plain_name(q->metric, 64))
		*reply = http_error(r, 400, "bad_request", "metric must be a name such as loss (letters, digits, _ . -)");
	else if (!plain_name(q->split, 32))
		*reply = http_error(r, 400, "bad_request", "split must be a name such as train or test");
	else if (q->has_from && q->has_to && q->to < q->from)
		*reply = http_error(r, 400, "bad_request", "to must not be below from");
	else
		return true;
	return false;
}

/*
 * ?metric=loss&split=train&from=&to=&span=&points=2000: the store's summary of
 * that range (store_series_json). Reads at most a few thousand rows
 * whatever the run's length, so it answers on this thread.
 */
enum MHD_Result route_run_series(struct http_req *r)
{
	enum MHD_Result reply;
	struct store_series_query q;
	int64_t id = route_run_id(r, &reply);
	if (id < 0 || !series_query(r, &q, &reply))
		return reply;
	q.run = id;
	size_t len;
	char *json = store_series_json(r->app->store, &q, &len);
	if (!json)
		return http_error(r, 404, "not_found", "no run %s", r->params[0]);
	reply = http_raw(r, 200, "application/json", json, len);
	free(json);
	return reply;
}

/*
 * The same metric of several runs in one answer, ?runs=r1,r2,…: a chart
 * of fifty overlaid runs is one request, not fifty. {"series":[…]} in
 * the order asked, {"run":"r9","error":"not_found"} for a run that is gone
 * (or, in accounts mode, another student's).
 */
enum MHD_Result route_series(struct http_req *r)
{
	enum MHD_Result reply;
	struct store_series_query q;
	if (!series_query(r, &q, &reply))
		return reply;
	const char *list = http_query(r, "runs");
	int64_t ids[SERIES_RUNS_MAX];
	int n = 0;
	for (const char *p = list ? list : ""; *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char rid[32];
		if (n == SERIES_RUNS_MAX || len == 0 || len >= sizeof rid)
			return http_error(r, 400, "bad_request", "runs must be 1 to %d run ids such as r1,r2",
					  SERIES_RUNS_MAX);
		memcpy(rid, p, len);
		rid[len] = '\0';
		if ((ids[n++] = store_parse_run_id(rid)) < 0)
			return http_error(r, 400, "bad_request", "%s is not a run id (run ids look like r12)", rid);
		p += len + (comma != NULL);
	}
	if (n == 0)
		return http_error(r, 400, "bad_request", "runs must be 1 to %d run ids such as r1,r2", SERIES_RUNS_MAX);
	/* The route's rule lets any user ask; another user's run answers as a missing one does. */
	const char *only = access_list_owner(&r->who);
	struct srv_buf out = {0};
	srv_buf_puts(&out, "{\"series\":[");
	for (int i = 0; i < n; i++) {
		q.run = ids[i];
		size_t len;
		char owner[STORE_NAME_MAX];
		char *json = !only || (store_run_owner(r->app->store, ids[i], owner, sizeof owner) && !strcmp(owner, only))
				     ? store_series_json(r->app->store, &q, &len)
				     : NULL;
		if (i)
			srv_buf_puts(&out, ",");
		if (json)
			srv_buf_append(&out, json, len);
		else
			srv_buf_printf(&out, "{\"run\":\"r%" PRId64 "\",\"error\":\"not_found\"}", ids[i]);
		free(json);
	}
	srv_buf_puts(&out, "]}");
	reply = http_raw(r, 200, "application/json", out.data, out.len);
	srv_buf_free(&out);
	return reply;
}

/* libmicrohttpd asks for the next part of the answer as the client reads it. */
static ssize_t export_chunk(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	size_t n = export_read(cls, buf, max);
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void export_done(void *cls)
{
	export_free(cls);
}

/* Stream the metrics of the run in params[0]: a page of rows per chunk. */
static enum MHD_Result send_metrics(struct http_req *r, enum export_format format)
{
	enum MHD_Result reply;
	int64_t id = route_existing_run(r, &reply);
	if (id < 0)
		return reply;
	struct export *e = export_new(r->app->store, id, format);
	struct MHD_Response *resp =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, export_chunk, e, export_done);
	if (!resp) {
		export_free(e);
		return http_error(r, 500, "internal", "cannot send the metrics");
	}
	char disp[96];
	snprintf(disp, sizeof disp, "attachment; filename=\"%s-metrics.%s\"", r->params[0],
		 format == EXPORT_CSV ? "csv" : "json");
	MHD_add_response_header(resp, "Content-Type",
				format == EXPORT_CSV ? "text/csv; charset=utf-8" : "application/json");
	if (format == EXPORT_CSV)
		MHD_add_response_header(resp, "Content-Disposition", disp);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return http_send(r, 200, resp);
}

enum MHD_Result route_metrics_csv(struct http_req *r)
{
	return send_metrics(r, EXPORT_CSV);
}

enum MHD_Result route_metrics_json(struct http_req *r)
{
	return send_metrics(r, EXPORT_JSON);
}

/*
 * The recorded path only tells which file; the open itself is kept below
 * the folder by the kernel (srv_open_beneath), so a link planted or
 * swapped in the folder cannot lead out of it.
 */
int route_checkpoint_open(struct app *app, int64_t id, const char *path, struct stat *st)
{
	char dir[PATH_MAX], real_dir[PATH_MAX], real[PATH_MAX];
	app_run_dir(app, id, dir, sizeof dir);
	if (!realpath(dir, real_dir) || !realpath(path, real) || !srv_path_inside(real_dir, real) ||
	    !strcmp(real, real_dir))
		return -1;
	return srv_open_regular_beneath(real_dir, real + strlen(real_dir) + 1, st);
}

enum MHD_Result route_checkpoint_list(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = route_existing_run(r, &reply);
	if (id < 0)
		return reply;
	json_t *rows = store_checkpoints_json(r->app->store, id), *out = json_array();
	size_t i;
	json_t *row;
	/* The worker prunes old checkpoints (keep: N); list what is still there. */
	json_array_foreach(rows, i, row) {
		const char *path = json_string_value(json_object_get(row, "path"));
		struct stat st;
		int fd = path ? route_checkpoint_open(r->app, id, path, &st) : -1;
		if (fd < 0)
			continue;
		close(fd);
		json_object_del(row, "path");
		json_array_append(out, row);
	}
	json_decref(rows);
	return http_json(r, 200, json_pack("{s:o}", "checkpoints", out));
}

enum MHD_Result route_checkpoint_get(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = route_existing_run(r, &reply);
	if (id < 0)
		return reply;
	const char *file = r->params[1];
	char path[PATH_MAX];
	struct stat st;
	int fd = store_checkpoint_path(r->app->store, id, file, path, sizeof path) < 0
			 ? -1 : route_checkpoint_open(r->app, id, path, &st);
	if (fd < 0)
		return http_error(r, 404, "not_found", "run %s has no checkpoint %s", r->params[0], file);
	/* libmicrohttpd closes fd when the response is destroyed. */
	struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		return http_error(r, 500, "internal", "cannot send the file");
	}
	char disp[PATH_MAX + 64];
	const char *base = strrchr(path, '/');
	snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", base ? base + 1 : path);
	/* The name comes from the worker: keep it from breaking the header. */
	for (char *p = disp + 22; *p && p[1]; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '_';
	MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
	MHD_add_response_header(resp, "Content-Disposition", disp);
	return http_send(r, 200, resp);
}
