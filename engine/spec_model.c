/*
 * spec_model.c — `model:` in its three forms: a preset name (`resnet18`), a
 * preset mapping (`{preset: mlp, hidden: [256, 128], dropout: 0.1}`) or a
 * list of layers (`[flatten, {linear: 128}, relu, {conv2d: {out: 32, kernel: 3}}]`).
 *
 * What it is: the structure of the list — each item a type name or a
 * one-key mapping whose value is a scalar or a mapping of scalars — with
 * positions kept for every type, value and argument. What it is not: a
 * judge of layer types or arguments; model.c checks those against its
 * layer table, so a new layer needs no change here.
 *
 * Threads: pure over one parse context.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "spec_internal.h"

/* ---- the preset mapping ---------------------------------------------------- */

static void model_hidden(struct spec_ctx *c, const char *path, const yaml_node_t *value,
			 void *section)
{
	struct spec_model *m = section;
	char got[64];
	int n = value->type == YAML_SEQUENCE_NODE
			? (int)(value->data.sequence.items.top - value->data.sequence.items.start)
			: 0;
	if (n < 1 || n > (int)(sizeof(m->hidden) / sizeof(m->hidden[0]))) {
		spec_describe(value, got, sizeof(got));
		if (value->type == YAML_SEQUENCE_NODE)
			snprintf(got, sizeof(got), "%d sizes", n);
		spec_fail(c, value, "%s: expected a list of 1 to 8 layer sizes, got %s", path, got);
		return;
	}
	for (int i = 0; i < n; i++) {
		int64_t v;
		if (!spec_read_int(c, path, spec_node(c, value->data.sequence.items.start[i]), 1,
				   1 << 20, SPEC_R_SANITY, &v))
			return;
		m->hidden[i] = (int)v;
	}
	m->nhidden = n;
}

static const struct spec_field model_fields[] = {
	{.key = "preset", .kind = SPEC_F_CHOICE, .offset = offsetof(struct spec_model, preset),
	 .size = SPEC_NAME_MAX, .registry = &model_preset_registry,
	 .index_offset = offsetof(struct spec_model, kind), .doc = "the preset's name"},
	/* Only the presets that list them take these (the others are fixed architectures). */
	{.key = "hidden", .kind = SPEC_F_CUSTOM, .custom = model_hidden, .per_kind = true,
	 .type_text = "list of 1-8 integers from 1 to 1,048,576", .def_text = "[128]",
	 .doc = "sizes of the hidden layers"},
	{.key = "dropout", .kind = SPEC_F_NUM, .offset = offsetof(struct spec_model, dropout),
	 .lo = 0, .hi = 1, .range = SPEC_R_HI_OPEN, .per_kind = true,
	 .doc = "dropout after each hidden layer"},
};

/* The model struct is cleared (and its position set) by the caller; the preset's name and index are written after. */
static void model_defaults(void *p)
{
	(void)p;
}

const struct spec_section spec_model_section = {
	"model", model_fields, 3, 0, -1, NULL, model_defaults, -1,
};

/* ---- the layer list --------------------------------------------------------- */

static bool type_name_ok(const char *s)
{
	if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

static bool layer_type(struct spec_ctx *c, int index, const yaml_node_t *node, struct spec_layer *l)
{
	char got[64];
	const char *t = spec_is_null(node) ? NULL : spec_text(node);
	double d;
	if (!t || spec_number(node, &d) || !type_name_ok(t) || strlen(t) >= sizeof(l->type)) {
		spec_describe(node, got, sizeof(got));
		spec_fail(c, node, "model layer %d: expected a layer type name such as relu, got %s",
			  index, got);
		return false;
	}
	spec_copy_name(l->type, sizeof(l->type), t);
	l->pos = spec_node_pos(c, node);
	return true;
}

/* One scalar argument: the number it reads as (true/false as 1/0) and the text as written. */
static bool arg_read(struct spec_ctx *c, int index, const struct spec_layer *l, const char *name,
		     const yaml_node_t *key, const yaml_node_t *value, struct spec_arg *a)
{
	char got[64];
	bool b;
	memset(a, 0, sizeof(*a));
	if (value->type != YAML_SCALAR_NODE || spec_is_null(value)) {
		spec_describe(value, got, sizeof(got));
		if (name[0])
			spec_fail(c, value, "model layer %d (%s): argument '%s' needs one value, got %s",
				  index, l->type, name, got);
		else
			spec_fail(c, value, "model layer %d (%s): expected a value or a mapping of "
					    "arguments, got %s", index, l->type, got);
		return false;
	}
	if (strlen(spec_text(value)) >= sizeof(a->text)) {
		spec_fail(c, value, "model layer %d (%s): value too long (at most %zu characters)",
			  index, l->type, sizeof(a->text) - 1);
		return false;
	}
	spec_copy_name(a->name, sizeof(a->name), name);
	spec_copy_name(a->text, sizeof(a->text), spec_text(value));
	if (spec_number(value, &a->number)) {
		a->is_number = true;
	} else if (spec_bool(value, &b)) {
		a->is_number = true;
		a->number = b ? 1 : 0;
	}
	a->pos = spec_node_pos(c, value);
	a->key_pos = spec_node_pos(c, key);
	return true;
}

static void layer_args(struct spec_ctx *c, int index, const yaml_node_t *map, struct spec_layer *l)
{
	char got[64];
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *k = spec_node(c, p->key), *v = spec_node(c, p->value);
		const char *name = spec_is_null(k) ? NULL : spec_text(k);
		if (!name || strlen(name) >= SPEC_NAME_MAX) {
			spec_describe(k, got, sizeof(got));
			spec_fail(c, k, "model layer %d (%s): expected an argument name, got %s", index,
				  l->type, got);
			continue;
		}
		int dup = 0;
		while (dup < l->nargs && strcmp(l->args[dup].name, name))
			dup++;
		if (dup < l->nargs) {
			spec_fail(c, k, "model layer %d (%s): duplicate argument '%s' (first at %d:%d)",
				  index, l->type, name, l->args[dup].key_pos.line,
				  l->args[dup].key_pos.column);
			continue;
		}
		if (l->nargs == SPEC_MAX_ARGS) {
			spec_fail(c, k, "model layer %d (%s): at most %d arguments", index, l->type,
				  SPEC_MAX_ARGS);
			return;
		}
		if (arg_read(c, index, l, name, k, v, &l->args[l->nargs]))
			l->nargs++;
	}
}

static void layer_read(struct spec_ctx *c, int index, const yaml_node_t *item, struct spec_layer *l)
{
	char got[64];
	memset(l, 0, sizeof(*l));
	if (item->type == YAML_SCALAR_NODE && !spec_is_null(item)) {
		layer_type(c, index, item, l);
		return;
	}
	long n = item->type == YAML_MAPPING_NODE
			 ? item->data.mapping.pairs.top - item->data.mapping.pairs.start
			 : 0;
	if (n > 1) {
		const yaml_node_pair_t *p = item->data.mapping.pairs.start;
		const char *first = spec_text(spec_node(c, p[0].key));
		const char *second = spec_text(spec_node(c, p[1].key));
		/* `- conv2d:` followed by `out: 32` at the same indent: the arguments missed a level. */
		if (spec_is_null(spec_node(c, p[0].value)) && first)
			spec_fail(c, spec_node(c, p[1].key),
				  "model layer %d: a layer has one key, its type, but this one has %ld; "
				  "indent the arguments under '%.30s' or write {%.30s: {%.30s: ...}}",
				  index, n, first, first, second ? second : "arg");
		else
			spec_fail(c, spec_node(c, p[1].key),
				  "model layer %d: a layer has one key, its type, but this one has %ld "
				  "('%.30s', '%.30s'%s); write each layer as its own list item",
				  index, n, first ? first : "?", second ? second : "?", n > 2 ? ", ..." : "");
		return;
	}
	if (n != 1) {
		spec_describe(item, got, sizeof(got));
		if (item->type == YAML_MAPPING_NODE)
			snprintf(got, sizeof(got), "an empty mapping");
		spec_fail(c, item, "model layer %d: expected a layer such as relu or {linear: 128}, got %s",
			  index, got);
		return;
	}
	const yaml_node_pair_t *p = item->data.mapping.pairs.start;
	const yaml_node_t *k = spec_node(c, p->key), *v = spec_node(c, p->value);
	if (!layer_type(c, index, k, l))
		return;
	if (spec_is_null(v))
		return; /* `- flatten:` is `- flatten` */
	if (v->type == YAML_MAPPING_NODE) {
		layer_args(c, index, v, l);
		return;
	}
	if (arg_read(c, index, l, "", k, v, &l->value))
		l->has_value = true;
}

void spec_model_read(struct spec_ctx *c, const yaml_node_t *key, const yaml_node_t *value,
		     struct spec_model *m)
{
	const yaml_node_t *present[SPEC_MAX_FIELDS];
	char got[64];
	if (value->type == YAML_SCALAR_NODE && !spec_is_null(value)) {
		int k = spec_read_choice(c, "model", &model_preset_registry, value, m->preset, sizeof(m->preset));
		m->kind = k >= 0 ? k : 0;
		return;
	}
	if (value->type == YAML_MAPPING_NODE) {
		spec_section_read(c, &spec_model_section, key, value, m, present);
		return;
	}
	if (value->type != YAML_SEQUENCE_NODE) {
		const char *names[32];
		char list[160];
		int n = 0;
		while (n < model_preset_registry.count && n < 32) {
			names[n] = spec_registry_kind(&model_preset_registry, n)->name;
			n++;
		}
		spec_join(names, n, list, sizeof(list));
		spec_fail(c, key, "model: expected a preset name (%s) or a list of layers, got nothing", list);
		return;
	}
	int index = 0;
	for (yaml_node_item_t *it = value->data.sequence.items.start;
	     it < value->data.sequence.items.top; it++) {
		const yaml_node_t *item = spec_node(c, *it);
		index++;
		if (m->nlayers == SPEC_MAX_LAYERS) {
			spec_fail(c, item, "model: at most %d layers", SPEC_MAX_LAYERS);
			return;
		}
		layer_read(c, index, item, &m->layers[m->nlayers]);
		if (m->layers[m->nlayers].type[0])
			m->nlayers++;
	}
	if (index == 0) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value, "model: the layer list is empty");
	}
}
