/*
 * routes_runs.c — /api/validate and /api/runs: validate a spec with the
 * engine's checker, queue a run (from YAML or a notebook cell), list and
 * read runs, rename / annotate / tag / archive them, stop, resume,
 * evaluate a checkpoint, delete, and page through stored events.
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
#include "spec_flat.h"
#include "store.h"
#include "sweeps.h"
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

json_t *route_run_body(struct http_req *r, int64_t *id, enum MHD_Result *reply)
{
	*id = route_run_id(r, reply);
	return *id < 0 ? NULL : http_body_json(r, reply);
}

/* The answer to each runq error a run route can meet; any other is a 500. */
static const struct {
	int code;
	unsigned status;
	const char *error;
} runq_errors[] = {
	{RUNQ_ENOENT, 404, "not_found"}, {RUNQ_ESTATE, 409, "conflict"},      {RUNQ_EFULL, 429, "queue_full"},
	{RUNQ_EQUOTA, 429, "quota"},     {RUNQ_EINVALID, 400, "invalid_run"}, {RUNQ_ENOSPACE, 507, "disk_full"},
};

enum MHD_Result route_runq_fail(struct http_req *r, int code, const char *err)
{
	for (size_t i = 0; i < TB_ARRAY_LEN(runq_errors); i++)
		if (runq_errors[i].code == code)
			return http_error(r, runq_errors[i].status, runq_errors[i].error, "%s", err);
	return http_error(r, 500, "internal", "%s", err);
}

enum MHD_Result route_reply_run(struct http_req *r, unsigned status, int64_t id)
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
		reply = http_json(r, 400, json_pack("{s:s, s:s, s:o}", "error", "invalid_spec", "message", msg,
						   "errors", errors ? json_incref(errors) : json_array()));
		json_decref(verdict);
		goto out;
	}
	json_decref(verdict);
	if (sweeps_is_sweep(yaml, len)) {
		reply = route_sweep_create(r, yaml, len, name, notebook && cell ? notebook : NULL,
					   notebook && cell ? cell : NULL);
		goto out;
	}
	struct runq_submit sub = {.spec = yaml, .spec_len = len, .name = name,
				  .notebook = notebook && cell ? notebook : NULL,
				  .cell = notebook && cell ? cell : NULL, .owner = r->who.name};
	int64_t id;
	char err[512];
	int rc = runq_submit(r->app->runq, &sub, &id, err, sizeof err);
	reply = rc ? route_runq_fail(r, rc, err) : route_reply_run(r, 201, id);
out:
	free(yaml);
	json_decref(body);
	return reply;
}

/*
 * Newest first, a page at a time: ?limit=N (default and most ROUTE_RUNS_MAX)
 * &before=rK. "next" is the `before` of the next page, null on the last.
 * Summaries only (no spec), so a page of 1,000 runs is a few hundred KB;
 * &hparams=1 adds each run's spec flattened ("optimizer.lr": 0.001, …) and
 * its metrics in a few numbers (last, min, max) for hyperparameter tables;
 * &notebook=&cell= keeps one notebook's or cell's.
 */
enum MHD_Result route_run_list(struct http_req *r)
{
	struct store_runs_query q = {
		.limit = (int)http_query_int(r, "limit", ROUTE_RUNS_MAX), /* ranged in the route table */
		.notebook = http_query(r, "notebook"),
		.cell = http_query(r, "cell"),
		.with_spec = http_query_int(r, "hparams", 0) == 1,
	};
	const char *before_text = http_query(r, "before");
	if (before_text && *before_text && (q.before = store_parse_run_id(before_text)) < 0)
		return http_error(r, 400, "bad_request", "before must be a run id such as r12");
	/* The route's rule lets any user list; students see their own runs only. */
	q.owner = access_list_owner(&r->who);
	json_t *runs = store_runs_json(r->app->store, &q);
	size_t i, n = json_array_size(runs);
	json_t *run;
	json_array_foreach(runs, i, run) {
		const char *spec = json_string_value(json_object_get(run, "spec"));
		if (!spec)
			continue;
		json_object_set_new(run, "hparams", spec_flat(spec, strlen(spec)));
		json_object_del(run, "spec");
		int64_t id = store_parse_run_id(json_string_value(json_object_get(run, "id")));
		json_object_set_new(run, "metrics", store_run_metrics_json(r->app->store, id));
	}
	json_t *next = json_null();
	if (n == (size_t)q.limit && n > 0)
		next = json_incref(json_object_get(json_array_get(runs, n - 1), "id"));
	return http_json(r, 200, json_pack("{s:o, s:o}", "runs", runs, "next", next));
}

/* Printable text of at most `max` bytes, no control characters unless `lines`. */
static bool plain_text(const char *s, size_t max, bool lines)
{
	size_t n = strlen(s);
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && !(lines && (c == '\n' || c == '\t' || c == '\r'))) || c == 0x7f)
			return false;
	}
	return true;
}

#define RUN_NAME_MAX 200
#define RUN_NOTES_MAX (64 * 1024)
#define RUN_TAGS_MAX 32
#define RUN_TAG_MAX 64

/* The tags of a PATCH body as a JSON array text without repeats (malloc'd), or NULL after replying. */
static char *edit_tags(struct http_req *r, json_t *tags, enum MHD_Result *reply)
{
	if (!json_is_array(tags) || json_array_size(tags) > RUN_TAGS_MAX) {
		*reply = http_error(r, 400, "bad_request", "tags must be an array of at most %d strings", RUN_TAGS_MAX);
		return NULL;
	}
	json_t *out = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t) {
		const char *v = json_string_value(t);
		if (!v || !*v || !plain_text(v, RUN_TAG_MAX, false)) {
			*reply = http_error(r, 400, "bad_request",
					    "each tag must be a string of 1 to %d printable bytes", RUN_TAG_MAX);
			json_decref(out);
			return NULL;
		}
		bool seen = false;
		for (size_t j = 0; j < json_array_size(out) && !seen; j++)
			seen = !strcmp(json_string_value(json_array_get(out, j)), v);
		if (!seen)
			json_array_append_new(out, json_string(v));
	}
	char *text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return text;
}

/* PATCH {"name", "notes", "tags", "archived"}: what a person keeps about a run. */
enum MHD_Result route_run_edit(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id;
	json_t *body = route_run_body(r, &id, &reply);
	if (!body)
		return reply;
	struct store_run_edit e = {.archived = -1};
	char *tags = NULL;
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v) {
		if (!strcmp(key, "name")) {
			e.name = json_string_value(v);
			if (!e.name || !*e.name || !plain_text(e.name, RUN_NAME_MAX, false)) {
				reply = http_error(r, 400, "bad_request",
						   "name must be a string of 1 to %d printable bytes", RUN_NAME_MAX);
				goto out;
			}
		} else if (!strcmp(key, "notes")) {
			e.notes = json_string_value(v);
			if (!e.notes || !plain_text(e.notes, RUN_NOTES_MAX, true)) {
				reply = http_error(r, 400, "bad_request", "notes must be text of at most %d bytes",
						   RUN_NOTES_MAX);
				goto out;
			}
		} else if (!strcmp(key, "tags")) {
			if (!(tags = edit_tags(r, v, &reply)))
				goto out;
			e.tags = tags;
		} else if (!strcmp(key, "archived")) {
			if (!json_is_boolean(v)) {
				reply = http_error(r, 400, "bad_request", "archived must be true or false");
				goto out;
			}
			e.archived = json_is_true(v);
		} else {
			reply = http_error(r, 400, "bad_request",
					   "unknown field \"%.64s\" (a run takes name, notes, tags, archived)", key);
			goto out;
		}
	}
	if (!e.name && !e.notes && !e.tags && e.archived < 0) {
		reply = http_error(r, 400, "bad_request", "expected one of name, notes, tags, archived");
		goto out;
	}
	if (store_run_edit(r->app->store, id, &e) < 0) {
		reply = http_error(r, 404, "not_found", "no run %s", r->params[0]);
		goto out;
	}
	runq_changed(r->app->runq, id);
	reply = route_reply_run(r, 200, id);
out:
	free(tags);
	json_decref(body);
	return reply;
}

enum MHD_Result route_run_get(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = route_run_id(r, &reply);
	return id < 0 ? reply : route_reply_run(r, 200, id);
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
	return rc ? route_runq_fail(r, rc, err) : route_reply_run(r, 202, id);
}

enum MHD_Result route_run_stop(struct http_req *r)
{
	return end_run(r, false);
}

enum MHD_Result route_run_kill(struct http_req *r)
{
	return end_run(r, true);
}

/* The optional "checkpoint" of a resume or evaluate body; false after replying. */
static bool body_checkpoint(struct http_req *r, json_t **body, const char **checkpoint, enum MHD_Result *reply)
{
	*body = NULL;
	*checkpoint = NULL;
	if (!r->body.len)
		return true;
	*body = http_body_json(r, reply);
	if (!*body)
		return false;
	json_t *c = json_object_get(*body, "checkpoint");
	if (c && !json_is_string(c)) {
		*reply = http_error(r, 400, "bad_request",
				    "checkpoint must be a file name such as step-000938.safetensors");
		json_decref(*body);
		*body = NULL;
		return false;
	}
	*checkpoint = json_string_value(c);
	return true;
}

/* Resume and evaluate: the run in params[0] starts again from a checkpoint of the body. */
typedef int (*checkpoint_action_fn)(struct runq *q, int64_t id, const char *checkpoint, char *err, size_t errlen);
static enum MHD_Result checkpoint_action(struct http_req *r, checkpoint_action_fn action, unsigned status)
{
	enum MHD_Result reply;
	int64_t id = route_run_id(r, &reply);
	if (id < 0)
		return reply;
	json_t *body;
	const char *checkpoint;
	if (!body_checkpoint(r, &body, &checkpoint, &reply))
		return reply;
	char err[512];
	int rc = action(r->app->runq, id, checkpoint, err, sizeof err);
	reply = rc ? route_runq_fail(r, rc, err) : route_reply_run(r, status, id);
	json_decref(body);
	return reply;
}

enum MHD_Result route_run_resume(struct http_req *r)
{
	return checkpoint_action(r, runq_resume, 201);
}

/* POST {"checkpoint": file}: evaluate it on the test split, then the run is as it was. */
enum MHD_Result route_run_evaluate(struct http_req *r)
{
	return checkpoint_action(r, runq_evaluate, 202);
}

enum MHD_Result route_run_delete(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = route_run_id(r, &reply);
	if (id < 0)
		return reply;
	char err[512];
	int rc = runq_delete(r->app->runq, id, err, sizeof err);
	return rc ? route_runq_fail(r, rc, err) : http_json(r, 204, NULL);
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
	const char *exclude = http_query(r, "exclude");
	if (exclude && strcmp(exclude, "metric"))
		return http_error(r, 400, "bad_request", "exclude takes only \"metric\"");
	struct srv_buf out = {0};
	srv_buf_puts(&out, "{\"events\":[");
	struct events_ctx ctx = {&out, r->params[0], 0};
	store_events_foreach(r->app->store, id, since, limit, exclude != NULL, append_event, &ctx);
	srv_buf_printf(&out, "],\"last_seq\":%" PRId64 "}", last);
	reply = http_raw(r, 200, "application/json", out.data, out.len);
	srv_buf_free(&out);
	return reply;
}
