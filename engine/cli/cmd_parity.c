/*
 * cmd_parity.c — `trainbook parity`: run a model from given weights on a
 * given batch and write what PyTorch would compute, for tests/parity/.
 *
 *   trainbook parity --spec S.yaml --weights W.safetensors --input I.safetensors
 *                    --out O.safetensors [--steps N] [--eval]
 *
 * I holds "x" (F32, [N, C, H, W] or [N, F]) and "y" (I32 or I64 [N]); W
 * holds a state_dict under PyTorch names. O receives "logits" and "dx"
 * (first step), "loss" ([steps]), "grad.<name>" (first step),
 * "param.<name>" and "buffer.<name>" (after the last step). With --steps
 * N > 1 the optimizer and schedule of the spec run N times on the same
 * batch: a training trajectory. Not a user-facing command.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "checkpoint.h"
#include "cli.h"
#include "loss.h"
#include "model.h"
#include "optim.h"
#include "safetensors.h"
#include "schedule.h"
#include "spec.h"
#include "tb.h"

struct parity_io {
	struct safetensors in;
	int n;
	struct shape input;
	float *x;
	int32_t *y;
};

static int read_input(const char *path, struct parity_io *io, char *err, size_t errlen)
{
	if (safetensors_read(path, &io->in, err, errlen) < 0)
		return -1;
	const struct st_tensor *x = safetensors_find(&io->in, "x");
	const struct st_tensor *y = safetensors_find(&io->in, "y");
	if (!x || !y || x->t.dtype != TENSOR_F32 || (x->t.ndim != 2 && x->t.ndim != 4) || y->t.ndim != 1 ||
	    y->t.shape[0] != x->t.shape[0]) {
		tb_fmt(err, errlen, "%s: needs x (F32 [N,F] or [N,C,H,W]) and y ([N])", path);
		return -1;
	}
	io->n = (int)x->t.shape[0];
	io->input = x->t.ndim == 2 ? shape_vec((int)x->t.shape[1])
				   : shape_chw((int)x->t.shape[1], (int)x->t.shape[2], (int)x->t.shape[3]);
	io->x = (float *)x->t.data;
	io->y = tb_xmalloc((size_t)io->n * sizeof(int32_t));
	for (int i = 0; i < io->n; i++) {
		if (y->t.dtype == TENSOR_I64) {
			int64_t v;
			memcpy(&v, (char *)y->t.data + 8 * i, 8);
			io->y[i] = (int32_t)v;
		} else {
			memcpy(&io->y[i], (char *)y->t.data + 4 * i, 4);
		}
	}
	return 0;
}

/* Output tensors accumulate here; names and data are owned. */
struct out_list {
	struct st_entry *e;
	int n;
};

static void out_add(struct out_list *o, const char *name, const float *data, int ndim, const int64_t *shape)
{
	o->e = tb_xrealloc(o->e, (size_t)(o->n + 1) * sizeof(*o->e));
	struct tensor t = tensor_make(NULL, TENSOR_F32, ndim, shape);
	size_t bytes = tensor_nbytes(&t);
	t.data = tb_xmalloc(bytes ? bytes : 1);
	memcpy(t.data, data, bytes);
	o->e[o->n].name = tb_xstrdup(name);
	o->e[o->n].t = t;
	o->n++;
}

static void out_free(struct out_list *o)
{
	for (int i = 0; i < o->n; i++) {
		free((char *)o->e[i].name);
		free(o->e[i].t.data);
	}
	free(o->e);
}

static void add_batch_tensor(struct out_list *o, const char *name, const float *data, int n, struct shape s)
{
	int64_t shape[4] = {n, s.d[0], s.d[1], s.d[2]};
	out_add(o, name, data, 1 + s.ndim, shape);
}

static void add_params(struct out_list *o, struct model *m, const char *prefix, const float *host_w,
		       const float *host_b, bool grads)
{
	for (int i = 0; i < m->nparams; i++) {
		const struct model_param *p = &m->params[i];
		if (grads && !p->trainable)
			continue;
		char name[MODEL_PARAM_NAME_MAX + 16];
		snprintf(name, sizeof(name), "%s%s", p->trainable || grads ? prefix : "buffer.", p->name);
		out_add(o, name, (p->trainable ? host_w : host_b) + p->offset, p->is_count ? 0 : p->ndim, p->shape);
	}
}

static int run_parity(const struct spec *s, const char *weights, struct parity_io *io, int steps, bool eval,
		      const char *out_path, char *err, size_t errlen)
{
	struct backend *be = backend_cpu_new(s->train.threads);
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	int rc = -1;
	struct out_list out = {0};
	struct optim *o = NULL;
	float *x = NULL, *dlogits = NULL, *stats = NULL, *losses = NULL;
	int32_t *y = NULL;
	struct model *m = model_build(&s->model, io->input, s->data.classes, be, &errs);
	if (!m) {
		tb_fmt(err, errlen, "%d:%d: %s", errs.list[0].pos.line, errs.list[0].pos.column, errs.list[0].message);
		goto out;
	}
	model_init(m, s->train.seed);
	if (weights && checkpoint_load(weights, m, NULL, NULL, err, errlen) < 0)
		goto out;
	model_want_input_grad(m, true);
	model_reserve(m, io->n);
	o = optim_new(&s->optimizer, be, m->n_weights);
	struct schedule sched;
	schedule_init(&sched, &s->schedule, s->optimizer.lr, steps, 1);
	x = be->alloc(be, (size_t)io->n * shape_numel(io->input) * sizeof(float));
	y = be->alloc(be, (size_t)io->n * sizeof(int32_t));
	dlogits = be->alloc(be, (size_t)io->n * m->classes * sizeof(float));
	stats = be->alloc(be, 2 * sizeof(float));
	losses = tb_xcalloc((size_t)steps, sizeof(float));
	be->upload(be, x, io->x, (size_t)io->n * shape_numel(io->input) * sizeof(float));
	be->upload(be, y, io->y, (size_t)io->n * sizeof(int32_t));
	for (int step = 0; step < steps; step++) {
		m->step = (uint64_t)step;
		const float *logits = model_forward(m, x, io->n, !eval);
		be->fill(be, stats, 0, 2);
		loss_apply(be, &s->loss, logits, y, io->n, m->classes, 1.0f, dlogits, stats, NULL);
		float st[2];
		be->download(be, st, stats, sizeof(st));
		losses[step] = st[0] / (float)io->n;
		model_backward(m, x, dlogits, io->n);
		if (step == 0) {
			add_batch_tensor(&out, "logits", logits, io->n, shape_vec(m->classes));
			add_batch_tensor(&out, "dx", model_input_grad(m), io->n, io->input);
			add_params(&out, m, "grad.", m->grads, m->buffers, true);
		}
		if (steps > 1)
			optim_step(o, m, schedule_lr(&sched, step));
	}
	out_add(&out, "loss", losses, 1, (int64_t[]){steps});
	add_params(&out, m, "param.", m->weights, m->buffers, false);
	if (safetensors_write(out_path, out.e, out.n, NULL, 0, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	if (x) {
		be->free(be, x);
		be->free(be, y);
		be->free(be, dlogits);
		be->free(be, stats);
	}
	free(losses);
	out_free(&out);
	optim_free(o);
	model_free(m);
	backend_destroy(be);
	return rc;
}

int cli_parity(int argc, char **argv)
{
	static const struct option options[] = {
		{"spec", required_argument, NULL, 's'}, {"weights", required_argument, NULL, 'w'},
		{"input", required_argument, NULL, 'i'}, {"out", required_argument, NULL, 'o'},
		{"steps", required_argument, NULL, 'n'}, {"eval", no_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	const char *spec_path = NULL, *weights = NULL, *input = NULL, *out = NULL;
	int steps = 1, c;
	bool eval = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:w:i:o:n:e", options, NULL)) != -1) {
		switch (c) {
		case 's': spec_path = optarg; break;
		case 'w': weights = optarg; break;
		case 'i': input = optarg; break;
		case 'o': out = optarg; break;
		case 'n': steps = atoi(optarg); break;
		case 'e': eval = true; break;
		default: return 2;
		}
	}
	if (!spec_path || !input || !out || steps < 1) {
		fprintf(stderr, "usage: trainbook parity --spec S --input I --out O [--weights W] [--steps N] [--eval]\n");
		return 2;
	}
	struct spec s;
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	if (spec_parse_file(spec_path, NULL, 0, &s, &errs) < 0) {
		spec_errors_print(&errs, stderr);
		return 2;
	}
	struct parity_io io;
	memset(&io, 0, sizeof(io));
	char err[512];
	int rc = read_input(input, &io, err, sizeof(err));
	if (rc == 0)
		rc = run_parity(&s, weights, &io, steps, eval, out, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "trainbook parity: %s\n", err);
	free(io.y);
	safetensors_free(&io.in);
	spec_free(&s);
	return rc < 0 ? 1 : 0;
}
