/*
 * test_spec.c — unit tests of the run-spec parser (engine/spec*.c):
 * defaults, every section, the three layer forms with positions, presets,
 * overrides, did-you-mean, the stored source's round trip, error printing,
 * and a deterministic mutation fuzz that must never crash or leak.
 *
 * Built by `make unit` under ASan + UBSan; one cmocka case per concern.
 * Threads: the concurrency case runs two parsing threads; the rest is one.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loss.h"
#include "optim.h"
#include "schedule.h"
#include "spec.h"
#include "tests/specs/spec_positions.h"

/* A kind's own key, by name: the engine reads the same value by index (optim.h, schedule.c, loss.c). */
#define OPT(s, key) spec_kind_arg(&optim_registry, (s)->optimizer.kind, (s)->optimizer.arg, key)
#define SCHED(s, key) spec_kind_arg(&schedule_registry, (s)->schedule.kind, (s)->schedule.arg, key)
#define LOSS(s, key) spec_kind_arg(&loss_registry, (s)->loss.kind, (s)->loss.arg, key)

static const char example[] =
	"data:      {dataset: fashion-mnist, batch_size: 64, augment: [random_crop: 4, hflip]}\n"
	"model:     [flatten, {linear: 128}, relu, {linear: 10}]   # or: resnet18\n"
	"loss:      cross_entropy\n"
	"optimizer: {name: adam, lr: 3.0e-4, weight_decay: 0}\n"
	"schedule:  {name: cosine, warmup_steps: 100}\n"
	"train:     {epochs: 5, precision: bf16, device: auto, seed: 0, eval_every: 1}\n"
	"checkpoint: {every: 1, keep: 3}\n";

/* A struct spec is large (hundreds of KB): keep it off the stack. */
struct parsed {
	struct spec *s;
	struct spec_errors *e;
	int rc;
};

static struct parsed parse_with(const char *text, const char *const *sets, int nsets)
{
	struct parsed p = {calloc(1, sizeof(struct spec)), calloc(1, sizeof(struct spec_errors)), 0};
	assert_non_null(p.s);
	assert_non_null(p.e);
	p.rc = spec_parse(text, strlen(text), "t.yaml", sets, nsets, p.s, p.e);
	return p;
}

static struct parsed parse(const char *text)
{
	return parse_with(text, NULL, 0);
}

static void done(struct parsed *p)
{
	spec_free(p->s);
	free(p->s);
	free(p->e);
}

static void print_errors(const struct parsed *p)
{
	for (int i = 0; i < p->e->count; i++)
		print_message("  %d:%d: %s\n", p->e->list[i].pos.line, p->e->list[i].pos.column,
			      p->e->list[i].message);
}

static void expect_ok(const struct parsed *p)
{
	if (p->rc != 0)
		print_errors(p);
	assert_int_equal(p->rc, 0);
	assert_int_equal(p->e->count, 0);
	assert_non_null(p->s->source);
}

/* The spec fails and its first error is at line:col and contains `needle`. */
static void expect_error(const char *text, int line, int col, const char *needle)
{
	struct parsed p = parse(text);
	if (p.rc == 0 || p.e->count == 0 || p.e->list[0].pos.line != line ||
	    p.e->list[0].pos.column != col || !strstr(p.e->list[0].message, needle)) {
		print_message("spec:\n%s\nwanted %d:%d: ...%s...\n", text, line, col, needle);
		print_errors(&p);
		done(&p);
		fail();
	}
	assert_null(p.s->source);
	done(&p);
}

/* ---- defaults and sections ----------------------------------------------------- */

static void test_defaults(void **state)
{
	(void)state;
	struct parsed p = parse("data:\nmodel: mlp\n");
	expect_ok(&p);
	const struct spec *s = p.s;
	assert_string_equal(s->data.dataset, "fashion-mnist");
	assert_string_equal(s->data.path, "");
	assert_int_equal(s->data.batch_size, 64);
	assert_true(s->data.validation == 0);
	assert_true(fabs(s->data.test_fraction - 0.2) < 1e-12);
	assert_true(s->data.shuffle);
	assert_int_equal(s->data.workers, 2);
	assert_true(s->data.header);
	assert_int_equal(s->data.classes, 10);
	assert_int_equal(s->data.train_size, 1024);
	assert_int_equal(s->data.test_size, 256);
	assert_int_equal(s->data.naugment, 0);
	assert_int_equal(s->data.nnormalize, 0);
	assert_int_equal(s->data.pos.line, 1);
	assert_int_equal(s->data.dataset_pos.line, 1); /* defaults point at `data:` */
	assert_int_equal(s->data.path_pos.line, 1);
	assert_string_equal(s->model.preset, "mlp");
	assert_int_equal(s->model.nlayers, 0);
	assert_string_equal(s->loss.name, "cross_entropy");
	assert_true(LOSS(s, "label_smoothing") == 0);
	assert_string_equal(s->optimizer.name, "adam");
	assert_true(s->optimizer.lr == 1e-3);
	assert_true(s->optimizer.weight_decay == 0);
	assert_true(OPT(s, "beta1") == 0.9 && OPT(s, "beta2") == 0.999);
	assert_true(OPT(s, "eps") == 1e-8);
	assert_string_equal(s->schedule.name, "constant");
	assert_int_equal(s->train.epochs, 1);
	assert_int_equal(s->train.max_steps, 0);
	assert_string_equal(s->train.precision, "fp32");
	assert_string_equal(s->train.device, "auto");
	assert_int_equal(s->train.devices, 1);
	assert_int_equal(s->train.seed, 0);
	assert_int_equal(s->train.eval_every, 1);
	assert_int_equal(s->checkpoint.every, 1);
	assert_int_equal(s->checkpoint.keep, 3);
	assert_true(s->checkpoint.keep_best);
	assert_string_equal(s->source, "data:\nmodel: mlp\n");
	done(&p);
}

static void test_example(void **state)
{
	(void)state;
	struct parsed p = parse(example);
	expect_ok(&p);
	const struct spec *s = p.s;
	assert_int_equal(s->data.naugment, 2);
	assert_string_equal(s->data.augment[0].name, "random_crop");
	assert_true(s->data.augment[0].value == 4);
	assert_int_equal(s->data.augment[0].pos.line, 1);
	assert_int_equal(s->data.augment[0].pos.column, 63);
	assert_string_equal(s->data.augment[1].name, "hflip");
	assert_true(s->data.augment[1].value == 0.5);
	assert_int_equal(s->model.nlayers, 4);
	assert_string_equal(s->model.preset, "");
	assert_true(fabs(s->optimizer.lr - 3e-4) < 1e-15);
	assert_string_equal(s->schedule.name, "cosine");
	assert_int_equal(s->schedule.warmup_steps, 100);
	assert_int_equal(s->train.epochs, 5);
	assert_string_equal(s->train.precision, "bf16");
	assert_int_equal(s->optimizer.pos.line, 4);
	assert_int_equal(s->optimizer.pos.column, 1);
	assert_int_equal(s->checkpoint.pos.line, 7);
	assert_string_equal(s->source, example);
	done(&p);
}

static void test_data_variants(void **state)
{
	(void)state;
	struct parsed p = parse("data:\n  dataset: csv\n  path: /tmp/train.csv\n  test_path: t.csv\n"
				"  label_column: 3\n  header: no\n  validation: 0.1\n  shuffle: false\n"
				"  workers: 4\n  batch_size: 1e3\n"
				"  augment: [{normalize: {mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.25]}}]\n"
				"model: mlp\n");
	expect_ok(&p);
	assert_string_equal(p.s->data.dataset, "csv");
	assert_string_equal(p.s->data.path, "/tmp/train.csv");
	assert_int_equal(p.s->data.path_pos.line, 3);
	assert_int_equal(p.s->data.path_pos.column, 9);
	assert_int_equal(p.s->data.dataset_pos.line, 2);
	assert_string_equal(p.s->data.test_path, "t.csv");
	assert_string_equal(p.s->data.label_column, "3");
	assert_false(p.s->data.header);
	assert_false(p.s->data.shuffle);
	assert_int_equal(p.s->data.workers, 4);
	assert_int_equal(p.s->data.batch_size, 1000);
	assert_int_equal(p.s->data.nnormalize, 3);
	assert_true(fabsf(p.s->data.mean[1] - 0.4f) < 1e-7f);
	assert_true(fabsf(p.s->data.std[2] - 0.25f) < 1e-7f);
	assert_int_equal(p.s->data.naugment, 1);
	assert_string_equal(p.s->data.augment[0].name, "normalize");
	done(&p);

	p = parse("data: {dataset: synthetic, shape: [3, 8, 8], classes: 4, train_size: 100, "
		  "test_size: 10, augment: [normalize, {hflip: 0.25}, random_crop]}\nmodel: mlp\n");
	expect_ok(&p);
	assert_int_equal(p.s->data.shape[0], 3);
	assert_int_equal(p.s->data.shape[2], 8);
	assert_int_equal(p.s->data.classes, 4);
	assert_int_equal(p.s->data.train_size, 100);
	assert_int_equal(p.s->data.test_size, 10);
	assert_int_equal(p.s->data.naugment, 3);
	assert_int_equal(p.s->data.nnormalize, 0); /* computed by the loader */
	assert_true(p.s->data.augment[1].value == 0.25);
	assert_true(p.s->data.augment[2].value == 4);
	done(&p);

	/* A bare name is the data set; synthetic's default shape is MNIST-like, the others' unset. */
	p = parse("data: synthetic\nmodel: mlp\n");
	expect_ok(&p);
	assert_int_equal(p.s->data.shape[0], 1);
	assert_int_equal(p.s->data.shape[1], 28);
	assert_int_equal(p.s->data.dataset_pos.column, 7);
	done(&p);
	p = parse("data: {dataset: image-folder, path: /x, shape: [10]}\nmodel: mlp\n");
	expect_ok(&p);
	assert_int_equal(p.s->data.shape[0], 10);
	assert_int_equal(p.s->data.shape[1], 1);
	done(&p);
}

static void test_optimizers_and_schedules(void **state)
{
	(void)state;
	struct parsed p = parse("data:\nmodel: mlp\noptimizer: sgd\nschedule: {name: step, step_size: 3}\n");
	expect_ok(&p);
	assert_string_equal(p.s->optimizer.name, "sgd");
	assert_true(p.s->optimizer.lr == 0.01);
	assert_true(SCHED(p.s, "gamma") == 0.1); /* the step schedule's default */
	done(&p);

	p = parse("data:\nmodel: mlp\noptimizer: {name: adamw, betas: [0.8, 0.99], eps: 1e-6, "
		  "grad_clip: 1.5}\nschedule: {name: onecycle, pct_start: 0.25}\n");
	expect_ok(&p);
	assert_true(p.s->optimizer.weight_decay == 0.01);
	assert_true(OPT(p.s, "beta1") == 0.8 && OPT(p.s, "beta2") == 0.99);
	assert_true(OPT(p.s, "eps") == 1e-6);
	assert_true(p.s->optimizer.grad_clip == 1.5);
	assert_true(SCHED(p.s, "max_lr") == 1e-3); /* follows the optimizer's lr */
	assert_true(p.s->schedule.kind == spec_registry_find(&schedule_registry, "onecycle"));
	assert_true(SCHED(p.s, "pct_start") == 0.25);
	assert_true(SCHED(p.s, "div_factor") == 25 && SCHED(p.s, "final_div_factor") == 1e4);
	done(&p);

	p = parse("data:\nmodel: mlp\noptimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true,"
		  " weight_decay: 5e-4}\nschedule: {name: step, step_size: 30, gamma: 0.5}\n"
		  "loss: {name: cross_entropy, label_smoothing: 0.1}\n"
		  "train: {epochs: 90, max_steps: 1000, device: 'cuda:1', devices: 2, seed: 18446744073709551615,"
		  " eval_every: epoch, threads: 2, log_every: 50, precision: tf32}\n"
		  "checkpoint: {every: 0, every_steps: 500, keep: 1, keep_best: false}\n");
	expect_ok(&p);
	assert_true(OPT(p.s, "momentum") == 0.9 && OPT(p.s, "nesterov"));
	assert_true(p.s->optimizer.weight_decay == 5e-4);
	assert_int_equal(SCHED(p.s, "step_size"), 30);
	assert_true(SCHED(p.s, "gamma") == 0.5);
	assert_true(LOSS(p.s, "label_smoothing") == 0.1);
	assert_int_equal(p.s->train.epochs, 90);
	assert_int_equal(p.s->train.max_steps, 1000);
	assert_string_equal(p.s->train.device, "cuda:1");
	assert_int_equal(p.s->train.devices, 2);
	assert_true(p.s->train.seed == UINT64_MAX);
	assert_int_equal(p.s->train.eval_every, 1);
	assert_int_equal(p.s->train.threads, 2);
	assert_int_equal(p.s->train.log_every, 50);
	assert_string_equal(p.s->train.precision, "tf32");
	assert_int_equal(p.s->checkpoint.every, 0);
	assert_int_equal(p.s->checkpoint.every_steps, 500);
	assert_int_equal(p.s->checkpoint.keep, 1);
	assert_false(p.s->checkpoint.keep_best);
	done(&p);

	p = parse("data:\nmodel: mlp\nloss: mse\nschedule: linear\n");
	expect_ok(&p);
	assert_string_equal(p.s->loss.name, "mse");
	assert_string_equal(p.s->schedule.name, "linear");
	done(&p);
}

/* ---- model ------------------------------------------------------------------------- */

static void test_layer_forms(void **state)
{
	(void)state;
	struct parsed p = parse("data: {}\n"
				"model:\n"
				"  - flatten\n"
				"  - {linear: 128}\n"
				"  - conv2d: {out: 32, kernel: 3, bias: false, mode: same}\n"
				"  - dropout:\n"
				"  - {act: 'relu'}\n");
	expect_ok(&p);
	const struct spec_model *m = &p.s->model;
	assert_int_equal(m->pos.line, 2);
	assert_int_equal(m->nlayers, 5);
	assert_string_equal(m->layers[0].type, "flatten");
	assert_int_equal(m->layers[0].pos.line, 3);
	assert_int_equal(m->layers[0].pos.column, 5);
	assert_false(m->layers[0].has_value);
	assert_int_equal(m->layers[0].nargs, 0);

	assert_string_equal(m->layers[1].type, "linear");
	assert_true(m->layers[1].has_value);
	assert_true(m->layers[1].value.is_number);
	assert_true(m->layers[1].value.number == 128);
	assert_string_equal(m->layers[1].value.text, "128");
	assert_string_equal(m->layers[1].value.name, "");
	assert_int_equal(m->layers[1].pos.column, 6);
	assert_int_equal(m->layers[1].value.pos.line, 4);
	assert_int_equal(m->layers[1].value.pos.column, 14);

	const struct spec_layer *c = &m->layers[2];
	assert_string_equal(c->type, "conv2d");
	assert_false(c->has_value);
	assert_int_equal(c->nargs, 4);
	assert_string_equal(c->args[0].name, "out");
	assert_true(c->args[0].number == 32);
	assert_int_equal(c->args[0].key_pos.line, 5);
	assert_int_equal(c->args[0].key_pos.column, 14);
	assert_int_equal(c->args[0].pos.column, 19);
	assert_string_equal(c->args[1].name, "kernel");
	assert_int_equal(c->args[1].pos.column, 31);
	assert_true(c->args[2].is_number && c->args[2].number == 0); /* false reads as 0 */
	assert_false(c->args[3].is_number);
	assert_string_equal(c->args[3].text, "same");

	assert_string_equal(m->layers[3].type, "dropout");
	assert_false(m->layers[3].has_value);
	assert_true(m->layers[4].has_value);
	assert_false(m->layers[4].value.is_number); /* quoted: a string */
	assert_string_equal(m->layers[4].value.text, "relu");
	done(&p);
}

static void test_presets(void **state)
{
	(void)state;
	struct parsed p = parse("data:\nmodel: resnet18\n");
	expect_ok(&p);
	assert_string_equal(p.s->model.preset, "resnet18");
	done(&p);
	p = parse("data:\nmodel: {preset: mlp, hidden: [256, 128], dropout: 0.1}\n");
	expect_ok(&p);
	assert_string_equal(p.s->model.preset, "mlp");
	assert_int_equal(p.s->model.nhidden, 2);
	assert_int_equal(p.s->model.hidden[0], 256);
	assert_int_equal(p.s->model.hidden[1], 128);
	assert_true(p.s->model.dropout == 0.1);
	done(&p);
	expect_error("data:\nmodel: resnet\n", 2, 8, "did you mean 'resnet18'?");
	expect_error("data:\nmodel: {hidden: [3]}\n", 2, 8, "missing key 'preset'");
	expect_error("data:\nmodel: {preset: mlp, dropout: 1}\n", 2, 31, "[0, 1)");
	expect_error("data:\nmodel: []\n", 2, 8, "layer list is empty");
	expect_error("data:\nmodel: {preset: resnet18, hidden: [3]}\n", 2, 27,
		     "model.hidden: not used by preset resnet18 (only by mlp)");
}

/* ---- errors ------------------------------------------------------------------------ */

static void test_errors(void **state)
{
	(void)state;
	expect_error("data:\nmodel: mlp\noptimizer: {lr: -0.1}\n", 3, 17,
		     "optimizer.lr: expected a positive number, got -0.1");
	expect_error("data:\nmodel: mlp\ntrain: {epoch: 3}\n", 3, 9,
		     "train: unknown key 'epoch' (did you mean 'epochs'?)");
	expect_error("data: {batch_size: 0}\nmodel: mlp\n", 1, 20,
		     "data.batch_size: expected an integer ≥ 1, got 0");
	expect_error("data:\nmodel: mlp\ntrain: [1]\n", 3, 8,
		     "expected a mapping for 'train', got a sequence");
	expect_error("data:\nmodel: [relu\n", 3, 1, "YAML syntax error");
	expect_error("data:\n\tbatch_size: 3\nmodel: mlp\n", 2, 1, "tab");
	expect_error("", 1, 1, "empty");
	expect_error("- a\n", 1, 1, "at the top level, got a sequence");
	expect_error("data:\n", 1, 1, "missing section 'model'");
	expect_error("model: mlp\n", 1, 1, "missing section 'data'");
	expect_error("data:\nmodel: mlp\nmodel: cnn\n", 3, 1, "duplicate key 'model' (first at 2:1)");
	expect_error("data:\nmodel: mlp\ntrain: {precision: bf8}\n", 3, 20, "unknown precision 'bf8'");
	expect_error("data:\nmodel: mlp\ntrain: {device: cuda:x}\n", 3, 17, "cuda:N");
	expect_error("data:\nmodel: mlp\ntrain: {device: gpu}\n", 3, 17, "did you mean 'cuda'?");
	expect_error("data:\nmodel: mlp\noptimizer: adagrad\n", 3, 12, "unknown optimizer 'adagrad'");
	expect_error("data: {dataset: fmnist}\nmodel: mlp\n", 1, 17, "did you mean 'mnist'?");
	expect_error("data:\nmodel: mlp\nloss: {label_smoothing: 1.5}\n", 3, 25, "[0, 1)");
	expect_error("data: {validation: 1.0}\nmodel: mlp\n", 1, 20, "data.validation");
	expect_error("data:\nmodel: mlp\ntrain: {epochs: 0}\n", 3, 17, "train.epochs");
	expect_error("data:\nmodel: mlp\ntrain: {epochs: 2.5}\n", 3, 17, "got 2.5");
	expect_error("data:\nmodel: mlp\ntrain: {epochs: '3'}\n", 3, 17, "got \"3\"");
	expect_error("data:\nmodel: mlp\noptimizer: {momentum: 0.9}\n", 3, 13, "not used by optimizer adam");
	expect_error("data:\nmodel:\n  - conv2d:\n    out: 3\n", 4, 5, "indent the arguments under 'conv2d'");
	expect_error("data:\nmodel: [{a: 1, b: 2}]\n", 2, 16, "own list item");
	expect_error("data:\nmodel: [{conv: {k: [3]}}]\n", 2, 20, "needs one value");
	expect_error("data:\nmodel: [7]\n", 2, 9, "layer type name");
	expect_error("data: {augment: [flip]}\nmodel: mlp\n", 1, 18, "did you mean 'hflip'?");
	expect_error("data: {augment: hflip}\nmodel: mlp\n", 1, 17, "expected a list");
	expect_error("data: {augment: [normalize: {mean: [1, 2], std: [1]}]}\nmodel: mlp\n", 1, 18,
		     "2 mean values but 1 std");
	expect_error("data: {dataset: csv}\nmodel: mlp\n", 1, 17, "needs a path");
	expect_error("data:\nmodel: mlp\nschedule: step\n", 3, 11, "needs step_size");
	expect_error("data:\nmodel: mlp\nschedule: {name: cosine, min_lr: 0.1}\n", 3, 34, "below");
	expect_error("data:\nmodel: mlp\n---\ndata:\nmodel: cnn\n", 3, 1, "second");
	expect_error("data:\nmodel: mlp\n{x\n", 4, 1, "YAML syntax error");
	expect_error("a: \xc3\x28\n", 1, 5, "UTF-8");
	expect_error("data: &a [*a]\nmodel: mlp\n", 1, 7, "expected a mapping or a name for 'data'");

	/* Several errors are collected, in source order, each on its own line. */
	struct parsed p = parse("train: {epochs: 0, seed: -1}\noptimizer: {lr: 0}\n"
				"data: {batch_size: x}\nmodel: [relu, {}]\n");
	assert_int_equal(p.rc, -1);
	assert_int_equal(p.e->count, 5);
	for (int i = 1; i < p.e->count; i++)
		assert_true(p.e->list[i - 1].pos.line <= p.e->list[i].pos.line);
	done(&p);

	/* A flood of errors stops at SPEC_MAX_ERRORS. */
	char big[4096] = "data:\nmodel: mlp\ntrain:\n";
	for (int i = 0; i < 40; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "  bad%d: 1\n", i);
	p = parse(big);
	assert_int_equal(p.e->count, SPEC_MAX_ERRORS);
	done(&p);
}

static void test_errors_print(void **state)
{
	(void)state;
	struct parsed p = parse("data:\nmodel: mlp\ntrain: {epochs: \"a\\nb\"}\n");
	assert_int_equal(p.rc, -1);
	spec_error_add(p.e, (struct spec_pos){0, 0}, "no position %d", 7);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	spec_errors_print(p.e, f);
	fclose(f);
	assert_string_equal(text, "t.yaml:3:17: error: train.epochs: expected an integer ≥ 1, got \"a b\"\n"
				  "t.yaml: error: no position 7\n");
	free(text);
	done(&p);

	struct spec *s = calloc(1, sizeof(*s));
	struct spec_errors *e = calloc(1, sizeof(*e));
	assert_int_equal(spec_parse_file("/nonexistent/spec.yaml", NULL, 0, s, e), -1);
	assert_int_equal(e->count, 1);
	assert_int_equal(e->list[0].pos.line, 0);
	assert_non_null(strstr(e->list[0].message, "No such file"));
	assert_string_equal(e->filename, "/nonexistent/spec.yaml");
	free(s);
	free(e);
}

static void test_suggest(void **state)
{
	(void)state;
	static const char *const keys[] = {"epochs", "max_steps", "precision", "device", "seed"};
	assert_string_equal(spec_suggest("epoch", keys, 5), "epochs");
	assert_string_equal(spec_suggest("epcohs", keys, 5), "epochs"); /* a swap is one edit */
	assert_string_equal(spec_suggest("Device", keys, 5), "device");
	assert_string_equal(spec_suggest("presicion", keys, 5), "precision");
	assert_null(spec_suggest("learning_rate", keys, 5));
	assert_null(spec_suggest("xy", keys, 5));
	assert_null(spec_suggest("", keys, 5));
	assert_null(spec_suggest("epochs", keys, 0));
	static const char *const short_names[] = {"lr", "mse"};
	assert_null(spec_suggest("ab", short_names, 2));
	assert_string_equal(spec_suggest("lt", short_names, 2), "lr");
}

/* ---- overrides and the stored source ----------------------------------------------- */

/* spec->source parses back, without the overrides, to the same spec. */
static void expect_round_trip(const struct parsed *p)
{
	struct parsed again = parse(p->s->source);
	if (again.rc != 0) {
		print_message("source:\n%s\n", p->s->source);
		print_errors(&again);
	}
	assert_int_equal(again.rc, 0);
	struct spec *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	memcpy(a, p->s, sizeof(*a));
	memcpy(b, again.s, sizeof(*b));
	spec_clear_positions(a);
	spec_clear_positions(b);
	assert_memory_equal(a, b, sizeof(*a));
	free(a);
	free(b);
	done(&again);
}

static void test_overrides(void **state)
{
	(void)state;
	const char *sets[] = {"train.epochs=1", "optimizer.lr=0.01", "model=resnet18",
			      "data.batch_size=128", "schedule.warmup_steps=7", "checkpoint.keep=5"};
	struct parsed p = parse_with(example, sets, 6);
	expect_ok(&p);
	assert_int_equal(p.s->train.epochs, 1);
	assert_string_equal(p.s->train.precision, "bf16"); /* untouched keys stay */
	assert_true(p.s->optimizer.lr == 0.01);
	assert_string_equal(p.s->model.preset, "resnet18");
	assert_int_equal(p.s->model.nlayers, 0);
	assert_int_equal(p.s->data.batch_size, 128);
	assert_int_equal(p.s->schedule.warmup_steps, 7);
	assert_int_equal(p.s->checkpoint.keep, 5);
	assert_non_null(strstr(p.s->source, "train.epochs=1"));
	expect_round_trip(&p);
	done(&p);

	/* New sections and keys are created; bare names widen into mappings. */
	const char *more[] = {"train.epochs=3", "loss.label_smoothing=0.2", "data.path=/tmp/a: b",
			      "model=[flatten, {linear: 10}]", "optimizer.betas=[0.5, 0.6]",
			      "data.augment=[hflip]", "train.device='cuda:0'"};
	p = parse_with("data: mnist\nmodel: mlp\nloss: cross_entropy\n", more, 7);
	expect_ok(&p);
	assert_int_equal(p.s->train.epochs, 3);
	assert_string_equal(p.s->loss.name, "cross_entropy");
	assert_true(LOSS(p.s, "label_smoothing") == 0.2);
	assert_string_equal(p.s->data.dataset, "mnist");
	assert_string_equal(p.s->data.path, "/tmp/a: b");
	assert_int_equal(p.s->model.nlayers, 2);
	assert_true(p.s->model.layers[1].value.number == 10);
	assert_true(OPT(p.s, "beta1") == 0.5);
	assert_int_equal(p.s->data.naugment, 1);
	assert_string_equal(p.s->train.device, "cuda:0");
	expect_round_trip(&p);
	done(&p);

	/* Found by fuzzing: an empty value inside [..] must stay null in the re-written source. */
	const char *empty_value[] = {"model=[relu, {linear: }, {flatten: }]"};
	p = parse_with("data:\nmodel: mlp\n", empty_value, 1);
	expect_ok(&p);
	assert_false(p.s->model.layers[1].has_value);
	expect_round_trip(&p);
	done(&p);

	/* Anchors and aliases survive the re-write. */
	const char *alias_set[] = {"train.seed=3"};
	p = parse_with("data: {dataset: synthetic, shape: &s [1, 4, 4]}\nmodel: [flatten, {linear: 10}]\n"
		       "optimizer: &o {name: sgd}\n", alias_set, 1);
	expect_ok(&p);
	assert_int_equal(p.s->train.seed, 3);
	expect_round_trip(&p);
	done(&p);

	/* An empty document plus overrides is a whole spec. */
	const char *whole[] = {"data.dataset=synthetic", "model=mlp"};
	p = parse_with("# nothing yet\n", whole, 2);
	expect_ok(&p);
	assert_string_equal(p.s->data.dataset, "synthetic");
	expect_round_trip(&p);
	done(&p);
}

static void test_bad_overrides(void **state)
{
	(void)state;
	const char *bad[] = {"train.epochs", "=3", "train..epochs=3", "train.=1", "optimizer.lr=-1",
			     "model.hidden=[1", "data.batch_size=\x01"};
	for (int i = 0; i < 7; i++) {
		struct parsed p = parse_with("data:\nmodel: mlp\n", &bad[i], 1);
		assert_int_equal(p.rc, -1);
		assert_int_equal(p.e->list[0].pos.line, 0);
		assert_int_equal(p.e->list[0].pos.column, 0);
		if (!strstr(p.e->list[0].message, bad[i] + (i == 6 ? 1 : 0)) &&
		    !strstr(p.e->list[0].message, "--set")) {
			print_errors(&p);
			fail();
		}
		done(&p);
	}
	/* Validation of an override's value names the override. */
	const char *lr[] = {"optimizer.lr=-1"};
	struct parsed p = parse_with("data:\nmodel: mlp\n", lr, 1);
	assert_non_null(strstr(p.e->list[0].message, "expected a positive number, got -1"));
	assert_non_null(strstr(p.e->list[0].message, "(from --set 'optimizer.lr=-1')"));
	done(&p);
	/* Found by fuzzing: an overlong UTF-8 form (libyaml refuses it; not out of memory),
	 * and text after a flow value, which must not be dropped silently. */
	const char *odd[] = {"model=s\xf0\x86\x86\x86" "ep", "model=[relu]\n[[x"};
	for (int i = 0; i < 2; i++) {
		p = parse_with("data:\nmodel: mlp\n", &odd[i], 1);
		assert_int_equal(p.rc, -1);
		assert_int_equal(p.e->list[0].pos.line, 0);
		done(&p);
	}
	/* A list cannot be walked into. */
	const char *into[] = {"model.dropout=0.1"};
	p = parse_with("data:\nmodel: [relu]\n", into, 1);
	assert_int_equal(p.rc, -1);
	assert_non_null(strstr(p.e->list[0].message, "not a mapping"));
	done(&p);
	/* A NULL entry is an error, not a crash. */
	const char *null_set[] = {NULL};
	p = parse_with("data:\nmodel: mlp\n", null_set, 1);
	assert_int_equal(p.rc, -1);
	done(&p);
}

static void test_round_trip_without_overrides(void **state)
{
	(void)state;
	struct parsed p = parse(example);
	expect_ok(&p);
	expect_round_trip(&p);
	done(&p);
}

/* ---- robustness ----------------------------------------------------------------------- */

static void *parse_many(void *arg)
{
	long bad = 0;
	(void)arg;
	for (int i = 0; i < 200; i++) {
		struct parsed p = parse(example);
		bad += p.rc != 0 || p.s->train.epochs != 5;
		done(&p);
	}
	return (void *)bad;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t t[2];
	void *r[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, parse_many, NULL), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], &r[i]), 0);
		assert_null(r[i]);
	}
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: deterministic, so a crash reproduces */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Every outcome must be consistent: 0 with a source and no errors, or -1 with one-line errors. */
static void check_outcome(int rc, const struct spec *s, const struct spec_errors *e)
{
	if (rc == 0) {
		assert_int_equal(e->count, 0);
		assert_non_null(s->source);
		return;
	}
	assert_int_equal(rc, -1);
	assert_true(e->count >= 1 && e->count <= SPEC_MAX_ERRORS);
	assert_null(s->source);
	for (int i = 0; i < e->count; i++) {
		assert_true(e->list[i].message[0] != '\0');
		assert_null(strchr(e->list[i].message, '\n'));
		assert_true(e->list[i].pos.line >= 0 && e->list[i].pos.column >= 0);
	}
}

static void test_fuzz(void **state)
{
	(void)state;
	static const char *const seeds[] = {
		example,
		"data:\n  dataset: synthetic\n  shape: [3, 8, 8]\n  augment:\n    - hflip: 0.5\n"
		"    - normalize: {mean: [0.5], std: [0.5]}\nmodel:\n  - conv2d: {out: 4, kernel: 3}\n"
		"  - relu\n  - flatten\n  - linear: 10\noptimizer: {name: sgd, momentum: 0.9}\n"
		"schedule: {name: onecycle, max_lr: 0.1}\ntrain: {epochs: 2, device: cpu}\n",
		"data: {dataset: synthetic, shape: [4]}\nmodel: {preset: mlp, hidden: [64, 32]}\n"
		"train: {epochs: &e 2, eval_every: *e}\ncheckpoint: {every: epoch}\n",
	};
	static const char *const sets[] = {"train.epochs=2", "model=[relu, {linear: 3}]",
					   "data.augment.x=1", "loss=mse", "a.b.c.d=[{x: *y}]",
					   "optimizer={name: sgd}", "schedule.name='cosine'", "=",
					   "train.seed=99999999999999999999999", "data=[1, [2, [3]]]"};
	static const char alphabet[] = ":-[]{},#&*!|>'\"%@`? \n\t0123456789.eE+abcdz~";
	uint64_t rng = 12345;
	int accepted = 0;
	char buf[2048];
	struct spec *s = calloc(1, sizeof(*s));
	struct spec_errors *e = calloc(1, sizeof(*e));
	assert_non_null(s);
	assert_non_null(e);

	/* Every prefix of every seed. */
	for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
		for (size_t n = 0; n <= strlen(seeds[k]); n++) {
			int rc = spec_parse(seeds[k], n, "fuzz", NULL, 0, s, e);
			check_outcome(rc, s, e);
			spec_free(s);
		}
	}
	/* Random edits, sometimes with overrides. */
	for (int iter = 0; iter < 6000; iter++) {
		const char *seed = seeds[rng_next(&rng) % 3];
		size_t len = strlen(seed);
		memcpy(buf, seed, len);
		int edits = rng_next(&rng) % 2 ? 1 : 1 + (int)(rng_next(&rng) % 4);
		for (int k = 0; k < edits; k++) {
			size_t at = len ? rng_next(&rng) % len : 0;
			char ch = alphabet[rng_next(&rng) % (sizeof(alphabet) - 1)];
			switch (rng_next(&rng) % 6) {
			case 0:
				if (len)
					buf[at] = ch;
				break;
			case 5: /* a digit for a digit: often still valid, so the success path runs too */
				if (len && buf[at] >= '0' && buf[at] <= '9')
					buf[at] = (char)('0' + rng_next(&rng) % 10);
				break;
			case 1:
				if (len) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				}
				break;
			case 2:
				if (len + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = ch;
					len++;
				}
				break;
			case 3: { /* duplicate a chunk */
				size_t n = 1 + rng_next(&rng) % 40;
				if (at + n <= len && len + n < sizeof(buf)) {
					memmove(buf + at + n, buf + at, len - at);
					len += n;
				}
				break;
			}
			default:
				if (len)
					buf[at] = (char)(rng_next(&rng) & 0xFF); /* any byte, NUL included */
				break;
			}
		}
		const char *chosen[2];
		int nsets = (int)(rng_next(&rng) % 3);
		for (int k = 0; k < nsets; k++)
			chosen[k] = sets[rng_next(&rng) % (sizeof(sets) / sizeof(sets[0]))];
		int rc = spec_parse(buf, len, "fuzz", chosen, nsets, s, e);
		check_outcome(rc, s, e);
		accepted += rc == 0;
		spec_free(s);
	}
	/* Both paths must have been exercised, or the loop proves little. */
	print_message("fuzz: %d of 6000 mutated specs accepted\n", accepted);
	assert_true(accepted > 300 && accepted < 5700);
	free(s);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_data_variants),
		cmocka_unit_test(test_optimizers_and_schedules),
		cmocka_unit_test(test_layer_forms),
		cmocka_unit_test(test_presets),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_errors_print),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_bad_overrides),
		cmocka_unit_test(test_round_trip_without_overrides),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
