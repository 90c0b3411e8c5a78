/*
 * spec_augment.c — `data.augment`: the list of augmentation steps the loader
 * applies in order, e.g. [random_crop: 4, hflip, {normalize: {mean: [0.5], std: [0.5]}}].
 *
 * What it is: the reader for that one list: each step named by a row of
 * augment_registry (loader.c), its value read against the row's first key,
 * or — for a row whose keys are per-channel lists (normalize) — a mapping
 * of them. What it is not: the augmentation itself (the data loader does
 * it) nor the rest of `data:` (spec_sections.c).
 *
 * Threads: pure over one parse context.
 */
#include <stdio.h>
#include <string.h>

#include "data.h"
#include "spec_internal.h"
#include "tb.h"

/* A CHANNELS key's value: a list of 1–4 numbers (one per channel) or a single number. */
static int channel_values(struct spec_ctx *c, const char *path, const yaml_node_t *value,
			  const struct spec_key *k, float *out)
{
	char got[64];
	double d;
	if (value->type == YAML_SCALAR_NODE) {
		if (!spec_read_number(c, path, value, k->lo, k->hi, k->range, &d))
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
		if (!spec_read_number(c, path, spec_node(c, value->data.sequence.items.start[i]), k->lo,
				      k->hi, k->range, &d))
			return -1;
		out[i] = (float)d;
	}
	return n;
}

/* A step whose keys are per-channel lists: {mean: [...], std: [...]}, both or neither. */
static void channels_read(struct spec_ctx *c, const char *where, const struct spec_kind *k, const yaml_node_t *at,
			  const yaml_node_t *arg, struct spec_data *d)
{
	const char *keys[2] = {k->keys[0].name, k->keys[1].name};
	yaml_node_t *values[2];
	char got[64], path[128];
	TB_ASSERT(k->keys[0].type == SPEC_KEY_CHANNELS && k->keys[1].type == SPEC_KEY_CHANNELS);
	if (arg->type != YAML_MAPPING_NODE) {
		spec_describe(arg, got, sizeof(got));
		spec_fail(c, arg, "%s: expected {%s: [...], %s: [...]}, got %s", where, keys[0], keys[1], got);
		return;
	}
	int before = c->errs->count;
	spec_mapping_read(c, where, arg, keys, 2, values, NULL);
	if (!values[0] || !values[1]) {
		/* After "unknown key 'stdev'", "needs std" would say the same twice. */
		if (c->errs->count == before)
			spec_fail(c, arg, "%s: needs both %s and %s (or neither, to compute them "
					  "from the training data)", where, keys[0], keys[1]);
		return;
	}
	float mean[4], std[4];
	snprintf(path, sizeof(path), "%s.%s", where, keys[0]);
	int nm = channel_values(c, path, values[0], &k->keys[0], mean);
	snprintf(path, sizeof(path), "%s.%s", where, keys[1]);
	int ns = channel_values(c, path, values[1], &k->keys[1], std);
	if (nm < 0 || ns < 0)
		return;
	if (nm != ns) {
		spec_fail(c, at, "%s: %d %s values but %d %s values", where, nm, keys[0], ns, keys[1]);
		return;
	}
	d->nnormalize = nm;
	memcpy(d->mean, mean, sizeof(float) * (size_t)nm);
	memcpy(d->std, std, sizeof(float) * (size_t)nm);
}

/* "random_crop, hflip or normalize" */
static void names_or(const struct spec_registry *r, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = 0;
	for (int i = 0; i < r->count && used < size; i++) {
		const char *sep = i == 0 ? "" : i + 1 == r->count ? " or " : ", ";
		int w = snprintf(buf + used, size - used, "%s%s", sep, spec_registry_kind(r, i)->name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
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
	bool seen[SPEC_MAX_AUGMENT * 4] = {false};
	int index = 0;
	TB_ASSERT(augment_registry.count <= (int)(sizeof(seen) / sizeof(seen[0])));
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
		int k = text ? spec_registry_find(&augment_registry, text) : -1;
		if (k < 0) {
			const char *names[32];
			int n = 0;
			while (n < augment_registry.count && n < 32) {
				names[n] = spec_registry_kind(&augment_registry, n)->name;
				n++;
			}
			const char *near = text ? spec_suggest(text, names, n) : NULL;
			char list[160];
			names_or(&augment_registry, list, sizeof(list));
			spec_describe(name, got, sizeof(got));
			if (text)
				snprintf(got, sizeof(got), "'%.40s'", text);
			spec_fail(c, name, "%s item %d: unknown step %s (%s%s%s)", path, index, got,
				  near ? "did you mean '" : "expected ", near ? near : list, near ? "'?" : "");
			continue;
		}
		const struct augment_kind *row = (const struct augment_kind *)spec_registry_kind(&augment_registry, k);
		const struct spec_key *key = &row->spec.keys[0];
		struct spec_augment *a = &d->augment[d->naugment];
		memset(a, 0, sizeof(*a));
		spec_copy_name(a->name, sizeof(a->name), row->spec.name);
		a->kind = k;
		a->pos = spec_node_pos(c, name);
		char where[96];
		snprintf(where, sizeof(where), "%s item %d: %s", path, index, row->spec.name);
		if (row->once && seen[k]) {
			spec_fail(c, name, "%s: %s appears twice", path, row->spec.name);
			continue;
		}
		seen[k] = true;
		if (key->name && key->type == SPEC_KEY_CHANNELS) {
			if (arg)
				channels_read(c, where, &row->spec, name, arg, d);
		} else if (key->name) {
			a->value = key->def;
			if (arg && !spec_read_key(c, where, key, arg, &a->value))
				continue;
		}
		d->naugment++;
	}
}
