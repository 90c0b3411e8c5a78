/*
 * spec_sweep.c — the spec's `sweep:` section: a search space over other
 * keys of the same spec, read into struct spec_sweep with line:column
 * errors like every other section.
 *
 *   sweep:
 *     method: random            # or grid: every combination
 *     trials: 12                # random only; a grid has the product
 *     parallel: 2
 *     seed: 0
 *     params:
 *       optimizer.lr: {loguniform: [1.0e-4, 1.0e-2]}     # grid: add count: N
 *       model.hidden: {choice: [[128], [256, 128]]}
 *       train.seed:   {range: [0, 3]}                    # 0, 1, 2 (Python's range)
 *     stop: {asha: {metric: validation.accuracy, mode: max, min_epochs: 1, reduction: 3}}
 *
 * What it is: the schema and the size checks (a grid's product, value
 * lengths). A param's key path is a --set path: each trial is the spec
 * with `sweep=~` and one override per param, so a value is validated by
 * the same rules as the text it replaces (engine/sweep.c parses every
 * trial and reports a bad value at the param's key). What it is not: the
 * expansion into trials (sweep.c) nor the stopping rule (asha.c).
 *
 * Threads: pure over one parse context.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "spec_internal.h"
#include "tb.h"

#define DEFAULT_TRIALS 10

/* ---- a YAML value as one line of flow text, for a --set override ----------------- */

struct flow_buf {
	char *p;
	size_t len, size;
	bool overflow;
};

static void flow_put(struct flow_buf *b, const char *s, size_t n)
{
	if (b->len + n >= b->size) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* A plain scalar stays plain (a number stays a number) unless flow syntax would cut it. */
static bool plain_safe(const char *t)
{
	size_t n = strlen(t);
	if (!n || strpbrk(t, ",[]{}:#\"'\\") || t[0] == ' ' || t[n - 1] == ' ' || strchr("&*!|>%@`?", t[0]))
		return false;
	return t[0] != '-' || (t[1] && t[1] != ' ');
}

static void flow_scalar(struct flow_buf *b, const yaml_node_t *n)
{
	const char *t = spec_text(n);
	if (spec_is_plain(n) && plain_safe(t)) {
		flow_put(b, t, strlen(t));
		return;
	}
	flow_put(b, "\"", 1);
	for (const unsigned char *s = (const unsigned char *)t; *s; s++) {
		char esc[8];
		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s;
			flow_put(b, esc, 2);
		} else if (*s < 0x20 || *s == 0x7F) {
			snprintf(esc, sizeof(esc), "\\x%02x", *s);
			flow_put(b, esc, 4);
		} else {
			flow_put(b, (const char *)s, 1);
		}
	}
	flow_put(b, "\"", 1);
}

static void flow_node(struct spec_ctx *c, struct flow_buf *b, const yaml_node_t *n)
{
	if (!n || b->overflow)
		return;
	if (n->type == YAML_SCALAR_NODE) {
		flow_scalar(b, n);
	} else if (n->type == YAML_SEQUENCE_NODE) {
		flow_put(b, "[", 1);
		for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
			if (i > n->data.sequence.items.start)
				flow_put(b, ", ", 2);
			flow_node(c, b, spec_node(c, *i));
		}
		flow_put(b, "]", 1);
	} else if (n->type == YAML_MAPPING_NODE) {
		flow_put(b, "{", 1);
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			if (p > n->data.mapping.pairs.start)
				flow_put(b, ", ", 2);
			flow_node(c, b, spec_node(c, p->key));
			flow_put(b, ": ", 2);
			flow_node(c, b, spec_node(c, p->value));
		}
		flow_put(b, "}", 1);
	}
}

/* ---- one param ------------------------------------------------------------------ */

static const char *const dist_names[] = {"choice", "uniform", "loguniform", "range"};
enum { PF_CHOICE, PF_UNIFORM, PF_LOGUNIFORM, PF_RANGE, PF_COUNT, PF_N };
static const char *const param_keys[PF_N] = {"choice", "uniform", "loguniform", "range", "count"};

static int seq_len(const yaml_node_t *n)
{
	return n && n->type == YAML_SEQUENCE_NODE ? (int)(n->data.sequence.items.top - n->data.sequence.items.start)
						  : -1;
}

static const yaml_node_t *seq_item(struct spec_ctx *c, const yaml_node_t *n, int i)
{
	return spec_node(c, n->data.sequence.items.start[i]);
}

static void read_choice(struct spec_ctx *c, const char *path, const yaml_node_t *v, struct spec_sweep_param *p)
{
	char got[64];
	int n = seq_len(v);
	if (n < 1 || n > SPEC_SWEEP_MAX_VALUES) {
		spec_describe(v, got, sizeof(got));
		if (n >= 0)
			snprintf(got, sizeof(got), "%d values", n);
		spec_fail(c, v, "%s.choice: expected a list of 1 to %d values, got %s", path, SPEC_SWEEP_MAX_VALUES,
			  got);
		return;
	}
	for (int i = 0; i < n; i++) {
		const yaml_node_t *item = seq_item(c, v, i);
		struct flow_buf b = {p->values[i], 0, sizeof(p->values[i]), false};
		p->values[i][0] = '\0';
		flow_node(c, &b, item);
		if (b.overflow) {
			spec_fail(c, item, "%s.choice: value %d is longer than %d characters as text", path, i + 1,
				  SPEC_SWEEP_VALUE_MAX - 1);
			return;
		}
	}
	p->nvalues = n;
}

/* [lo, hi] of uniform/loguniform, or [start, stop(, step)] of range. */
static void read_bounds(struct spec_ctx *c, const char *path, const char *what, const yaml_node_t *v,
			struct spec_sweep_param *p)
{
	char where[128], got[64];
	int n = seq_len(v);
	bool range = p->dist == SPEC_DIST_RANGE;
	snprintf(where, sizeof(where), "%s.%s", path, what);
	if (n != 2 && !(range && n == 3)) {
		spec_describe(v, got, sizeof(got));
		if (n >= 0)
			snprintf(got, sizeof(got), "%d numbers", n);
		spec_fail(c, v, "%s: expected %s, got %s", where,
			  range ? "[start, stop] or [start, stop, step] (integers)" : "[low, high]", got);
		return;
	}
	double b[3] = {0, 0, 1};
	for (int i = 0; i < n; i++) {
		const yaml_node_t *item = seq_item(c, v, i);
		if (range) {
			int64_t iv;
			if (!spec_read_int(c, where, item, -1000000000, 1000000000, 0, &iv))
				return;
			b[i] = (double)iv;
		} else if (!spec_number(item, &b[i])) {
			spec_describe(item, got, sizeof(got));
			spec_fail(c, item, "%s: expected a number, got %s", where, got);
			return;
		}
	}
	p->lo = b[0];
	p->hi = b[1];
	p->step = b[2];
	if (range) {
		if (p->step < 1 || p->hi <= p->lo) {
			spec_fail(c, v, "%s: expected start < stop and step ≥ 1, got [%g, %g, %g]", where, p->lo, p->hi,
				  p->step);
			return;
		}
		double count = ceil((p->hi - p->lo) / p->step);
		if (count > SPEC_SWEEP_MAX_TRIALS) {
			spec_fail(c, v, "%s: %.0f values, more than a sweep can run (%d)", where, count,
				  SPEC_SWEEP_MAX_TRIALS);
			return;
		}
		p->count = (int)count;
	} else if (!(p->lo < p->hi) || (p->dist == SPEC_DIST_LOGUNIFORM && p->lo <= 0)) {
		spec_fail(c, v, "%s: expected %slow < high, got [%g, %g]", where,
			  p->dist == SPEC_DIST_LOGUNIFORM ? "0 < " : "", p->lo, p->hi);
	}
}

/* A key path for --set: dotted names, never the sweep itself. */
static bool path_ok(const char *s)
{
	if (!s || !s[0] || s[0] == '.' || s[strlen(s) - 1] == '.' || strstr(s, ".."))
		return false;
	if (strlen(s) >= SPEC_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!(*p == '.' || *p == '_' || *p == '-' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9')))
			return false;
	return strcmp(s, "sweep") && strncmp(s, "sweep.", 6);
}

static void read_param(struct spec_ctx *c, const yaml_node_t *key, const yaml_node_t *value, bool grid,
		       struct spec_sweep_param *p)
{
	yaml_node_t *v[PF_N];
	char path[96], got[64];
	const char *name = spec_text(key);
	memset(p, 0, sizeof(*p));
	p->pos = spec_node_pos(c, key);
	if (!path_ok(name)) {
		spec_describe(key, got, sizeof(got));
		spec_fail(c, key,
			  "sweep.params: expected a key path such as optimizer.lr (not the "
			  "sweep itself), got %s",
			  got);
		return;
	}
	spec_copy_name(p->path, sizeof(p->path), name);
	snprintf(path, sizeof(path), "sweep.params.%s", name);
	if (value->type != YAML_MAPPING_NODE) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value,
			  "%s: expected {choice: [...]}, {uniform: [lo, hi]}, {loguniform: "
			  "[lo, hi]} or {range: [start, stop]}, got %s",
			  path, got);
		return;
	}
	spec_mapping_read(c, path, value, param_keys, PF_N, v, NULL);
	int found = -1;
	for (int i = PF_CHOICE; i <= PF_RANGE; i++) {
		if (!v[i])
			continue;
		if (found >= 0) {
			spec_fail(c, v[i],
				  "%s: give one of choice, uniform, loguniform or range, not "
				  "both %s and %s",
				  path, dist_names[found], dist_names[i]);
			return;
		}
		found = i;
	}
	if (found < 0) {
		spec_fail(c, value,
			  "%s: missing the distribution (choice, uniform, loguniform or "
			  "range)",
			  path);
		return;
	}
	p->dist = (enum spec_sweep_dist)found;
	if (found == PF_CHOICE)
		read_choice(c, path, v[found], p);
	else
		read_bounds(c, path, dist_names[found], v[found], p);
	bool continuous = found == PF_UNIFORM || found == PF_LOGUNIFORM;
	if (v[PF_COUNT] && (!continuous || !grid)) {
		spec_fail(c, v[PF_COUNT],
			  "%s.count: only a grid search over uniform or loguniform "
			  "takes a count",
			  path);
	} else if (v[PF_COUNT]) {
		int64_t n;
		char where[112];
		snprintf(where, sizeof(where), "%s.count", path);
		if (spec_read_int(c, where, v[PF_COUNT], 2, SPEC_SWEEP_MAX_TRIALS, 0, &n))
			p->count = (int)n;
	} else if (continuous && grid) {
		spec_fail(c, value, "%s: a grid search needs count: N points for %s", path, dist_names[found]);
	}
	if (found == PF_CHOICE)
		p->count = p->nvalues;
}

/* ---- stop: {asha: {...}} --------------------------------------------------------- */

enum { AF_METRIC, AF_MODE, AF_MIN_EPOCHS, AF_REDUCTION, AF_N };
static const char *const asha_keys[AF_N] = {"metric", "mode", "min_epochs", "reduction"};

static void read_stop(struct spec_ctx *c, const yaml_node_t *value, struct spec_asha *a)
{
	static const char *const stop_keys[] = {"asha"};
	yaml_node_t *rule, *v[AF_N];
	char got[64];
	int64_t n;
	if (value->type != YAML_MAPPING_NODE) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value, "sweep.stop: expected {asha: {...}}, got %s", got);
		return;
	}
	spec_mapping_read(c, "sweep.stop", value, stop_keys, 1, &rule, NULL);
	if (!rule)
		return;
	a->pos = spec_node_pos(c, rule);
	if (spec_is_null(rule)) {
		a->enabled = true; /* `asha:` alone takes every default */
		return;
	}
	if (rule->type != YAML_MAPPING_NODE) {
		spec_describe(rule, got, sizeof(got));
		spec_fail(c, rule, "sweep.stop.asha: expected a mapping, got %s", got);
		return;
	}
	a->enabled = true;
	spec_mapping_read(c, "sweep.stop.asha", rule, asha_keys, AF_N, v, NULL);
	spec_metric_read(c, "sweep.stop.asha", v[AF_METRIC], v[AF_MODE], "validation.accuracy", a->metric,
			 sizeof(a->metric), &a->maximize);
	if (v[AF_MIN_EPOCHS] &&
	    spec_read_int(c, "sweep.stop.asha.min_epochs", v[AF_MIN_EPOCHS], 1, 100000, SPEC_R_SANITY, &n))
		a->min_epochs = (int)n;
	if (v[AF_REDUCTION] && spec_read_int(c, "sweep.stop.asha.reduction", v[AF_REDUCTION], 2, 100, 0, &n))
		a->reduction = (int)n;
}

/* ---- the section ------------------------------------------------------------------ */

static const struct spec_kind methods[] = {
	{.name = "random", .summary = "`trials` draws, each from its own stream of the sweep's seed"},
	{.name = "grid", .summary = "every combination, the last key varying fastest"},
};
static const struct spec_registry method_registry = {"method", "method", methods, sizeof(methods[0]), 2};

enum { SWF_METHOD, SWF_TRIALS, SWF_PARALLEL, SWF_SEED, SWF_PARAMS, SWF_STOP, SWF_N };
static const char *const sweep_keys[SWF_N] = {"method", "trials", "parallel", "seed", "params", "stop"};

void spec_sweep_read(struct spec_ctx *c, const yaml_node_t *key, const yaml_node_t *value, struct spec_sweep *sw)
{
	yaml_node_t *v[SWF_N];
	char got[64], method[16];
	int64_t n;
	memset(sw, 0, sizeof(*sw));
	sw->trials = DEFAULT_TRIALS;
	sw->parallel = 1;
	sw->asha.min_epochs = 1;
	sw->asha.reduction = 3;
	spec_copy_name(sw->asha.metric, sizeof(sw->asha.metric), "validation.accuracy");
	sw->asha.maximize = true;
	sw->pos = spec_node_pos(c, key);
	if (!spec_section_is_mapping(c, "sweep", value,
				     "{method: grid, params: {optimizer.lr: {choice: [0.1, 0.01]}}}"))
		return;
	sw->enabled = true;
	spec_mapping_read(c, "sweep", value, sweep_keys, SWF_N, v, NULL);
	if (v[SWF_METHOD])
		sw->grid = spec_read_choice(c, "sweep.method", &method_registry, v[SWF_METHOD], method,
					    sizeof(method)) == 1;
	if (v[SWF_TRIALS] && spec_read_int(c, "sweep.trials", v[SWF_TRIALS], 1, SPEC_SWEEP_MAX_TRIALS, 0, &n))
		sw->trials = (int)n;
	if (v[SWF_PARALLEL] && spec_read_int(c, "sweep.parallel", v[SWF_PARALLEL], 1, 64, 0, &n))
		sw->parallel = (int)n;
	if (v[SWF_SEED] && !spec_unsigned(v[SWF_SEED], &sw->seed)) {
		spec_describe(v[SWF_SEED], got, sizeof(got));
		spec_fail(c, v[SWF_SEED], "sweep.seed: expected an integer ≥ 0, got %s", got);
	}
	if (v[SWF_STOP])
		read_stop(c, v[SWF_STOP], &sw->asha);

	const yaml_node_t *params = v[SWF_PARAMS];
	if (!params || spec_is_null(params) || params->type != YAML_MAPPING_NODE ||
	    params->data.mapping.pairs.top == params->data.mapping.pairs.start) {
		spec_describe(params, got, sizeof(got));
		spec_fail(c, params ? params : value,
			  "sweep.params: expected a mapping of key paths to "
			  "search spaces (optimizer.lr: {loguniform: [1.0e-4, "
			  "1.0e-2]}), got %s",
			  got);
		return;
	}
	for (yaml_node_pair_t *p = params->data.mapping.pairs.start; p < params->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = spec_node(c, p->key);
		if (sw->nparams == SPEC_SWEEP_MAX_PARAMS) {
			spec_fail(c, k, "sweep.params: at most %d keys", SPEC_SWEEP_MAX_PARAMS);
			break;
		}
		struct spec_sweep_param *sp = &sw->params[sw->nparams];
		read_param(c, k, spec_node(c, p->value), sw->grid, sp);
		for (int i = 0; sp->path[0] && i < sw->nparams; i++) {
			if (!strcmp(sw->params[i].path, sp->path)) {
				spec_fail(c, k, "sweep.params: duplicate key '%s' (first at %d:%d)", sp->path,
					  sw->params[i].pos.line, sw->params[i].pos.column);
				sp->path[0] = '\0';
			}
		}
		if (sp->path[0])
			sw->nparams++;
	}
	if (!sw->grid)
		return;
	double product = 1;
	for (int i = 0; i < sw->nparams; i++)
		product *= TB_MAX(sw->params[i].count, 1);
	if (product > SPEC_SWEEP_MAX_TRIALS) {
		spec_fail(c, params,
			  "sweep.params: the grid has %.0f combinations, more than a sweep can "
			  "run (%d)",
			  product, SPEC_SWEEP_MAX_TRIALS);
		return;
	}
	if (v[SWF_TRIALS] && sw->trials != (int)product) {
		spec_fail(c, v[SWF_TRIALS],
			  "sweep.trials: a grid runs every combination (%.0f here); "
			  "leave trials out or use method: random",
			  product);
		return;
	}
	sw->trials = (int)product;
}
