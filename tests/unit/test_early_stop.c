/*
 * test_early_stop.c — the early-stopping rule (engine/early_stop.c) and the
 * early_stopping section (engine/spec_stopping.c): patience counts
 * evaluations without improvement, min_delta and mode decide what an
 * improvement is, the state survives in the checkpoint state, and the
 * split falls back to test without a validation split.
 *
 * Built by `make unit` under ASan + UBSan. Threads: one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "early_stop.h"
#include "spec.h"

static struct spec *parse_text(const char *text, int *rc, struct spec_errors *errs)
{
	struct spec *s = calloc(1, sizeof(*s));
	*rc = spec_parse(text, strlen(text), "t.yaml", NULL, 0, s, errs);
	return s;
}

/* Feed a series; return the epoch (1-based) at which the rule stopped, or 0. */
static int run_series(const struct spec_early_stop *cfg, const double *v, int n, struct checkpoint_state *cs)
{
	memset(cs, 0, sizeof(*cs));
	for (int i = 0; i < n; i++) {
		early_stop_observe(cfg, cs, v[i], i + 1, (int64_t)(i + 1) * 10);
		if (cs->early_stopped)
			return i + 1;
	}
	return 0;
}

static void test_patience_and_min_delta(void **state)
{
	(void)state;
	struct spec_early_stop cfg = {.enabled = true, .patience = 3, .min_delta = 0};
	strcpy(cfg.metric, "validation.loss");
	/* best at epoch 2, then three evaluations without improvement: stop at 5 */
	const double rising[] = {0.9, 0.5, 0.6, 0.55, 0.7, 0.4};
	struct checkpoint_state cs;
	assert_int_equal(run_series(&cfg, rising, 6, &cs), 5);
	assert_int_equal(cs.best_epoch, 2);
	assert_int_equal(cs.best_step, 20);
	assert_true(cs.best_value == 0.5);
	/* a new best resets the count */
	const double zigzag[] = {0.9, 0.8, 0.85, 0.7, 0.75, 0.6, 0.65, 0.66};
	assert_int_equal(run_series(&cfg, zigzag, 8, &cs), 0);
	assert_int_equal(cs.bad_evals, 2);
	/* min_delta: 0.49 is not better than 0.5 by more than 0.05 */
	cfg.min_delta = 0.05;
	const double small[] = {0.5, 0.49, 0.48, 0.47};
	assert_int_equal(run_series(&cfg, small, 4, &cs), 4);
	assert_int_equal(cs.best_epoch, 1);
	char reason[160];
	early_stop_reason(&cfg, &cs, reason, sizeof(reason));
	assert_string_equal(reason, "early stopped at epoch 4 (best validation.loss 0.5 at epoch 1)");
}

static void test_mode_max(void **state)
{
	(void)state;
	struct spec_early_stop cfg = {.enabled = true, .patience = 2, .maximize = true};
	strcpy(cfg.metric, "validation.accuracy");
	const double acc[] = {0.5, 0.7, 0.69, 0.71, 0.70, 0.70};
	struct checkpoint_state cs;
	assert_int_equal(run_series(&cfg, acc, 6, &cs), 6);
	assert_int_equal(cs.best_epoch, 4);
}

static void test_value_and_split(void **state)
{
	(void)state;
	struct eval_results r = {.has_validation = true, .validation = {1.5, 0.25}, .test = {2.5, 0.75}};
	assert_true(early_stop_value("validation.loss", &r) == 1.5);
	assert_true(early_stop_value("validation.accuracy", &r) == 0.25);
	assert_true(early_stop_value("test.accuracy", &r) == 0.75);
	r.has_validation = false;
	assert_string_equal(early_stop_split("validation.loss", false), "test");
	assert_true(early_stop_value("validation.loss", &r) == 2.5);
}

static void test_section(void **state)
{
	(void)state;
	struct spec_errors errs;
	int rc;
	struct spec *s = parse_text("data: synthetic\nmodel: mlp\n"
				    "early_stopping: {metric: validation.accuracy, patience: 5, min_delta: 0.01}\n",
				    &rc, &errs);
	assert_int_equal(rc, 0);
	assert_true(s->early_stop.enabled);
	assert_true(s->early_stop.maximize); /* accuracy: max by default */
	assert_int_equal(s->early_stop.patience, 5);
	assert_true(s->early_stop.min_delta == 0.01);
	spec_free(s);
	free(s);

	s = parse_text("data: synthetic\nmodel: mlp\nearly_stopping: {mode: max}\n", &rc, &errs);
	assert_int_equal(rc, 0);
	assert_string_equal(s->early_stop.metric, "validation.loss");
	assert_true(s->early_stop.maximize);
	assert_int_equal(s->early_stop.patience, 3);
	spec_free(s);
	free(s);

	s = parse_text("data: synthetic\nmodel: mlp\n", &rc, &errs);
	assert_int_equal(rc, 0);
	assert_false(s->early_stop.enabled);
	spec_free(s);
	free(s);

	s = parse_text("data: synthetic\nmodel: mlp\nearly_stopping: {metric: train.lr}\n", &rc, &errs);
	assert_int_equal(rc, -1);
	assert_int_equal(errs.list[0].pos.line, 3);
	assert_int_equal(errs.list[0].pos.column, 26);
	assert_non_null(strstr(errs.list[0].message, "unknown metric 'train.lr'"));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patience_and_min_delta),
		cmocka_unit_test(test_mode_max),
		cmocka_unit_test(test_value_and_split),
		cmocka_unit_test(test_section),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
