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

#include "app.h"
#include "check.h"
#include "memest.h"
#include "notebooks.h"
#include "routes.h"
#include "runq.h"
#include "store.h"
#include "sysmon.h"
#include "tb.h"

#define RUNS_LIST_MAX 1000
#define EVENTS_DEFAULT 1000
#define EVENTS_MAX 10000

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
	case RUNQ_EINVALID:
		return http_error(r, 400, "invalid_run", "%s", err);
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

enum MHD_Result route_validate(struct http_req *r)
{
	enum MHD_Result reply;
	json_t *body = http_body_json(r, &reply);
	if (!body)
		return reply;
	size_t len;
	const char *spec = body_spec(r, body, &len, &reply);
	if (spec) {
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
	char *checked = check_on_this_server(r, yaml, len);
	json_t *verdict = json_loads(checked, 0, NULL);
	free(checked);
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
				  .cell = notebook && cell ? cell : NULL};
	int64_t id;
	char err[512];
	int rc = runq_submit(r->app->runq, &sub, &id, err, sizeof err);
	reply = rc ? runq_fail(r, rc, err) : reply_run(r, 201, id);
out:
	free(yaml);
	json_decref(body);
	return reply;
}

enum MHD_Result route_run_list(struct http_req *r)
{
	return http_json(r, 200, json_pack("{s:o}", "runs", store_runs_json(r->app->store, RUNS_LIST_MAX)));
}

enum MHD_Result route_run_get(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = route_run_id(r, &reply);
	return id < 0 ? reply : reply_run(r, 200, id);
}

enum MHD_Result route_run_stop(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = route_run_id(r, &reply);
	if (id < 0)
		return reply;
	char err[512];
	int rc = runq_stop(r->app->runq, id, err, sizeof err);
	return rc ? runq_fail(r, rc, err) : reply_run(r, 202, id);
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

static int append_event(void *ctx, int64_t seq, const char *json, size_t len)
{
	struct events_ctx *e = ctx;
	srv_buf_printf(e->out, "%s{\"seq\":%" PRId64 ",\"run\":\"%s\",\"event\":", e->n++ ? "," : "", seq,
		       e->rid);
	srv_buf_append(e->out, json, len);
	srv_buf_puts(e->out, "}");
	return 0;
}

static int64_t query_int(struct http_req *r, const char *name, int64_t dflt, int64_t lo, int64_t hi)
{
	const char *v = http_query(r, name);
	if (!v || !*v)
		return dflt;
	char *end;
	long long n = strtoll(v, &end, 10);
	if (*end || n < lo)
		return lo;
	return n > hi ? hi : n;
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
	int64_t since = query_int(r, "since", 0, 0, INT64_MAX);
	int limit = (int)query_int(r, "limit", EVENTS_DEFAULT, 1, EVENTS_MAX);
	struct srv_buf out = {0};
	srv_buf_puts(&out, "{\"events\":[");
	struct events_ctx ctx = {&out, r->params[0], 0};
	store_events_foreach(r->app->store, id, since, limit, append_event, &ctx);
	srv_buf_printf(&out, "],\"last_seq\":%" PRId64 "}", last);
	reply = http_raw(r, 200, "application/json", out.data, out.len);
	srv_buf_free(&out);
	return reply;
}
