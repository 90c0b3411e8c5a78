/*
 * routes_runs.c — /api/validate and /api/runs: validate a spec with the
 * engine's checker, queue a run (from YAML or a notebook cell), list and
 * read runs, stop, resume, delete, and page through stored events.
 *
 * Threads: libmicrohttpd's polling thread. check_spec_json is pure and
 * fast (it never reads a data set), so it runs inline.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "app.h"
#include "check.h"
#include "memest.h"
#include "notebooks.h"
#include "routes.h"
#include "runq.h"
#include "store.h"
#include "sysmon.h"
#include "tb.h"

#define EVENTS_DEFAULT 1000

int64_t route_run_id(struct http_req *r, enum MHD_Result *reply)
{
	int64_t id = store_parse_run_id(r->params[0]);
	if (id < 0)
		*reply = http_error(r, 404, "not_found", "no run %s (run ids look like r12)", r->params[0]);
	return id;
}

static enum MHD_Result runq_fail(struct http_req *r, int code, const char *err)
{
	switch (code) {
	case RUNQ_ENOENT:
		return http_error(r, 404, "not_found", "%s", err);
	case RUNQ_ESTATE:
		return http_error(r, 409, "conflict", "%s", err);
	case RUNQ_EFULL:
		return http_error(r, 429, "queue_full", "%s", err);
	case RUNQ_EQUOTA:
		return http_error(r, 429, "quota", "%s", err);
	case RUNQ_EINVALID:
		return http_error(r, 400, "invalid_run", "%s", err);
	case RUNQ_ENOSPACE:
		return http_error(r, 507, "disk_full", "%s", err);
	default:
		return http_error(r, 500, "internal", "%s", err);
	}
}

static enum MHD_Result reply_run(struct http_req *r, unsigned status, int64_t id)
{
	json_t *run = store_run_json(r->app->store, id);
	if (!run)
		return http_error(r, 404, "not_found", "no run r%" PRId64, id);
	return http_json(r, status, json_pack("{s:o}", "run", run));
}

/*
 * The machine runs are checked against (memest.h): this host's allowance,
 * or --worker-memory when smaller, and the GPUs NVML sees with the
 * smallest one's memory — so validate refuses what the worker would.
 */
static char *check_on_this_server(struct http_req *r, const char *yaml, size_t len)
{
	struct app *app = r->app;
	struct memest_machine mach;
	memest_machine_this(&mach, app->cfg.worker_memory);
	mach.gpus = sysmon_gpu_count(app->sysmon);
	mach.gpu_memory = (int64_t)sysmon_gpu_memory(app->sysmon);
	return check_spec_json(yaml, len, NULL, 0, &mach);
}

/* The "spec" string of a body, bounded; NULL after replying. */
static const char *body_spec(struct http_req *r, json_t *body, size_t *len, enum MHD_Result *reply)
{
	json_t *spec = json_object_get(body, "spec");
	if (!json_is_string(spec)) {
		*reply = http_error(r, 400, "bad_request", "expected {\"spec\": \"<yaml>\"}");
		return NULL;
	}
	*len = json_string_length(spec);
	if (*len > RUNQ_SPEC_MAX) {
		*reply = http_error(r, 413, "too_large", "specs are limited to %u bytes", RUNQ_SPEC_MAX);
		return NULL;
	}
	return json_string_value(spec);
}

/*
 * Where the spec's data may come from (accounts mode, access.c): NULL when
 * it may read it, else the checker's {"ok":false,"errors":[…]} naming
 * data.path. Checked before the data is probed, so a refused file is never
 * opened and no error can quote what it holds.
 */
static json_t *data_refusal(struct http_req *r, const char *yaml, size_t len)
{
	char msg[600];
	int line, column;
	if (access_spec_data(&r->app->access, &r->who, yaml, len, msg, sizeof msg, &line, &column))
		return NULL;
	return json_pack("{s:b, s:[{s:i, s:i, s:s}]}", "ok", 0, "errors", "line", line, "column", column, "message",
			 msg);
}

enum MHD_Result route_validate(struct http_req *r)
{
	enum MHD_Result reply;
	json_t *body = http_body_json(r, &reply);
	if (!body)
		return reply;
	size_t len;
	const char *spec = body_spec(r, body, &len, &reply);
	json_t *refused = spec ? data_refusal(r, spec, len) : NULL;
	if (refused) {
		reply = http_json(r, 200, refused);
	} else if (spec) {
		char *result = check_on_this_server(r, spec, len);
		reply = http_raw(r, 200, "application/json", result, strlen(result));
		free(result);
	}
	json_decref(body);
	return reply;
}

/* The YAML of a notebook's run cell (malloc'd), or NULL after replying. */
static char *cell_spec(struct http_req *r, const char *notebook, const char *cell, enum MHD_Result *reply)
{
	char *data, etag[NB_ETAG_LEN], err[512];
	size_t len;
	int64_t mtime;
	int rc = nb_read(&r->app->nb, notebook, &data, &len, etag, &mtime, err, sizeof err);
	if (rc) {
		*reply = http_error(r, rc == NB_ENOENT ? 404 : 400, rc == NB_ENOENT ? "not_found" : "bad_path",
				    "%s", err);
		return NULL;
	}
	json_t *nb = json_loadb(data, len, 0, NULL);
	free(data);
	char *yaml = nb ? nb_cell_source(nb, cell, err, sizeof err) : NULL;
	if (!yaml)
		*reply = http_error(r, 400, "bad_request", "%s", nb ? err : "the notebook is not JSON");
	json_decref(nb);
	return yaml;
}

enum MHD_Result route_run_create(struct http_req *r)
{
	enum MHD_Result reply;
	json_t *body = http_body_json(r, &reply);
	if (!body)
		return reply;
	const char *notebook = json_string_value(json_object_get(body, "notebook"));
	const char *cell = json_string_value(json_object_get(body, "cell"));
	const char *name = json_string_value(json_object_get(body, "name"));
	char *yaml = NULL;
	size_t len = 0;
	if (json_object_get(body, "spec")) {
		const char *spec = body_spec(r, body, &len, &reply);
		if (!spec)
			goto out;
		yaml = tb_xstrdup(spec);
	} else if (notebook && cell) {
		yaml = cell_spec(r, notebook, cell, &reply);
		if (!yaml)
			goto out;
		len = strlen(yaml);
	} else {
		reply = http_error(r, 400, "bad_request",
				   "expected {\"spec\": \"<yaml>\"} or {\"notebook\": …, \"cell\": …}");
		goto out;
	}
	json_t *verdict = data_refusal(r, yaml, len);
	if (!verdict) {
		char *checked = check_on_this_server(r, yaml, len);
		verdict = json_loads(checked, 0, NULL);
		free(checked);
	}
	if (!json_is_true(json_object_get(verdict, "ok"))) {
		json_t *errors = json_object_get(verdict, "errors");
		json_t *first = json_array_get(errors, 0);
		char msg[400];
		snprintf(msg, sizeof msg, "the spec is invalid: %s%s",
			 json_string_value(json_object_get(first, "message")) ?: "see errors",
			 json_array_size(errors) > 1 ? " (and more)" : "");
		reply = http_json(r, 400, json_pack("{s:s, s:s, s:O}", "error", "invalid_spec", "message", msg,
						   "errors", errors ? errors : json_array()));
		json_decref(verdict);
		goto out;
	}
	json_decref(verdict);
	struct runq_submit sub = {.spec = yaml, .spec_len = len, .name = name,
				  .notebook = notebook && cell ? notebook : NULL,
				  .cell = notebook && cell ? cell : NULL, .owner = r->who.name};
	int64_t id;
	char err[512];
	int rc = runq_submit(r->app->runq, &sub, &id, err, sizeof err);
	reply = rc ? runq_fail(r, rc, err) : reply_run(r, 201, id);
out:
	free(yaml);
	json_decref(body);
	return reply;
}

/*
 * Newest first, a page at a time: ?limit=N (default and most ROUTE_RUNS_MAX)
 * &before=rK. "next" is the `before` of the next page, null on the last.
 * Summaries only (no spec), so a page of 1,000 runs is a few hundred KB.
 */
enum MHD_Result route_run_list(struct http_req *r)
{
	int limit = (int)http_query_int(r, "limit", ROUTE_RUNS_MAX); /* ranged in the route table */
	const char *before_text = http_query(r, "before");
	int64_t before = 0;
	if (before_text && *before_text && (before = store_parse_run_id(before_text)) < 0)
		return http_error(r, 400, "bad_request", "before must be a run id such as r12");
	/* The route's rule lets any user list; students see their own runs only. */
	json_t *runs = store_runs_json(r->app->store, limit, before, access_list_owner(&r->who));
	json_t *next = json_null();
	size_t n = json_array_size(runs);
	if (n == (size_t)limit && n > 0)
		next = json_incref(json_object_get(json_array_get(runs, n - 1), "id"));
	return http_json(r, 200, json_pack("{s:o, s:o}", "runs", runs, "next", next));
}

enum MHD_Result route_run_get(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = route_run_id(r, &reply);
	return id < 0 ? reply : reply_run(r, 200, id);
}

/* Stop (kill false: a checkpoint first) or kill run {id}; 202 with the run. */
static enum MHD_Result end_run(struct http_req *r, bool kill)
{
	enum MHD_Result reply;
	int64_t id = route_run_id(r, &reply);
	if (id < 0)
		return reply;
	char err[512];
	int rc = kill ? runq_kill(r->app->runq, id, r->who.name, err, sizeof err) : runq_stop(r->app->runq, id, err, sizeof err);
	return rc ? runq_fail(r, rc, err) : reply_run(r, 202, id);
}

enum MHD_Result route_run_stop(struct http_req *r)
{
	return end_run(r, false);
}

enum MHD_Result route_run_kill(struct http_req *r)
{
	return end_run(r, true);
}

enum MHD_Result route_run_resume(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = route_run_id(r, &reply);
	if (id < 0)
		return reply;
	json_t *body = NULL;
	const char *checkpoint = NULL;
	if (r->body.len) {
		body = http_body_json(r, &reply);
		if (!body)
			return reply;
		checkpoint = json_string_value(json_object_get(body, "checkpoint"));
	}
	char err[512];
	int rc = runq_resume(r->app->runq, id, checkpoint, err, sizeof err);
	reply = rc ? runq_fail(r, rc, err) : reply_run(r, 201, id);
	json_decref(body);
	return reply;
}

enum MHD_Result route_run_delete(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = route_run_id(r, &reply);
	if (id < 0)
		return reply;
	char err[512];
	int rc = runq_delete(r->app->runq, id, err, sizeof err);
	return rc ? runq_fail(r, rc, err) : http_json(r, 204, NULL);
}

struct events_ctx {
	struct srv_buf *out;
	const char *rid;
	int n;
};

/* An answer stops growing here (events may be up to 1 MiB each); the client pages on with since=. */
#define EVENTS_BYTES_MAX (4u << 20)

static int append_event(void *ctx, int64_t seq, const char *json, size_t len)
{
	struct events_ctx *e = ctx;
	if (e->n > 0 && e->out->len + len > EVENTS_BYTES_MAX)
		return 1;
	srv_buf_printf(e->out, "%s{\"seq\":%" PRId64 ",\"run\":\"%s\",\"event\":", e->n++ ? "," : "", seq,
		       e->rid);
	srv_buf_append(e->out, json, len);
	srv_buf_puts(e->out, "}");
	return 0;
}

enum MHD_Result route_run_events(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = route_run_id(r, &reply);
	if (id < 0)
		return reply;
	struct store_run_info info;
	if (store_run_info(r->app->store, id, &info) < 0)
		return http_error(r, 404, "not_found", "no run %s", r->params[0]);
	int64_t last = info.last_seq;
	store_run_info_free(&info);
	/* Both checked against the route table's ranges before we get here. */
	int64_t since = http_query_int(r, "since", 0);
	int limit = (int)http_query_int(r, "limit", EVENTS_DEFAULT);
	struct srv_buf out = {0};
	srv_buf_puts(&out, "{\"events\":[");
	struct events_ctx ctx = {&out, r->params[0], 0};
	store_events_foreach(r->app->store, id, since, limit, append_event, &ctx);
	srv_buf_printf(&out, "],\"last_seq\":%" PRId64 "}", last);
	reply = http_raw(r, 200, "application/json", out.data, out.len);
	srv_buf_free(&out);
	return reply;
}
