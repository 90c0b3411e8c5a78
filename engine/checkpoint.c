/*
 * checkpoint.c — checkpoints as safetensors (see checkpoint.h).
 */
#include "checkpoint.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonw.h"
#include "model.h"
#include "optim.h"
#include "safetensors.h"
#include "tb.h"

void checkpoint_state_path(const char *path, char *out, size_t len)
{
	size_t n = strlen(path);
	const char *ext = ".safetensors";
	size_t el = strlen(ext);
	if (n >= el && strcmp(path + n - el, ext) == 0)
		snprintf(out, len, "%.*s.state%s", (int)(n - el), path, ext);
	else
		snprintf(out, len, "%s.state%s", path, ext);
}

/* The progress keys fill_meta writes: step, epoch, position, best value and step, early stopping. */
#define PROGRESS_META 6

static void fill_meta(struct st_meta *meta, char bufs[][32], const struct checkpoint_state *cs, int *nmeta)
{
	int n = *nmeta;
	snprintf(bufs[0], 32, "%" PRId64, cs->step);
	snprintf(bufs[1], 32, "%d", cs->epoch);
	snprintf(bufs[2], 32, "%" PRId64, cs->position);
	snprintf(bufs[3], 32, "%.17g", cs->has_best ? cs->best_value : -1.0);
	snprintf(bufs[4], 32, "%" PRId64, cs->best_step);
	meta[n++] = (struct st_meta){"trainbook.step", bufs[0]};
	meta[n++] = (struct st_meta){"trainbook.epoch", bufs[1]};
	meta[n++] = (struct st_meta){"trainbook.position", bufs[2]};
	meta[n++] = (struct st_meta){"trainbook.best_value", bufs[3]};
	meta[n++] = (struct st_meta){"trainbook.best_step", bufs[4]};
	snprintf(bufs[5], 32, "%d %d %d %d", cs->best_epoch, cs->bad_evals, cs->early_stopped ? 1 : 0,
		 cs->stopped_epoch);
	meta[n++] = (struct st_meta){"trainbook.early_stop", bufs[5]};
	*nmeta = n;
}

static int save_state(const char *path, const struct model *m, const struct optim *o,
		      const struct checkpoint_state *cs, char *err, size_t errlen)
{
	int ntrain = 0;
	for (int i = 0; i < m->nparams; i++)
		ntrain += m->params[i].trainable;
	int nent = o && o->nstate ? ntrain * o->nstate : 0;
	float *host = NULL;
	struct st_entry *entries = tb_xcalloc((size_t)TB_MAX(nent, 1), sizeof(*entries));
	char (*names)[MODEL_PARAM_NAME_MAX + 16] = tb_xcalloc((size_t)TB_MAX(nent, 1), sizeof(*names));
	if (nent) {
		size_t bytes = (size_t)o->nstate * o->n * sizeof(float);
		host = tb_xmalloc(bytes);
		o->be->download(o->be, host, o->state, bytes);
	}
	int e = 0;
	for (int s = 0; s < (nent ? o->nstate : 0); s++) {
		for (int i = 0; i < m->nparams; i++) {
			const struct model_param *p = &m->params[i];
			if (!p->trainable)
				continue;
			snprintf(names[e], sizeof(names[e]), "%s.%s", p->name, optim_state_name(o, s));
			entries[e].name = names[e];
			entries[e].t = tensor_make(host + (int64_t)s * o->n + p->offset, TENSOR_F32, p->ndim, p->shape);
			e++;
		}
	}
	struct st_meta meta[1 + PROGRESS_META];
	char bufs[PROGRESS_META][32];
	int nmeta = 0;
	char stepbuf[32];
	snprintf(stepbuf, sizeof(stepbuf), "%" PRId64, o ? o->step : 0);
	meta[nmeta++] = (struct st_meta){"trainbook.optimizer_step", stepbuf};
	fill_meta(meta, bufs, cs, &nmeta);
	int rc = safetensors_write(path, entries, e, meta, nmeta, err, errlen);
	free(host);
	free(entries);
	free(names);
	return rc;
}

static void shape_json(struct jsonw *w, struct shape s)
{
	jsonw_begin_array(w);
	for (int i = 0; i < s.ndim; i++)
		jsonw_int(w, s.d[i]);
	jsonw_end_array(w);
}

/*
 * trainbook.module (checkpoint.h): each top-level layer with its resolved
 * arguments, read from its kind's table, and its shapes. malloc'd JSON.
 */
static char *module_json(const struct model *m)
{
	struct jsonw w;
	jsonw_init(&w);
	jsonw_begin_object(&w);
	jsonw_key(&w, "preset");
	if (m->preset[0])
		jsonw_str(&w, m->preset);
	else
		jsonw_null(&w);
	jsonw_key(&w, "layers");
	jsonw_begin_array(&w);
	for (int i = 0; i < m->nlayers; i++) {
		const struct layer *l = &m->layers[i];
		jsonw_begin_object(&w);
		jsonw_kstr(&w, "name", l->name);
		jsonw_kstr(&w, "type", l->kind->name);
		jsonw_key(&w, "args");
		jsonw_begin_object(&w);
		for (int a = 0; a < LAYER_ARGS_MAX && l->kind->args[a].name; a++) {
			if (l->kind->args[a].integer)
				jsonw_kint(&w, l->kind->args[a].name, (int64_t)l->arg[a]);
			else
				jsonw_knum(&w, l->kind->args[a].name, l->arg[a]);
		}
		jsonw_end_object(&w);
		jsonw_key(&w, "in");
		shape_json(&w, l->in);
		jsonw_key(&w, "out");
		shape_json(&w, l->out);
		jsonw_end_object(&w);
	}
	jsonw_end_array(&w);
	jsonw_end_object(&w);
	char *out = jsonw_take(&w);
	jsonw_free(&w); /* take starts a fresh buffer */
	return out;
}

int64_t checkpoint_save(const char *path, struct model *m, const struct optim *o, const char *spec_source,
			const struct st_meta *extra, int nextra, const struct checkpoint_state *cs, char *err,
			size_t errlen)
{
	char state_path[4096];
	checkpoint_state_path(path, state_path, sizeof(state_path));
	if (save_state(state_path, m, o, cs, err, errlen) < 0)
		return -1;

	struct backend *be = m->be;
	float *weights = tb_xmalloc((size_t)TB_MAX(m->n_weights, 1) * sizeof(float));
	float *buffers = tb_xmalloc((size_t)TB_MAX(m->n_buffers, 1) * sizeof(float));
	be->download(be, weights, m->weights, (size_t)m->n_weights * sizeof(float));
	if (m->n_buffers)
		be->download(be, buffers, m->buffers, (size_t)m->n_buffers * sizeof(float));
	/* PyTorch keeps num_batches_tracked as int64; convert those few scalars. */
	int64_t *counts = tb_xcalloc((size_t)TB_MAX(m->nparams, 1), sizeof(int64_t));
	struct st_entry *entries = tb_xcalloc((size_t)TB_MAX(m->nparams, 1), sizeof(*entries));
	for (int i = 0; i < m->nparams; i++) {
		const struct model_param *p = &m->params[i];
		entries[i].name = p->name;
		if (p->is_count) {
			counts[i] = (int64_t)buffers[p->offset];
			entries[i].t = tensor_make(&counts[i], TENSOR_I64, 0, NULL);
		} else {
			float *base = p->trainable ? weights : buffers;
			entries[i].t = tensor_make(base + p->offset, TENSOR_F32, p->ndim, p->shape);
		}
	}
	/* format, spec, the progress keys, module, then extra */
	struct st_meta *meta = tb_xcalloc(3 + PROGRESS_META + (size_t)nextra, sizeof(*meta));
	char bufs[PROGRESS_META][32];
	int nmeta = 0;
	meta[nmeta++] = (struct st_meta){"format", "pt"};
	meta[nmeta++] = (struct st_meta){"trainbook.spec", spec_source ? spec_source : ""};
	fill_meta(meta, bufs, cs, &nmeta);
	char *module = module_json(m);
	meta[nmeta++] = (struct st_meta){"trainbook.module", module};
	for (int i = 0; i < nextra; i++)
		meta[nmeta++] = extra[i];
	int rc = safetensors_write(path, entries, m->nparams, meta, nmeta, err, errlen);
	free(module);
	free(meta);
	free(weights);
	free(buffers);
	free(counts);
	free(entries);
	if (rc < 0) {
		unlink(state_path);
		return -1;
	}
	FILE *f = fopen(path, "rb");
	int64_t size = 0;
	if (f) {
		fseek(f, 0, SEEK_END);
		size = ftell(f);
		fclose(f);
	}
	return size;
}

static int64_t meta_int(const struct safetensors *st, const char *key)
{
	const char *v = safetensors_meta(st, key);
	return v ? strtoll(v, NULL, 10) : 0;
}

static int load_tensor_into(const struct st_tensor *t, const struct model_param *p, float *dst, const char *path,
			    char *err, size_t errlen)
{
	if (p->is_count) {
		if (t->t.dtype != TENSOR_I64 || tensor_numel(&t->t) != 1) {
			tb_fmt(err, errlen, "%s: %s should be one int64", path, p->name);
			return -1;
		}
		int64_t v;
		memcpy(&v, t->t.data, sizeof(v));
		dst[0] = (float)v;
		return 0;
	}
	bool same = t->t.dtype == TENSOR_F32 && t->t.ndim == p->ndim;
	for (int d = 0; same && d < p->ndim; d++)
		same = t->t.shape[d] == p->shape[d];
	if (!same) {
		char want[64], got[64];
		struct tensor wt = tensor_make(NULL, TENSOR_F32, p->ndim, p->shape);
		tb_fmt(err, errlen, "%s: %s has shape %s %s, the model needs %s F32", path, p->name,
		       tensor_shape_str(&t->t, got, sizeof(got)), tensor_dtype_name(t->t.dtype),
		       tensor_shape_str(&wt, want, sizeof(want)));
		return -1;
	}
	memcpy(dst, t->t.data, t->nbytes);
	return 0;
}

static int load_state(const char *path, struct model *m, struct optim *o, char *err, size_t errlen)
{
	struct safetensors st;
	if (safetensors_read(path, &st, err, errlen) < 0)
		return -1;
	int rc = -1;
	float *host = o->nstate ? tb_xcalloc((size_t)o->nstate * o->n, sizeof(float)) : NULL;
	for (int s = 0; s < o->nstate; s++) {
		for (int i = 0; i < m->nparams; i++) {
			const struct model_param *p = &m->params[i];
			if (!p->trainable)
				continue;
			char name[MODEL_PARAM_NAME_MAX + 32];
			snprintf(name, sizeof(name), "%s.%s", p->name, optim_state_name(o, s));
			const struct st_tensor *t = safetensors_find(&st, name);
			if (!t) {
				tb_fmt(err, errlen, "%s: optimizer state %s missing (was the run made with another optimizer?)",
				       path, name);
				goto out;
			}
			if (load_tensor_into(t, p, host + (int64_t)s * o->n + p->offset, path, err, errlen) < 0)
				goto out;
		}
	}
	if (host)
		o->be->upload(o->be, o->state, host, (size_t)o->nstate * o->n * sizeof(float));
	o->step = meta_int(&st, "trainbook.optimizer_step");
	rc = 0;
out:
	free(host);
	safetensors_free(&st);
	return rc;
}

int checkpoint_load(const char *path, struct model *m, struct optim *o, struct checkpoint_state *cs, char *err,
		    size_t errlen)
{
	struct safetensors st;
	if (safetensors_read(path, &st, err, errlen) < 0)
		return -1;
	int rc = -1;
	float *weights = tb_xcalloc((size_t)TB_MAX(m->n_weights, 1), sizeof(float));
	float *buffers = tb_xcalloc((size_t)TB_MAX(m->n_buffers, 1), sizeof(float));
	for (int i = 0; i < m->nparams; i++) {
		const struct model_param *p = &m->params[i];
		const struct st_tensor *t = safetensors_find(&st, p->name);
		if (!t) {
			tb_fmt(err, errlen, "%s: %s missing (the checkpoint is from a different model)", path, p->name);
			goto out;
		}
		if (load_tensor_into(t, p, (p->trainable ? weights : buffers) + p->offset, path, err, errlen) < 0)
			goto out;
	}
	if (st.n != m->nparams) {
		tb_fmt(err, errlen, "%s: has %d tensors, the model has %d (a different model?)", path, st.n, m->nparams);
		goto out;
	}
	if (o) {
		char state_path[4096];
		checkpoint_state_path(path, state_path, sizeof(state_path));
		if (load_state(state_path, m, o, err, errlen) < 0)
			goto out;
	}
	m->be->upload(m->be, m->weights, weights, (size_t)m->n_weights * sizeof(float));
	if (m->n_buffers)
		m->be->upload(m->be, m->buffers, buffers, (size_t)m->n_buffers * sizeof(float));
	if (cs) {
		memset(cs, 0, sizeof(*cs));
		cs->step = meta_int(&st, "trainbook.step");
		cs->epoch = (int)meta_int(&st, "trainbook.epoch");
		cs->position = meta_int(&st, "trainbook.position");
		const char *best = safetensors_meta(&st, "trainbook.best_value");
		cs->best_value = best ? strtod(best, NULL) : -1;
		cs->has_best = cs->best_value >= 0;
		cs->best_step = meta_int(&st, "trainbook.best_step");
		const char *es = safetensors_meta(&st, "trainbook.early_stop");
		int stopped = 0;
		if (!es || sscanf(es, "%d %d %d %d", &cs->best_epoch, &cs->bad_evals, &stopped,
				  &cs->stopped_epoch) != 4)
			cs->best_epoch = cs->bad_evals = cs->stopped_epoch = 0; /* older checkpoints */
		cs->early_stopped = stopped == 1;
	}
	rc = 0;
out:
	free(weights);
	free(buffers);
	safetensors_free(&st);
	return rc;
}

int checkpoint_read_spec(const char *path, char **spec_source, char *err, size_t errlen)
{
	struct safetensors st;
	if (safetensors_read(path, &st, err, errlen) < 0)
		return -1;
	const char *spec = safetensors_meta(&st, "trainbook.spec");
	if (!spec || !*spec) {
		tb_fmt(err, errlen, "%s: no spec stored in this checkpoint (not written by trainbook?)", path);
		safetensors_free(&st);
		return -1;
	}
	*spec_source = tb_xstrdup(spec);
	safetensors_free(&st);
	return 0;
}

static bool is_step_file(const char *name)
{
	size_t n = strlen(name);
	return strncmp(name, "step-", 5) == 0 && n > 17 && strcmp(name + n - 12, ".safetensors") == 0 &&
	       !strstr(name, ".state.");
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* step-*.safetensors names, sorted oldest first (names are zero-padded). */
static int list_steps(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	char **names = NULL;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_step_file(de->d_name))
			continue;
		names = tb_xrealloc(names, (size_t)(n + 1) * sizeof(char *));
		names[n++] = tb_xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(char *), compare_names);
	*out = names;
	return n;
}

void checkpoint_prune(const char *dir, int keep)
{
	char **names = NULL;
	int n = list_steps(dir, &names);
	for (int i = 0; i < n; i++) {
		if (keep > 0 && i < n - keep) {
			char path[4096], state[4096];
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			checkpoint_state_path(path, state, sizeof(state));
			unlink(path);
			unlink(state);
		}
		free(names[i]);
	}
	free(names);
}
