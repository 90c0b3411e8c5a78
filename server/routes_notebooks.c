/*
 * routes_notebooks.c — /api/notebooks: list, read, download, create or
 * upload, save with If-Match, rename, delete. Paths and files are
 * notebooks.c's business; this file maps its codes to HTTP statuses.
 *
 * Threads: libmicrohttpd's polling thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

enum MHD_Result route_nb_list(struct http_req *r)
{
	return http_json(r, 200, nb_list(&r->app->nb));
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
	int rc = nb_create(&r->app->nb, path, text, len, etag, err, sizeof err);
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
	int rc = nb_save(&r->app->nb, r->params[0], r->body.data ? r->body.data : "", r->body.len,
			 http_header(r, "If-Match"), etag, &mtime, err, sizeof err);
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
