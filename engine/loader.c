/*
 * loader.c — cuts a data set into shuffled, augmented float batches ahead
 * of the train loop, with worker threads filling a bounded ring.
 *
 * What it is: batch t of the loader's life (a "ticket") is a pure function
 * of (seed, epoch, position): the epoch order is a Fisher-Yates shuffle
 * keyed by rng_hash(seed, epoch, 0) and each sample's augmentation draws
 * from rng_hash(aug_key, epoch, dataset index). Workers claim tickets in
 * order, fill the ring slot ticket % slots, and the consumer takes tickets
 * in order, so batches are identical for any worker count and for any
 * starting (epoch, position). What it is not: a device uploader; batches
 * are host memory and the train loop copies them.
 *
 * The exact draws, for anyone reproducing them elsewhere (a GPU-side
 * augmenter, a parity test): epoch order = data_permutation(n,
 * rng_hash(seed, epoch, 0)); sample idx of epoch e uses one struct rng seeded
 * with rng_hash(rng_hash(seed, LOADER_AUG_TAG, 2), e, idx), and the ops in
 * spec order draw from it: random_crop dy = rng_below(2p+1) then dx the
 * same (output(y,x) = padded(y+dy, x+dx)); hflip flips when
 * rng_uniform() < prob; normalize draws nothing.
 *
 * Threads: loader_new/loader_next/loader_free run on the one consumer
 * thread; `workers` threads run loader_worker. Shared ring state is
 * guarded by `mu` (named on each field).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "rng.h"
#include "tb.h"

/* Separates the augmentation key from epoch orders (which use
 * rng_hash(seed, epoch, 0)) and the validation split (tag, 1). */
#define LOADER_AUG_TAG 0x6175676d656e7473ULL /* "augments" */
#define LOADER_MAX_WORKERS 64


struct loader_slot {
	float *x;           /* batch_size samples; points into loader->x_block */
	int32_t *y;
	int64_t *index;
	int n;              /* written by the filling worker before `ticket` */
	int epoch;
	int64_t position;
	int64_t ticket;     /* ticket whose batch is complete here, -1 none; guarded by mu */
};

/* A cached epoch order; several epochs can be in flight near a boundary. */
struct loader_order {
	int64_t epoch;      /* -1 = empty; guarded by mu */
	int64_t *order;     /* d->n indices */
};

struct loader_worker {
	struct loader *loader;
	float *scratch;     /* one sample, for ops that cannot work in place */
	pthread_t thread;
	int started;
};

struct loader {
	const struct dataset *d;
	struct loader_options opt;
	int64_t per_epoch;  /* batches per epoch */
	int64_t sample;     /* floats per sample */
	int epoch0;         /* ticket 0 is batch position0 of epoch0 */
	int64_t position0;

	/* The augmentation plan, fixed at creation; read-only afterwards. */
	struct loader_op ops[SPEC_MAX_AUGMENT + 1];
	int nops;
	int random;         /* any op draws random numbers */
	float *mean, *std;  /* c each, when a normalize op exists */
	uint64_t aug_key;
	float u8_to_float[256]; /* i / 255.0f: the exact values of ToTensor */

	pthread_mutex_t mu;
	pthread_cond_t wake_workers;  /* a slot was released, or stop */
	pthread_cond_t wake_consumer; /* a batch became complete */
	struct loader_slot *slots;
	int nslots;
	struct loader_order *orders; /* guarded by mu */
	int norders;
	int64_t next_claim; /* next ticket a worker takes; guarded by mu */
	int64_t released;   /* tickets the consumer is done with; guarded by mu */
	int stop;           /* guarded by mu */

	/* Consumer-only state. */
	int64_t next_ticket;
	int holding;        /* the consumer holds ticket `released` */
	int cur_epoch;
	int64_t cur_pos;

	struct loader_worker *workers;
	int nworkers;
	float *x_block;     /* all slots' x, then scratch; one allocation */
	int32_t *y_block;
	int64_t *index_block;
};

int64_t loader_batches_per_epoch(const struct dataset *d, int batch_size, bool drop_last)
{
	if (batch_size < 1)
		return 0;
	return drop_last ? d->n / batch_size : (d->n + batch_size - 1) / batch_size;
}

/* ---- per-sample work (worker threads, no lock) ------------------------ */

/* Shift by (dy, dx) - pad with zero fill: torchvision's RandomCrop(size,
 * padding=pad) at offset (dy, dx) of the padded image. */
static void loader_crop(const struct loader *l, const float *in, float *out, int pad, int dy,
			int dx)
{
	const struct dataset *d = l->d;
	int h = d->h, w = d->w;
	int sx0 = dx - pad;                          /* source column of output column 0 */
	int x_lo = sx0 < 0 ? TB_MIN(-sx0, w) : 0;    /* first output column with a source */
	int x_hi = sx0 > 0 ? TB_MAX(w - sx0, 0) : w; /* one past the last */
	for (int c = 0; c < d->c; c++) {
		for (int y = 0; y < h; y++) {
			float *row = out + ((int64_t)c * h + y) * w;
			int sy = y + dy - pad;
			if (sy < 0 || sy >= h || x_hi <= x_lo) {
				memset(row, 0, (size_t)w * sizeof(float));
				continue;
			}
			const float *src = in + ((int64_t)c * h + sy) * w;
			memset(row, 0, (size_t)x_lo * sizeof(float));
			memcpy(row + x_lo, src + x_lo + sx0, (size_t)(x_hi - x_lo) * sizeof(float));
			memset(row + x_hi, 0, (size_t)(w - x_hi) * sizeof(float));
		}
	}
}

static void loader_hflip(const struct loader *l, float *x)
{
	int64_t rows = (int64_t)l->d->c * l->d->h;
	int w = l->d->w;
	for (int64_t r = 0; r < rows; r++) {
		float *row = x + r * w;
		for (int a = 0, b = w - 1; a < b; a++, b--) {
			float t = row[a];
			row[a] = row[b];
			row[b] = t;
		}
	}
}

static void loader_normalize(const struct loader *l, float *x)
{
	int64_t plane = (int64_t)l->d->h * l->d->w;
	for (int c = 0; c < l->d->c; c++) {
		float m = l->mean[c], s = l->std[c];
		float *p = x + c * plane;
		/* Divide, not multiply by 1/s: the same rounding as torchvision's
		 * Normalize, so parity tests can compare exactly. */
		for (int64_t k = 0; k < plane; k++)
			p[k] = (p[k] - m) / s;
	}
}

/* Produce sample `idx` of `epoch` into out (sample floats). */
static void loader_sample(const struct loader *l, int64_t idx, int epoch, float *out,
			  float *scratch)
{
	const struct dataset *d = l->d;
	int64_t size = l->sample;
	if (d->storage == DATASET_U8) {
		const uint8_t *src = d->u8 + idx * size;
		for (int64_t k = 0; k < size; k++)
			out[k] = l->u8_to_float[src[k]];
	} else {
		memcpy(out, d->f32 + idx * size, (size_t)size * sizeof(float));
	}
	if (l->nops == 0)
		return;
	struct rng r;
	if (l->random)
		rng_seed(&r, rng_hash(l->aug_key, (uint64_t)epoch, (uint64_t)idx));
	float *cur = out, *other = scratch;
	for (int i = 0; i < l->nops; i++) {
		const struct loader_op *op = &l->ops[i];
		switch (op->kind) {
		case LOADER_CROP: {
			/* Both offsets are always drawn so the number of draws per
			 * sample does not depend on the outcome. */
			int dy = (int)rng_below(&r, 2 * (uint64_t)op->pad + 1);
			int dx = (int)rng_below(&r, 2 * (uint64_t)op->pad + 1);
			if (dy == op->pad && dx == op->pad)
				break;
			loader_crop(l, cur, other, op->pad, dy, dx);
			float *t = cur;
			cur = other;
			other = t;
			break;
		}
		case LOADER_HFLIP:
			if (rng_uniform(&r) < op->prob)
				loader_hflip(l, cur);
			break;
		case LOADER_NORMALIZE:
			loader_normalize(l, cur);
			break;
		}
	}
	if (cur != out)
		memcpy(out, cur, (size_t)size * sizeof(float));
}

static void loader_fill(const struct loader *l, struct loader_slot *s, int epoch,
			int64_t position, const int64_t *order, float *scratch)
{
	int64_t bs = l->opt.batch_size;
	int64_t start = position * bs;
	int64_t n = l->d->n - start < bs ? l->d->n - start : bs;
	for (int64_t i = 0; i < n; i++) {
		int64_t idx = order ? order[start + i] : start + i;
		s->y[i] = l->d->labels[idx];
		s->index[i] = idx;
		loader_sample(l, idx, epoch, s->x + i * l->sample, scratch);
	}
	s->n = (int)n;
	s->epoch = epoch;
	s->position = position;
}

/* ---- the ring ---------------------------------------------------------- */

/*
 * The order of `epoch`, computed on first use. Called with mu held. Slot
 * epoch % norders is free to overwrite: live tickets span at most norders
 * consecutive epochs (see loader_new), so an older epoch with the same
 * residue has no ticket in flight.
 */
static const int64_t *loader_order_of(struct loader *l, int64_t epoch)
{
	if (!l->opt.shuffle)
		return NULL;
	struct loader_order *o = &l->orders[epoch % l->norders];
	if (o->epoch != epoch) {
		data_permutation(o->order, l->d->n, rng_hash(l->opt.seed, (uint64_t)epoch, 0));
		o->epoch = epoch;
	}
	return o->order;
}

static void *loader_worker(void *arg)
{
	struct loader_worker *w = arg;
	struct loader *l = w->loader;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->stop && l->next_claim >= l->released + l->nslots)
			pthread_cond_wait(&l->wake_workers, &l->mu);
		if (l->stop)
			break;
		int64_t ticket = l->next_claim++;
		int64_t abs = l->position0 + ticket;
		int64_t epoch = l->epoch0 + abs / l->per_epoch;
		int64_t position = abs % l->per_epoch;
		const int64_t *order = loader_order_of(l, epoch);
		struct loader_slot *s = &l->slots[ticket % l->nslots];
		pthread_mutex_unlock(&l->mu);

		loader_fill(l, s, (int)epoch, position, order, w->scratch);

		pthread_mutex_lock(&l->mu);
		s->ticket = ticket;
		pthread_cond_signal(&l->wake_consumer);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int loader_next(struct loader *l, struct batch *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&l->mu);
	if (l->holding) {
		l->released++;
		l->holding = 0;
		pthread_cond_signal(&l->wake_workers);
	}
	if (l->cur_pos >= l->per_epoch) {
		out->epoch = l->cur_epoch;
		out->position = l->cur_pos;
		l->cur_epoch++;
		l->cur_pos = 0;
		pthread_mutex_unlock(&l->mu);
		return 1;
	}
	struct loader_slot *s = &l->slots[l->next_ticket % l->nslots];
	while (s->ticket != l->next_ticket)
		pthread_cond_wait(&l->wake_consumer, &l->mu);
	pthread_mutex_unlock(&l->mu);
	TB_ASSERT(s->epoch == l->cur_epoch && s->position == l->cur_pos);
	out->n = s->n;
	out->x = s->x;
	out->y = s->y;
	out->index = s->index;
	out->epoch = s->epoch;
	out->position = s->position;
	l->holding = 1;
	l->next_ticket++;
	l->cur_pos++;
	return 0;
}

/* ---- set-up and tear-down --------------------------------------------- */

/* ---- the augmentation registry -------------------------------------------- */

static const struct augment_kind augment_kinds[] = {
	{.spec = {.name = "random_crop",
		  .summary = "pad with zeros on every side, then crop back at a random offset (torchvision RandomCrop)",
		  .keys = {{.name = "padding", .type = SPEC_KEY_INT, .def = 4, .lo = 0, .hi = 64,
			    .doc = "pixels of zero padding on each side"}}},
	 .op = LOADER_CROP},
	{.spec = {.name = "hflip", .summary = "mirror left to right at random (torchvision RandomHorizontalFlip)",
		  .keys = {{.name = "p", .type = SPEC_KEY_NUM, .def = 0.5, .lo = 0, .hi = 1,
			    .doc = "probability of a flip"}}},
	 .op = LOADER_HFLIP},
	{.spec = {.name = "normalize",
		  .summary = "(x - mean) / std per channel (torchvision Normalize); last when not listed",
		  .keys = {{.name = "mean", .type = SPEC_KEY_CHANNELS, .lo = -1e6, .hi = 1e6,
			    .def_text = "the training split's", .doc = "one number, or one per channel"},
			   {.name = "std", .type = SPEC_KEY_CHANNELS, .lo = 0, .hi = 1e6, .range = SPEC_R_LO_OPEN,
			    .def_text = "the training split's", .doc = "one number, or one per channel"}}},
	 .op = LOADER_NORMALIZE, .once = true},
};

const struct spec_registry augment_registry = {
	"augmentation step", "step", augment_kinds, sizeof(augment_kinds[0]), (int)TB_ARRAY_LEN(augment_kinds),
};

/* Build the op list from the spec. Random ops only when augmenting;
 * normalisation whenever a spec is given (evaluation needs it too). */
static int loader_plan(struct loader *l, const struct spec_data *aug, int augment, char *err,
		       size_t errlen)
{
	int normalize = 0;
	for (int i = 0; i < aug->naugment && i < SPEC_MAX_AUGMENT; i++) {
		const struct spec_augment *a = &aug->augment[i];
		struct loader_op op = {0};
		TB_ASSERT(a->kind >= 0 && a->kind < augment_registry.count); /* the parser stored a row index */
		op.kind = augment_kinds[a->kind].op;
		if (op.kind == LOADER_CROP) {
			if (a->value < 0 || a->value > DATA_MAX_SIDE)
				return data_fail(err, errlen, "random_crop: padding %g out of range",
						 a->value);
			op.pad = (int)a->value;
			if (!augment || op.pad == 0)
				continue;
		} else if (op.kind == LOADER_HFLIP) {
			if (a->value < 0 || a->value > 1)
				return data_fail(err, errlen,
						 "hflip: probability %g is not in [0, 1]", a->value);
			/* 0 is what an `hflip` without a value leaves in a zeroed spec. */
			op.prob = a->value > 0 ? (float)a->value : 0.5f;
			if (!augment)
				continue;
		} else {
			normalize = 1;
		}
		l->ops[l->nops++] = op;
		l->random |= op.kind != LOADER_NORMALIZE;
	}
	/* Explicit mean/std without a normalize entry still mean "normalise",
	 * last, as torchvision pipelines end with Normalize. */
	if (!normalize && aug->nnormalize > 0) {
		l->ops[l->nops++] = (struct loader_op){.kind = LOADER_NORMALIZE};
		normalize = 1;
	}
	if (!normalize)
		return 0;
	int c = l->d->c;
	l->mean = tb_xmalloc((size_t)c * sizeof(float));
	l->std = tb_xmalloc((size_t)c * sizeof(float));
	if (aug->nnormalize > 0) {
		if (aug->nnormalize != 1 && aug->nnormalize != c)
			return data_fail(err, errlen,
					 "normalize: %d mean/std values for data with %d channels "
					 "(give 1 or %d)",
					 aug->nnormalize, c, c);
		for (int ch = 0; ch < c; ch++) {
			int k = aug->nnormalize == 1 ? 0 : ch;
			l->mean[ch] = aug->mean[k];
			l->std[ch] = aug->std[k];
			if (!(aug->std[k] > 0))
				return data_fail(err, errlen, "normalize: std %g must be > 0",
						 aug->std[k]);
		}
	} else if (l->d->channel_mean && l->d->channel_std) {
		memcpy(l->mean, l->d->channel_mean, (size_t)c * sizeof(float));
		memcpy(l->std, l->d->channel_std, (size_t)c * sizeof(float));
	} else {
		/* A data set that did not come from data_load carries no train
		 * statistics: use its own, the only ones there are. */
		data_channel_stats(l->d, l->mean, l->std);
	}
	return 0;
}

struct loader *loader_new(const struct dataset *d, const struct spec_data *aug,
			  const struct loader_options *opt, int epoch, int64_t position,
			  char *err, size_t errlen)
{
	if (opt->batch_size < 1) {
		data_fail(err, errlen, "loader: batch size must be ≥ 1, got %d", opt->batch_size);
		return NULL;
	}
	int64_t per_epoch = loader_batches_per_epoch(d, opt->batch_size, opt->drop_last);
	if (epoch < 0 || position < 0 || position > per_epoch) {
		data_fail(err, errlen,
			  "loader: cannot start at epoch %d batch %lld (%lld batches per epoch)",
			  epoch, (long long)position, (long long)per_epoch);
		return NULL;
	}
	struct loader *l = tb_xcalloc(1, sizeof(*l));
	l->d = d;
	l->opt = *opt;
	/* Out-of-range thread and ring sizes are clamped rather than refused:
	 * they change speed, never results. */
	l->nworkers = TB_MIN(TB_MAX(opt->workers, 1), LOADER_MAX_WORKERS);
	l->nslots = TB_MAX(opt->prefetch, 2);
	l->per_epoch = per_epoch;
	l->sample = dataset_sample_size(d);
	l->epoch0 = epoch;
	l->position0 = position;
	l->cur_epoch = epoch;
	l->cur_pos = position;
	l->aug_key = rng_hash(opt->seed, LOADER_AUG_TAG, 2);
	for (int i = 0; i < 256; i++)
		l->u8_to_float[i] = (float)i / 255.0f;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->wake_workers, NULL);
	pthread_cond_init(&l->wake_consumer, NULL);
	if (aug && loader_plan(l, aug, opt->augment, err, errlen) != 0)
		goto fail;

	size_t bs = (size_t)opt->batch_size, slots = (size_t)l->nslots;
	size_t sample = (size_t)(l->sample ? l->sample : 1);
	l->x_block = tb_xmalloc((slots * bs + (size_t)l->nworkers) * sample * sizeof(float));
	l->y_block = tb_xmalloc(slots * bs * sizeof(int32_t));
	l->index_block = tb_xmalloc(slots * bs * sizeof(int64_t));
	l->slots = tb_xcalloc(slots, sizeof(*l->slots));
	for (size_t i = 0; i < slots; i++) {
		l->slots[i].x = l->x_block + i * bs * sample;
		l->slots[i].y = l->y_block + i * bs;
		l->slots[i].index = l->index_block + i * bs;
		l->slots[i].ticket = -1;
	}
	/* Tickets in flight lie in a window of nslots consecutive batches,
	 * which touches at most (nslots - 1) / per_epoch + 2 epochs. */
	if (opt->shuffle && per_epoch > 0) {
		l->norders = (int)TB_MIN((int64_t)l->nslots, (l->nslots - 1) / per_epoch + 2);
		l->orders = tb_xcalloc((size_t)l->norders, sizeof(*l->orders));
		for (int i = 0; i < l->norders; i++) {
			l->orders[i].epoch = -1;
			l->orders[i].order = tb_xmalloc((size_t)d->n * sizeof(int64_t));
		}
	}
	l->workers = tb_xcalloc((size_t)l->nworkers, sizeof(*l->workers));
	for (int i = 0; i < l->nworkers; i++) {
		l->workers[i].loader = l;
		l->workers[i].scratch = l->x_block + (slots * bs + (size_t)i) * sample;
	}
	/* An empty epoch has nothing to prefetch: no threads, and loader_next
	 * reports the end of every epoch at once. */
	if (per_epoch > 0) {
		for (int i = 0; i < l->nworkers; i++) {
			if (pthread_create(&l->workers[i].thread, NULL, loader_worker,
					   &l->workers[i]) != 0) {
				data_fail(err, errlen, "loader: cannot start worker thread %d of %d",
					  i + 1, l->nworkers);
				goto fail;
			}
			l->workers[i].started = 1;
		}
	}
	return l;
fail:
	loader_free(l);
	return NULL;
}

int loader_describe(const struct dataset *d, const struct spec_data *aug, const struct loader_options *opt,
		    struct loader_plan *out, char *err, size_t errlen)
{
	/* The plan a real loader would make, without its threads and ring. */
	struct loader l = {.d = d, .opt = *opt};
	memset(out, 0, sizeof(*out));
	int rc = aug ? loader_plan(&l, aug, opt->augment, err, errlen) : 0;
	if (rc == 0 && l.mean && d->c > LOADER_PLAN_MAX_CHANNELS)
		rc = data_fail(err, errlen, "normalisation over %d channels (a plan holds at most %d)", d->c,
			       LOADER_PLAN_MAX_CHANNELS);
	if (rc == 0) {
		out->nops = l.nops;
		memcpy(out->ops, l.ops, sizeof(out->ops));
		for (int c = 0; l.mean && c < d->c; c++) {
			out->mean[c] = l.mean[c];
			out->std[c] = l.std[c];
		}
		out->aug_key = rng_hash(opt->seed, LOADER_AUG_TAG, 2);
	}
	free(l.mean);
	free(l.std);
	return rc ? -1 : 0;
}

int loader_normalization(const struct dataset *d, const struct spec_data *aug, float *mean, float *std, char *err,
			 size_t errlen)
{
	struct loader l = {.d = d};
	int rc = loader_plan(&l, aug, 0, err, errlen);
	if (rc == 0 && l.mean) {
		memcpy(mean, l.mean, (size_t)d->c * sizeof(float));
		memcpy(std, l.std, (size_t)d->c * sizeof(float));
		rc = 1;
	}
	free(l.mean);
	free(l.std);
	return rc;
}

void loader_free(struct loader *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_broadcast(&l->wake_workers);
	pthread_mutex_unlock(&l->mu);
	/* A worker in the middle of a batch finishes it (microseconds) and
	 * then sees stop; nothing it touches is freed before the join. */
	for (int i = 0; l->workers && i < l->nworkers; i++)
		if (l->workers[i].started)
			pthread_join(l->workers[i].thread, NULL);
	pthread_cond_destroy(&l->wake_consumer);
	pthread_cond_destroy(&l->wake_workers);
	pthread_mutex_destroy(&l->mu);
	for (int i = 0; l->orders && i < l->norders; i++)
		free(l->orders[i].order);
	free(l->orders);
	free(l->workers);
	free(l->slots);
	free(l->x_block);
	free(l->y_block);
	free(l->index_block);
	free(l->mean);
	free(l->std);
	free(l);
}
