/*
 * spec_stopping.c — the spec's `early_stopping:` section and the watched
 * metric it shares with sweep.stop.asha.
 *
 *   early_stopping: {metric: validation.loss, mode: min, patience: 3, min_delta: 0.0}
 *
 * What it is: the schema of the section (keys, ranges, defaults, the metric
 * names the engine emits). What it is not: the stopping rule itself
 * (engine/early_stop.c), nor the choice of split when the spec has no
 * validation split (train.c watches the test split then, with a warning,
 * since the data set decides whether there is one, not the text).
 *
 * Threads: tables are const; functions are pure over one parse context.
 */
#include <stdio.h>
#include <string.h>

#include "spec_internal.h"
#include "tb.h"

/* The evaluation metrics, as metric events name them (<split>.<value>), and the better way. */
struct watched_metric {
	struct spec_kind spec;
	bool maximize;
};

static const struct watched_metric metrics[] = {
	{{.name = "validation.loss", .summary = "loss on the validation split (data.validation)"}, false},
	{{.name = "validation.accuracy", .summary = "accuracy on the validation split"}, true},
	{{.name = "test.loss", .summary = "loss on the test split"}, false},
	{{.name = "test.accuracy", .summary = "accuracy on the test split"}, true},
};
static const struct spec_registry metric_registry = {
	"metric", "metric", metrics, sizeof(metrics[0]), (int)TB_ARRAY_LEN(metrics),
};

static const struct spec_kind modes[] = {
	{.name = "min", .summary = "lower is better"},
	{.name = "max", .summary = "higher is better"},
};
static const struct spec_registry mode_registry = {"mode", "mode", modes, sizeof(modes[0]), 2};

void spec_metric_read(struct spec_ctx *c, const char *path, const yaml_node_t *metric, const yaml_node_t *mode,
		      const char *fallback, char *dst, size_t size, bool *maximize)
{
	char where[96], mode_name[8];
	snprintf(where, sizeof(where), "%s.metric", path);
	int m;
	if (metric) {
		m = spec_read_choice(c, where, &metric_registry, metric, dst, size);
	} else {
		m = spec_registry_find(&metric_registry, fallback);
		TB_ASSERT(m >= 0);
		spec_copy_name(dst, size, fallback);
	}
	*maximize = m >= 0 && metrics[m].maximize;
	if (mode) {
		snprintf(where, sizeof(where), "%s.mode", path);
		int k = spec_read_choice(c, where, &mode_registry, mode, mode_name, sizeof(mode_name));
		if (k >= 0)
			*maximize = k == 1;
	}
}

enum { EF_METRIC, EF_MODE, EF_PATIENCE, EF_MIN_DELTA, EF_COUNT };
static const char *const early_keys[EF_COUNT] = {"metric", "mode", "patience", "min_delta"};

void spec_early_stop_read(struct spec_ctx *c, const yaml_node_t *key, const yaml_node_t *value,
			  struct spec_early_stop *es)
{
	yaml_node_t *values[EF_COUNT];
	memset(es, 0, sizeof(*es));
	es->patience = 3;
	spec_copy_name(es->metric, sizeof(es->metric), "validation.loss");
	es->pos = spec_node_pos(c, key);
	if (!spec_section_is_mapping(c, "early_stopping", value, "{metric: validation.loss, patience: 3}"))
		return;
	es->enabled = true;
	spec_mapping_read(c, "early_stopping", value, early_keys, EF_COUNT, values, NULL);
	spec_metric_read(c, "early_stopping", values[EF_METRIC], values[EF_MODE], "validation.loss", es->metric,
			 sizeof(es->metric), &es->maximize);
	es->metric_pos = values[EF_METRIC] ? spec_node_pos(c, values[EF_METRIC]) : es->pos;
	int64_t v;
	if (values[EF_PATIENCE] &&
	    spec_read_int(c, "early_stopping.patience", values[EF_PATIENCE], 1, 100000, SPEC_R_SANITY, &v))
		es->patience = (int)v;
	if (values[EF_MIN_DELTA])
		spec_read_number(c, "early_stopping.min_delta", values[EF_MIN_DELTA], 0, 1e6, SPEC_R_SANITY,
				 &es->min_delta);
}
