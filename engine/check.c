/*
 * check.c — spec validation with shape inference and the memory estimate,
 * without training (see check.h). The data set is only probed (headers),
 * the model is built without a backend, so a check costs milliseconds.
 */
#include "check.h"

#include <stdio.h>
#include <string.h>

#include "data.h"
#include "jsonw.h"
#include "memest.h"
#include "memlimit.h"
#include "model.h"
#include "tb.h"

/* A checked spec: its data, model shapes and estimate; m is NULL when errs has the reasons. */
struct checked {
	struct data_info data;
	struct model *m;
	struct memest mem;
	bool fits;
};

/*
 * Where a run that does not fit is reported: at the data when the data
 * set and its loading are most of it, else at the layer whose parameters
 * cost the most, else at `model:`.
 */
static struct spec_pos memory_error_pos(const struct spec *s, const struct checked *c)
{
	const int64_t *p = c->mem.part;
	int64_t data = p[MEMEST_DATA] + p[MEMEST_DEVICE_DATA] + p[MEMEST_LOADER] + p[MEMEST_LOADING];
	struct spec_pos pos = s->model.pos;
	if (data * 2 > c->mem.total)
		pos = s->data.path[0] ? s->data.path_pos : s->data.dataset_pos.line ? s->data.dataset_pos : s->data.pos;
	else if (c->mem.biggest_layer >= 0 && c->m->layers[c->mem.biggest_layer].pos.line)
		pos = c->m->layers[c->mem.biggest_layer].pos;
	return pos.line ? pos : s->data.pos;
}

/* Probe the data, build the model shapes, estimate; errors (a run that cannot fit too) land in errs. */
static void check_run(const struct spec *s, const struct memest_machine *machine, struct checked *c,
		      struct spec_errors *errs)
{
	memset(c, 0, sizeof(*c));
	char err[512];
	if (data_probe(&s->data, &c->data, err, sizeof(err)) < 0) {
		struct spec_pos pos = s->data.path[0] ? s->data.path_pos : s->data.dataset_pos;
		if (!pos.line)
			pos = s->data.pos;
		spec_error_add(errs, pos, "%s", err);
		return;
	}
	const struct data_info *d = &c->data;
	struct shape input = d->h == 1 && d->w == 1 ? shape_vec(d->c) : shape_chw(d->c, d->h, d->w);
	c->m = model_build(&s->model, input, d->classes, NULL, errs);
	if (!c->m)
		return;
	memest_compute(s, d, c->m, machine, &c->mem);
	c->fits = memest_fits(&c->mem, machine, err, sizeof(err)) == 0;
	if (!c->fits)
		spec_error_add(errs, memory_error_pos(s, c), "%s", err);
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

static void memory_json(struct jsonw *w, const struct checked *c, const struct memest_machine *machine)
{
	const struct memest *e = &c->mem;
	jsonw_key(w, "memory");
	jsonw_begin_object(w);
	jsonw_kint(w, "total_bytes", e->total);
	jsonw_kstr(w, "device", e->cuda ? "cuda" : "cpu");
	jsonw_kint(w, "host_bytes", e->host);
	if (e->cuda)
		jsonw_kint(w, "device_bytes", e->device);
	jsonw_key(w, "parts");
	jsonw_begin_object(w);
	for (int p = 0; p < MEMEST_NPARTS; p++)
		jsonw_kint(w, memest_part_name(p), e->part[p]);
	jsonw_end_object(w);
	if (e->cuda) {
		jsonw_key(w, "device_parts");
		jsonw_begin_array(w);
		for (int p = 0; p < MEMEST_NPARTS; p++)
			if (e->on_device[p])
				jsonw_str(w, memest_part_name(p));
		jsonw_end_array(w);
	}
	if (machine && machine->host_allowance > 0)
		jsonw_kint(w, "limit_bytes", machine->host_allowance);
	if (e->cuda && machine && machine->gpu_memory > 0)
		jsonw_kint(w, "gpu_limit_bytes", machine->gpu_memory);
	jsonw_kbool(w, "fits", c->fits);
	jsonw_end_object(w);
}

char *check_spec_json(const char *yaml, size_t len, const char *const *overrides, int noverrides,
		      const struct memest_machine *machine)
{
	struct jsonw w;
	jsonw_init(&w);
	jsonw_begin_object(&w);
	struct spec s;
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	snprintf(errs.filename, sizeof(errs.filename), "<spec>");
	struct memest_machine here;
	if (!machine) {
		memest_machine_this(&here, 0);
		machine = &here;
	}
	if (spec_parse(yaml, len, "<spec>", overrides, noverrides, &s, &errs) < 0) {
		errors_json(&w, &errs);
	} else {
		struct checked c;
		check_run(&s, machine, &c, &errs);
		if (!c.m) {
			errors_json(&w, &errs);
		} else if (!c.fits) {
			errors_json(&w, &errs);
			memory_json(&w, &c, machine);
		} else {
			jsonw_kbool(&w, "ok", true);
			jsonw_key(&w, "input_shape");
			jsonw_begin_array(&w);
			for (int i = 0; i < c.m->input.ndim; i++)
				jsonw_int(&w, c.m->input.d[i]);
			jsonw_end_array(&w);
			jsonw_kint(&w, "classes", c.m->classes);
			jsonw_kint(&w, "total_params", model_param_count(c.m));
			jsonw_kstr(&w, "device", s.train.device);
			jsonw_key(&w, "layers");
			jsonw_begin_array(&w);
			struct table_ctx ctx = {.w = &w};
			model_visit(c.m, layer_json, &ctx);
			jsonw_end_array(&w);
			memory_json(&w, &c, machine);
		}
		model_free(c.m);
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

/* What each part is, for people (memest.h says the same for readers of the code). */
static const char *const part_notes[MEMEST_NPARTS] = {
	[MEMEST_BASELINE] = "the worker process (code, libraries, threads)",
	[MEMEST_CONTEXT] = "the CUDA context, cuBLAS and cuDNN",
	[MEMEST_PARAMETERS] = "weights and running statistics",
	[MEMEST_GRADIENTS] = "one per weight",
	[MEMEST_OPTIMIZER] = "momentum or Adam's moments",
	[MEMEST_ACTIVATIONS] = "kept for backward at the batch size",
	[MEMEST_WORKSPACE] = "convolution and matrix-product scratch",
	[MEMEST_DATA] = "train, validation and test sets in memory",
	[MEMEST_DEVICE_DATA] = "the training set on the GPU",
	[MEMEST_LOADER] = "prefetched batches, epoch orders, evaluation",
	[MEMEST_CHECKPOINT] = "host copies while a checkpoint is written",
	[MEMEST_LOADING] = "only while the data set loads",
};

static void memory_print(const struct checked *c, const struct memest_machine *machine, FILE *out)
{
	const struct memest *e = &c->mem;
	char size[32], has[32], may[32];
	fprintf(out, "\nestimated peak memory: %s (", memlimit_format(e->total, size, sizeof(size)));
	if (e->cuda) {
		fprintf(out, "%s on each GPU, ", memlimit_format(e->device, size, sizeof(size)));
		fprintf(out, "%s on the host%s", memlimit_format(e->host, size, sizeof(size)),
			machine->host_allowance > 0 ? "; " : "");
	}
	if (machine->host_allowance > 0)
		fprintf(out, "this machine has %s, a run may use %s",
			memlimit_format(machine->host_total, has, sizeof(has)),
			memlimit_format(machine->host_allowance, may, sizeof(may)));
	fprintf(out, ")\n");
	for (int p = 0; p < MEMEST_NPARTS; p++) {
		if (!e->part[p])
			continue;
		fprintf(out, "  %-12s %10s  %s%s\n", memest_part_name(p),
			memlimit_format(e->part[p], size, sizeof(size)), part_notes[p],
			e->on_device[p] ? " (GPU)" : "");
	}
}

int check_spec_print(const char *path, const char *const *overrides, int noverrides,
		     const struct memest_machine *machine, FILE *out)
{
	struct spec s;
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	snprintf(errs.filename, sizeof(errs.filename), "%s", path);
	if (spec_parse_file(path, overrides, noverrides, &s, &errs) < 0) {
		spec_errors_print(&errs, stderr);
		return 2;
	}
	struct memest_machine here;
	if (!machine) {
		memest_machine_this(&here, 0);
		machine = &here;
	}
	struct checked c;
	check_run(&s, machine, &c, &errs);
	if (!c.m || !c.fits) {
		/* Errors alone, as for any invalid spec; the message names the largest parts. */
		spec_errors_print(&errs, stderr);
		model_free(c.m);
		spec_free(&s);
		return 2;
	}
	char buf[48], total[32];
	fprintf(out, "input %s, %d classes\n\n", shape_str(c.m->input, buf, sizeof(buf)), c.m->classes);
	fprintf(out, "%-28s %-16s %-18s %12s\n", "layer", "type", "output", "params");
	struct table_ctx ctx = {.out = out};
	model_visit(c.m, layer_row, &ctx);
	fprintf(out, "\ntotal trainable parameters: %s\n", thousands(model_param_count(c.m), total, sizeof(total)));
	memory_print(&c, machine, out);
	model_free(c.m);
	spec_free(&s);
	return 0;
}
