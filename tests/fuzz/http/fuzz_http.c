/*
 * fuzz_http.c — every route of the table (server/routes.c) called with a
 * fuzzed request: path parameters, JSON (or form) body, query arguments
 * and headers, the way server/http.c's access_cb calls it once the
 * headers have passed the Host/Origin/token checks.
 *
 * The Host, Origin and token checks (auth.c) run on the fuzzed headers
 * too, though every request then goes on as authorised.
 *
 * The seam: a handler sees libmicrohttpd only through a few functions
 * (header and query lookup; making a response from a buffer, a file or a
 * reader callback; decorating, queueing and destroying it). This file
 * defines them, so the linker binds the handlers to these instead of the
 * library's: struct MHD_Connection is the fuzzed request, struct
 * MHD_Response keeps the reply for checking (a streamed one is read to
 * its end). Nothing in the server changes for the harness.
 *
 * The world the handlers act on is real and rebuilt after every request
 * that changed it (a state-changing method that succeeded; one that was
 * refused must leave it as it was, which is checked), so every input
 * starts from the same one and a crash replays: a workspace
 * with one notebook (a run cell "c1", a markdown cell "m1"), a page
 * (index.html, app/main.js), the SQLite store with r1 (completed, with
 * metrics and a checkpoint file) and r2 (queued), and a run queue whose
 * supervisor is never started, so a queued run never spawns a worker.
 *
 * Input: up to four parts joined by FUZZ_SEP:
 *   0  one byte choosing the route (index into http_routes), then the
 *      values of its {…} parameters, one per line;
 *   1  the body (dropped when over the route's limit: that request gets
 *      413 before any handler runs);
 *   2  query arguments, k=v&k=v (already decoded, as libmicrohttpd hands them);
 *   3  extra headers, "Name: value" lines (If-Match, If-None-Match, …).
 * Properties: no crash, leak or UB; each handler queues exactly one reply;
 * its status is one the API documents and never 5xx (the workspace is a
 * healthy tmpfs: a 500 here is bad input turned into a server error); a
 * JSON reply parses; an error reply is {"error": code, "message": text}
 * (or the HTML login page); no header value carries a line break; every
 * event the run queue emits is a JSON object; after a state-changing
 * request every stored run still reads back as JSON, and a refused one
 * changed no run and no file of the workspace.
 *
 * FUZZ_TRACE=1 prints each request and the start of its reply to stderr.
 *
 * Threads: one (libmicrohttpd's polling thread's role).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fuzz.h"
#include "server/app.h"
#include "server/http.h"
#include "server/identity.h"
#include "server/throttle.h"
#include "server/runq.h"
#include "server/store.h"
#include "server/sweeps.h"
#include "server/sysmon.h"

#define FAKE_MAX_VALUES 16
#define FAKE_MAX_HEADERS 32

/* ---- the libmicrohttpd seam ------------------------------------------------ */

struct MHD_Connection {
	const char *header_names[FAKE_MAX_VALUES], *header_values[FAKE_MAX_VALUES];
	int nheaders;
	const char *arg_names[FAKE_MAX_VALUES], *arg_values[FAKE_MAX_VALUES];
	int nargs;
	int queued; /* replies queued: must end at exactly 1 */
	unsigned status;
	char *content_type; /* of the queued reply; owned */
	char *body;         /* a NUL-terminated copy of its buffer body; owned */
	size_t body_len;
	bool body_is_file;
};

#define FAKE_MAGIC 0x66616b65u      /* "fake": a response this file made */
#define FAKE_STREAM_MAX (64u << 20) /* a streamed reply read further is a runaway */

struct MHD_Response {
	unsigned magic;
	char *data;
	size_t len;
	bool owned;                     /* MUST_FREE / MUST_COPY: free on destroy */
	int fd;                         /* from_fd responses; -1 otherwise */
	MHD_ContentReaderCallback read; /* from_callback responses; NULL otherwise */
	MHD_ContentReaderFreeCallback read_free;
	void *read_cls;
	char *names[FAKE_MAX_HEADERS], *values[FAKE_MAX_HEADERS];
	int nheaders;
};

/* A response from the real library reaching these fakes would be silent
 * memory corruption: a handler that makes responses some other way needs
 * its maker faked here too. */
static struct MHD_Response *fake_response(struct MHD_Response *r, const char *fn)
{
	if (!r || r->magic != FAKE_MAGIC)
		fuzz_fail("%s got a response the harness did not make: fake its maker too", fn);
	return r;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *c, enum MHD_ValueKind kind, const char *key)
{
	if (!c || !key)
		return NULL;
	if (kind == MHD_HEADER_KIND) {
		for (int i = 0; i < c->nheaders; i++)
			if (!strcasecmp(c->header_names[i], key))
				return c->header_values[i];
	} else if (kind == MHD_GET_ARGUMENT_KIND) {
		for (int i = 0; i < c->nargs; i++)
			if (!strcmp(c->arg_names[i], key))
				return c->arg_values[i];
	}
	return NULL;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	r->magic = FAKE_MAGIC;
	r->fd = -1;
	r->len = size;
	if (mode == MHD_RESPMEM_MUST_COPY) {
		r->data = malloc(size ? size : 1);
		if (!r->data)
			abort();
		if (size)
			memcpy(r->data, buffer, size);
		r->owned = true;
	} else {
		r->data = buffer;
		r->owned = mode == MHD_RESPMEM_MUST_FREE;
	}
	return r;
}

struct MHD_Response *MHD_create_response_from_fd(size_t size, int fd)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	r->len = size;
	r->fd = fd;
	return r;
}

struct MHD_Response *MHD_create_response_from_callback(uint64_t size, size_t block_size, MHD_ContentReaderCallback read,
						       void *cls, MHD_ContentReaderFreeCallback read_free)
{
	(void)size;
	(void)block_size;
	struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	r->read = read;
	r->read_cls = cls;
	r->read_free = read_free;
	return r;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *r, const char *name, const char *value)
{
	fake_response(r, "MHD_add_response_header");
	if (strpbrk(name, "\r\n") || strpbrk(value, "\r\n"))
		fuzz_fail("header %s carries a line break: %s", name, value);
	if (r->nheaders == FAKE_MAX_HEADERS)
		fuzz_fail("more than %d headers", FAKE_MAX_HEADERS);
	r->names[r->nheaders] = strdup(name);
	r->values[r->nheaders++] = strdup(value);
	return MHD_YES;
}

void MHD_destroy_response(struct MHD_Response *r)
{
	if (!r)
		return;
	fake_response(r, "MHD_destroy_response");
	if (r->read_free)
		r->read_free(r->read_cls);
	for (int i = 0; i < r->nheaders; i++) {
		free(r->names[i]);
		free(r->values[i]);
	}
	if (r->owned)
		free(r->data);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *c, unsigned int status, struct MHD_Response *r)
{
	if (!c)
		fuzz_fail("MHD_queue_response without a connection");
	fake_response(r, "MHD_queue_response");
	c->queued++;
	c->status = status;
	free(c->content_type);
	free(c->body);
	c->content_type = NULL;
	for (int i = 0; i < r->nheaders; i++)
		if (!strcasecmp(r->names[i], "Content-Type"))
			c->content_type = strdup(r->values[i]);
	c->body_is_file = r->fd >= 0;
	c->body_len = r->fd >= 0 ? 0 : r->len;
	c->body = malloc(c->body_len + 1);
	if (!c->body)
		abort();
	if (c->body_len)
		memcpy(c->body, r->data, c->body_len);
	/* A streamed reply is read to its end here, as the library would
	 * while sending it. */
	for (size_t cap = c->body_len + 1; r->read;) {
		if (c->body_len + 4096 + 1 > cap)
			c->body = realloc(c->body, cap = 2 * cap + 4096);
		if (!c->body)
			abort();
		ssize_t n = r->read(r->read_cls, c->body_len, c->body + c->body_len, 4096);
		if (n == MHD_CONTENT_READER_END_OF_STREAM)
			break;
		if (n < 0 || n > 4096)
			fuzz_fail("a streamed reply's reader returned %zd", n);
		c->body_len += (size_t)n;
		if (c->body_len > FAKE_STREAM_MAX)
			fuzz_fail("a streamed reply runs past %u bytes", FAKE_STREAM_MAX);
	}
	c->body[c->body_len] = '\0';
	return MHD_YES;
}

/* ---- the world ------------------------------------------------------------- */

static const char seed_notebook[] =
	"{\"nbformat\": 4, \"nbformat_minor\": 5, \"metadata\": {}, \"cells\": [\n"
	" {\"id\": \"m1\", \"cell_type\": \"markdown\", \"metadata\": {}, \"source\": \"# A run\"},\n"
	" {\"id\": \"c1\", \"cell_type\": \"code\", \"metadata\": {\"language\": \"yaml\"},"
	" \"execution_count\": null, \"outputs\": [], \"source\": ["
	"\"data: {dataset: synthetic, shape: [1, 4, 4], train_size: 8}\\n\","
	" \"model: [flatten, {linear: 10}]\\n\", \"train: {device: cpu}\\n\"]}\n]}\n";

static const char seed_spec[] =
	"data: {dataset: synthetic, shape: [1, 4, 4], train_size: 8}\nmodel: [flatten, {linear: 10}]\n";

static struct app app;
static bool world_dirty = true;
static uint64_t world_print; /* world_fingerprint() of the world as built */

static void event_hook(void *ctx, int64_t run, int64_t seq, const char *json, size_t len)
{
	(void)ctx;
	json_t *j = json_loadb(json, len, 0, NULL);
	if (!json_is_object(j))
		fuzz_fail("run r%lld event %lld is not a JSON object: %.200s", (long long)run, (long long)seq, json);
	json_decref(j);
}

static void run_changed_hook(void *ctx, int64_t run)
{
	(void)ctx;
	(void)run;
}

static void world_free(void)
{
	sweeps_free(app.sweeps); /* never started: no thread to stop */
	app.sweeps = NULL;
	runq_free(app.runq);
	nb_free(&app.nb);
	store_free(app.store);
	app.runq = NULL;
	app.store = NULL;
}

static void append(int64_t run, const char *text)
{
	json_t *ev = json_loads(text, 0, NULL);
	if (!ev || store_append_event(app.store, run, text, strlen(text), ev, NULL) < 0)
		fuzz_fail("cannot append %s", text);
	json_decref(ev);
}

static uint64_t world_fingerprint(void);

static void world_build(void)
{
	char err[512], path[PATH_MAX], dir[PATH_MAX];
	const char *scratch = fuzz_scratch();
	fuzz_path(dir, sizeof dir, scratch, "ws");
	fuzz_remove_tree(dir);
	fuzz_mkdir(scratch, "ws");
	fuzz_mkdir(dir, ".trainbook");
	fuzz_mkdir(scratch, "static");
	fuzz_path(path, sizeof path, scratch, "static");
	fuzz_write(path, "index.html", "<!doctype html><title>t</title>\n", 32);
	fuzz_mkdir(path, "app");
	fuzz_path(path, sizeof path, scratch, "static/app");
	fuzz_write(path, "main.js", "export {};\n", 11);
	fuzz_write(dir, "nb.ipynb", seed_notebook, sizeof seed_notebook - 1);

	cfg_defaults(&app.cfg);
	snprintf(app.cfg.workspace, sizeof app.cfg.workspace, "%s", dir);
	snprintf(app.cfg.static_dir, sizeof app.cfg.static_dir, "%s/static", scratch);
	snprintf(app.cfg.token, sizeof app.cfg.token, "fuzz-token");
	app.cfg.seed = false;
	snprintf(app.cfg.runs_dir, sizeof app.cfg.runs_dir, "%s/.trainbook/runs", dir);
	snprintf(app.owner, sizeof app.owner, "fuzz");
	if (auth_init(&app.auth, &app.cfg, err, sizeof err) < 0)
		fuzz_fail("auth_init: %s", err);
	snprintf(path, sizeof path, "%s/.trainbook/trainbook.db", dir);
	if (store_open(path, &app.store, err, sizeof err) < 0)
		fuzz_fail("store_open: %s", err);
	if (nb_init(&app.nb, dir, app.store, app.owner) != NB_OK)
		fuzz_fail("nb_init %s", dir);
	struct runq_config rc = {.workspace = dir,
				 .exe = "/nonexistent/trainbook",
				 .owner = app.owner,
				 .cpu_runs = 1,
				 .worker_timeout = 600,
				 .stop_timeout = 1,
				 .max_queued = 4};
	struct runq_hooks hooks = {.event = event_hook, .run_changed = run_changed_hook};
	if (runq_new(&rc, app.store, &hooks, &app.runq, err, sizeof err) < 0)
		fuzz_fail("runq_new: %s", err);
	app.sweeps = sweeps_new(app.store, app.runq); /* as serve_main.c makes it; its thread is never started */
	app.access = (struct access_ctx){.accounts = false, .store = app.store, .workspace = app.cfg.workspace};
	if (!app.logins) {
		static const struct throttle_policy logins = {.burst = 10, .refill_ms = 2000, .slots = 64};
		app.logins = throttle_new(&logins);
	}
	app.ident = (struct ident){.accounts = false, .auth = &app.auth, .store = app.store, .logins = app.logins};
	snprintf(app.ident.owner, sizeof app.ident.owner, "%s", app.owner);
	if (!app.sysmon) {
		struct sysmon_hooks sh = {0};
		app.sysmon = sysmon_new(&sh); /* no world in it; sampled once, never started */
	}

	/* r1: a finished run with metrics and a checkpoint; r2: queued. */
	struct store_run_new r = {
		.name = "seed", .spec = seed_spec, .notebook = "nb.ipynb", .cell = "c1", .owner = app.owner};
	int64_t id;
	if (store_run_create(app.store, &r, &id) < 0 || id != 1)
		fuzz_fail("store_run_create r1");
	char run_dir[PATH_MAX], ckpt[PATH_MAX + 64], text[PATH_MAX + 256];
	app_run_dir(&app, 1, run_dir, sizeof run_dir);
	fuzz_mkdir(dir, ".trainbook/runs/r1");
	fuzz_write(run_dir, "step-000000001.safetensors", "\x02\0\0\0\0\0\0\0{}", 10);
	snprintf(ckpt, sizeof ckpt, "%s/step-000000001.safetensors", run_dir);
	append(1, "{\"type\":\"status\",\"status\":\"running\",\"device\":\"cpu\",\"total_steps\":2}");
	append(1, "{\"type\":\"metric\",\"step\":1,\"epoch\":0,\"values\":{\"loss\":0.5}}");
	append(1, "{\"type\":\"metric\",\"step\":2,\"epoch\":0,\"split\":\"test\",\"values\":{\"accuracy\":0.25}}");
	snprintf(text, sizeof text,
		 "{\"type\":\"checkpoint\",\"file\":\"step-000000001.safetensors\",\"path\":\"%s\","
		 "\"step\":1,\"epoch\":0,\"bytes\":10}",
		 ckpt);
	append(1, text);
	append(1, "{\"type\":\"summary\",\"best\":{\"metric\":\"accuracy\",\"value\":0.25}}");
	append(1, "{\"type\":\"status\",\"status\":\"completed\"}");
	r.notebook = r.cell = NULL;
	if (store_run_create(app.store, &r, &id) < 0 || id != 2)
		fuzz_fail("store_run_create r2");
	world_dirty = false;
	world_print = world_fingerprint();
}

/* ---- one request --------------------------------------------------------------- */

/* Cut text at each `sep` into NUL-terminated pieces (in place); returns the count. */
static int cut(char *text, char sep, char **pieces, int max)
{
	int n = 0;
	for (char *p = text; p && *p && n < max;) {
		pieces[n++] = p;
		p = strchr(p, sep);
		if (p)
			*p++ = '\0';
	}
	return n;
}

/* The route's pattern with each {…} replaced by the next value. */
static void fill_pattern(const char *pattern, char **values, int nvalues, char *out, size_t len)
{
	size_t n = 0;
	int v = 0;
	for (const char *p = pattern; *p && n + 1 < len;) {
		if (*p == '{') {
			const char *val = v < nvalues ? values[v] : "";
			v++;
			n += (size_t)snprintf(out + n, len - n, "%s", val);
			if (n >= len)
				n = len - 1;
			p = strchr(p, '}');
			p = p ? p + 1 : p + strlen(p);
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
}

static bool status_documented(unsigned s)
{
	static const unsigned ok[] = {200, 201, 202, 204, 302, 303, 304, 400, 401, 403, 404, 405, 409, 412, 413, 429};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (s == ok[i])
			return true;
	return false;
}

static void check_reply(const struct http_route *route, const struct MHD_Connection *c)
{
	const char *what = route->pattern;
	if (c->queued != 1)
		fuzz_fail("%s %s queued %d replies", route->method, what, c->queued);
	if (!status_documented(c->status))
		fuzz_fail("%s %s answered %u: %.300s", route->method, what, c->status, c->body);
	bool json = c->content_type && !strncmp(c->content_type, "application/json", 16);
	bool html = c->content_type && !strncmp(c->content_type, "text/html", 9);
	if (c->status >= 400 && !html && !json)
		fuzz_fail("%s %s: error %u is not JSON (Content-Type %s): %.300s", route->method, what, c->status,
			  c->content_type ? c->content_type : "none", c->body);
	if (!json || c->body_is_file)
		return;
	json_error_t jerr;
	json_t *j = json_loadb(c->body, c->body_len, 0, &jerr);
	if (!j)
		fuzz_fail("%s %s: the JSON reply does not parse (%s): %.300s", route->method, what, jerr.text, c->body);
	if (c->status >= 400 &&
	    (!json_is_string(json_object_get(j, "error")) || !json_is_string(json_object_get(j, "message"))))
		fuzz_fail("%s %s: error %u without error and message: %.300s", route->method, what, c->status, c->body);
	json_decref(j);
}

/* ---- what a refused request must leave alone ----------------------------------- */

static uint64_t print_hash;

static void print_mix(const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++)
		print_hash = (print_hash ^ p[i]) * 0x100000001b3ull; /* FNV-1a */
}

static int print_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	const char *name = path + ftw->base;
	/* The database is compared through its contents below; its files
	 * change size when the checkpoint thread folds the WAL back. */
	if (!strncmp(name, "trainbook.db", 12))
		return 0;
	print_mix(path, strlen(path) + 1);
	print_mix(&st->st_mode, sizeof st->st_mode);
	print_mix(&st->st_size, sizeof st->st_size);
	print_mix(&st->st_mtim, sizeof st->st_mtim);
	return 0;
}

/* A hash of the runs (existence, status, last event) and of every file in
 * the workspace (name, type, size, mtime). */
static uint64_t world_fingerprint(void)
{
	print_hash = 0xcbf29ce484222325ull;
	for (int64_t id = 1; id <= 16; id++) {
		struct store_run_info info;
		if (store_run_info(app.store, id, &info) < 0)
			continue;
		print_mix(&id, sizeof id);
		print_mix(info.status, strlen(info.status));
		print_mix(&info.last_seq, sizeof info.last_seq);
		store_run_info_free(&info);
	}
	nftw(app.cfg.workspace, print_file, 16, FTW_PHYS);
	return print_hash;
}

/* Every stored run must be listable and readable: a run the store holds
 * but cannot turn into JSON answers 404 and vanishes from GET /api/runs. */
static void check_runs(void)
{
	for (int64_t id = 1; id <= 16; id++) {
		struct store_run_info info;
		if (store_run_info(app.store, id, &info) < 0)
			continue;
		store_run_info_free(&info);
		json_t *run = store_run_json(app.store, id);
		if (!run)
			fuzz_fail("run r%lld is stored but cannot be read back as JSON", (long long)id);
		json_decref(run);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (world_dirty) {
		if (app.store)
			world_free();
		world_build();
	}
	struct fuzz_part parts[4];
	int nparts = fuzz_split(data, size, parts, 4);
	const struct http_route *chosen = &http_routes[data[0] % http_nroutes];
	struct fuzz_part param_part = {parts[0].data + !!parts[0].len, parts[0].len ? parts[0].len - 1 : 0};
	char *param_text = fuzz_strdup(&param_part);
	char *query = nparts > 2 ? fuzz_strdup(&parts[2]) : NULL;
	char *headers = nparts > 3 ? fuzz_strdup(&parts[3]) : NULL;
	char *values[HTTP_MAX_PARAMS], path[4096];
	fill_pattern(chosen->pattern, values, cut(param_text, '\n', values, HTTP_MAX_PARAMS), path, sizeof path);

	struct MHD_Connection conn = {0};
	char *pieces[FAKE_MAX_VALUES];
	int n = query ? cut(query, '&', pieces, FAKE_MAX_VALUES) : 0;
	for (int i = 0; i < n; i++) {
		char *eq = strchr(pieces[i], '=');
		conn.arg_names[conn.nargs] = pieces[i];
		conn.arg_values[conn.nargs++] = eq ? (*eq = '\0', eq + 1) : "";
	}
	n = headers ? cut(headers, '\n', pieces, FAKE_MAX_VALUES) : 0;
	for (int i = 0; i < n; i++) {
		char *colon = strchr(pieces[i], ':');
		if (!colon)
			continue;
		*colon++ = '\0';
		while (*colon == ' ')
			colon++;
		conn.header_names[conn.nheaders] = pieces[i];
		conn.header_values[conn.nheaders++] = colon;
	}

	/* first_call's checks, on the fuzzed headers: their parsers must cope
	 * with anything (the request goes on either way, as if it passed). */
	const char *host = MHD_lookup_connection_value(&conn, MHD_HEADER_KIND, "Host");
	(void)auth_host_ok(&app.auth, host);
	(void)auth_origin_ok(MHD_lookup_connection_value(&conn, MHD_HEADER_KIND, "Origin"), host);
	struct acct_who who;
	int wait;
	(void)ident_check(&app.ident, MHD_lookup_connection_value(&conn, MHD_HEADER_KIND, "Cookie"),
			  MHD_lookup_connection_value(&conn, MHD_HEADER_KIND, "Authorization"),
			  MHD_lookup_connection_value(&conn, MHD_GET_ARGUMENT_KIND, "token"), "fuzzed", &who, &wait);

	/* What access_cb does once first_call has let the request through: the
	 * caller is the single-user owner, whose rules allow everything named. */
	struct http_req r = {.conn = &conn, .app = &app, .method = chosen->method, .authorized = true};
	if (ident_check(&app.ident, NULL, "token fuzz-token", NULL, "owner", &r.who, &wait) != IDENT_OK)
		fuzz_fail("the owner's token is refused");
	bool known;
	r.path = path;
	r.route = http_match(chosen->method, path, r.params, &r.nparams, &known);
	const struct fuzz_part *body = nparts > 1 ? &parts[1] : NULL;
	/* The owner may be told that what the URL names does not exist, never that it is not hers. */
	struct access_verdict verdict;
	bool allowed = !r.route || access_url(&app.access, &r.who, r.route->rule, r.params, r.nparams, &verdict);
	if (!allowed && verdict.status != 404)
		fuzz_fail("%s %s: the owner is refused with %u (%s)", r.method, path, verdict.status, verdict.message);
	if (!allowed)
		fuzz_check_message("access_url", verdict.message);
	if (r.route && allowed && (!body || body->len <= r.route->body_max)) {
		if (body && body->len)
			srv_buf_append(&r.body, (const char *)body->data, body->len);
		r.route->handler(&r);
		if (getenv("FUZZ_TRACE"))
			fprintf(stderr, "%s %s -> %u %.200s\n", r.method, path, conn.status,
				conn.body ? conn.body : "");
		check_reply(r.route, &conn);
		if (strcmp(r.method, "GET")) {
			check_runs();
			if (conn.status < 400)
				world_dirty = true;
			else if (world_fingerprint() != world_print)
				fuzz_fail("%s %s answered %u but changed the workspace or the store", r.method, path,
					  conn.status);
		}
	}
	for (int i = 0; i < r.nparams; i++)
		free(r.params[i]);
	srv_buf_free(&r.body);
	/* What request_completed frees (http.c): a handler's parsed body and deferred state. */
	json_decref(r.body_json);
	if (r.job_free)
		r.job_free(r.job);
	if (r.defer_free)
		r.defer_free(r.defer_ctx);
	free(conn.content_type);
	free(conn.body);
	free(param_text);
	free(query);
	free(headers);
	return 0;
}
