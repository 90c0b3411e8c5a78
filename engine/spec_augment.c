/*
 * spec_augment.c — `data.augment`: the list of augmentation steps the loader
 * applies in order, e.g. [random_crop: 4, hflip, {normalize: {mean: [0.5], std: [0.5]}}].
 *
 * What it is: the reader for that one list and its normalize step. What it
 * is not: the augmentation itself (the data loader does it) nor the rest of
 * `data:` (spec_sections.c).
 *
 * Threads: pure over one parse context.
 */
#include <stdio.h>
#include <string.h>

#include "spec_internal.h"

static const char *const augment_names[] = {"random_crop", "hflip", "normalize"};
enum { A_CROP, A_HFLIP, A_NORMALIZE, A_COUNT };

/* mean/std: a list of 1–4 numbers (one per channel) or a single number. */
static int channel_values(struct spec_ctx *c, const char *path, const yaml_node_t *value,
			  bool positive, float *out)
{
	struct spec_field range = {.lo = 0, .range = SPEC_R_NO_HI};
	char got[64];
	double d;
	if (positive)
		range.range |= SPEC_R_LO_OPEN;
	else
		range.lo = -1e30;
	if (value->type == YAML_SCALAR_NODE) {
		if (!spec_read_number(c, path, value, &range, &d))
			return -1;
		out[0] = (float)d;
		return 1;
	}
	int n = value->type == YAML_SEQUENCE_NODE
			? (int)(value->data.sequence.items.top - value->data.sequence.items.start)
			: 0;
	if (n < 1 || n > 4) {
		spec_describe(value, got, sizeof(got));
		if (value->type == YAML_SEQUENCE_NODE)
			snprintf(got, sizeof(got), "%d numbers", n);
		spec_fail(c, value, "%s: expected 1 to 4 numbers (one per channel), got %s", path, got);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (!spec_read_number(c, path, spec_node(c, value->data.sequence.items.start[i]),
				      &range, &d))
			return -1;
		out[i] = (float)d;
	}
	return n;
}

static void normalize_read(struct spec_ctx *c, const char *where, const yaml_node_t *at,
			   const yaml_node_t *arg, struct spec_data *d)
{
	static const char *const keys[] = {"mean", "std"};
	yaml_node_t *values[2];
	char got[64], path[128];
	if (arg->type != YAML_MAPPING_NODE) {
		spec_describe(arg, got, sizeof(got));
		spec_fail(c, arg, "%s: expected {mean: [...], std: [...]}, got %s", where, got);
		return;
	}
	int before = c->errs->count;
	spec_mapping_read(c, where, arg, keys, 2, values, NULL);
	if (!values[0] || !values[1]) {
		/* After "unknown key 'stdev'", "needs std" would say the same twice. */
		if (c->errs->count == before)
			spec_fail(c, arg, "%s: needs both mean and std (or neither, to compute them "
					  "from the training data)", where);
		return;
	}
	float mean[4], std[4];
	snprintf(path, sizeof(path), "%s.mean", where);
	int nm = channel_values(c, path, values[0], false, mean);
	snprintf(path, sizeof(path), "%s.std", where);
	int ns = channel_values(c, path, values[1], true, std);
	if (nm < 0 || ns < 0)
		return;
	if (nm != ns) {
		spec_fail(c, at, "%s: %d mean values but %d std values", where, nm, ns);
		return;
	}
	d->nnormalize = nm;
	memcpy(d->mean, mean, sizeof(float) * (size_t)nm);
	memcpy(d->std, std, sizeof(float) * (size_t)nm);
}

/* One step: `hflip` or `{hflip: 0.5}`; returns the name node and its argument (or NULL). */
static bool step_split(struct spec_ctx *c, int index, const yaml_node_t *item,
		       const yaml_node_t **name, const yaml_node_t **arg)
{
	char got[64];
	*arg = NULL;
	if (item->type == YAML_SCALAR_NODE && !spec_is_null(item)) {
		*name = item;
		return true;
	}
	if (item->type == YAML_MAPPING_NODE) {
		const yaml_node_pair_t *p = item->data.mapping.pairs.start;
		long n = item->data.mapping.pairs.top - p;
		if (n == 1) {
			*name = spec_node(c, p->key);
			const yaml_node_t *v = spec_node(c, p->value);
			*arg = spec_is_null(v) ? NULL : v;
			return true;
		}
		if (n > 1) {
			spec_fail(c, spec_node(c, p[1].key),
				  "data.augment item %d: a step has one key (its name), got %ld; "
				  "write each step as its own item",
				  index, n);
			return false;
		}
	}
	spec_describe(item, got, sizeof(got));
	spec_fail(c, item, "data.augment item %d: expected a step such as hflip or {random_crop: 4}, got %s",
		  index, got);
	return false;
}

void spec_augment_read(struct spec_ctx *c, const char *path, const yaml_node_t *value, void *data)
{
	struct spec_data *d = data;
	char got[64];
	if (spec_is_null(value))
		return;
	if (value->type != YAML_SEQUENCE_NODE) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value, "%s: expected a list such as [random_crop: 4, hflip], got %s", path,
			  got);
		return;
	}
	bool normalized = false;
	int index = 0;
	for (yaml_node_item_t *it = value->data.sequence.items.start;
	     it < value->data.sequence.items.top; it++) {
		const yaml_node_t *item = spec_node(c, *it), *name, *arg;
		index++;
		if (d->naugment == SPEC_MAX_AUGMENT) {
			spec_fail(c, item, "%s: at most %d steps", path, SPEC_MAX_AUGMENT);
			return;
		}
		if (!step_split(c, index, item, &name, &arg))
			continue;
		const char *text = spec_is_null(name) ? NULL : spec_text(name);
		int k = 0;
		while (text && k < A_COUNT && strcmp(text, augment_names[k]))
			k++;
		if (!text || k == A_COUNT) {
			const char *near = text ? spec_suggest(text, augment_names, A_COUNT) : NULL;
			spec_describe(name, got, sizeof(got));
			if (text)
				snprintf(got, sizeof(got), "'%.40s'", text);
			spec_fail(c, name, "%s item %d: unknown step %s (%s%s%s)", path, index, got,
				  near ? "did you mean '" : "expected random_crop, hflip or normalize",
				  near ? near : "", near ? "'?" : "");
			continue;
		}
		struct spec_augment *a = &d->augment[d->naugment];
		memset(a, 0, sizeof(*a));
		spec_copy_name(a->name, sizeof(a->name), augment_names[k]);
		a->pos = spec_node_pos(c, name);
		char where[96];
		snprintf(where, sizeof(where), "%s item %d: %s", path, index, augment_names[k]);
		if (k == A_CROP) {
			int64_t pad = 4; /* the CIFAR recipe's padding */
			if (arg && !spec_read_int(c, where, arg, 0, 64, false, &pad))
				continue;
			a->value = (double)pad;
		} else if (k == A_HFLIP) {
			static const struct spec_field prob = {.lo = 0, .hi = 1};
			a->value = 0.5;
			if (arg && !spec_read_number(c, where, arg, &prob, &a->value))
				continue;
		} else {
			if (normalized) {
				spec_fail(c, name, "%s: normalize appears twice", path);
				continue;
			}
			normalized = true;
			if (arg)
				normalize_read(c, where, name, arg, d);
		}
		d->naugment++;
	}
}
