/*
 * test_sweep.c — sweeps in the engine: the sweep: section's parse
 * (spec_sweep.c), the expansion into trials (sweep.c: grid counts, random
 * draws deterministic for a seed and inside their bounds), the check that
 * places a bad trial value at its swept key, the ASHA rule (asha.c), and a
 * fuzz-style loop that fills a sweep template with good and bad tokens.
 *
 * Built by `make unit` under ASan + UBSan. Threads: one.
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

#include "asha.h"
#include "spec.h"
#include "sweep.h"

static const char base[] = "data: {dataset: synthetic, shape: [8], classes: 3}\n"
			   "model: {preset: mlp, hidden: [16]}\n"
			   "optimizer: {name: adam, lr: 1.0e-3}\n"
			   "train: {epochs: 9}\n";

struct parsed {
	struct spec *s;
	struct spec_errors *e;
	char *text;
	int rc;
};

static struct parsed parse_sweep(const char *sweep)
{
	struct parsed p = {calloc(1, sizeof(struct spec)), calloc(1, sizeof(struct spec_errors)), NULL, 0};
	size_t n = strlen(base) + strlen(sweep) + 1;
	p.text = malloc(n);
	snprintf(p.text, n, "%s%s", base, sweep);
	p.rc = spec_parse(p.text, strlen(p.text), "t.yaml", NULL, 0, p.s, p.e);
	return p;
}

static void parsed_free(struct parsed *p)
{
	spec_free(p->s);
	free(p->s);
	free(p->e);
	free(p->text);
}

static void test_grid_counts_and_order(void **state)
{
	(void)state;
	struct parsed p = parse_sweep("sweep:\n  method: grid\n  params:\n"
				      "    optimizer.lr: {loguniform: [1.0e-4, 1.0e-2], count: 3}\n"
				      "    model.hidden: {choice: [[8], [32, 16]]}\n"
				      "    train.seed: {range: [0, 5, 2]}\n");
	assert_int_equal(p.rc, 0);
	assert_true(p.s->sweep.enabled && p.s->sweep.grid);
	assert_int_equal(p.s->sweep.trials, 3 * 2 * 3); /* range(0, 5, 2) = 0, 2, 4 */
	struct sweep_trial *t;
	int n = sweep_expand(&p.s->sweep, &t);
	assert_int_equal(n, 18);
	/* the last key varies fastest */
	assert_string_equal(t[0].overrides[0], "sweep=~");
	assert_string_equal(t[0].overrides[1], "optimizer.lr=0.0001");
	assert_string_equal(t[0].overrides[2], "model.hidden=[8]");
	assert_string_equal(t[0].overrides[3], "train.seed=0");
	assert_string_equal(t[1].values[2], "2");
	assert_string_equal(t[3].values[1], "[32, 16]");
	assert_string_equal(t[6].values[0], "0.001");
	assert_string_equal(t[17].values[0], "0.01");
	/* every combination once */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			assert_false(!strcmp(t[i].values[0], t[j].values[0]) &&
				     !strcmp(t[i].values[1], t[j].values[1]) &&
				     !strcmp(t[i].values[2], t[j].values[2]));
	/* and each trial is a valid spec with its values */
	struct spec_errors errs;
	assert_int_equal(sweep_check(p.text, strlen(p.text), "t.yaml", NULL, 0, &p.s->sweep, t, n, &errs), 0);
	struct spec *s = calloc(1, sizeof(*s));
	assert_int_equal(sweep_trial_parse(p.text, strlen(p.text), "t.yaml", NULL, 0, &t[3], s, &errs), 0);
	assert_false(s->sweep.enabled);
	assert_int_equal(s->model.nhidden, 2);
	assert_int_equal(s->model.hidden[0], 32);
	assert_true(fabs(s->optimizer.lr - 1e-4) < 1e-12);
	assert_int_equal((int)s->train.seed, 0);
	spec_free(s);
	free(s);
	free(t);
	parsed_free(&p);
}

static void test_random_is_deterministic(void **state)
{
	(void)state;
	const char *sw = "sweep:\n  trials: 50\n  seed: %d\n  params:\n"
			 "    optimizer.lr: {loguniform: [1.0e-5, 1.0e-1]}\n"
			 "    optimizer.weight_decay: {uniform: [0, 0.5]}\n"
			 "    train.seed: {range: [10, 13]}\n    loss: {choice: [cross_entropy, mse]}\n";
	char text[512];
	struct sweep_trial *t[3];
	struct parsed p[3];
	for (int k = 0; k < 3; k++) {
		snprintf(text, sizeof(text), sw, k == 2 ? 8 : 7);
		p[k] = parse_sweep(text);
		assert_int_equal(p[k].rc, 0);
		assert_int_equal(sweep_expand(&p[k].s->sweep, &t[k]), 50);
	}
	assert_memory_equal(t[0], t[1], 50 * sizeof(struct sweep_trial));
	int same = 0, seen_mse = 0, seen[3] = {0};
	for (int i = 0; i < 50; i++) {
		same += !strcmp(t[0][i].values[0], t[2][i].values[0]);
		double lr = atof(t[0][i].values[0]), wd = atof(t[0][i].values[1]);
		int seed = atoi(t[0][i].values[2]);
		assert_true(lr >= 1e-5 && lr <= 1e-1);
		assert_true(wd >= 0 && wd <= 0.5);
		assert_true(seed >= 10 && seed <= 12);
		seen[seed - 10] = 1;
		seen_mse += !strcmp(t[0][i].values[3], "mse");
	}
	assert_int_equal(same, 0); /* another seed, other draws */
	assert_true(seen[0] && seen[1] && seen[2]);
	assert_true(seen_mse > 5 && seen_mse < 45);
	/* adding trials keeps the first ones */
	p[2].s->sweep.seed = 7;
	p[2].s->sweep.trials = 60;
	struct sweep_trial *more;
	assert_int_equal(sweep_expand(&p[2].s->sweep, &more), 60);
	assert_memory_equal(more, t[0], 50 * sizeof(struct sweep_trial));
	free(more);
	for (int k = 0; k < 3; k++) {
		free(t[k]);
		parsed_free(&p[k]);
	}
}

static void test_bad_value_reported_at_its_key(void **state)
{
	(void)state;
	struct parsed p = parse_sweep("sweep:\n  params:\n    train.epochs: {choice: [2, 0]}\n"
				      "    model.hidden: {choice: [[8], [x]]}\n  trials: 30\n");
	assert_int_equal(p.rc, 0);
	struct sweep_trial *t;
	int n = sweep_expand(&p.s->sweep, &t);
	struct spec_errors errs;
	assert_int_equal(sweep_check(p.text, strlen(p.text), "t.yaml", NULL, 0, &p.s->sweep, t, n, &errs), -1);
	assert_int_equal(errs.count, 2); /* once per key, however many trials share the value */
	bool epochs = false, hidden = false;
	for (int i = 0; i < errs.count; i++) {
		if (strstr(errs.list[i].message, "sweep.params.train.epochs: trial ") &&
		    strstr(errs.list[i].message, " sets 0: train.epochs: expected an integer")) {
			epochs = true;
			assert_int_equal(errs.list[i].pos.line, 7);
			assert_int_equal(errs.list[i].pos.column, 5);
		}
		if (strstr(errs.list[i].message, "sweep.params.model.hidden: trial ")) {
			hidden = true;
			assert_int_equal(errs.list[i].pos.line, 8);
		}
	}
	assert_true(epochs && hidden);
	free(t);
	parsed_free(&p);
}

static void test_section_errors(void **state)
{
	(void)state;
	static const struct {
		const char *sweep;
		int line, column;
		const char *message;
	} cases[] = {
		{"sweep: 3\n", 5, 8, "expected a mapping for 'sweep'"},
		{"sweep: {method: bayes, params: {a.b: {choice: [1]}}}\n", 5, 17, "unknown method 'bayes'"},
		{"sweep: {params: {}}\n", 5, 17, "sweep.params: expected a mapping of key paths"},
		{"sweep: {params: {optimizer.lr: {uniform: [1]}}}\n", 5, 42, "expected [low, high], got 1 numbers"},
		{"sweep: {params: {optimizer.lr: {choice: []}}}\n", 5, 41, "expected a list of 1 to 32 values"},
		{"sweep: {params: {train.seed: {range: [3, 3]}}}\n", 5, 38, "expected start < stop"},
		{"sweep: {params: {a.b: {choice: [1], count: 3}}}\n", 5, 44, "only a grid search"},
		{"sweep: {method: grid, trials: 5, params: {a.b: {choice: [1, 2]}}}\n", 5, 31,
		 "a grid runs every combination (2 here)"},
		{"sweep: {method: grid, params: {a: {range: [0, 1000]}, b: {range: [0, 2]}}}\n", 5, 31,
		 "the grid has 2000 combinations"},
		{"sweep: {params: {a.b: {choice: [1]}, a.b: {choice: [2]}}}\n", 5, 38, "duplicate key 'a.b'"},
		{"sweep: {params: {a.b: {choice: [1]}}, stop: {asha: {metric: loss}}}\n", 5, 61,
		 "unknown metric 'loss'"},
		{"sweep: {params: {a.b: {choice: [1]}}, stop: {hyperband: 1}}\n", 5, 46, "unknown key 'hyperband'"},
	};
	int wrong = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct parsed p = parse_sweep(cases[i].sweep);
		if (p.rc != -1 || !strstr(p.e->list[0].message, cases[i].message) ||
		    p.e->list[0].pos.line != cases[i].line || p.e->list[0].pos.column != cases[i].column) {
			print_message("case %zu: rc %d, %d:%d %s\n", i, p.rc, p.e->list[0].pos.line,
				      p.e->list[0].pos.column, p.e->list[0].message);
			wrong++;
		}
		parsed_free(&p);
	}
	assert_int_equal(wrong, 0);
}

static void test_asha_rule(void **state)
{
	(void)state;
	struct spec_asha cfg = {.enabled = true, .min_epochs = 1, .reduction = 3, .maximize = true};
	int rungs[ASHA_MAX_RUNGS];
	assert_int_equal(asha_rungs(&cfg, 9, rungs, ASHA_MAX_RUNGS), 2); /* 1, 3 (9 is the end) */
	assert_int_equal(rungs[1], 3);
	assert_int_equal(asha_rungs(&cfg, 1, rungs, ASHA_MAX_RUNGS), 0);
	struct asha a;
	asha_init(&a, &cfg, 27);
	assert_int_equal(a.nrungs, 3);
	assert_true(asha_report(&a, 1, 0.5));   /* alone at the rung: goes on */
	assert_false(asha_report(&a, 1, 0.4));  /* 2 seen, keep 1: not the best */
	assert_true(asha_report(&a, 1, 0.9));   /* the best */
	assert_false(asha_report(&a, 1, 0.6));  /* 4 seen, keep 1 */
	assert_false(asha_report(&a, 1, 0.55)); /* 5 seen, keep 1 */
	assert_true(asha_report(&a, 1, 0.7));   /* 6 seen, keep 2: second best */
	assert_false(asha_report(&a, 1, NAN));
	assert_true(asha_report(&a, 2, 0.1)); /* not a rung */
	assert_true(asha_report(&a, 3, 0.1));
	asha_free(&a);
	/* min mode: lower is better */
	double losses[] = {0.3, 0.2, 0.9, 0.25};
	assert_true(asha_continue(losses, 4, 0.2, 2, false));
	assert_true(asha_continue(losses, 4, 0.25, 2, false));
	assert_false(asha_continue(losses, 4, 0.3, 2, false));
}

static size_t next_index(uint64_t *r, size_t n)
{
	*r = *r * 6364136223846793005ULL + 1442695040888963407ULL; /* Knuth's MMIX LCG */
	return (size_t)(*r >> 33) % n;
}

/* Fill a sweep template with tokens, good and bad: never a crash, a leak or a bad trial count. */
static void test_fuzz_template(void **state)
{
	(void)state;
	static const char *const tokens[] = {
		"1",
		"0",
		"-1",
		"3",
		"1.0e-3",
		"0.5",
		"x",
		"~",
		"[]",
		"[1]",
		"[1, 2]",
		"[0, 3]",
		"[0, 3, 2]",
		"[1.0e-4, 1.0e-1]",
		"[[8], [16, 8]]",
		"{}",
		"{choice: [1, 2]}",
		"grid",
		"random",
		"\"q\"",
		"[a, 'b c', \"d,e\"]",
		"[-5, 5]",
		"[1e400, 2]",
		"99999999999999999999",
		"{a: 1}",
		"[[]]",
		"[0.1, {x: [1]}]",
		"validation.loss",
		"test.accuracy",
		"max",
		"min",
	};
	static const char tmpl[] =
		"sweep:\n  method: %s\n  trials: %s\n  seed: %s\n  parallel: %s\n"
		"  params:\n    optimizer.lr: {%s: %s}\n    %s: {%s: %s}\n    train.epochs: {choice: [%s]}\n"
		"  stop: {asha: {metric: %s, mode: %s, min_epochs: %s, reduction: %s}}\n";
	static const char *const dists[] = {"choice", "uniform", "loguniform", "range", "count", "x"};
	static const char *const paths[] = {"model.hidden", "train.seed", "optimizer.weight_decay", "loss",
					    "sweep.x",      "a..b",       "data.batch_size",        "train.epochs"};
	uint64_t r = 99;
#define PICK(list) list[next_index(&r, sizeof(list) / sizeof(list[0]))]
	int accepted = 0, checked = 0;
	char text[1024];
	FILE *devnull = fopen("/dev/null", "w");
	for (int iter = 0; iter < 1500; iter++) {
		/* Each slot keeps a good value, or (one time in ten) takes any token. */
		static const char *const good[14] = {"random",
						     "4",
						     "1",
						     "2",
						     "choice",
						     "[1.0e-3, 0.1]",
						     "train.seed",
						     "range",
						     "[0, 3]",
						     "2",
						     "validation.accuracy",
						     "max",
						     "1",
						     "3"};
		const char *v[14];
		for (int k = 0; k < 14; k++) {
			if (next_index(&r, 10))
				v[k] = good[k];
			else /* slots 4 and 7 take a distribution, slot 6 a key path */
				v[k] = k == 4 || k == 7 ? PICK(dists) : k == 6 ? PICK(paths) : PICK(tokens);
		}
		snprintf(text, sizeof(text), tmpl, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10],
			 v[11], v[12], v[13]);
		struct parsed p = parse_sweep(text);
		if (getenv("SWEEP_FUZZ_VERBOSE") && p.rc < 0)
			print_message("%s-> %s\n", text, p.e->list[0].message);
		for (int i = 0; p.rc < 0 && i < p.e->count; i++)
			assert_null(strchr(p.e->list[i].message, '\n'));
		if (p.rc == 0 && p.s->sweep.enabled) {
			accepted++;
			struct sweep_trial *t;
			int n = sweep_expand(&p.s->sweep, &t);
			assert_int_equal(n, p.s->sweep.trials);
			if (p.s->sweep.grid) {
				int product = 1;
				for (int i = 0; i < p.s->sweep.nparams; i++)
					product *= p.s->sweep.params[i].count;
				assert_int_equal(n, product);
			}
			struct spec_errors errs;
			checked += sweep_check(p.text, strlen(p.text), "t.yaml", NULL, 0, &p.s->sweep, t,
					       n < 20 ? n : 20, &errs) == 0;
			sweep_preview_print(&p.s->sweep, p.s->train.epochs, t, n, devnull);
			free(t);
		}
		parsed_free(&p);
	}
	fclose(devnull);
	print_message("sweep fuzz: %d of 1500 accepted, %d with every trial valid\n", accepted, checked);
	assert_true(accepted > 150 && accepted < 1400);
	assert_true(checked > 0 && checked < accepted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grid_counts_and_order),
		cmocka_unit_test(test_random_is_deterministic),
		cmocka_unit_test(test_bad_value_reported_at_its_key),
		cmocka_unit_test(test_section_errors),
		cmocka_unit_test(test_asha_rule),
		cmocka_unit_test(test_fuzz_template),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
