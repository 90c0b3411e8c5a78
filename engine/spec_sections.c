/*
 * spec_sections.c — the spec's sections as tables: which keys each of data,
 * loss, optimizer, schedule, train and checkpoint takes, their types,
 * ranges and defaults, and the checks that span several keys.
 *
 * What it is: the schema; adding a key is adding a table row. What it is
 * not: the reader (spec_node.c walks these tables), the model list
 * (spec_model.c) or data.augment (spec_augment.c).
 *
 * Threads: tables are const; functions are pure over one parse context.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_internal.h"

/* One row per key; the key is the struct member's name unless said otherwise. */
#define ROW(st, m, k, lo_, hi_, rg, only_)                                                  \
	.key = #m, .kind = k, .offset = offsetof(st, m), .lo = lo_, .hi = hi_, .range = rg, \
	.only = only_
#define INT(st, m, lo_, hi_, rg, only_) {ROW(st, m, SPEC_F_INT, lo_, hi_, rg, only_), .pos_offset = -1}
#define I64(st, m, lo_, only_) {ROW(st, m, SPEC_F_I64, lo_, 0, SPEC_R_NO_HI, only_), .pos_offset = -1}
#define NUM(st, m, lo_, hi_, rg, only_) {ROW(st, m, SPEC_F_NUM, lo_, hi_, rg, only_), .pos_offset = -1}
#define BOOL(st, m, only_) {ROW(st, m, SPEC_F_BOOL, 0, 0, 0, only_), .pos_offset = -1}
#define TEXT(st, m, only_) \
	{ROW(st, m, SPEC_F_TEXT, 0, 0, 0, only_), .size = sizeof(((st *)0)->m), .pos_offset = -1}
#define CHOICE(st, m, list, what_) \
	{ROW(st, m, SPEC_F_CHOICE, 0, 0, 0, 0), .size = sizeof(((st *)0)->m), .choices = list, \
	 .what = what_, .pos_offset = -1}
#define CUSTOM(k, fn, only_) {.key = k, .kind = SPEC_F_CUSTOM, .custom = fn, .only = only_, .pos_offset = -1}
#define POSITIVE (SPEC_R_LO_OPEN | SPEC_R_NO_HI)
#define UNIT_OPEN SPEC_R_HI_OPEN /* [0, 1) */
#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- data ------------------------------------------------------------------- */

static const char *const datasets[] = {"fashion-mnist", "mnist", "cifar10", "csv",
				       "synthetic", "image-folder", NULL};
enum { D_FASHION, D_MNIST, D_CIFAR, D_CSV, D_SYNTH, D_FOLDER };
#define ONLY(v) (1u << (v))
#define FILES (ONLY(D_FASHION) | ONLY(D_MNIST) | ONLY(D_CIFAR) | ONLY(D_CSV) | ONLY(D_FOLDER))

static void data_shape(struct spec_ctx *c, const char *path, const yaml_node_t *value, void *section)
{
	struct spec_data *d = section;
	char got[64];
	int n = value->type == YAML_SEQUENCE_NODE
			? (int)(value->data.sequence.items.top - value->data.sequence.items.start)
			: 0;
	if (n != 1 && n != 3) {
		spec_describe(value, got, sizeof(got));
		if (value->type == YAML_SEQUENCE_NODE)
			snprintf(got, sizeof(got), "%d numbers", n);
		spec_fail(c, value, "%s: expected [C, H, W] or [features], got %s", path, got);
		return;
	}
	int shape[3] = {1, 1, 1};
	for (int i = 0; i < n; i++) {
		int64_t v;
		const yaml_node_t *item = spec_node(c, value->data.sequence.items.start[i]);
		if (!spec_read_int(c, path, item, 1, 65536, false, &v))
			return;
		shape[i] = (int)v;
	}
	memcpy(d->shape, shape, sizeof(shape));
}

enum { DF_DATASET, DF_PATH, DF_TEST_PATH, DF_BATCH, DF_VALIDATION, DF_TEST_FRACTION, DF_SHUFFLE,
       DF_WORKERS, DF_LABEL, DF_HEADER, DF_SHAPE, DF_CLASSES, DF_TRAIN_SIZE, DF_TEST_SIZE,
       DF_AUGMENT };
#define SD struct spec_data
static const struct spec_field data_fields[] = {
	[DF_DATASET] = {ROW(SD, dataset, SPEC_F_CHOICE, 0, 0, 0, 0), .size = SPEC_NAME_MAX,
			.choices = datasets, .what = "dataset", .pos_offset = offsetof(SD, dataset_pos)},
	[DF_PATH] = {ROW(SD, path, SPEC_F_TEXT, 0, 0, 0, FILES), .size = SPEC_PATH_MAX,
		     .pos_offset = offsetof(SD, path_pos)},
	[DF_TEST_PATH] = TEXT(SD, test_path, ONLY(D_CSV)),
	[DF_BATCH] = INT(SD, batch_size, 1, 0, SPEC_R_NO_HI, 0),
	[DF_VALIDATION] = NUM(SD, validation, 0, 1, UNIT_OPEN, 0),
	[DF_TEST_FRACTION] = NUM(SD, test_fraction, 0, 1, UNIT_OPEN, ONLY(D_CSV)),
	[DF_SHUFFLE] = BOOL(SD, shuffle, 0),
	[DF_WORKERS] = INT(SD, workers, 1, 64, 0, 0),
	[DF_LABEL] = TEXT(SD, label_column, ONLY(D_CSV)),
	[DF_HEADER] = BOOL(SD, header, ONLY(D_CSV)),
	[DF_SHAPE] = CUSTOM("shape", data_shape, ONLY(D_SYNTH) | ONLY(D_FOLDER)),
	[DF_CLASSES] = INT(SD, classes, 2, 100000, 0, ONLY(D_SYNTH)),
	[DF_TRAIN_SIZE] = I64(SD, train_size, 1, ONLY(D_SYNTH)),
	[DF_TEST_SIZE] = I64(SD, test_size, 1, ONLY(D_SYNTH)),
	[DF_AUGMENT] = CUSTOM("augment", spec_augment_read, 0),
};

static void data_defaults(void *p, int variant)
{
	struct spec_data *d = p;
	memset(d, 0, sizeof(*d));
	spec_copy_name(d->dataset, sizeof(d->dataset), datasets[variant]);
	d->batch_size = 64;
	d->test_fraction = 0.2;
	d->shuffle = true;
	d->workers = 2;
	d->header = true;
	/* Only synthetic data needs a shape; elsewhere {0,0,0} means "from the files"
	 * (image-folder resizes only when a shape is given). */
	if (variant == D_SYNTH) {
		d->shape[0] = 1;
		d->shape[1] = 28;
		d->shape[2] = 28;
	}
	d->classes = 10;
	d->train_size = 1024;
	d->test_size = 256;
}

static const struct spec_section data_section = {
	"data", data_fields, NELEM(data_fields), DF_DATASET, D_FASHION, "dataset", data_defaults,
};

/* ---- loss ------------------------------------------------------------------- */

static const char *const losses[] = {"cross_entropy", "mse", NULL};
static const struct spec_field loss_fields[] = {
	CHOICE(struct spec_loss, name, losses, "loss"),
	NUM(struct spec_loss, label_smoothing, 0, 1, UNIT_OPEN, ONLY(0)),
};

static void loss_defaults(void *p, int variant)
{
	struct spec_loss *l = p;
	memset(l, 0, sizeof(*l));
	spec_copy_name(l->name, sizeof(l->name), losses[variant]);
}

static const struct spec_section loss_section = {
	"loss", loss_fields, NELEM(loss_fields), 0, 0, "name", loss_defaults,
};

/* ---- optimizer ------------------------------------------------------------------ */

static const char *const optimizers[] = {"sgd", "adam", "adamw", NULL};
enum { O_SGD, O_ADAM, O_ADAMW };
#define ADAMS (ONLY(O_ADAM) | ONLY(O_ADAMW))

static void optimizer_betas(struct spec_ctx *c, const char *path, const yaml_node_t *value,
			    void *section)
{
	static const struct spec_field beta = {.lo = 0, .hi = 1, .range = UNIT_OPEN};
	struct spec_optimizer *o = section;
	char got[64];
	if (value->type != YAML_SEQUENCE_NODE ||
	    value->data.sequence.items.top - value->data.sequence.items.start != 2) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value, "%s: expected two numbers [beta1, beta2], got %s", path, got);
		return;
	}
	double b[2];
	for (int i = 0; i < 2; i++)
		if (!spec_read_number(c, path, spec_node(c, value->data.sequence.items.start[i]), &beta,
				      &b[i]))
			return;
	o->beta1 = b[0];
	o->beta2 = b[1];
}

enum { OF_NAME, OF_LR, OF_MOMENTUM, OF_DAMPENING, OF_NESTEROV, OF_WD, OF_BETA1, OF_BETA2,
       OF_BETAS, OF_EPS, OF_CLIP };
#define SO struct spec_optimizer
static const struct spec_field optimizer_fields[] = {
	[OF_NAME] = CHOICE(SO, name, optimizers, "optimizer"),
	[OF_LR] = NUM(SO, lr, 0, 0, POSITIVE, 0),
	[OF_MOMENTUM] = NUM(SO, momentum, 0, 1, UNIT_OPEN, ONLY(O_SGD)),
	[OF_DAMPENING] = NUM(SO, dampening, 0, 1, 0, ONLY(O_SGD)),
	[OF_NESTEROV] = BOOL(SO, nesterov, ONLY(O_SGD)),
	[OF_WD] = NUM(SO, weight_decay, 0, 0, SPEC_R_NO_HI, 0),
	[OF_BETA1] = NUM(SO, beta1, 0, 1, UNIT_OPEN, ADAMS),
	[OF_BETA2] = NUM(SO, beta2, 0, 1, UNIT_OPEN, ADAMS),
	[OF_BETAS] = CUSTOM("betas", optimizer_betas, ADAMS),
	[OF_EPS] = NUM(SO, eps, 0, 0, POSITIVE, ADAMS),
	[OF_CLIP] = NUM(SO, grad_clip, 0, 0, SPEC_R_NO_HI, 0),
};

static void optimizer_defaults(void *p, int variant)
{
	struct spec_optimizer *o = p;
	memset(o, 0, sizeof(*o));
	spec_copy_name(o->name, sizeof(o->name), optimizers[variant]);
	o->lr = variant == O_SGD ? 0.01 : 1e-3;
	o->weight_decay = variant == O_ADAMW ? 0.01 : 0; /* PyTorch's defaults */
	o->beta1 = 0.9;
	o->beta2 = 0.999;
	o->eps = 1e-8;
}

static const struct spec_section optimizer_section = {
	"optimizer", optimizer_fields, NELEM(optimizer_fields), OF_NAME, O_ADAM, "name",
	optimizer_defaults,
};

/* ---- schedule --------------------------------------------------------------------- */

static const char *const schedules[] = {"constant", "step", "cosine", "onecycle", "linear", NULL};
enum { S_CONSTANT, S_STEP, S_COSINE, S_ONECYCLE, S_LINEAR };
enum { SF_NAME, SF_WARMUP, SF_STEP_SIZE, SF_GAMMA, SF_MIN_LR, SF_MAX_LR, SF_PCT, SF_DIV, SF_FINAL };
#define SS struct spec_schedule
static const struct spec_field schedule_fields[] = {
	[SF_NAME] = CHOICE(SS, name, schedules, "schedule"),
	[SF_WARMUP] = I64(SS, warmup_steps, 0, 0),
	[SF_STEP_SIZE] = I64(SS, step_size, 1, ONLY(S_STEP)),
	[SF_GAMMA] = NUM(SS, gamma, 0, 0, POSITIVE, ONLY(S_STEP)),
	[SF_MIN_LR] = NUM(SS, min_lr, 0, 0, SPEC_R_NO_HI, ONLY(S_COSINE)),
	[SF_MAX_LR] = NUM(SS, max_lr, 0, 0, POSITIVE, ONLY(S_ONECYCLE)),
	[SF_PCT] = NUM(SS, pct_start, 0, 1, SPEC_R_LO_OPEN | SPEC_R_HI_OPEN, ONLY(S_ONECYCLE)),
	[SF_DIV] = NUM(SS, div_factor, 0, 0, POSITIVE, ONLY(S_ONECYCLE)),
	[SF_FINAL] = NUM(SS, final_div_factor, 0, 0, POSITIVE, ONLY(S_ONECYCLE)),
};

static void schedule_defaults(void *p, int variant)
{
	struct spec_schedule *s = p;
	memset(s, 0, sizeof(*s));
	spec_copy_name(s->name, sizeof(s->name), schedules[variant]);
	s->gamma = 0.1;
	s->pct_start = 0.3;
	s->div_factor = 25;
	s->final_div_factor = 1e4;
}

static const struct spec_section schedule_section = {
	"schedule", schedule_fields, NELEM(schedule_fields), SF_NAME, S_CONSTANT, "name",
	schedule_defaults,
};

/* ---- train ------------------------------------------------------------------------ */

static const char *const precisions[] = {"fp32", "tf32", "bf16", "fp16", NULL};

static void train_device(struct spec_ctx *c, const char *path, const yaml_node_t *value,
			 void *section)
{
	static const char *const plain[] = {"auto", "cpu", "cuda"};
	struct spec_train *t = section;
	const char *s = spec_is_null(value) ? NULL : spec_text(value);
	char got[64];
	if (s) {
		bool ok = !strcmp(s, "auto") || !strcmp(s, "cpu") || !strcmp(s, "cuda");
		if (!strncmp(s, "cuda:", 5)) {
			size_t n = strspn(s + 5, "0123456789");
			ok = n >= 1 && n <= 3 && !s[5 + n] && atoi(s + 5) < 256;
		}
		if (ok) {
			spec_copy_name(t->device, sizeof(t->device), s);
			return;
		}
	}
	spec_describe(value, got, sizeof(got));
	const char *near = s ? spec_suggest(s, plain, 3) : NULL;
	if (s && (!strcmp(s, "gpu") || !strcmp(s, "GPU")))
		near = "cuda"; /* closer in meaning than 'cpu', which is closer in spelling */
	spec_fail(c, value, "%s: expected auto, cpu, cuda or cuda:N, got %s%s%s%s", path, got,
		  near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
}

/* `every: epoch` reads as 1, as in DESIGN.md's sketch. */
static bool every_read(struct spec_ctx *c, const char *path, const yaml_node_t *value, int *out)
{
	int64_t v;
	if (spec_is_plain(value) && !strcmp(spec_text(value), "epoch")) {
		*out = 1;
		return true;
	}
	char got[64];
	if (!spec_integer(value, &v)) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value, "%s: expected an integer ≥ 0 (epochs) or 'epoch', got %s", path, got);
		return false;
	}
	if (!spec_read_int(c, path, value, 0, 1000000, true, &v))
		return false;
	*out = (int)v;
	return true;
}

static void train_eval_every(struct spec_ctx *c, const char *path, const yaml_node_t *value,
			     void *section)
{
	every_read(c, path, value, &((struct spec_train *)section)->eval_every);
}

#define ST struct spec_train
static const struct spec_field train_fields[] = {
	INT(ST, epochs, 1, 0, SPEC_R_NO_HI, 0),
	I64(ST, max_steps, 0, 0),
	CHOICE(ST, precision, precisions, "precision"),
	CUSTOM("device", train_device, 0),
	INT(ST, devices, 1, 64, 0, 0),
	INT(ST, nodes, 1, 1024, 0, 0),
	{.key = "seed", .kind = SPEC_F_U64, .offset = offsetof(ST, seed), .pos_offset = -1},
	CUSTOM("eval_every", train_eval_every, 0),
	INT(ST, threads, 0, 1024, 0, 0),
	INT(ST, log_every, 0, 0, SPEC_R_NO_HI, 0),
};

static void train_defaults(void *p, int variant)
{
	struct spec_train *t = p;
	(void)variant;
	memset(t, 0, sizeof(*t));
	t->epochs = 1;
	spec_copy_name(t->precision, sizeof(t->precision), "fp32");
	spec_copy_name(t->device, sizeof(t->device), "auto");
	t->devices = 1;
	t->nodes = 1;
	t->eval_every = 1;
}

static const struct spec_section train_section = {
	"train", train_fields, NELEM(train_fields), -1, 0, NULL, train_defaults,
};

/* ---- checkpoint --------------------------------------------------------------------- */

static void checkpoint_every(struct spec_ctx *c, const char *path, const yaml_node_t *value,
			     void *section)
{
	every_read(c, path, value, &((struct spec_checkpoint *)section)->every);
}

#define SC struct spec_checkpoint
static const struct spec_field checkpoint_fields[] = {
	CUSTOM("every", checkpoint_every, 0),
	I64(SC, every_steps, 0, 0),
	INT(SC, keep, 1, 0, SPEC_R_NO_HI, 0),
	BOOL(SC, keep_best, 0),
};

static void checkpoint_defaults(void *p, int variant)
{
	struct spec_checkpoint *k = p;
	(void)variant;
	memset(k, 0, sizeof(*k));
	k->every = 1;
	k->keep = 3;
	k->keep_best = true;
}

static const struct spec_section checkpoint_section = {
	"checkpoint", checkpoint_fields, NELEM(checkpoint_fields), -1, 0, NULL, checkpoint_defaults,
};

/* ---- the whole document ---------------------------------------------------------------- */

const char *spec_section_shorthand(const char *section)
{
	static const struct spec_section *const with[] = {&data_section, &loss_section,
							  &optimizer_section, &schedule_section};
	if (!strcmp(section, "model"))
		return "preset";
	for (int i = 0; i < NELEM(with); i++)
		if (!strcmp(section, with[i]->name))
			return with[i]->shorthand;
	return NULL;
}

enum { T_DATA, T_MODEL, T_LOSS, T_OPTIMIZER, T_SCHEDULE, T_TRAIN, T_CHECKPOINT, T_COUNT };
static const char *const top_names[] = {"data", "model", "loss", "optimizer",
					"schedule", "train", "checkpoint"};

/* A missing section that a misspelt key already points at needs no second error. */
static bool suggested(const struct spec_ctx *c, const yaml_node_t *root, const char *section)
{
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		const char *k = spec_text(spec_node(c, p->key));
		const char *near = k ? spec_suggest(k, top_names, T_COUNT) : NULL;
		if (near && !strcmp(near, section) && strcmp(k, section))
			return true;
	}
	return false;
}

static void data_checks(struct spec_ctx *c, struct spec_data *d, int variant,
			const yaml_node_t **present)
{
	if (!present[DF_DATASET])
		d->dataset_pos = d->pos;
	if (!present[DF_PATH])
		d->path_pos = d->dataset_pos; /* a missing default data set is reported there */
	if ((variant == D_CSV || variant == D_FOLDER) && !d->path[0] && !present[DF_PATH])
		spec_fail(c, present[DF_DATASET], "data.path: the %s data set needs a path (%s)",
			  datasets[variant],
			  variant == D_CSV ? "the CSV file" : "a folder with one subfolder per class");
}

static void optimizer_checks(struct spec_ctx *c, const struct spec_optimizer *o,
			     const yaml_node_t **present)
{
	if (present[OF_BETAS] && (present[OF_BETA1] || present[OF_BETA2]))
		spec_fail(c, present[OF_BETAS], "optimizer.betas: give betas or beta1/beta2, not both");
	if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
		spec_fail(c, present[OF_NESTEROV],
			  "optimizer.nesterov: needs momentum > 0 and dampening 0 (as in PyTorch)");
}

static void schedule_checks(struct spec_ctx *c, struct spec_schedule *s, int variant,
			    const struct spec_optimizer *o, const yaml_node_t **present)
{
	if (variant == S_STEP && !present[SF_STEP_SIZE])
		spec_fail(c, present[SF_NAME],
			  "schedule.step_size: the step schedule needs step_size (decay every N epochs)");
	if (variant == S_COSINE && s->min_lr >= o->lr)
		spec_fail(c, present[SF_MIN_LR], "schedule.min_lr: %g must be below optimizer.lr (%g)",
			  s->min_lr, o->lr);
	if (variant == S_ONECYCLE && !present[SF_MAX_LR])
		s->max_lr = o->lr;
}

void spec_convert(struct spec_ctx *c, const yaml_node_t *root, struct spec *s)
{
	yaml_node_t *values[T_COUNT], *keys[T_COUNT];
	const yaml_node_t *present[SPEC_MAX_FIELDS];
	spec_mapping_read(c, "", root, top_names, T_COUNT, values, keys);

	for (int i = T_DATA; i <= T_MODEL; i++)
		if (!values[i] && !suggested(c, root, top_names[i]))
			spec_error_add(c->errs, (struct spec_pos){1, 1},
				       "missing section '%s' (for example %s)", top_names[i],
				       i == T_DATA ? "data: {dataset: fashion-mnist}"
						   : "model: [flatten, {linear: 10}]");

	int v = spec_section_read(c, &data_section, keys[T_DATA], values[T_DATA], &s->data, present);
	s->data.pos = spec_node_pos(c, keys[T_DATA]);
	data_checks(c, &s->data, v, present);

	memset(&s->model, 0, sizeof(s->model));
	s->model.pos = spec_node_pos(c, keys[T_MODEL]);
	if (values[T_MODEL])
		spec_model_read(c, keys[T_MODEL], values[T_MODEL], &s->model);

	spec_section_read(c, &loss_section, keys[T_LOSS], values[T_LOSS], &s->loss, present);
	s->loss.pos = spec_node_pos(c, keys[T_LOSS]);

	spec_section_read(c, &optimizer_section, keys[T_OPTIMIZER], values[T_OPTIMIZER],
			  &s->optimizer, present);
	s->optimizer.pos = spec_node_pos(c, keys[T_OPTIMIZER]);
	optimizer_checks(c, &s->optimizer, present);

	v = spec_section_read(c, &schedule_section, keys[T_SCHEDULE], values[T_SCHEDULE],
			      &s->schedule, present);
	s->schedule.pos = spec_node_pos(c, keys[T_SCHEDULE]);
	schedule_checks(c, &s->schedule, v, &s->optimizer, present);

	spec_section_read(c, &train_section, keys[T_TRAIN], values[T_TRAIN], &s->train, present);
	s->train.pos = spec_node_pos(c, keys[T_TRAIN]);

	spec_section_read(c, &checkpoint_section, keys[T_CHECKPOINT], values[T_CHECKPOINT],
			  &s->checkpoint, present);
	s->checkpoint.pos = spec_node_pos(c, keys[T_CHECKPOINT]);
}
