/*
 * test_engine_core.c — unit tests (cmocka, ASan + UBSan) for the engine's
 * own plumbing: JSON writer, safetensors reader/writer (including hostile
 * files), model building and its errors, schedules, checkpoints and a
 * whole tiny training run with stop and resume.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "backend.h"
#include "checkpoint.h"
#include "collective.h"
#include "jsonw.h"
#include "model.h"
#include "profile.h"
#include "safetensors.h"
#include "schedule.h"
#include "spec.h"
#include "tb.h"
#include "train.h"
#include "tests/unit/tmpdir.h"

static void test_jsonw_escapes_and_nests(void **state)
{
	(void)state;
	struct jsonw w;
	jsonw_init(&w);
	jsonw_begin_object(&w);
	jsonw_kstr(&w, "s", "a\"b\\c\n\x01");
	jsonw_key(&w, "a");
	jsonw_begin_array(&w);
	jsonw_int(&w, 1);
	jsonw_num(&w, 0.5);
	jsonw_num(&w, NAN);
	jsonw_bool(&w, true);
	jsonw_end_array(&w);
	jsonw_end_object(&w);
	assert_string_equal(w.buf, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"a\":[1,0.5,null,true]}");
	jsonw_free(&w);
}

/* Found by tests/fuzz/http: a spec message cut mid-character made check's JSON unreadable. */
static void test_jsonw_keeps_output_utf8(void **state)
{
	(void)state;
	struct jsonw w;
	jsonw_init(&w);
	jsonw_begin_array(&w);
	jsonw_str(&w, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");      /* é, €, an emoji: kept */
	jsonw_str(&w, "cut \xc3");                                       /* half of é */
	jsonw_str(&w, "\xff\xc0\xaf \xed\xa0\x80");                        /* never UTF-8, overlong '/', a surrogate */
	jsonw_end_array(&w);
	assert_string_equal(w.buf, "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",\"cut \\ufffd\","
				   "\"\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\"]");
	jsonw_free(&w);
}

static struct spec parse_or_fail(const char *yaml)
{
	struct spec s;
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	if (spec_parse(yaml, strlen(yaml), "<test>", NULL, 0, &s, &errs) < 0) {
		for (int i = 0; i < errs.count; i++)
			fprintf(stderr, "%d:%d: %s\n", errs.list[i].pos.line, errs.list[i].pos.column, errs.list[i].message);
		fail_msg("spec did not parse");
	}
	return s;
}

static void test_safetensors_round_trip(void **state)
{
	(void)state;
	char path[300], err[512];
	snprintf(path, sizeof(path), "%s/rt.safetensors", tmpdir);
	float a[6] = {1, 2, 3, 4, 5, 6};
	int64_t b = 42;
	struct st_entry e[2] = {
		{"layer.weight", tensor_make(a, TENSOR_F32, 2, (int64_t[]){2, 3})},
		{"bn.num_batches_tracked", tensor_make(&b, TENSOR_I64, 0, NULL)},
	};
	struct st_meta meta[1] = {{"trainbook.spec", "data: {dataset: \"x\"}\nmodel: mlp\n"}};
	assert_int_equal(safetensors_write(path, e, 2, meta, 1, err, sizeof(err)), 0);
	struct safetensors st;
	assert_int_equal(safetensors_read(path, &st, err, sizeof(err)), 0);
	assert_int_equal(st.n, 2);
	const struct st_tensor *t = safetensors_find(&st, "layer.weight");
	assert_non_null(t);
	assert_int_equal(t->t.shape[1], 3);
	assert_memory_equal(t->t.data, a, sizeof(a));
	/* Tensor data must start 8-byte aligned for zero-copy readers. */
	assert_int_equal(((unsigned char *)t->t.data - st.bytes) % 8, 0);
	assert_string_equal(safetensors_meta(&st, "trainbook.spec"), meta[0].value);
	safetensors_free(&st);
}

/* Files in dir other than "." and "..": a left-over temporary file shows up here. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* The one atomic write (engine and server): replace, create-only, and failure leaving nothing behind. */
static void test_atomic_write(void **state)
{
	(void)state;
	char dir[300], path[400], err[512];
	snprintf(dir, sizeof(dir), "%s/atomic", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/f.txt", dir);
	assert_int_equal(atomic_write(path, "one", 3, false, err, sizeof(err)), 0);
	assert_int_equal(atomic_write(path, "two!", 4, false, err, sizeof(err)), 0);
	char *data = NULL;
	size_t len = 0;
	assert_int_equal(tb_read_file(path, &data, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(data, "two!", 4);
	free(data);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* Create-only refuses an existing file with EEXIST and keeps it. */
	errno = 0;
	assert_int_equal(atomic_write(path, "three", 5, true, err, sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(err, "f.txt"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4);
	/* Renaming over a directory fails: the target stays, no temporary file is left. */
	char sub[400];
	snprintf(sub, sizeof(sub), "%s/d", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(path, sizeof(path), "%s/x", sub);
	assert_int_equal(mkdir(path, 0755), 0);
	char inner[500];
	snprintf(inner, sizeof(inner), "%s/y", path);
	assert_int_equal(mkdir(inner, 0755), 0);
	assert_int_equal(atomic_write(path, "z", 1, false, NULL, 0), -1);
	assert_int_equal(count_entries(sub), 1);
	assert_int_equal(count_entries(dir), 2);
	/* A missing directory is an error naming the file. */
	snprintf(path, sizeof(path), "%s/missing/f", dir);
	assert_int_equal(atomic_write(path, "z", 1, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing"));
}

static void write_bytes(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(data, 1, n, f);
	fclose(f);
}

static void test_safetensors_rejects_hostile_files(void **state)
{
	(void)state;
	char path[300], err[512];
	snprintf(path, sizeof(path), "%s/bad.safetensors", tmpdir);
	struct safetensors st;
	/* Too short. */
	write_bytes(path, "abc", 3);
	assert_int_equal(safetensors_read(path, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a safetensors file"));
	/* Header length beyond the file. */
	unsigned char big[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0};
	write_bytes(path, big, sizeof(big));
	assert_int_equal(safetensors_read(path, &st, err, sizeof(err)), -1);
	/* Offsets that do not match the shape, and offsets past the end. */
	const char *headers[] = {
		"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",
		"{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
		"{\"w\":{\"dtype\":\"Q8\",\"shape\":[1],\"data_offsets\":[0,4]}}",
		"{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}",
		"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}",
		"[1,2]",
	};
	for (size_t i = 0; i < TB_ARRAY_LEN(headers); i++) {
		unsigned char buf[256] = {0};
		size_t hl = strlen(headers[i]);
		buf[0] = (unsigned char)hl;
		memcpy(buf + 8, headers[i], hl);
		write_bytes(path, buf, 8 + hl + 8); /* 8 data bytes */
		assert_int_equal(safetensors_read(path, &st, err, sizeof(err)), -1);
		assert_non_null(strstr(err, path));
	}
}

static struct model *build(const char *model_yaml, struct shape in, int classes, struct spec_errors *errs)
{
	char yaml[1024];
	snprintf(yaml, sizeof(yaml), "data: {dataset: synthetic}\nmodel: %s\n", model_yaml);
	struct spec s = parse_or_fail(yaml);
	memset(errs, 0, sizeof(*errs));
	struct model *m = model_build(&s.model, in, classes, NULL, errs);
	spec_free(&s);
	return m;
}

static void test_model_names_shapes_and_counts(void **state)
{
	(void)state;
	struct spec_errors errs;
	struct model *m = build("[flatten, {linear: 128}, relu, {linear: {out: 10, bias: false}}]",
				shape_chw(1, 28, 28), 10, &errs);
	assert_non_null(m);
	assert_int_equal(model_param_count(m), 784 * 128 + 128 + 128 * 10);
	assert_int_equal(m->nparams, 3);
	assert_string_equal(m->params[0].name, "1.weight");
	assert_int_equal(m->params[0].shape[0], 128);
	assert_int_equal(m->params[0].shape[1], 784);
	assert_string_equal(m->params[2].name, "3.weight");
	assert_int_equal(model_param_find(m, "3.bias"), -1);
	model_free(m);

	m = build("{preset: mlp, hidden: [64, 32], dropout: 0.1}", shape_vec(20), 4, &errs);
	assert_non_null(m);
	assert_int_equal(model_param_count(m), 20 * 64 + 64 + 64 * 32 + 32 + 32 * 4 + 4);
	model_free(m);
}

/* Backward skips what nothing consumes: layers below the first learning one
 * run no backward, and that layer computes no input gradient. */
static void test_model_backward_plan(void **state)
{
	(void)state;
	struct spec_errors errs;
	struct model *m = build("[flatten, {dropout: 0.1}, {linear: 16}, relu, {linear: 10}]", shape_chw(1, 4, 4), 10,
				&errs);
	assert_non_null(m);
	assert_int_equal(m->backward_stop, 2);
	const bool want[5] = {false, false, false, true, true};
	for (int i = 0; i < 5; i++)
		assert_int_equal(m->layers[i].need_dx, want[i]);
	model_want_input_grad(m, true); /* gradient checks: every layer passes its gradient on */
	assert_int_equal(m->backward_stop, 0);
	for (int i = 0; i < 5; i++)
		assert_true(m->layers[i].need_dx);
	model_free(m);

	m = build("[{conv2d: 4}, relu, flatten, {linear: 10}]", shape_chw(1, 4, 4), 10, &errs);
	assert_non_null(m);
	assert_int_equal(m->backward_stop, 0);
	assert_false(m->layers[0].need_dx);
	assert_true(m->layers[1].need_dx);
	model_free(m);
}

static void expect_build_error(const char *model_yaml, struct shape in, int classes, const char *substring)
{
	struct spec_errors errs;
	struct model *m = build(model_yaml, in, classes, &errs);
	assert_null(m);
	assert_true(errs.count >= 1);
	if (!strstr(errs.list[0].message, substring))
		fail_msg("error '%s' lacks '%s'", errs.list[0].message, substring);
	assert_int_equal(errs.list[0].pos.line, 2);
}

static void test_model_build_errors(void **state)
{
	(void)state;
	expect_build_error("[{linear: 10}]", shape_chw(1, 4, 4), 10, "put 'flatten' before it");
	expect_build_error("[flatten, {linear: 12}]", shape_chw(1, 4, 4), 10, "data has 10 classes");
	expect_build_error("[flatten, relux, {linear: 10}]", shape_chw(1, 4, 4), 10, "did you mean 'relu'");
	expect_build_error("[flatten, {linear: {out: 10, bais: 0}}]", shape_chw(1, 4, 4), 10, "did you mean 'bias'");
	expect_build_error("[flatten, {linear: 2.5}]", shape_chw(1, 4, 4), 10, "must be an integer");
	expect_build_error("[flatten, {dropout: 1.5}, {linear: 10}]", shape_chw(1, 4, 4), 10, "between");
	expect_build_error("[flatten, linear]", shape_chw(1, 4, 4), 10, "missing argument 'out'");
}

/* A schedule of kind `name` with its registry row's defaults, as the parser would leave it. */
static struct spec_schedule schedule_spec(const char *name, int64_t warmup_steps)
{
	struct spec_schedule sp = {.warmup_steps = warmup_steps};
	sp.kind = spec_registry_find(&schedule_registry, name);
	assert_true(sp.kind >= 0);
	const struct spec_kind *k = spec_registry_kind(&schedule_registry, sp.kind);
	for (int i = 0; i < SPEC_KIND_KEYS && k->keys[i].name; i++)
		sp.arg[i] = k->keys[i].def;
	snprintf(sp.name, sizeof(sp.name), "%s", name);
	return sp;
}

/* A schedule (its defaults, step_size where given) from base_lr over total steps of 10 per epoch, and its rate at some steps. */
static const struct schedule_case {
	const char *name;
	int64_t warmup, total;
	double base_lr, step_size;
	int n;
	struct {
		int64_t step;
		double lr, tol;
	} at[3];
} schedule_cases[] = {
	{"constant", 10, 100, 0.1, 0, 3, {{0, 0.01, 1e-12}, {9, 0.1, 1e-12}, {50, 0.1, 1e-12}}},
	{"cosine", 10, 110, 0.1, 0, 3, {{10, 0.1, 1e-12}, {60, 0.05, 1e-12}, {109, 0, 1e-3}}}, /* near 0 at the end */
	{"step", 0, 100, 1.0, 2, 3, {{19, 1.0, 1e-12}, {20, 0.1, 1e-12}, {45, 0.01, 1e-12}}},
	{"onecycle", 0, 100, 1.0, 0, 3, {{0, 1.0 / 25, 1e-9}, {29, 1.0, 1e-9}, {99, 1.0 / 25 / 1e4, 1e-12}}},
	{"linear", 0, 100, 1.0, 0, 1, {{50, 0.5, 1e-12}}},
};

static void test_schedules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof schedule_cases / sizeof schedule_cases[0]; i++) {
		const struct schedule_case *c = &schedule_cases[i];
		struct spec_schedule sp = schedule_spec(c->name, c->warmup);
		if (c->step_size > 0)
			sp.arg[spec_kind_key(spec_registry_kind(&schedule_registry, sp.kind), "step_size")] = c->step_size;
		struct schedule s;
		schedule_init(&s, &sp, c->base_lr, c->total, 10);
		for (int k = 0; k < c->n; k++)
			assert_float_equal(schedule_lr(&s, c->at[k].step), c->at[k].lr, c->at[k].tol);
	}
}

static const char *tiny_spec =
	"data: {dataset: synthetic, shape: [1, 6, 6], classes: 3, train_size: 96, test_size: 30, batch_size: 16}\n"
	"model: [flatten, {linear: 12}, tanh, {dropout: 0.1}, {linear: 3}]\n"
	"optimizer: {name: sgd, lr: 0.1, momentum: 0.9}\n"
	"train: {epochs: 2, seed: 5, log_every: 1, threads: 1, device: cpu}\n"
	"checkpoint: {every: 1, keep: 2}\n";

static enum train_result run_tiny(const char *out_dir, const char *resume, const char *events_path,
				  volatile sig_atomic_t *stop)
{
	struct spec s = parse_or_fail(tiny_spec);
	FILE *ev = fopen(events_path, "w");
	assert_non_null(ev);
	struct train_options opt = {.out_dir = out_dir, .json = true, .events_out = ev, .resume = resume, .stop = stop};
	enum train_result r = train_run(&s, &opt);
	fclose(ev);
	spec_free(&s);
	return r;
}

static void test_train_run_checkpoints_and_resumes(void **state)
{
	(void)state;
	char out[300], events[300], ckpt[400];
	snprintf(out, sizeof(out), "%s/run", tmpdir);
	snprintf(events, sizeof(events), "%s/events.jsonl", tmpdir);
	assert_int_equal(run_tiny(out, NULL, events, NULL), TRAIN_COMPLETED);
	/* 96/16 = 6 steps per epoch, 2 epochs: checkpoints at 6 and 12, both kept. */
	snprintf(ckpt, sizeof(ckpt), "%s/step-000000006.safetensors", out);
	assert_int_equal(access(ckpt, R_OK), 0);
	snprintf(ckpt, sizeof(ckpt), "%s/step-000000012.state.safetensors", out);
	assert_int_equal(access(ckpt, R_OK), 0);
	snprintf(ckpt, sizeof(ckpt), "%s/best.safetensors", out);
	assert_int_equal(access(ckpt, R_OK), 0);

	/* The stored spec is the one we trained. */
	char *stored = NULL, err[512];
	snprintf(ckpt, sizeof(ckpt), "%s/step-000000006.safetensors", out);
	assert_int_equal(checkpoint_read_spec(ckpt, &stored, err, sizeof(err)), 0);
	assert_non_null(strstr(stored, "synthetic"));
	free(stored);

	/* Resume from the end of epoch 1 into another directory; it must complete. */
	char out2[300];
	snprintf(out2, sizeof(out2), "%s/run2", tmpdir);
	assert_int_equal(run_tiny(out2, ckpt, events, NULL), TRAIN_COMPLETED);
	snprintf(ckpt, sizeof(ckpt), "%s/step-000000012.safetensors", out2);
	assert_int_equal(access(ckpt, R_OK), 0);

	/* A stop request before the first step (here: while the data loads) ends the run at
	 * once: no step ran, so there is nothing to checkpoint, and the reason says so. */
	volatile sig_atomic_t stop = 1;
	char out3[300];
	snprintf(out3, sizeof(out3), "%s/run3", tmpdir);
	assert_int_equal(run_tiny(out3, NULL, events, &stop), TRAIN_STOPPED);
	snprintf(ckpt, sizeof(ckpt), "%s/step-000000001.safetensors", out3);
	assert_int_equal(access(ckpt, R_OK), -1);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(tb_read_file(events, &text, &len), 0);
	if (!strstr(text, "\"status\":\"stopped\",\"reason\":\"stopped while loading the data, before any step\""))
		fail_msg("no stopped status in %s", text);
	free(text);
}

/* TRAINBOOK_PROFILE: sections nest, time goes to the innermost, warm-up steps and work
 * outside a step are not counted. (Only structure is asserted: timings are not tests.) */
static void test_profile_sections(void **state)
{
	(void)state;
	struct backend *be = backend_cpu_new(1);
	unsetenv("TRAINBOOK_PROFILE");
	assert_null(profile_new(be));
	setenv("TRAINBOOK_PROFILE", "1", 1);
	struct profile *p = profile_new(be);
	unsetenv("TRAINBOOK_PROFILE");
	assert_non_null(p);
	profile_enter(p, "evaluation", PROFILE_FORWARD); /* outside a step: ignored */
	profile_leave(p);
	for (int step = 0; step < 5; step++) {
		profile_step_begin(p);
		profile_enter(p, "block", PROFILE_FORWARD);
		for (int i = 0; i < 2; i++) {
			profile_enter(p, "conv2d", PROFILE_FORWARD);
			profile_leave(p);
		}
		profile_leave(p);
		profile_enter(p, "conv2d", PROFILE_BACKWARD);
		profile_leave(p);
		profile_step_end(p);
	}
	FILE *f = tmpfile();
	assert_non_null(f);
	profile_report(p, f);
	char text[4096];
	size_t len = fread(text, 1, sizeof(text) - 1, (rewind(f), f));
	text[len] = 0;
	fclose(f);
	if (!strstr(text, "profile: 3 steps after 2 warm-up"))
		fail_msg("header: %s", text);
	const char *rows[] = {"conv2d forward                                  2.0",
			      "conv2d backward                                 1.0",
			      "block forward                                   1.0"};
	for (size_t i = 0; i < TB_ARRAY_LEN(rows); i++)
		if (!strstr(text, rows[i]))
			fail_msg("no row '%s' in:\n%s", rows[i], text);
	assert_null(strstr(text, "evaluation"));
	profile_free(p);
	backend_destroy(be);
}

static void test_checkpoint_rejects_other_model(void **state)
{
	(void)state;
	char out[300], events[300], ckpt[400], err[512];
	snprintf(out, sizeof(out), "%s/run4", tmpdir);
	snprintf(events, sizeof(events), "%s/events4.jsonl", tmpdir);
	assert_int_equal(run_tiny(out, NULL, events, NULL), TRAIN_COMPLETED);
	snprintf(ckpt, sizeof(ckpt), "%s/step-000000012.safetensors", out);
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	struct backend *be = backend_cpu_new(1);
	char yaml[256];
	snprintf(yaml, sizeof(yaml), "data: {dataset: synthetic}\nmodel: [flatten, {linear: 13}, tanh, {linear: 3}]\n");
	struct spec s = parse_or_fail(yaml);
	struct model *m = model_build(&s.model, shape_chw(1, 6, 6), 3, be, &errs);
	assert_non_null(m);
	assert_int_equal(checkpoint_load(ckpt, m, NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "1.weight has shape [12, 36]"));
	model_free(m);
	spec_free(&s);
	backend_destroy(be);
}

struct allreduce_arg {
	struct collective *c;
	float buf[1000];
};

static void *allreduce_thread(void *p)
{
	struct allreduce_arg *a = p;
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 1000; i++)
			a->buf[i] = (float)(a->c->rank + 1) * (float)(i + round);
		a->c->allreduce_sum(a->c, a->buf, 1000 - round); /* sizes vary per round */
		for (int i = 0; i < 1000 - round; i++)
			if (a->buf[i] != 6.0f * (float)(i + round)) /* 1 + 2 + 3 */
				return (void *)1;
	}
	a->buf[0] = (float)a->c->rank;
	a->c->broadcast(a->c, a->buf, 1, 2);
	return a->buf[0] == 2.0f ? NULL : (void *)1;
}

static void test_cpu_allreduce_three_ranks(void **state)
{
	(void)state;
	struct collective_cpu_group *g = collective_cpu_group_new(3);
	pthread_t th[3];
	struct allreduce_arg *args = calloc(3, sizeof(*args));
	for (int r = 0; r < 3; r++) {
		args[r].c = collective_cpu_rank(g, r);
		assert_int_equal(pthread_create(&th[r], NULL, allreduce_thread, &args[r]), 0);
	}
	for (int r = 0; r < 3; r++) {
		void *ret;
		pthread_join(th[r], &ret);
		assert_null(ret);
	}
	free(args);
	collective_cpu_group_free(g);
}

static void test_train_run_two_replicas(void **state)
{
	(void)state;
	char yaml[1024], out[300], events[300];
	snprintf(yaml, sizeof(yaml), "%s", tiny_spec);
	char *p = strstr(yaml, "device: cpu");
	assert_non_null(p);
	memcpy(p, "devices: 2 ", 11); /* same length as "device: cpu" */
	struct spec s = parse_or_fail(yaml);
	assert_int_equal(s.train.devices, 2);
	snprintf(out, sizeof(out), "%s/dp", tmpdir);
	snprintf(events, sizeof(events), "%s/dp.jsonl", tmpdir);
	FILE *ev = fopen(events, "w");
	struct train_options opt = {.out_dir = out, .json = true, .events_out = ev};
	assert_int_equal(train_run(&s, &opt), TRAIN_COMPLETED);
	fclose(ev);
	spec_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jsonw_escapes_and_nests),
		cmocka_unit_test(test_jsonw_keeps_output_utf8),
		cmocka_unit_test(test_safetensors_round_trip),
		cmocka_unit_test(test_atomic_write),
		cmocka_unit_test(test_safetensors_rejects_hostile_files),
		cmocka_unit_test(test_model_names_shapes_and_counts),
		cmocka_unit_test(test_model_build_errors),
		cmocka_unit_test(test_model_backward_plan),
		cmocka_unit_test(test_profile_sections),
		cmocka_unit_test(test_schedules),
		cmocka_unit_test(test_train_run_checkpoints_and_resumes),
		cmocka_unit_test(test_checkpoint_rejects_other_model),
		cmocka_unit_test(test_cpu_allreduce_three_ranks),
		cmocka_unit_test(test_train_run_two_replicas),
	};
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
