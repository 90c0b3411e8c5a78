/*
 * parity_ext.c — checks of what libtrainbook-cuda.so offers beyond
 * backend.h (its be->ext table, engine/backend_ext.h): loss scaling against the CPU
 * optimizer on unscaled gradients, graph capture and replay against eager
 * execution, dropout with a device counter, asynchronous read-back, and
 * GPU batches against a host reimplementation of loader.c's documented
 * draws. A missing extra (a NULL slot) reports a FAIL line rather than
 * crashing. Threads: main thread.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend_ext.h"
#include "optim.h"
#include "parity.h"
#include "tb.h"

#define GPU_FREE(pt, p) (pt)->gpu->free((pt)->gpu, (p))
/* One extra of the GPU backend's table (backend_ext.h), NULL when it lacks the table or the slot. */
#define EXT(pt, slot) ((pt)->gpu->ext ? (pt)->gpu->ext->slot : NULL)

/* ---- loss scaling -------------------------------------------------------------- */

static void check_amp(struct parity *pt)
{
	__typeof__(((struct backend_ext *)0)->amp_new) amp_new = EXT(pt, amp_new);
	__typeof__(((struct backend_ext *)0)->amp_free) amp_free = EXT(pt, amp_free);
	__typeof__(((struct backend_ext *)0)->amp_scale_grad) amp_scale = EXT(pt, amp_scale_grad);
	__typeof__(((struct backend_ext *)0)->amp_prepare) amp_prepare = EXT(pt, amp_prepare);
	__typeof__(((struct backend_ext *)0)->amp_read) amp_read = EXT(pt, amp_read);
	if (!amp_new || !amp_free || !amp_scale || !amp_prepare || !amp_read) {
		parity_result(pt, "amp", false, "amp_* missing from be->ext");
		return;
	}
	struct backend *g = pt->gpu;
	struct backend_amp_config cfg = {.init_scale = 1024.0f, .growth_factor = 2.0f, .backoff_factor = 0.5f,
					 .growth_interval = 2};
	struct backend_amp *amp = amp_new(g, &cfg);

	/* scale_grad multiplies by the device-side scale. */
	int64_t nl = 1000;
	float *dl = parity_rand(pt, nl, -1, 1), *gdl = parity_up(pt, dl, (size_t)nl * 4);
	amp_scale(g, amp, gdl, nl);
	float *got = parity_down(pt, gdl, nl);
	for (int64_t i = 0; i < nl; i++)
		dl[i] *= 1024.0f;
	parity_check(pt, "amp_scale_grad", dl, got, nl, 0);
	free(got);
	free(dl);
	GPU_FREE(pt, gdl);

	/* Adam through prepare on scaled gradients == CPU Adam on unscaled ones with the clip factor. */
	struct optim_hyper h = {.kind = OPTIM_ADAM, .arg = {[ADAM_BETA1] = 0.9f, [ADAM_BETA2] = 0.999f, [ADAM_EPS] = 1e-8f}};
	int64_t n = 4099;
	double clip = 0.5;
	float *p = parity_rand(pt, n, -1, 1), *state = calloc((size_t)n * 2, sizeof(float));
	float *gp = parity_up(pt, p, (size_t)n * 4), *gstate = parity_up(pt, NULL, (size_t)n * 8);
	float *gscalars = parity_up(pt, NULL, OPT_NSCALARS * 4), *ggrad = parity_up(pt, NULL, (size_t)n * 4);
	float scale = 1024.0f;
	int64_t host_step = 0;
	bool ok = true;
	char detail[160] = "";
	for (int step = 1; step <= 5; step++) {
		float *gr = parity_rand(pt, n, -0.1f, 0.1f); /* norm ~3.7: the 0.5 clip is active */
		bool poison = step == 3; /* an overflowed gradient: skip, back off */
		float *scaled = parity_copy(gr, n);
		for (int64_t i = 0; i < n; i++)
			scaled[i] *= scale;
		if (poison)
			scaled[17] = INFINITY;
		g->upload(g, ggrad, scaled, (size_t)n * 4);
		float up[OPT_NSCALARS] = {0};
		up[OPT_LR] = 1e-3f;
		up[OPT_CLIP] = 1.0f;
		g->upload(g, gscalars, up, sizeof(up));
		amp_prepare(g, amp, ggrad, n, clip, h.arg[ADAM_BETA1], h.arg[ADAM_BETA2], gscalars);
		g->optim_step(g, &h, step, gscalars, gp, ggrad, gstate, NULL, n);
		if (!poison) {
			host_step++;
			double ss = 0;
			for (int64_t i = 0; i < n; i++)
				ss += (double)gr[i] * gr[i];
			double norm = sqrt(ss), coef = clip / (norm + 1e-6);
			float sc[OPT_NSCALARS] = {0};
			sc[OPT_LR] = 1e-3f;
			sc[OPT_BC1] = (float)(1.0 - pow(h.arg[ADAM_BETA1], (double)host_step));
			sc[OPT_BC2] = (float)(1.0 - pow(h.arg[ADAM_BETA2], (double)host_step));
			sc[OPT_CLIP] = coef < 1 ? (float)coef : 1.0f;
			pt->cpu->optim_step(pt->cpu, &h, host_step, sc, p, gr, state, NULL, n);
		}
		/* GradScaler: halve on overflow, double after growth_interval clean steps. */
		int clean_run = step < 3 ? step : step - 3;
		scale = poison ? scale * 0.5f : (clean_run % 2 == 0 ? scale * 2.0f : scale);
		struct backend_amp_stats st;
		amp_read(g, amp, &st);
		if (st.scale != scale || st.steps != host_step || st.skipped != (step >= 3)) {
			ok = false;
			snprintf(detail, sizeof(detail), "after step %d: scale %g (want %g), steps %lld (want %lld), skipped %lld",
				 step, st.scale, scale, (long long)st.steps, (long long)host_step, (long long)st.skipped);
		}
		free(gr);
		free(scaled);
	}
	got = parity_down(pt, gp, n);
	double e = parity_err(p, got, n);
	ok = ok && e <= 1e-5;
	parity_result(pt, "amp_prepare + adam (skip on inf, backoff, growth)", ok, "params err %.3g%s%s", e,
		      detail[0] ? "; " : "", detail);
	free(got);
	free(p);
	free(state);
	GPU_FREE(pt, gp);
	GPU_FREE(pt, gstate);
	GPU_FREE(pt, gscalars);
	GPU_FREE(pt, ggrad);
	amp_free(g, amp);
}

/* ---- graphs, device dropout counter, read-back ------------------------------------- */

static void check_graph(struct parity *pt)
{
	__typeof__(((struct backend_ext *)0)->capture_begin) begin = EXT(pt, capture_begin);
	__typeof__(((struct backend_ext *)0)->capture_end) end = EXT(pt, capture_end);
	__typeof__(((struct backend_ext *)0)->graph_launch) launch = EXT(pt, graph_launch);
	__typeof__(((struct backend_ext *)0)->graph_free) gfree = EXT(pt, graph_free);
	__typeof__(((struct backend_ext *)0)->set_dropout_counter) set_counter = EXT(pt, set_dropout_counter);
	__typeof__(((struct backend_ext *)0)->readback_new) rb_new = EXT(pt, readback_new);
	__typeof__(((struct backend_ext *)0)->readback_start) rb_start = EXT(pt, readback_start);
	__typeof__(((struct backend_ext *)0)->readback_poll) rb_poll = EXT(pt, readback_poll);
	__typeof__(((struct backend_ext *)0)->readback_free) rb_free = EXT(pt, readback_free);
	if (!begin || !end || !launch || !gfree || !set_counter || !rb_new || !rb_start || !rb_poll || !rb_free) {
		parity_result(pt, "graph", false, "capture_*/graph_*/readback_* missing from be->ext");
		return;
	}
	struct backend *g = pt->gpu, *c = pt->cpu;
	int rows = 16, classes = 10;
	int64_t n = (int64_t)rows * classes;
	uint64_t seed = rng_next_u64(&pt->rng);
	float *x = parity_rand(pt, n, -2, 2), *hx = parity_copy(x, n);
	int32_t labels[16];
	for (int i = 0; i < rows; i++)
		labels[i] = (int32_t)rng_below(&pt->rng, (uint64_t)classes);
	float stats[2] = {0, 0}, *y = malloc((size_t)n * 4), *dz = malloc((size_t)n * 4);
	uint8_t *mask = malloc((size_t)n);
	float *gx = parity_up(pt, x, (size_t)n * 4), *gy = parity_up(pt, NULL, (size_t)n * 4);
	float *gdz = parity_up(pt, NULL, (size_t)n * 4), *gstats = parity_up(pt, NULL, 8);
	int32_t *glabels = parity_up(pt, labels, sizeof(labels));
	uint8_t *gmask = parity_up(pt, NULL, (size_t)n);
	uint64_t *gcounter = parity_up(pt, NULL, 8);
	set_counter(g, gcounter);

	/* One "step": dropout (counter from the device), loss into stats, x += -0.1 dlogits. */
	char err[256] = "";
	uint64_t step = 1;
	g->upload(g, gcounter, &step, 8);
	int rc = begin(g, err, sizeof(err));
	struct backend_graph *graph = NULL;
	if (rc == 0) {
		g->dropout_forward(g, 0.25f, seed, 12345 /* ignored: the device counter wins */, gy, gmask, gx, n);
		g->softmax_xent(g, gy, glabels, rows, classes, 0.0f, 1.0f, gdz, gstats, NULL);
		g->axpy(g, -0.1f, gdz, gx, n);
		graph = end(g, err, sizeof(err));
	}
	if (!graph) {
		parity_result(pt, "graph capture", false, "%s", err);
	} else {
		for (step = 1; step <= 3; step++) {
			g->upload(g, gcounter, &step, 8);
			launch(g, graph, err, sizeof(err));
			c->dropout_forward(c, 0.25f, seed, step, y, mask, hx, n);
			c->softmax_xent(c, y, labels, rows, classes, 0.0f, 1.0f, dz, stats, NULL);
			c->axpy(c, -0.1f, dz, hx, n);
		}
		float *got = parity_down(pt, gx, n), got_stats[2];
		g->download(g, got_stats, gstats, 8);
		double e = parity_err(hx, got, n), es = parity_err(stats, got_stats, 2);
		parity_result(pt, "graph replay x3 (dropout with device counter, loss, axpy)", e <= 1e-5 && es <= 1e-5,
			      "x err %.3g, stats err %.3g (loss %g vs %g)", e, es, stats[0], got_stats[0]);
		free(got);
		gfree(g, graph);
	}
	set_counter(g, NULL);

	struct backend_readback *rb = rb_new(g, 8);
	bool early = rb_poll(g, rb) == NULL; /* nothing started yet */
	rb_start(g, rb, gstats);
	g->sync(g);
	const float *landed = rb_poll(g, rb);
	float want[2];
	g->download(g, want, gstats, 8);
	bool ok = early && landed && memcmp(landed, want, 8) == 0;
	parity_result(pt, "readback", ok, "poll before start %s, after sync %s", early ? "NULL" : "not NULL",
		      landed ? "landed" : "NULL");
	rb_free(g, rb);

	free(x);
	free(hx);
	free(y);
	free(dz);
	free(mask);
	GPU_FREE(pt, gx);
	GPU_FREE(pt, gy);
	GPU_FREE(pt, gdz);
	GPU_FREE(pt, gstats);
	GPU_FREE(pt, glabels);
	GPU_FREE(pt, gmask);
	GPU_FREE(pt, gcounter);
}

/* ---- GPU-resident data --------------------------------------------------------------- */

/* loader.c's per-sample pipeline, from its documented draws, as whole-image passes. */
static void host_sample(const uint8_t *u8, const float *f32, int64_t idx, int c, int h, int w,
			const struct backend_augment *aug, uint64_t epoch, float *out)
{
	int64_t size = (int64_t)c * h * w;
	for (int64_t k = 0; k < size; k++)
		out[k] = u8 ? (float)u8[idx * size + k] / 255.0f : f32[idx * size + k];
	struct rng r;
	rng_seed(&r, rng_hash(aug->aug_key, epoch, (uint64_t)idx));
	float *tmp = malloc((size_t)size * 4);
	for (int k = 0; k < aug->nops; k++) {
		const struct backend_aug_op *op = &aug->ops[k];
		if (op->kind == BACKEND_AUG_CROP) {
			int dy = (int)rng_below(&r, 2 * (uint64_t)op->pad + 1);
			int dx = (int)rng_below(&r, 2 * (uint64_t)op->pad + 1);
			for (int ch = 0; ch < c; ch++)
				for (int yy = 0; yy < h; yy++)
					for (int xx = 0; xx < w; xx++) {
						int sy = yy + dy - op->pad, sx = xx + dx - op->pad;
						bool in = sy >= 0 && sy < h && sx >= 0 && sx < w;
						tmp[((int64_t)ch * h + yy) * w + xx] = in ? out[((int64_t)ch * h + sy) * w + sx] : 0.0f;
					}
			memcpy(out, tmp, (size_t)size * 4);
		} else if (op->kind == BACKEND_AUG_HFLIP) {
			if (rng_uniform(&r) < op->prob)
				for (int64_t row = 0; row < (int64_t)c * h; row++)
					for (int a = 0, b = w - 1; a < b; a++, b--) {
						float t = out[row * w + a];
						out[row * w + a] = out[row * w + b];
						out[row * w + b] = t;
					}
		} else {
			for (int ch = 0; ch < c; ch++)
				for (int64_t k2 = 0; k2 < (int64_t)h * w; k2++)
					out[ch * (int64_t)h * w + k2] = (out[ch * (int64_t)h * w + k2] - aug->mean[ch]) / aug->std[ch];
		}
	}
	free(tmp);
}

static void check_data_case(struct parity *pt, bool use_u8, const struct backend_augment *aug, const char *name)
{
	__typeof__(((struct backend_ext *)0)->dataset_new) ds_new = EXT(pt, dataset_new);
	__typeof__(((struct backend_ext *)0)->dataset_free) ds_free = EXT(pt, dataset_free);
	__typeof__(((struct backend_ext *)0)->data_batch) batch_fn = EXT(pt, data_batch);
	if (!ds_new || !ds_free || !batch_fn) {
		parity_result(pt, "data", false, "dataset_*/data_batch missing from be->ext");
		return;
	}
	int64_t n = 40;
	int c = 3, h = 9, w = 7, batch = 11;
	int64_t size = (int64_t)c * h * w;
	uint8_t *u8 = malloc((size_t)(n * size));
	float *f32 = parity_rand(pt, n * size, -1, 1);
	int32_t *labels = malloc((size_t)n * 4);
	int64_t *order = malloc((size_t)n * 8);
	for (int64_t i = 0; i < n * size; i++)
		u8[i] = (uint8_t)(rng_next_u64(&pt->rng) & 255);
	for (int64_t i = 0; i < n; i++) {
		labels[i] = (int32_t)(i % 10);
		order[i] = i;
	}
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)rng_below(&pt->rng, (uint64_t)i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	static const struct backend_augment none = {.nops = 0};
	const struct backend_augment *host_aug = aug ? aug : &none;
	int64_t cursor[2] = {7, 23}; /* epoch 7, positions 23..33 of the order */
	char err[256] = "";
	struct backend_dataset *d = ds_new(pt->gpu, use_u8 ? u8 : NULL, use_u8 ? NULL : f32, labels, n, c, h, w, err,
					   sizeof(err));
	if (!d) {
		parity_result(pt, name, false, "dataset_new: %s", err);
		goto out;
	}
	int64_t *gorder = parity_up(pt, order, (size_t)n * 8), *gcursor = parity_up(pt, cursor, sizeof(cursor));
	float *gx = parity_up(pt, NULL, (size_t)(batch * size) * 4);
	int32_t *gy = parity_up(pt, NULL, (size_t)batch * 4);
	batch_fn(pt->gpu, d, aug, gorder, gcursor, batch, gx, gy);
	float *got = parity_down(pt, gx, batch * size), *want = malloc((size_t)(batch * size) * 4);
	int32_t got_y[16];
	pt->gpu->download(pt->gpu, got_y, gy, (size_t)batch * 4);
	int label_diff = 0;
	for (int b = 0; b < batch; b++) {
		int64_t idx = order[cursor[1] + b];
		host_sample(use_u8 ? u8 : NULL, f32, idx, c, h, w, host_aug, (uint64_t)cursor[0], want + b * size);
		label_diff += got_y[b] != labels[idx];
	}
	bool exact = memcmp(got, want, (size_t)(batch * size) * 4) == 0;
	parity_result(pt, name, exact && label_diff == 0, "%s, %d labels differ, max rel err %.3g",
		      exact ? "bit-identical" : "values differ", label_diff, parity_err(want, got, batch * size));
	free(got);
	free(want);
	GPU_FREE(pt, gorder);
	GPU_FREE(pt, gcursor);
	GPU_FREE(pt, gx);
	GPU_FREE(pt, gy);
	ds_free(pt->gpu, d);
out:
	free(u8);
	free(f32);
	free(labels);
	free(order);
}

static void check_data(struct parity *pt)
{
	struct backend_augment aug = {.nops = 3, .aug_key = rng_next_u64(&pt->rng)};
	aug.ops[0] = (struct backend_aug_op){.kind = BACKEND_AUG_CROP, .pad = 2};
	aug.ops[1] = (struct backend_aug_op){.kind = BACKEND_AUG_HFLIP, .prob = 0.5f};
	aug.ops[2] = (struct backend_aug_op){.kind = BACKEND_AUG_NORMALIZE};
	for (int ch = 0; ch < 3; ch++) {
		aug.mean[ch] = 0.4f + 0.05f * ch;
		aug.std[ch] = 0.2f + 0.03f * ch;
	}
	check_data_case(pt, true, &aug, "data_batch u8 crop+hflip+normalize");
	/* Normalising before the crop leaves the crop's zero padding unnormalised. */
	aug.ops[0] = (struct backend_aug_op){.kind = BACKEND_AUG_NORMALIZE};
	aug.ops[1] = (struct backend_aug_op){.kind = BACKEND_AUG_CROP, .pad = 3};
	aug.ops[2] = (struct backend_aug_op){.kind = BACKEND_AUG_HFLIP, .prob = 0.7f};
	check_data_case(pt, false, &aug, "data_batch f32 normalize+crop+hflip");
	check_data_case(pt, true, NULL, "data_batch u8 no augmentation");
}

/* Library calls inside a capture: conv (cuDNN), batch norm, gemm (cuBLASLt) replayed == eager. */
static void check_graph_libraries(struct parity *pt)
{
	__typeof__(((struct backend_ext *)0)->capture_begin) begin = EXT(pt, capture_begin);
	__typeof__(((struct backend_ext *)0)->capture_end) end = EXT(pt, capture_end);
	__typeof__(((struct backend_ext *)0)->graph_launch) launch = EXT(pt, graph_launch);
	__typeof__(((struct backend_ext *)0)->graph_free) gfree = EXT(pt, graph_free);
	if (!begin || !end || !launch || !gfree)
		return; /* reported by check_graph */
	struct backend *g = pt->gpu;
	struct conv_shape cs = {.n = 8, .c = 16, .h = 12, .w = 12, .k = 32, .r = 3, .s = 3, .stride_h = 1,
				.stride_w = 1, .pad_h = 1, .pad_w = 1, .dil_h = 1, .dil_w = 1, .p = 12, .q = 12};
	int64_t nx = 8 * 16 * 144, nw = 32 * 16 * 9, ny = 8 * 32 * 144, nfc = 8 * 10;
	float *x = parity_rand(pt, nx, -1, 1), *w = parity_rand(pt, nw, -0.3f, 0.3f);
	float *fw = parity_rand(pt, 10 * 32 * 144, -0.1f, 0.1f);
	float *gx = parity_up(pt, x, (size_t)nx * 4), *gw = parity_up(pt, w, (size_t)nw * 4);
	float *gfw = parity_up(pt, fw, (size_t)10 * 32 * 144 * 4);
	float *gy = parity_up(pt, NULL, (size_t)ny * 4), *gz = parity_up(pt, NULL, (size_t)ny * 4);
	float *gout = parity_up(pt, NULL, (size_t)nfc * 4), *stat = parity_up(pt, NULL, 32 * 4 * 4);
	size_t ws_bytes = g->conv2d_workspace(g, &cs);
	void *ws = ws_bytes ? g->alloc(g, ws_bytes) : NULL;
	/* conv → batch norm (training, running stats in `stat`) → relu → linear 4608→10 */
#define STEP_OPS()                                                                                            \
	do {                                                                                                   \
		g->conv2d_forward(g, &cs, gx, gw, gy, ws);                                                     \
		g->batchnorm_forward(g, true, 8, 32, 144, 0.1f, 1e-5f, gy, NULL, NULL, stat, stat + 32,        \
				     stat + 64, stat + 96, gz, NULL);                                         \
		g->act_forward(g, ACT_RELU, 0, gz, gz, ny);                                                    \
		g->gemm(g, false, true, 8, 10, 32 * 144, 1.0f, gz, 32 * 144, gfw, 32 * 144, 0.0f, gout, 10);    \
	} while (0)
	STEP_OPS(); /* eager: algorithms chosen, scratch sized */
	float *eager = parity_down(pt, gout, nfc);
	g->fill(g, gout, 0.0f, nfc);
	char err[256] = "";
	struct backend_graph *graph = NULL;
	if (begin(g, err, sizeof(err)) == 0) {
		STEP_OPS();
		graph = end(g, err, sizeof(err));
	}
#undef STEP_OPS
	if (!graph) {
		parity_result(pt, "graph capture of conv/bn/gemm", false, "%s", err);
	} else {
		launch(g, graph, err, sizeof(err));
		float *got = parity_down(pt, gout, nfc);
		parity_check(pt, "graph replay conv+bn+relu+gemm == eager", eager, got, nfc, 1e-6);
		free(got);
		gfree(g, graph);
	}
	free(eager);
	free(x);
	free(w);
	free(fw);
	float *dev[] = {gx, gw, gfw, gy, gz, gout, stat};
	for (size_t i = 0; i < TB_ARRAY_LEN(dev); i++)
		GPU_FREE(pt, dev[i]);
	if (ws)
		GPU_FREE(pt, ws);
}

void parity_ext_ops(struct parity *pt)
{
	if (!pt->gpu->ext) {
		parity_result(pt, "backend_ext", false, "the GPU backend has no table of extras (be->ext)");
		return;
	}
	check_amp(pt);
	check_graph(pt);
	check_graph_libraries(pt);
	check_data(pt);
}
