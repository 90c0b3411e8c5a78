/*
 * routes_notebooks.c — /api/notebooks: list, read, download, create or
 * upload, save with If-Match, rename, delete, copy. Paths and files are
 * notebooks.c's business; this file maps its codes to HTTP statuses.
 * Which paths a caller may touch is decided before a handler runs (the
 * route table's rules, access.c); listings show only readable places.
 *
 * Threads: libmicrohttpd's polling thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "app.h"
#include "notebooks.h"
#include "routes.h"
#include "tb.h"

static enum MHD_Result nb_fail(struct http_req *r, int code, const char *err)
{
	switch (code) {
	case NB_EBADPATH:
		return http_error(r, 400, "bad_path", "%s", err);
	case NB_ENOENT:
		return http_error(r, 404, "not_found", "%s", err);
	case NB_EEXIST:
		return http_error(r, 409, "exists", "%s", err);
	case NB_ECONFLICT:
		return http_error(r, 412, "conflict", "%s", err);
	case NB_EINVALID:
		return http_error(r, 400, "invalid_notebook", "%s", err);
	case NB_ETOOBIG:
		return http_error(r, 413, "too_large", "%s", err);
	default:
		return http_error(r, 500, "io", "%s", err);
	}
}

static bool visible(void *ctx, const char *rel, bool is_dir)
{
	return access_nb_visible(ctx, rel, is_dir);
}

enum MHD_Result route_nb_list(struct http_req *r)
{
	/* The route's rule lets any user list; the listing holds only what they may read. */
	if (r->who.instructor)
		return http_json(r, 200, nb_list(&r->app->nb));
	return http_json(r, 200, nb_list_visible(&r->app->nb, visible, &r->who));
}

enum MHD_Result route_nb_get(struct http_req *r)
{
	char *data, etag[NB_ETAG_LEN], err[512];
	size_t len;
	int64_t mtime;
	int rc = nb_read(&r->app->nb, r->params[0], &data, &len, etag, &mtime, err, sizeof err);
	if (rc)
		return nb_fail(r, rc, err);
	const char *inm = http_header(r, "If-None-Match");
	bool download = http_query_int(r, "download", 0) == 1;
	struct MHD_Response *resp;
	unsigned status = 200;
	if (inm && !strcmp(inm, etag) && !download) {
		free(data);
		resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
		status = 304;
	} else {
		resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	}
	MHD_add_response_header(resp, "ETag", etag);
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	if (download) {
		const char *name = strrchr(r->params[0], '/');
		name = name ? name + 1 : r->params[0];
		char disp[600];
		snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
		/* A quote in the name would end the parameter early. */
		for (char *p = disp + 22; *p && p[1]; p++)
			if (*p == '"')
				*p = '_';
		MHD_add_response_header(resp, "Content-Disposition", disp);
		MHD_add_response_header(resp, "Content-Type", "application/x-ipynb+json");
	} else {
		MHD_add_response_header(resp, "Content-Type", "application/json");
	}
	return http_send(r, status, resp);
}

enum MHD_Result route_nb_create(struct http_req *r)
{
	enum MHD_Result reply;
	json_t *body = http_body_json(r, &reply);
	if (!body)
		return reply;
	const char *path = json_string_value(json_object_get(body, "path"));
	json_t *content = json_object_get(body, "content");
	char *text = NULL, etag[NB_ETAG_LEN], err[512];
	size_t len = 0;
	if (!path) {
		json_decref(body);
		return http_error(r, 400, "bad_request", "expected {\"path\": \"name.ipynb\"}");
	}
	if (json_is_string(content)) {
		text = tb_xstrdup(json_string_value(content)); /* the file as uploaded */
		len = json_string_length(content);
	} else if (json_is_object(content)) {
		/* One-space indent and a final newline, as Jupyter writes them. */
		char *dumped = json_dumps(content, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		len = dumped ? strlen(dumped) : 0;
		text = dumped ? tb_xrealloc(dumped, len + 2) : NULL;
		if (text) {
			text[len++] = '\n';
			text[len] = '\0';
		}
	} else if (content && !json_is_null(content)) {
		json_decref(body);
		return http_error(r, 400, "bad_request", "\"content\" must be a notebook object or its text");
	}
	int rc = nb_create_as(&r->app->nb, path, text, len, r->who.name, etag, err, sizeof err);
	enum MHD_Result out;
	if (rc) {
		out = nb_fail(r, rc, err);
	} else {
		char *data;
		int64_t mtime;
		rc = nb_read(&r->app->nb, path, &data, &len, etag, &mtime, err, sizeof err);
		if (rc) {
			out = nb_fail(r, rc, err);
		} else {
			struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
			MHD_add_response_header(resp, "Content-Type", "application/json");
			MHD_add_response_header(resp, "ETag", etag);
			out = http_send(r, 201, resp);
		}
	}
	free(text);
	json_decref(body);
	return out;
}

enum MHD_Result route_nb_save(struct http_req *r)
{
	char etag[NB_ETAG_LEN], err[512];
	int64_t mtime;
	int rc = nb_save_as(&r->app->nb, r->params[0], r->body.data ? r->body.data : "", r->body.len,
			    http_header(r, "If-Match"), r->who.name, etag, &mtime, err, sizeof err);
	if (rc)
		return nb_fail(r, rc, err);
	json_t *body = json_pack("{s:s, s:I}", "etag", etag, "modified", (json_int_t)mtime);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "ETag", etag);
	return http_send(r, 200, resp);
}

enum MHD_Result route_nb_rename(struct http_req *r)
{
	enum MHD_Result reply;
	json_t *body = http_body_json(r, &reply);
	if (!body)
		return reply;
	const char *to = json_string_value(json_object_get(body, "path"));
	char err[512];
	enum MHD_Result out;
	if (!to) {
		out = http_error(r, 400, "bad_request", "expected {\"path\": \"new-name.ipynb\"}");
	} else {
		int rc = nb_rename(&r->app->nb, r->params[0], to, err, sizeof err);
		out = rc ? nb_fail(r, rc, err) : http_json(r, 200, json_pack("{s:s}", "path", to));
	}
	json_decref(body);
	return out;
}

enum MHD_Result route_nb_delete(struct http_req *r)
{
	char err[512];
	int rc = nb_delete(&r->app->nb, r->params[0], err, sizeof err);
	return rc ? nb_fail(r, rc, err) : http_json(r, 204, NULL);
}

/*
 * Make a copy: a student takes course material into their home, an
 * instructor publishes into course/. "to" defaults to the caller's home
 * (accounts) or "<name>-copy.ipynb" beside the original.
 */
enum MHD_Result route_nb_copy(struct http_req *r)
{
	struct app *app = r->app;
	enum MHD_Result reply;
	json_t *body = http_body_json(r, &reply);
	if (!body)
		return reply;
	const char *from = json_string_value(json_object_get(body, "from"));
	const char *to = json_string_value(json_object_get(body, "to"));
	char dflt[1200], err[512], etag[NB_ETAG_LEN];
	if (!from || (json_object_get(body, "to") && !to)) {
		json_decref(body);
		return http_error(r, 400, "bad_request", "expected {\"from\": \"course/x.ipynb\", \"to\"?: \"…\"}");
	}
	const char *base = strrchr(from, '/');
	base = base ? base + 1 : from;
	if (app->cfg.accounts) {
		/* Old accounts may predate their home; the copy needs it. */
		acct_make_home(app->cfg.workspace, r->who.name, err, sizeof err);
		if (!to) {
			snprintf(dflt, sizeof dflt, "users/%s/%s", r->who.name, base);
			to = dflt;
		}
	} else if (!to) {
		size_t n = strlen(from);
		snprintf(dflt, sizeof dflt, "%.*s-copy.ipynb", n > 6 ? (int)(n - 6) : (int)n, from);
		to = dflt;
	}
	int rc = nb_copy(&app->nb, from, to, r->who.name, etag, err, sizeof err);
	reply = rc ? nb_fail(r, rc, err)
		   : http_json(r, 201, json_pack("{s:s, s:s, s:s}", "path", to, "etag", etag, "copied_from", from));
	json_decref(body);
	return reply;
}
