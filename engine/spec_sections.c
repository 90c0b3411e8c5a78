/*
 * spec_sections.c — the spec's sections as tables: the keys each of data,
 * loss, optimizer, schedule, train and checkpoint takes itself, their
 * types, ranges, defaults and docs; the kinds a section chooses among and
 * their own keys come from the registries (optim.h, loss.h, schedule.h,
 * data.h, precision.h).
 *
 * What it is: the schema; adding a section key is adding a table row,
 * adding a kind is a row in its registry. What it is not: the reader
 * (spec_node.c walks these tables), the model list (spec_model.c),
 * data.augment (spec_augment.c), early_stopping (spec_stopping.c) or sweep
 * (spec_sweep.c).
 *
 * Threads: tables are const; functions are pure over one parse context.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "data.h"
#include "loss.h"
#include "optim.h"
#include "precision.h"
#include "schedule.h"
#include "spec_internal.h"

/*
 * One row per key; the key is the struct member's name. Bounds: every
 * number has an upper bound. Where it is part of the meaning ([0, 1) for a
 * fraction) the range is plain; where it only keeps a typo or a hostile
 * spec from asking for years of training or terabytes of memory it is
 * SPEC_R_SANITY, chosen far above what a real run uses (README's table
 * lists them all).
 */
#define ROW(st, m, k, lo_, hi_, rg) \
	.key = #m, .kind = k, .offset = offsetof(st, m), .lo = lo_, .hi = hi_, .range = rg
#define INT(st, m, lo_, hi_, rg, ...) {ROW(st, m, SPEC_F_INT, lo_, hi_, rg), __VA_ARGS__}
#define I64(st, m, lo_, hi_, ...) {ROW(st, m, SPEC_F_I64, lo_, hi_, SPEC_R_SANITY), __VA_ARGS__}
#define NUM(st, m, lo_, hi_, rg, ...) {ROW(st, m, SPEC_F_NUM, lo_, hi_, rg), __VA_ARGS__}
#define BOOL(st, m, ...) {ROW(st, m, SPEC_F_BOOL, 0, 0, 0), __VA_ARGS__}
#define TEXT(st, m, ...) {ROW(st, m, SPEC_F_TEXT, 0, 0, 0), .size = sizeof(((st *)0)->m), __VA_ARGS__}
#define CHOICE(st, m, reg, index, ...)                                                                 \
	{ROW(st, m, SPEC_F_CHOICE, 0, 0, 0), .size = sizeof(((st *)0)->m), .registry = &(reg), \
	 .index_offset = offsetof(st, index), __VA_ARGS__}
#define CUSTOM(k, fn, ...) {.key = k, .kind = SPEC_F_CUSTOM, .custom = fn, __VA_ARGS__}
#define SANE SPEC_R_SANITY
#define POSITIVE (SPEC_R_LO_OPEN | SPEC_R_SANITY)
#define UNIT_OPEN SPEC_R_HI_OPEN /* [0, 1) */
#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- data ------------------------------------------------------------------- */

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
		if (!spec_read_int(c, path, item, 1, 65536, 0, &v))
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
	[DF_DATASET] = CHOICE(SD, dataset, data_set_registry, kind, .pos_offset = offsetof(SD, dataset_pos),
			      .doc = "the data set (table below)"),
	[DF_PATH] = TEXT(SD, path, .per_kind = true, .pos_offset = offsetof(SD, path_pos),
			 .def_text = "the data set's", .doc = "where the data set's files are"),
	[DF_TEST_PATH] = TEXT(SD, test_path, .per_kind = true, .def_text = "none",
			      .doc = "the test split's CSV file (else test_fraction of path)"),
	[DF_BATCH] = INT(SD, batch_size, 1, 1 << 20, SANE, .doc = "samples per step (all replicas together)"),
	[DF_VALIDATION] = NUM(SD, validation, 0, 1, UNIT_OPEN, .doc = "share of the training split held out for validation"),
	[DF_TEST_FRACTION] = NUM(SD, test_fraction, 0, 1, UNIT_OPEN, .per_kind = true,
				 .doc = "share of the CSV file used for testing when there is no test_path"),
	[DF_SHUFFLE] = BOOL(SD, shuffle, .doc = "a new order every epoch"),
	[DF_WORKERS] = INT(SD, workers, 1, 64, 0, .doc = "loader threads"),
	[DF_LABEL] = TEXT(SD, label_column, .per_kind = true, .def_text = "the last column",
			  .doc = "the label's column: its header name or 0-based index"),
	[DF_HEADER] = BOOL(SD, header, .per_kind = true, .doc = "the first row names the columns"),
	[DF_SHAPE] = CUSTOM("shape", data_shape, .per_kind = true,
			    .type_text = "[C, H, W] or [features], each from 1 to 65,536", .def_text = "the data set's",
			    .doc = "synthetic: the sample shape; image-folder: resize every image to it"),
	[DF_CLASSES] = INT(SD, classes, 2, 100000, 0, .per_kind = true, .doc = "number of classes"),
	[DF_TRAIN_SIZE] = I64(SD, train_size, 1, 10000000, .per_kind = true, .doc = "training samples"),
	[DF_TEST_SIZE] = I64(SD, test_size, 1, 10000000, .per_kind = true, .doc = "test samples"),
	[DF_AUGMENT] = CUSTOM("augment", spec_augment_read, .type_text = "list of steps (table below)",
			      .def_text = "[]", .doc = "what the loader does to each training sample, in order"),
};

static void data_defaults(void *p)
{
	struct spec_data *d = p;
	memset(d, 0, sizeof(*d));
	d->batch_size = 64;
	d->test_fraction = 0.2;
	d->shuffle = true;
	d->workers = 2;
	d->header = true;
	d->classes = 10;
	d->train_size = 1024;
	d->test_size = 256;
}

static const struct spec_section data_section = {
	"data", data_fields, NELEM(data_fields), DF_DATASET, 0, "dataset", data_defaults, -1,
};

/* ---- loss ------------------------------------------------------------------- */

static const struct spec_field loss_fields[] = {
	CHOICE(struct spec_loss, name, loss_registry, kind, .doc = "the loss (table below)"),
};

static void loss_defaults(void *p)
{
	memset(p, 0, sizeof(struct spec_loss));
}

static const struct spec_section loss_section = {
	"loss", loss_fields, NELEM(loss_fields), 0, 0, "name", loss_defaults, offsetof(struct spec_loss, arg),
};

/* ---- optimizer ------------------------------------------------------------------ */

#define SO struct spec_optimizer
static const struct spec_field optimizer_fields[] = {
	CHOICE(SO, name, optim_registry, kind, .doc = "the optimizer (table below)"),
	NUM(SO, lr, 0, 1000, POSITIVE, .def_text = "the optimizer's", .doc = "learning rate"),
	NUM(SO, weight_decay, 0, 100, SANE, .def_text = "the optimizer's", .doc = "weight decay (L2, or decoupled for adamw)"),
	NUM(SO, grad_clip, 0, 1e6, SANE, .doc = "clip the global gradient norm to this, as clip_grad_norm_ (0 = off)"),
};

static void optimizer_defaults(void *p)
{
	memset(p, 0, sizeof(SO));
}

/* The default optimizer is Adam: row OPTIM_ADAM of optim.c. */
static const struct spec_section optimizer_section = {
	"optimizer", optimizer_fields, NELEM(optimizer_fields), 0, OPTIM_ADAM, "name", optimizer_defaults,
	offsetof(SO, arg),
};

/* ---- schedule --------------------------------------------------------------------- */

#define SS struct spec_schedule
static const struct spec_field schedule_fields[] = {
	CHOICE(SS, name, schedule_registry, kind, .doc = "the schedule (table below)"),
	I64(SS, warmup_steps, 0, 1000000000, .doc = "linear warm-up from 0 over this many steps first"),
};

static void schedule_defaults(void *p)
{
	memset(p, 0, sizeof(SS));
}

static const struct spec_section schedule_section = {
	"schedule", schedule_fields, NELEM(schedule_fields), 0, 0, "name", schedule_defaults, offsetof(SS, arg),
};

/* ---- train ------------------------------------------------------------------------ */

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

#define EPOCHS_MAX 100000

/* `every: epoch` reads as 1, as in DESIGN.md's sketch. */
static bool every_read(struct spec_ctx *c, const char *path, const yaml_node_t *value, int *out)
{
	int64_t v;
	if (spec_is_plain(value) && !strcmp(spec_text(value), "epoch")) {
		*out = 1;
		return true;
	}
	char got[64];
	double d;
	if (!spec_integer(value, &v) && !(spec_number(value, &d) && d == floor(d))) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value, "%s: expected an integer ≥ 0 (epochs) or 'epoch', got %s", path, got);
		return false;
	}
	if (!spec_read_int(c, path, value, 0, EPOCHS_MAX, SANE, &v))
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
	INT(ST, epochs, 1, EPOCHS_MAX, SANE, .doc = "passes over the training split"),
	I64(ST, max_steps, 0, 1000000000000, .doc = "stop after this many steps in all (0 = no limit)"),
	CHOICE(ST, precision, precision_registry, precision_kind, .doc = "the precision (table below); the CPU computes in fp32"),
	CUSTOM("device", train_device, .type_text = "auto, cpu, cuda or cuda:N", .def_text = "auto",
	       .doc = "auto: a GPU when there is one, else the CPU"),
	INT(ST, devices, 1, 64, 0, .doc = "data-parallel replicas"),
	INT(ST, nodes, 1, 1024, 0, .doc = "processes under a cluster launcher, one per node (the Slurm executor asks for this many)"),
	{.key = "seed", .kind = SPEC_F_U64, .offset = offsetof(ST, seed),
	 .type_text = "integer from 0 to 2^64 - 1", .doc = "every random stream derives from it"},
	CUSTOM("eval_every", train_eval_every, .type_text = "integer from 0 to 100,000, or epoch", .def_text = "1",
	       .doc = "evaluate every N epochs (0 = at the end only)"),
	INT(ST, threads, 0, 256, SANE, .doc = "CPU threads (0 = every core)"),
	INT(ST, log_every, 0, 1000000, SANE, .doc = "a metric event every N steps (0 = automatic, ≤ 20 a second)"),
};

static void train_defaults(void *p)
{
	struct spec_train *t = p;
	memset(t, 0, sizeof(*t));
	t->epochs = 1;
	spec_copy_name(t->precision, sizeof(t->precision), precision_kinds[PRECISION_FP32].spec.name);
	t->precision_kind = PRECISION_FP32;
	spec_copy_name(t->device, sizeof(t->device), "auto");
	t->devices = 1;
	t->nodes = 1;
	t->eval_every = 1;
}

static const struct spec_section train_section = {
	"train", train_fields, NELEM(train_fields), -1, 0, NULL, train_defaults, -1,
};

/* ---- checkpoint --------------------------------------------------------------------- */

static void checkpoint_every(struct spec_ctx *c, const char *path, const yaml_node_t *value,
			     void *section)
{
	every_read(c, path, value, &((struct spec_checkpoint *)section)->every);
}

#define SC struct spec_checkpoint
static const struct spec_field checkpoint_fields[] = {
	CUSTOM("every", checkpoint_every, .type_text = "integer from 0 to 100,000, or epoch", .def_text = "1",
	       .doc = "a checkpoint every N epochs (0 = at the end only)"),
	I64(SC, every_steps, 0, 1000000000000, .doc = "also one every N steps (0 = off)"),
	INT(SC, keep, 1, 1000, SANE, .doc = "keep the newest N step checkpoints"),
	BOOL(SC, keep_best, .doc = "also keep best.safetensors (best validation, else test, accuracy)"),
};

static void checkpoint_defaults(void *p)
{
	struct spec_checkpoint *k = p;
	memset(k, 0, sizeof(*k));
	k->every = 1;
	k->keep = 3;
	k->keep_best = true;
}

static const struct spec_section checkpoint_section = {
	"checkpoint", checkpoint_fields, NELEM(checkpoint_fields), -1, 0, NULL, checkpoint_defaults, -1,
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

enum { T_DATA, T_MODEL, T_LOSS, T_OPTIMIZER, T_SCHEDULE, T_TRAIN, T_CHECKPOINT, T_EARLY_STOP,
       T_SWEEP, T_COUNT };
static const char *const top_names[] = {"data", "model", "loss", "optimizer", "schedule",
					"train", "checkpoint", "early_stopping", "sweep"};

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

/* Positions of keys a default stands for: errors about them point at `data:`. */
static void data_positions(struct spec_data *d, const yaml_node_t **present)
{
	if (!present[DF_DATASET])
		d->dataset_pos = d->pos;
	if (!present[DF_PATH])
		d->path_pos = d->dataset_pos; /* a missing default data set is reported there */
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

	c->spec = s;
	spec_section_read(c, &data_section, keys[T_DATA], values[T_DATA], &s->data, present);
	s->data.pos = spec_node_pos(c, keys[T_DATA]);
	data_positions(&s->data, present);

	memset(&s->model, 0, sizeof(s->model));
	s->model.pos = spec_node_pos(c, keys[T_MODEL]);
	if (values[T_MODEL])
		spec_model_read(c, keys[T_MODEL], values[T_MODEL], &s->model);

	spec_section_read(c, &loss_section, keys[T_LOSS], values[T_LOSS], &s->loss, present);
	s->loss.pos = spec_node_pos(c, keys[T_LOSS]);

	spec_section_read(c, &optimizer_section, keys[T_OPTIMIZER], values[T_OPTIMIZER],
			  &s->optimizer, present);
	s->optimizer.pos = spec_node_pos(c, keys[T_OPTIMIZER]);

	spec_section_read(c, &schedule_section, keys[T_SCHEDULE], values[T_SCHEDULE], &s->schedule, present);
	s->schedule.pos = spec_node_pos(c, keys[T_SCHEDULE]);

	spec_section_read(c, &train_section, keys[T_TRAIN], values[T_TRAIN], &s->train, present);
	s->train.pos = spec_node_pos(c, keys[T_TRAIN]);

	spec_section_read(c, &checkpoint_section, keys[T_CHECKPOINT], values[T_CHECKPOINT],
			  &s->checkpoint, present);
	s->checkpoint.pos = spec_node_pos(c, keys[T_CHECKPOINT]);

	spec_early_stop_read(c, keys[T_EARLY_STOP], values[T_EARLY_STOP], &s->early_stop);
	spec_sweep_read(c, keys[T_SWEEP], values[T_SWEEP], &s->sweep);
}

const struct spec_section *const spec_sections[] = {
	&data_section, &spec_model_section, &loss_section, &optimizer_section, &schedule_section, &train_section,
	&checkpoint_section, NULL,
};
