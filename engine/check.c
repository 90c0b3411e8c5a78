/*
 * check.c — spec validation with shape inference, without training (see
 * check.h). The data set is only probed (headers), the model is built
 * without a backend, so a check costs milliseconds.
 */
#include "check.h"

#include <stdio.h>
#include <string.h>

#include "data.h"
#include "jsonw.h"
#include "model.h"
#include "tb.h"

/* Probe the data and build the model shapes; errors land in errs. */
static struct model *check_model(const struct spec *s, struct spec_errors *errs)
{
	int c, h, w, classes;
	char err[512];
	if (data_probe(&s->data, &c, &h, &w, &classes, err, sizeof(err)) < 0) {
		struct spec_pos pos = s->data.path[0] ? s->data.path_pos : s->data.dataset_pos;
		if (!pos.line)
			pos = s->data.pos;
		spec_error_add(errs, pos, "%s", err);
		return NULL;
	}
	struct shape input = h == 1 && w == 1 ? shape_vec(c) : shape_chw(c, h, w);
	return model_build(&s->model, input, classes, NULL, errs);
}

struct table_ctx {
	struct jsonw *w;
	FILE *out;
};

static void layer_json(const struct layer *l, int depth, void *ctx)
{
	struct jsonw *w = ((struct table_ctx *)ctx)->w;
	jsonw_begin_object(w);
	jsonw_kstr(w, "name", l->name);
	jsonw_kstr(w, "type", l->kind->name);
	jsonw_kint(w, "depth", depth);
	jsonw_key(w, "output_shape");
	jsonw_begin_array(w);
	for (int i = 0; i < l->out.ndim; i++)
		jsonw_int(w, l->out.d[i]);
	jsonw_end_array(w);
	jsonw_kint(w, "params", l->nparams);
	if (l->pos.line)
		jsonw_kint(w, "line", l->pos.line);
	jsonw_end_object(w);
}

static void errors_json(struct jsonw *w, const struct spec_errors *errs)
{
	jsonw_kbool(w, "ok", false);
	jsonw_key(w, "errors");
	jsonw_begin_array(w);
	for (int i = 0; i < errs->count; i++) {
		jsonw_begin_object(w);
		jsonw_kint(w, "line", errs->list[i].pos.line);
		jsonw_kint(w, "column", errs->list[i].pos.column);
		jsonw_kstr(w, "message", errs->list[i].message);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
}

char *check_spec_json(const char *yaml, size_t len, const char *const *overrides, int noverrides)
{
	struct jsonw w;
	jsonw_init(&w);
	jsonw_begin_object(&w);
	struct spec s;
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	snprintf(errs.filename, sizeof(errs.filename), "<spec>");
	if (spec_parse(yaml, len, "<spec>", overrides, noverrides, &s, &errs) < 0) {
		errors_json(&w, &errs);
	} else {
		struct model *m = check_model(&s, &errs);
		if (!m) {
			errors_json(&w, &errs);
		} else {
			jsonw_kbool(&w, "ok", true);
			jsonw_key(&w, "input_shape");
			jsonw_begin_array(&w);
			for (int i = 0; i < m->input.ndim; i++)
				jsonw_int(&w, m->input.d[i]);
			jsonw_end_array(&w);
			jsonw_kint(&w, "classes", m->classes);
			jsonw_kint(&w, "total_params", model_param_count(m));
			jsonw_kstr(&w, "device", s.train.device);
			jsonw_key(&w, "layers");
			jsonw_begin_array(&w);
			struct table_ctx ctx = {.w = &w};
			model_visit(m, layer_json, &ctx);
			jsonw_end_array(&w);
			model_free(m);
		}
		spec_free(&s);
	}
	jsonw_end_object(&w);
	char *out = jsonw_take(&w);
	jsonw_free(&w);
	return out;
}

/* 1234567 -> "1,234,567" */
static char *thousands(int64_t v, char *buf, size_t len)
{
	char raw[32];
	snprintf(raw, sizeof(raw), "%lld", (long long)v);
	size_t n = strlen(raw), o = 0;
	for (size_t i = 0; i < n && o + 2 < len; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = raw[i];
	}
	buf[o] = 0;
	return buf;
}

static void layer_row(const struct layer *l, int depth, void *ctx)
{
	FILE *out = ((struct table_ctx *)ctx)->out;
	char shape[48], params[32], name[160];
	snprintf(name, sizeof(name), "%*s%s", depth * 2, "", l->name);
	fprintf(out, "%-28s %-16s %-18s %12s\n", name, l->kind->name, shape_str(l->out, shape, sizeof(shape)),
		l->nparams ? thousands(l->nparams, params, sizeof(params)) : "-");
}

int check_spec_print(const char *path, const char *const *overrides, int noverrides, FILE *out)
{
	struct spec s;
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	snprintf(errs.filename, sizeof(errs.filename), "%s", path);
	if (spec_parse_file(path, overrides, noverrides, &s, &errs) < 0) {
		spec_errors_print(&errs, stderr);
		return 2;
	}
	struct model *m = check_model(&s, &errs);
	if (!m) {
		spec_errors_print(&errs, stderr);
		spec_free(&s);
		return 2;
	}
	char buf[48], total[32];
	fprintf(out, "input %s, %d classes\n\n", shape_str(m->input, buf, sizeof(buf)), m->classes);
	fprintf(out, "%-28s %-16s %-18s %12s\n", "layer", "type", "output", "params");
	struct table_ctx ctx = {.out = out};
	model_visit(m, layer_row, &ctx);
	fprintf(out, "\ntotal trainable parameters: %s\n", thousands(model_param_count(m), total, sizeof(total)));
	model_free(m);
	spec_free(&s);
	return 0;
}
