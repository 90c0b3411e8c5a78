/*
 * gpu_step.c — GPU-only parts of a training step (see gpu_step.h).
 *
 * The extras come from the backend's table (be->ext, backend_ext.h), so
 * the engine links without CUDA and a backend that lacks one simply offers
 * less.
 * Device-side optimizer scalars: whenever clipping must not read the
 * gradients on the host (fp16, or any graph), a backend_amp object runs
 * after backward. For fp16 it is PyTorch's GradScaler; otherwise it is
 * configured with scale 1 and no growth, so it only computes the clip
 * factor, the step count and Adam's bias corrections on the device —
 * the same values optim.c computes on the host (double precision, then
 * float), so a graph changes nothing in the numbers.
 */
#include "gpu_step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_ext.h"
#include "precision.h"
#include "rng.h"
#include "tb.h"

/* Training sets larger than this stay on the host (one copy per GPU replica). */
#define GPU_DATA_MAX_BYTES ((int64_t)4 << 30)

struct gpu_step {
	struct backend *be;       /* not owned */
	struct model *m;          /* not owned */
	struct optim *o;          /* not owned */
	const struct backend_ext *fn; /* be->ext; any slot may be NULL */
	bool fp16;                /* dynamic loss scaling */
	bool graphs;              /* capture allowed */
	bool device_clip;         /* an amp object prepares the optimizer scalars */
	struct backend_amp *amp;  /* created on the first step (after a resume has set o->step) */

	/* the step graph */
	struct backend_graph *graph;
	int graph_n;
	bool settled;             /* an eager full-size step ran since the last invalidation */
	bool capturing;
	/*
	 * The per-step values the device reads, one upload a step:
	 * {dropout counter (the step), epoch, first sample of the batch}.
	 */
	int64_t block[3];         /* host copy, filled by seek and begin */
	int64_t *block_dev;       /* backend memory */

	/* training data on the GPU */
	struct backend_dataset *data;
	struct backend_augment aug;
	bool shuffle;
	uint64_t seed;
	int64_t n_train;
	int64_t *order_host;      /* the current epoch's order (host copy for upload) */
	int64_t *order_dev;       /* NULL: identity order */
	int order_epoch;          /* epoch whose order is on the device, -1 none */

	/* metrics read back without a host sync: the stats pair lands in pinned memory */
	struct backend_readback *stats_rb;
	bool stats_pending;       /* a snapshot is on its way */
};

static bool env_off(const char *name)
{
	const char *v = getenv(name);
	return v && strcmp(v, "0") == 0;
}

static bool have_amp(const struct backend_ext *fn)
{
	return fn->amp_new && fn->amp_free && fn->amp_scale_grad && fn->amp_prepare && fn->amp_set_steps &&
	       fn->amp_read;
}

struct gpu_step *gpu_step_new(struct backend *be, struct model *m, struct optim *o, const struct spec *spec,
			      bool graphs)
{
	if (!be->ext)
		return NULL; /* none of the extras: the plain backend.h step */
	struct gpu_step *g = tb_xcalloc(1, sizeof(*g));
	g->be = be;
	g->m = m;
	g->o = o;
	g->order_epoch = -1;
	g->fn = be->ext;
	bool amp = have_amp(g->fn);
	g->fp16 = amp && precision_kinds[spec->train.precision_kind].loss_scaling;
	g->graphs = graphs && amp && !env_off("TRAINBOOK_CUDA_GRAPH") && g->fn->capture_begin && g->fn->capture_end &&
		    g->fn->graph_launch && g->fn->graph_free && g->fn->set_dropout_counter;
	g->device_clip = g->fp16 || g->graphs;
	g->block_dev = be->alloc(be, sizeof(g->block));
	if (g->graphs)
		g->fn->set_dropout_counter(be, (const uint64_t *)g->block_dev);
	return g;
}

static void drop_graph(struct gpu_step *g)
{
	if (g->graph)
		g->fn->graph_free(g->be, g->graph);
	g->graph = NULL;
	g->settled = false;
}

void gpu_step_drop_data(struct gpu_step *g)
{
	if (!g)
		return;
	if (g->data)
		g->fn->dataset_free(g->be, g->data);
	if (g->order_dev)
		g->be->free(g->be, g->order_dev);
	free(g->order_host);
	g->data = NULL;
	g->order_dev = g->order_host = NULL;
	g->order_epoch = -1;
}

void gpu_step_free(struct gpu_step *g)
{
	if (!g)
		return;
	drop_graph(g);
	if (g->graphs)
		g->fn->set_dropout_counter(g->be, NULL);
	g->be->free(g->be, g->block_dev);
	if (g->amp)
		g->fn->amp_free(g->be, g->amp);
	if (g->stats_rb)
		g->fn->readback_free(g->be, g->stats_rb); /* waits for a snapshot in flight */
	gpu_step_drop_data(g);
	free(g);
}

/* ---- data on the GPU ---------------------------------------------------- */

static bool plan_to_augment(const struct loader_plan *p, int channels, struct backend_augment *aug)
{
	memset(aug, 0, sizeof(*aug));
	if (p->nops > BACKEND_AUG_MAX || channels > BACKEND_AUG_MAX_CHANNELS)
		return false;
	static const int kinds[] = {[LOADER_CROP] = BACKEND_AUG_CROP, [LOADER_HFLIP] = BACKEND_AUG_HFLIP,
				    [LOADER_NORMALIZE] = BACKEND_AUG_NORMALIZE};
	for (int i = 0; i < p->nops; i++)
		aug->ops[i] = (struct backend_aug_op){kinds[p->ops[i].kind], p->ops[i].pad, p->ops[i].prob};
	aug->nops = p->nops;
	for (int c = 0; c < channels && c < LOADER_PLAN_MAX_CHANNELS; c++) {
		aug->mean[c] = p->mean[c];
		aug->std[c] = p->std[c];
	}
	aug->aug_key = p->aug_key;
	return true;
}

bool gpu_step_use_data(struct gpu_step *g, const struct dataset *train, const struct spec_data *sd,
		       const struct loader_options *lo, char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = 0;
	if (!g || env_off("TRAINBOOK_GPU_DATA") || !g->fn->dataset_new || !g->fn->dataset_free || !g->fn->data_batch)
		return false;
	int64_t bytes = train->n * dataset_sample_size(train) * (train->u8 ? 1 : (int64_t)sizeof(float));
	if (bytes > GPU_DATA_MAX_BYTES) {
		tb_fmt(why, whylen, "the training set (%lld MB) stays on the host", (long long)(bytes >> 20));
		return false;
	}
	struct loader_plan plan;
	char err[256] = "more augmentation steps or channels than the GPU kernel takes";
	if (loader_describe(train, sd, lo, &plan, err, sizeof(err)) < 0 || !plan_to_augment(&plan, train->c, &g->aug)) {
		tb_fmt(why, whylen, "batches come from the host loader (%s)", err);
		return false;
	}
	g->data = g->fn->dataset_new(g->be, train->u8, train->u8 ? NULL : train->f32, train->labels, train->n, train->c,
				    train->h, train->w, err, sizeof(err));
	if (!g->data) {
		tb_fmt(why, whylen, "the training set stays on the host: %s", err);
		return false;
	}
	g->shuffle = lo->shuffle;
	g->seed = lo->seed;
	g->n_train = train->n;
	if (g->shuffle) {
		g->order_host = tb_xmalloc((size_t)train->n * sizeof(int64_t));
		g->order_dev = g->be->alloc(g->be, (size_t)train->n * sizeof(int64_t));
	}
	return true;
}

bool gpu_step_has_data(const struct gpu_step *g)
{
	return g && g->data;
}

void gpu_step_seek(struct gpu_step *g, int epoch, int64_t first)
{
	TB_ASSERT(g->data && !g->capturing);
	if (g->shuffle && g->order_epoch != epoch) {
		/* The loader's order for this epoch (loader.c), uploaded once per epoch. */
		data_permutation(g->order_host, g->n_train, rng_hash(g->seed, (uint64_t)epoch, 0));
		g->be->upload(g->be, g->order_dev, g->order_host, (size_t)g->n_train * sizeof(int64_t));
		g->order_epoch = epoch;
	}
	g->block[1] = epoch;
	g->block[2] = first; /* uploaded with the step's counter by gpu_step_begin */
}

void gpu_step_load_batch(struct gpu_step *g, int n, float *x, int32_t *y)
{
	g->fn->data_batch(g->be, g->data, g->aug.nops ? &g->aug : NULL, g->order_dev, g->block_dev + 1, n, x, y);
}

/* ---- loss scaling and device-side optimizer scalars ------------------- */

void gpu_step_begin(struct gpu_step *g, int64_t step)
{
	if (g->device_clip && !g->amp) {
		struct backend_amp_config unit = {1.0f, 1.0f, 1.0f, 1 << 30, true};
		g->amp = g->fn->amp_new(g->be, g->fp16 ? NULL : &unit);
		if (g->o->step > 0)
			g->fn->amp_set_steps(g->be, g->amp, g->o->step); /* resumed */
	}
	if (g->graphs || g->data) {
		g->block[0] = step;
		g->be->upload(g->be, g->block_dev, g->block, sizeof(g->block));
	}
}

bool gpu_step_device_clip(const struct gpu_step *g)
{
	return g && g->device_clip;
}

void gpu_step_scale_loss_grad(struct gpu_step *g, float *dlogits, int64_t n)
{
	if (g->fp16)
		g->fn->amp_scale_grad(g->be, g->amp, dlogits, n);
}

void gpu_step_prepare_optim(struct gpu_step *g)
{
	if (!g->device_clip)
		return;
	g->fn->amp_prepare(g->be, g->amp, g->m->grads, g->m->n_weights, g->o->grad_clip, (float)g->o->beta1,
			  (float)g->o->beta2, g->o->scalars);
}

void gpu_step_settle(struct gpu_step *g)
{
	if (!g || !g->amp)
		return;
	struct backend_amp_stats st;
	g->fn->amp_read(g->be, g->amp, &st);
	g->o->step = st.steps;
	g->o->last_grad_norm = st.grad_norm;
}

bool gpu_step_amp_stats(struct gpu_step *g, double *scale, int64_t *skipped)
{
	if (!g || !g->fp16 || !g->amp)
		return false;
	struct backend_amp_stats st;
	g->fn->amp_read(g->be, g->amp, &st);
	*scale = st.scale;
	*skipped = st.skipped;
	return true;
}

/* ---- the step graph ---------------------------------------------------- */

bool gpu_step_replay(struct gpu_step *g, int n)
{
	if (!g->graph || g->graph_n != n)
		return false;
	char err[256];
	if (g->fn->graph_launch(g->be, g->graph, err, sizeof(err)) < 0) {
		fprintf(stderr, "trainbook: CUDA graph replay failed, continuing without graphs: %s\n", err);
		drop_graph(g);
		g->graphs = false;
		return false;
	}
	return true;
}

bool gpu_step_capture_due(struct gpu_step *g, int n, bool full)
{
	(void)n;
	return g->graphs && full && g->settled && !g->graph;
}

bool gpu_step_capture_begin(struct gpu_step *g)
{
	char err[256];
	if (g->fn->capture_begin(g->be, err, sizeof(err)) < 0) {
		fprintf(stderr, "trainbook: cannot capture a CUDA graph, continuing without graphs: %s\n", err);
		g->graphs = false;
		return false;
	}
	g->capturing = true;
	return true;
}

bool gpu_step_capture_end(struct gpu_step *g, int n)
{
	char err[256];
	g->capturing = false;
	g->graph = g->fn->capture_end(g->be, err, sizeof(err));
	if (!g->graph) {
		fprintf(stderr, "trainbook: CUDA graph capture failed, continuing without graphs: %s\n", err);
		g->graphs = false;
		return false;
	}
	g->graph_n = n;
	return true;
}

void gpu_step_ran_eager(struct gpu_step *g, bool full)
{
	if (g->graph)
		drop_graph(g);
	g->settled = full;
}

void gpu_step_invalidate(struct gpu_step *g)
{
	if (g)
		drop_graph(g);
}

/* ---- metrics without a host sync --------------------------------------- */

bool gpu_step_stats_start(struct gpu_step *g, float *stats_dev)
{
	if (!g || !g->fn->readback_new || !g->fn->readback_start || !g->fn->readback_poll || !g->fn->readback_free)
		return false;
	TB_ASSERT(!g->stats_pending);
	if (!g->stats_rb)
		g->stats_rb = g->fn->readback_new(g->be, 2 * sizeof(float));
	/* Stream order: the copy takes the sums, then they restart from zero. */
	g->fn->readback_start(g->be, g->stats_rb, stats_dev);
	g->be->fill(g->be, stats_dev, 0.0f, 2);
	g->stats_pending = true;
	return true;
}

bool gpu_step_stats_landed(struct gpu_step *g)
{
	TB_ASSERT(g && g->stats_pending);
	return g->fn->readback_poll(g->be, g->stats_rb) != NULL;
}

void gpu_step_stats_take(struct gpu_step *g, float out[2])
{
	TB_ASSERT(g && g->stats_pending);
	const void *host = g->fn->readback_poll(g->be, g->stats_rb);
	if (!host) {
		g->be->sync(g->be);
		host = g->fn->readback_poll(g->be, g->stats_rb);
		TB_ASSERT(host);
	}
	memcpy(out, host, 2 * sizeof(float));
	g->stats_pending = false;
}

void gpu_step_describe(const struct gpu_step *g, char *buf, size_t len)
{
	tb_fmt(buf, len, "%s%s%s", g->graphs ? "CUDA graph" : "no CUDA graph",
	       g->data ? ", data on the GPU" : ", data from the host loader",
	       g->fp16 ? ", dynamic loss scaling" : "");
}
