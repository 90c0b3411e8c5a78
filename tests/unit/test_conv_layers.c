/*
 * test_conv_layers.c — the convolutional layer kinds inside real models:
 * spec errors located at the layer, ResNet-18's parameter names, shapes and
 * count (kuangliu CIFAR ResNet-18, 10 classes: 11,173,962), LeNet-5's,
 * basic_block wiring and every conv layer's gradients by finite
 * differences through whole models, batch-norm running statistics and
 * num_batches_tracked, and bit-identical repeated steps. The operations
 * themselves are checked in test_conv.c.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "model.h"
#include "rng.h"
#include "spec.h"
#include "tests/unit/cpu_fixture.h"

/* Build `model: <yaml>` for samples of shape `in`; NULL with errs filled on a model error. */
static struct model *build(const char *yaml, struct shape in, int classes, struct backend *b, struct spec_errors *errs)
{
	char text[1024];
	snprintf(text, sizeof(text), "model: %s\ndata: {dataset: synthetic}\n", yaml);
	struct spec *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	memset(errs, 0, sizeof(*errs));
	if (spec_parse(text, strlen(text), "t.yaml", NULL, 0, s, errs) != 0) {
		free(s);
		fail_msg("spec does not parse: %s", errs->count ? errs->list[0].message : "?");
	}
	struct model *m = model_build(&s->model, in, classes, b, errs);
	spec_free(s);
	free(s);
	return m;
}

static struct model *build_ok(const char *yaml, struct shape in, int classes, struct backend *b)
{
	struct spec_errors errs;
	struct model *m = build(yaml, in, classes, b, &errs);
	if (!m)
		fail_msg("%s: %s", yaml, errs.count ? errs.list[0].message : "no error message");
	return m;
}

/* The model fails to build, with `needle` in an error located on line 1. */
static void expect_error(const char *yaml, struct shape in, int classes, const char *needle)
{
	struct spec_errors errs;
	struct model *m = build(yaml, in, classes, NULL, &errs);
	if (m) {
		model_free(m);
		fail_msg("%s: built, expected error '%s'", yaml, needle);
	}
	for (int i = 0; i < errs.count; i++)
		if (strstr(errs.list[i].message, needle)) {
			assert_int_equal(errs.list[i].pos.line, 1);
			assert_true(errs.list[i].pos.column > 7); /* inside the list, not at `model:` */
			return;
		}
	fail_msg("%s: expected '%s', got '%s'", yaml, needle, errs.count ? errs.list[0].message : "nothing");
}

static void test_shape_errors(void **state)
{
	(void)state;
	struct shape img3 = shape_chw(1, 3, 3), img28 = shape_chw(1, 28, 28);
	expect_error("[{conv2d: {out: 4, kernel: 5}}, flatten, {linear: 10}]", img3, 10,
		     "conv2d: kernel 5 (dilated 5) is larger than the padded input 3×3");
	expect_error("[{conv2d: {out: 4, kernel: 3, dilation: 3}}, flatten, {linear: 10}]", shape_chw(1, 6, 6), 10,
		     "conv2d: kernel 3 (dilated 7) is larger than the padded input 6×6");
	expect_error("[flatten, {conv2d: 4}, flatten, {linear: 10}]", img3, 10,
		     "conv2d needs an image input [C, H, W] but gets [9]");
	expect_error("[flatten, batchnorm2d, {linear: 10}]", img3, 10, "batchnorm2d needs an image input");
	expect_error("[batchnorm1d, flatten, {linear: 10}]", img3, 10, "batchnorm1d needs a feature vector");
	expect_error("[{maxpool2d: {kernel: 2, padding: 2}}, flatten, {linear: 10}]", img28, 10,
		     "maxpool2d: padding 2 must be at most half the kernel 2");
	expect_error("[{avgpool2d: 8}, flatten, {linear: 10}]", shape_chw(1, 4, 4), 10,
		     "avgpool2d: kernel 8 is larger than the padded input 4×4");
	expect_error("[{adaptive_avgpool: 2}, flatten, {linear: 10}]", img28, 10, "only output 1 is supported");
	expect_error("[flatten, global_avgpool, {linear: 10}]", img28, 10, "global_avgpool needs an image input");
	expect_error("[{conv2d: {kernel: 3}}, flatten, {linear: 10}]", img28, 10, "conv2d: missing argument 'out'");
	expect_error("[{conv2d: {out: 4, strid: 2}}, flatten, {linear: 10}]", img28, 10, "did you mean 'stride'");
	expect_error("[{conv2d: {out: 4, stride: 0}}, flatten, {linear: 10}]", img28, 10,
		     "argument 'stride' must be between");
	expect_error("[flatten, {basic_block: 8}, {linear: 10}]", img28, 10, "basic_block needs an image input");
	expect_error("[{basic_block: {stride: 2}}, flatten, {linear: 10}]", img28, 10, "missing argument 'out'");
}

static const struct model_param *param(const struct model *m, const char *name)
{
	int i = model_param_find(m, name);
	if (i < 0)
		fail_msg("no parameter '%s'", name);
	return &m->params[i];
}

static void assert_shape(const struct model *m, const char *name, int ndim, int64_t a, int64_t b, int64_t c,
			 int64_t d)
{
	const struct model_param *p = param(m, name);
	const int64_t want[4] = {a, b, c, d};
	assert_int_equal(p->ndim, ndim);
	for (int i = 0; i < ndim; i++)
		if (p->shape[i] != want[i])
			fail_msg("%s: dimension %d is %lld, want %lld", name, i, (long long)p->shape[i],
				 (long long)want[i]);
}

struct visit_count {
	int total, children, max_depth;
};

static void count_layer(const struct layer *l, int depth, void *ctx)
{
	struct visit_count *vc = ctx;
	vc->total++;
	vc->children += depth > 0;
	if (depth > vc->max_depth)
		vc->max_depth = depth;
	assert_non_null(l->kind);
}

static void test_resnet18_parameters(void **state)
{
	(void)state;
	struct model *m = build_ok("resnet18", shape_chw(3, 32, 32), 10, NULL);
	assert_int_equal(model_param_count(m), 11173962);
	assert_string_equal(m->params[0].name, "conv1.weight");
	assert_string_equal(m->params[1].name, "bn1.weight");
	assert_shape(m, "conv1.weight", 4, 64, 3, 3, 3);
	assert_shape(m, "layer1.0.conv1.weight", 4, 64, 64, 3, 3);
	assert_shape(m, "layer2.0.conv1.weight", 4, 128, 64, 3, 3);
	assert_shape(m, "layer2.0.shortcut.0.weight", 4, 128, 64, 1, 1);
	assert_shape(m, "layer2.0.shortcut.1.weight", 1, 128, 0, 0, 0);
	assert_shape(m, "layer4.1.bn2.running_var", 1, 512, 0, 0, 0);
	assert_shape(m, "linear.weight", 2, 10, 512, 0, 0);
	assert_false(param(m, "layer2.0.shortcut.1.running_mean")->trainable);
	assert_true(param(m, "layer3.1.bn1.num_batches_tracked")->is_count);
	assert_true(model_param_find(m, "layer1.0.shortcut.0.weight") < 0); /* identity shortcut */
	assert_true(model_param_find(m, "layer2.1.shortcut.0.weight") < 0);
	/* State-dict order inside a block: conv1, bn1 (weight, bias, buffers), conv2, bn2, shortcut. */
	int c1 = model_param_find(m, "layer3.0.conv1.weight");
	assert_string_equal(m->params[c1 + 1].name, "layer3.0.bn1.weight");
	assert_string_equal(m->params[c1 + 5].name, "layer3.0.bn1.num_batches_tracked");
	assert_string_equal(m->params[c1 + 6].name, "layer3.0.conv2.weight");
	assert_string_equal(m->params[c1 + 12].name, "layer3.0.shortcut.0.weight");
	/* 3 stem layers, 8 blocks, pool, flatten, linear; blocks hold 5 or (with a projection) 7 children. */
	struct visit_count vc = {0};
	model_visit(m, count_layer, &vc);
	assert_int_equal(vc.total - vc.children, 14);
	assert_int_equal(vc.children, 3 * 7 + 5 * 5);
	assert_int_equal(vc.max_depth, 1);
	model_free(m);
}

static void test_lenet5_and_cnn_parameters(void **state)
{
	(void)state;
	struct model *m = build_ok("lenet5", shape_chw(1, 28, 28), 10, NULL);
	assert_int_equal(model_param_count(m), 61706);
	assert_shape(m, "conv1.weight", 4, 6, 1, 5, 5);
	assert_shape(m, "fc1.weight", 2, 120, 400, 0, 0);
	model_free(m);
	m = build_ok("cnn", shape_chw(1, 28, 28), 10, NULL);
	/* 32·9 + 2·32 + 64·32·9 + 2·64 + 3136·128 + 128 + 128·10 + 10 */
	assert_int_equal(model_param_count(m), 288 + 64 + 18432 + 128 + 401408 + 128 + 1280 + 10);
	assert_shape(m, "fc1.weight", 2, 128, 3136, 0, 0);
	assert_shape(m, "bn2.running_mean", 1, 64, 0, 0, 0);
	model_free(m);
}

/* L = Σ logits · g, in double. */
static double model_loss(struct model *m, const float *x, const float *g, int batch, bool training)
{
	const float *y = model_forward(m, x, batch, training);
	double l = 0;
	for (int64_t i = 0; i < (int64_t)batch * m->classes; i++)
		l += (double)y[i] * g[i];
	return l;
}

/* Central difference of the loss in v at step eps. */
static double central_difference(struct model *m, float *v, float eps, const float *x, const float *g, int batch,
				 bool training)
{
	float keep = *v;
	*v = keep + eps;
	double lp = model_loss(m, x, g, batch, training);
	*v = keep - eps;
	double lm = model_loss(m, x, g, batch, training);
	*v = keep;
	return (lp - lm) / (2.0 * eps);
}

struct fd_tally {
	int checked, near_kink;
};

/*
 * One entry of the gradient against central differences. ReLU and max-pool
 * are piecewise linear: where a step crosses a kink the difference quotient
 * is not the derivative, which shows as two step sizes disagreeing. Such
 * entries are counted, not judged; the caller bounds how many there are.
 * The logits are float, so quotients carry ~1e-4 of rounding noise: the
 * tolerance has that floor (the caller's `scale` ≥ 2e-2).
 */
static void check_fd(struct model *m, float *v, float analytic, const float *x, const float *g, int batch,
		     bool training, double scale, const char *what, int64_t index, struct fd_tally *t)
{
	double fd = central_difference(m, v, 1.0f / 1024, x, g, batch, training);
	double fd_double = central_difference(m, v, 1.0f / 512, x, g, batch, training);
	double tol = 2e-2 * fmax(fabs(analytic), scale);
	t->checked++;
	if (fabs(fd - fd_double) > tol / 2) {
		t->near_kink++;
		return;
	}
	if (fabs(fd - analytic) > tol)
		fail_msg("%s[%lld]: finite difference %.6g, backward %.6g", what, (long long)index, fd, analytic);
}

/*
 * Backward of the whole model against central differences of
 * L = Σ logits·g: up to `per_param` entries of every trainable parameter
 * and of the input. Every forward uses the same mode, so the function
 * differentiated is the one backward differentiates; in evaluation mode two
 * training forwards first move the running statistics away from 0 and 1.
 */
static void check_model_gradients(const char *yaml, struct shape in, int classes, int batch, int per_param,
				  bool training)
{
	struct model *m = build_ok(yaml, in, classes, be);
	model_init(m, 7);
	/* Batch-norm scales and shifts away from 1 and 0, so a lost γ or β shows. */
	struct rng r;
	rng_seed(&r, 8);
	for (int p = 0; p < m->nparams; p++) {
		const struct model_param *mp = &m->params[p];
		if (!mp->trainable || mp->ndim != 1)
			continue;
		for (int64_t i = 0; i < mp->numel; i++)
			m->weights[mp->offset + i] += rng_uniform(&r) - 0.5f;
	}
	model_want_input_grad(m, true);
	model_reserve(m, batch);
	int64_t nx = batch * shape_numel(in);
	float *x = random_floats(nx, 300), *g = random_floats((int64_t)batch * classes, 301);
	if (!training) {
		float *other = random_floats(nx, 302);
		for (int64_t i = 0; i < nx; i++)
			other[i] = other[i] * 3.0f + 0.5f; /* statistics unlike x's */
		model_forward(m, other, batch, true);
		model_forward(m, x, batch, true);
		be->free(be, other);
	}
	model_forward(m, x, batch, training);
	model_backward(m, x, g, batch);
	float *grads = malloc(sizeof(float) * (size_t)m->n_weights), *gx = malloc(sizeof(float) * (size_t)nx);
	memcpy(grads, m->grads, sizeof(float) * (size_t)m->n_weights);
	memcpy(gx, model_input_grad(m), sizeof(float) * (size_t)nx);
	struct fd_tally tally = {0, 0};
	for (int p = 0; p < m->nparams; p++) {
		const struct model_param *mp = &m->params[p];
		if (!mp->trainable)
			continue;
		double scale = 0;
		for (int64_t i = 0; i < mp->numel; i++)
			scale = fmax(scale, fabs(grads[mp->offset + i]) / 10);
		int64_t step = mp->numel / per_param + 1;
		for (int64_t i = 0; i < mp->numel; i += step)
			check_fd(m, m->weights + mp->offset + i, grads[mp->offset + i], x, g, batch, training,
				 fmax(scale, 2e-2), mp->name, i, &tally);
	}
	double scale = 0;
	for (int64_t i = 0; i < nx; i++)
		scale = fmax(scale, fabs(gx[i]) / 10);
	for (int64_t i = 0; i < nx; i += nx / per_param + 1)
		check_fd(m, x + i, gx[i], x, g, batch, training, fmax(scale, 2e-2), "input", i, &tally);
	if (tally.near_kink * 10 > tally.checked)
		fail_msg("%d of %d entries near a kink: the check says little", tally.near_kink, tally.checked);
	free(grads);
	free(gx);
	be->free(be, x);
	be->free(be, g);
	model_free(m);
}

static void test_basic_block_gradients(void **state)
{
	(void)state;
	/* A projection block (stride 2, 2→4 channels), then an identity block. */
	check_model_gradients("[{basic_block: {out: 4, stride: 2}}, {basic_block: 4}, global_avgpool, flatten, "
			      "{linear: 3}]",
			      shape_chw(2, 6, 6), 3, 3, 6, true);
}

static void test_conv_layers_gradients(void **state)
{
	(void)state;
	check_model_gradients("[{conv2d: {out: 3, kernel: 3, stride: 2, padding: 1}}, batchnorm, relu, "
			      "{maxpool2d: {kernel: 2, stride: 1}}, {avgpool2d: {kernel: 2, padding: 1}}, "
			      "{conv2d: {out: 2, kernel: 2, dilation: 2, bias: false}}, adaptive_avgpool, flatten, "
			      "batchnorm1d, {linear: 3}]",
			      shape_chw(2, 9, 9), 3, 4, 8, true);
}

/* Backward after an evaluation forward differentiates the running-statistics
 * form. Smooth activations: with frozen statistics a ReLU network is
 * piecewise linear in a bias with kinks too dense for difference quotients
 * (the basic_block in evaluation mode is compared with PyTorch instead). */
static void test_eval_mode_gradients(void **state)
{
	(void)state;
	check_model_gradients("[{conv2d: {out: 3, kernel: 3, padding: 1}}, batchnorm2d, tanh, "
			      "{avgpool2d: {kernel: 2, stride: 1}}, {conv2d: {out: 4, kernel: 3, bias: false}}, "
			      "batchnorm, sigmoid, global_avgpool, flatten, {linear: 4}, batchnorm1d, {linear: 3}]",
			      shape_chw(2, 6, 6), 3, 4, 6, false);
}

static void test_batchnorm_layer_statistics(void **state)
{
	(void)state;
	struct model *m = build_ok("[{batchnorm2d: {momentum: 0.25}}, flatten, {linear: 2}]", shape_chw(2, 2, 2), 2,
				   be);
	model_init(m, 1);
	model_reserve(m, 4);
	float *x = random_floats(4 * 8, 400);
	float *count = model_param_data(m, model_param_find(m, "0.num_batches_tracked"));
	float *rmean = model_param_data(m, model_param_find(m, "0.running_mean"));
	float *rvar = model_param_data(m, model_param_find(m, "0.running_var"));
	double want_mean[2] = {0, 0}, want_var[2] = {1, 1};
	for (int step = 0; step < 2; step++) {
		model_forward(m, x, 4, true);
		for (int c = 0; c < 2; c++) {
			double s = 0, sq = 0;
			for (int i = 0; i < 4; i++)
				for (int k = 0; k < 4; k++)
					s += x[(i * 2 + c) * 4 + k];
			double mean = s / 16;
			for (int i = 0; i < 4; i++)
				for (int k = 0; k < 4; k++)
					sq += pow(x[(i * 2 + c) * 4 + k] - mean, 2);
			want_mean[c] = 0.75 * want_mean[c] + 0.25 * mean;
			want_var[c] = 0.75 * want_var[c] + 0.25 * sq / 15;
		}
	}
	model_forward(m, x, 4, false); /* evaluation leaves everything alone */
	assert_true(count[0] == 2.0f);
	for (int c = 0; c < 2; c++) {
		assert_true(fabs(rmean[c] - want_mean[c]) < 1e-6);
		assert_true(fabs(rvar[c] - want_var[c]) < 1e-6);
	}
	be->free(be, x);
	model_free(m);
}

/* The same seed and input give the same bits: weights, logits, gradients. */
static void test_cnn_steps_are_reproducible(void **state)
{
	(void)state;
	const int batch = 8;
	struct model *a = build_ok("cnn", shape_chw(1, 28, 28), 10, be);
	struct model *b = build_ok("cnn", shape_chw(1, 28, 28), 10, be);
	model_init(a, 5);
	model_init(b, 5);
	assert_memory_equal(a->weights, b->weights, sizeof(float) * (size_t)a->n_weights);
	model_reserve(a, batch);
	model_reserve(b, batch);
	float *x = random_floats(batch * 784, 500), *g = random_floats(batch * 10, 501);
	const float *ya = model_forward(a, x, batch, true);
	const float *yb = model_forward(b, x, batch, true);
	assert_memory_equal(ya, yb, sizeof(float) * batch * 10);
	model_backward(a, x, g, batch);
	model_backward(b, x, g, batch);
	assert_memory_equal(a->grads, b->grads, sizeof(float) * (size_t)a->n_weights);
	assert_memory_equal(a->buffers, b->buffers, sizeof(float) * (size_t)a->n_buffers);
	be->free(be, x);
	be->free(be, g);
	model_free(a);
	model_free(b);
}

/* ResNet-18 runs end to end on small images: finite logits, gradients reach the stem. */
static void test_resnet18_runs(void **state)
{
	(void)state;
	const int batch = 2;
	struct model *m = build_ok("resnet18", shape_chw(3, 16, 16), 10, be);
	model_init(m, 3);
	model_reserve(m, batch);
	float *x = random_floats(batch * 3 * 256, 600), *g = random_floats(batch * 10, 601);
	const float *y = model_forward(m, x, batch, true);
	for (int i = 0; i < batch * 10; i++)
		assert_true(isfinite(y[i]));
	model_backward(m, x, g, batch);
	const char *names[] = {"conv1.weight", "layer1.0.conv1.weight", "layer2.0.shortcut.0.weight",
			       "layer4.1.bn2.weight", "linear.bias"};
	for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
		const struct model_param *p = param(m, names[n]);
		double norm = 0;
		for (int64_t i = 0; i < p->numel; i++)
			norm += fabs(m->grads[p->offset + i]);
		if (!(norm > 0 && isfinite(norm)))
			fail_msg("%s: gradient norm %g", names[n], norm);
	}
	be->free(be, x);
	be->free(be, g);
	model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape_errors),
		cmocka_unit_test(test_resnet18_parameters),
		cmocka_unit_test(test_lenet5_and_cnn_parameters),
		cmocka_unit_test(test_basic_block_gradients),
		cmocka_unit_test(test_conv_layers_gradients),
		cmocka_unit_test(test_eval_mode_gradients),
		cmocka_unit_test(test_batchnorm_layer_statistics),
		cmocka_unit_test(test_cnn_steps_are_reproducible),
		cmocka_unit_test(test_resnet18_runs),
	};
	return cmocka_run_group_tests_name("conv_layers", tests, setup, teardown);
}
