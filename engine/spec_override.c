/*
 * spec_override.c — `--set key.path=value` overrides, applied to the parsed
 * YAML tree before it is checked, so an override gets exactly the
 * validation the same text in the file would get.
 *
 * What it is: path walking and node creation in a libyaml document. A
 * missing section or key is created (`train.epochs=1` works without a
 * `train:` section), a section written as a bare name is widened
 * (`schedule: cosine` + `schedule.warmup_steps=100` gives
 * {name: cosine, warmup_steps: 100}). What it is not: a validator; nodes
 * made here carry no source position and spec_fail names the override
 * instead.
 *
 * Threads: pure over one parse context.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_internal.h"
#include "tb.h"

#define OVERRIDE_MAX_DEPTH 8       /* key path parts */
#define OVERRIDE_MAX_NODES 4096    /* a flow value bigger than this is not an override */
#define OVERRIDE_MAX_NESTING 16

static int must(int id)
{
	if (!id) {
		fprintf(stderr, "trainbook: out of memory building the spec tree\n");
		abort();
	}
	return id;
}

static void override_error(struct spec_ctx *c, int k, const char *why, const char *detail)
{
	spec_error_add(c->errs, (struct spec_pos){0, 0}, "--set '%s': %s%s", c->overrides[k], why,
		       detail);
}

/*
 * An override's plain value goes into the tree as text, so it must be text
 * YAML can carry: well-formed UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF, which libyaml would refuse) and no control characters.
 */
static bool printable_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned v = *p;
		int extra = v < 0x80 ? 0 : (v & 0xE0) == 0xC0 ? 1 : (v & 0xF0) == 0xE0 ? 2
				 : (v & 0xF8) == 0xF0 ? 3 : -1;
		if (extra < 0 || (v < 0x20 && v != '\t') || v == 0x7F)
			return false;
		v &= extra == 0 ? 0x7F : extra == 1 ? 0x1F : extra == 2 ? 0x0F : 0x07;
		p++;
		for (int i = 0; i < extra; i++, p++) {
			if ((*p & 0xC0) != 0x80)
				return false;
			v = (v << 6) | (*p & 0x3F);
		}
		static const unsigned least[] = {0, 0x80, 0x800, 0x10000};
		if (v < least[extra] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			return false;
	}
	return true;
}

/* Copy node `id` of `src` (a parsed flow value) into the spec's tree. */
static int copy_node(struct spec_ctx *c, yaml_document_t *src, int id, int depth, int *budget)
{
	yaml_node_t *n = yaml_document_get_node(src, id);
	if (!n || depth > OVERRIDE_MAX_NESTING || --*budget < 0)
		return 0;
	if (n->type == YAML_SCALAR_NODE)
		return must(yaml_document_add_scalar(c->doc, n->tag, n->data.scalar.value,
						     (int)n->data.scalar.length, n->data.scalar.style));
	if (n->type == YAML_SEQUENCE_NODE) {
		int seq = must(yaml_document_add_sequence(c->doc, n->tag, n->data.sequence.style));
		for (long i = 0; i < n->data.sequence.items.top - n->data.sequence.items.start; i++) {
			/* `src` is not modified, but re-fetch: recursion may not keep n valid in spirit. */
			n = yaml_document_get_node(src, id);
			int item = copy_node(c, src, n->data.sequence.items.start[i], depth + 1, budget);
			if (!item)
				return 0;
			must(yaml_document_append_sequence_item(c->doc, seq, item));
		}
		return seq;
	}
	int map = must(yaml_document_add_mapping(c->doc, n->tag, n->data.mapping.style));
	for (long i = 0; i < n->data.mapping.pairs.top - n->data.mapping.pairs.start; i++) {
		n = yaml_document_get_node(src, id);
		yaml_node_pair_t p = n->data.mapping.pairs.start[i];
		int key = copy_node(c, src, p.key, depth + 1, budget);
		int value = key ? copy_node(c, src, p.value, depth + 1, budget) : 0;
		if (!value)
			return 0;
		must(yaml_document_append_mapping_pair(c->doc, map, key, value));
	}
	return map;
}

/* libyaml loads one document at a time; text after the value must not be dropped silently. */
static bool nothing_after(yaml_parser_t *parser)
{
	yaml_document_t rest;
	if (!yaml_parser_load(parser, &rest))
		return false;
	bool empty = !yaml_document_get_root_node(&rest);
	yaml_document_delete(&rest);
	return empty;
}

/* The value: a flow collection or a quoted scalar is parsed as YAML, anything else is plain text. */
static int value_node(struct spec_ctx *c, int k, const char *text)
{
	char detail[160];
	if (!strchr("[{\"'", text[0]) || !text[0]) {
		if (!printable_utf8(text)) {
			override_error(c, k, "the value has control characters or is not UTF-8", "");
			return 0;
		}
		return must(yaml_document_add_scalar(c->doc, NULL, (yaml_char_t *)text, -1,
						     YAML_PLAIN_SCALAR_STYLE));
	}
	yaml_parser_t parser;
	yaml_document_t src;
	int id = 0;
	if (!yaml_parser_initialize(&parser))
		must(0);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	if (!yaml_parser_load(&parser, &src)) {
		snprintf(detail, sizeof(detail), "%s at column %d",
			 parser.problem ? parser.problem : "unreadable",
			 (int)parser.problem_mark.column + 1);
		override_error(c, k, "bad YAML value: ", detail);
		yaml_parser_delete(&parser);
		return 0;
	}
	yaml_node_t *root = yaml_document_get_root_node(&src);
	if (!root || (text[0] != '[' && text[0] != '{' && root->type != YAML_SCALAR_NODE) ||
	    !nothing_after(&parser)) {
		override_error(c, k, "expected one value (a quoted scalar, [list] or {mapping})", "");
	} else {
		int budget = OVERRIDE_MAX_NODES;
		id = copy_node(c, &src, 1, 0, &budget);
		if (!id)
			override_error(c, k, "the value is too large or nested too deeply", "");
	}
	yaml_document_delete(&src);
	yaml_parser_delete(&parser);
	return id;
}

/* Index of the pair whose key is the scalar `key` in mapping `map`, or -1. */
static long pair_find(struct spec_ctx *c, int map, const char *key)
{
	yaml_node_t *m = spec_node(c, map);
	for (long i = 0; i < m->data.mapping.pairs.top - m->data.mapping.pairs.start; i++) {
		const char *t = spec_text(spec_node(c, m->data.mapping.pairs.start[i].key));
		if (t && !strcmp(t, key))
			return i;
	}
	return -1;
}

static void pair_set_value(struct spec_ctx *c, int map, long index, int value)
{
	spec_node(c, map)->data.mapping.pairs.start[index].value = value;
}

static int add_key(struct spec_ctx *c, int map, const char *key, int value)
{
	int k = must(yaml_document_add_scalar(c->doc, NULL, (yaml_char_t *)key, -1,
					      YAML_PLAIN_SCALAR_STYLE));
	must(yaml_document_append_mapping_pair(c->doc, map, k, value));
	return value;
}

/* Descend one key for a path that goes deeper; returns the mapping id or 0 after an error. */
static int descend(struct spec_ctx *c, int k, int map, const char *key, bool top)
{
	char detail[96];
	long i = pair_find(c, map, key);
	if (i < 0)
		return add_key(c, map, key, must(yaml_document_add_mapping(c->doc, NULL,
									   YAML_ANY_MAPPING_STYLE)));
	int vid = spec_node(c, map)->data.mapping.pairs.start[i].value;
	const yaml_node_t *v = spec_node(c, vid);
	if (v->type == YAML_MAPPING_NODE)
		return vid;
	const char *shorthand = top ? spec_section_shorthand(key) : NULL;
	bool empty = spec_is_null(v);
	if (empty || (v->type == YAML_SCALAR_NODE && shorthand)) {
		/* Adding nodes moves them all: `v` is not used past this point. */
		int m = must(yaml_document_add_mapping(c->doc, NULL, YAML_ANY_MAPPING_STYLE));
		if (!empty)
			add_key(c, m, shorthand, vid); /* `loss: mse` becomes {name: mse, ...} */
		pair_set_value(c, map, i, m);
		return m;
	}
	spec_describe(v, detail, sizeof(detail));
	snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail), ", not a mapping");
	char why[96];
	snprintf(why, sizeof(why), "'%s' is ", key);
	override_error(c, k, why, detail);
	return 0;
}

static void override_apply(struct spec_ctx *c, int k)
{
	const char *ov = c->overrides[k];
	const char *eq = ov ? strchr(ov, '=') : NULL;
	char path[256], *parts[OVERRIDE_MAX_DEPTH];
	int nparts = 0;
	if (!ov) {
		spec_error_add(c->errs, (struct spec_pos){0, 0}, "--set: empty override");
		return;
	}
	if (!eq || eq == ov) {
		override_error(c, k, eq ? "empty key path before '='" : "expected key.path=value", "");
		return;
	}
	if ((size_t)(eq - ov) >= sizeof(path)) {
		override_error(c, k, "key path too long", "");
		return;
	}
	memcpy(path, ov, (size_t)(eq - ov));
	path[eq - ov] = '\0';
	for (char *s = path;; s++) {
		if (nparts == OVERRIDE_MAX_DEPTH) {
			override_error(c, k, "key path too deep", "");
			return;
		}
		parts[nparts++] = s;
		s = strchr(s, '.');
		if (!s)
			break;
		*s = '\0';
	}
	for (int i = 0; i < nparts; i++) {
		if (!parts[i][0] || !printable_utf8(parts[i])) {
			override_error(c, k, "empty or unprintable part in the key path", "");
			return;
		}
	}

	/* An empty document gets a root here, before the value: node 1 is the root. */
	if (!yaml_document_get_root_node(c->doc))
		must(yaml_document_add_mapping(c->doc, NULL, YAML_BLOCK_MAPPING_STYLE));
	if (yaml_document_get_root_node(c->doc)->type != YAML_MAPPING_NODE)
		return; /* the top-level error says enough */

	const char *text = eq + 1;
	while (*text == ' ')
		text++;
	char value[1024];
	size_t vlen = strlen(text);
	while (vlen && text[vlen - 1] == ' ')
		vlen--;
	if (vlen >= sizeof(value)) {
		override_error(c, k, "value too long", "");
		return;
	}
	memcpy(value, text, vlen);
	value[vlen] = '\0';
	int vid = value_node(c, k, value);
	if (!vid)
		return;

	int map = 1;
	for (int i = 0; i + 1 < nparts && map; i++)
		map = descend(c, k, map, parts[i], i == 0);
	if (!map)
		return;
	long i = pair_find(c, map, parts[nparts - 1]);
	if (i >= 0)
		pair_set_value(c, map, i, vid);
	else
		add_key(c, map, parts[nparts - 1], vid);
}

void spec_overrides_apply(struct spec_ctx *c)
{
	c->override_first = tb_xcalloc((size_t)c->noverrides + 1, sizeof(int));
	for (int k = 0; k < c->noverrides; k++) {
		c->override_first[k] = (int)(c->doc->nodes.top - c->doc->nodes.start) + 1;
		override_apply(c, k);
	}
	c->override_first[c->noverrides] = (int)(c->doc->nodes.top - c->doc->nodes.start) + 1;
}
