/*
 * spec_node.c — reading YAML nodes for the spec parser: scalars as numbers,
 * integers and booleans, mappings checked against known keys, and the
 * table-driven reader that turns one section mapping into its struct.
 *
 * What it is: the generic half of the converter; it knows YAML, ranges and
 * how to word an error, but no section by name (spec_sections.c holds the
 * tables). What it is not: a YAML parser (libyaml is) nor an override
 * applier (spec_override.c).
 *
 * Threads: pure functions over one parse context; no globals.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_internal.h"
#include "tb.h"

yaml_node_t *spec_node(const struct spec_ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static int node_id(const struct spec_ctx *c, const yaml_node_t *n)
{
	return (int)(n - c->doc->nodes.start) + 1;
}

struct spec_pos spec_node_pos(const struct spec_ctx *c, const yaml_node_t *n)
{
	struct spec_pos p = {0, 0};
	if (n && node_id(c, n) <= c->text_nodes) {
		p.line = (int)n->start_mark.line + 1;
		p.column = (int)n->start_mark.column + 1;
	}
	return p;
}

void spec_fail(struct spec_ctx *c, const yaml_node_t *at, const char *fmt, ...)
{
	char msg[sizeof(c->errs->list[0].message)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A node an override made has no position; say which --set it came from instead. */
	int id = at ? node_id(c, at) : 0;
	if (at && id > c->text_nodes && c->override_first) {
		for (int k = 0; k < c->noverrides; k++) {
			if (id >= c->override_first[k] && id < c->override_first[k + 1]) {
				spec_error_add(c->errs, spec_node_pos(c, at), "%s (from --set '%s')", msg,
					       c->overrides[k]);
				return;
			}
		}
	}
	spec_error_add(c->errs, spec_node_pos(c, at), "%s", msg);
}

const char *spec_text(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

bool spec_is_plain(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool spec_is_null(const yaml_node_t *n)
{
	if (!spec_is_plain(n))
		return false;
	const char *t = spec_text(n);
	return !t[0] || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") ||
	       !strcmp(t, "NULL");
}

void spec_describe(const yaml_node_t *n, char *buf, size_t size)
{
	double d;
	bool b;
	if (!n || spec_is_null(n)) {
		snprintf(buf, size, "nothing");
	} else if (n->type == YAML_SEQUENCE_NODE) {
		snprintf(buf, size, "a sequence");
	} else if (n->type == YAML_MAPPING_NODE) {
		snprintf(buf, size, "a mapping");
	} else {
		const char *t = spec_text(n);
		size_t len = strlen(t);
		if (len > 40) {
			len = 37;
			while (len > 0 && ((unsigned char)t[len] & 0xC0) == 0x80)
				len--; /* do not cut a UTF-8 sequence */
		}
		bool bare = spec_number(n, &d) || spec_bool(n, &b);
		snprintf(buf, size, "%s%.*s%s%s", bare ? "" : "\"", (int)len, t,
			 len < strlen(t) ? "..." : "", bare ? "" : "\"");
	}
}

/* YAML-ish decimal: [+-] digits [. digits] [e [+-] digits], at least one digit before the exponent. */
static bool number_syntax(const char *s)
{
	const char *p = s;
	int digits = 0;
	if (*p == '+' || *p == '-')
		p++;
	while (*p >= '0' && *p <= '9')
		p++, digits++;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits++;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

bool spec_number(const yaml_node_t *n, double *out)
{
	if (!spec_is_plain(n) || !number_syntax(spec_text(n)))
		return false;
	double d = strtod(spec_text(n), NULL);
	if (!isfinite(d))
		return false;
	*out = d;
	return true;
}

static bool all_digits(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

bool spec_integer(const yaml_node_t *n, int64_t *out)
{
	double d;
	if (!spec_number(n, &d))
		return false;
	if (all_digits(spec_text(n))) {
		errno = 0;
		long long v = strtoll(spec_text(n), NULL, 10);
		if (errno)
			return false;
		*out = v;
		return true;
	}
	/* 1e5 or 2.0 are integers too, as long as a double holds them exactly. */
	if (d != floor(d) || fabs(d) > 9007199254740992.0)
		return false;
	*out = (int64_t)d;
	return true;
}

bool spec_unsigned(const yaml_node_t *n, uint64_t *out)
{
	int64_t v;
	const char *t = spec_text(n);
	if (spec_is_plain(n) && all_digits(t) && t[0] != '-') {
		errno = 0;
		unsigned long long u = strtoull(t, NULL, 10);
		if (errno)
			return false;
		*out = u;
		return true;
	}
	if (!spec_integer(n, &v) || v < 0)
		return false;
	*out = (uint64_t)v;
	return true;
}

bool spec_bool(const yaml_node_t *n, bool *out)
{
	/* YAML 1.1's spellings, which PyYAML users expect. */
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
	if (!spec_is_plain(n))
		return false;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(spec_text(n), yes[i]) || !strcmp(spec_text(n), no[i])) {
			*out = !strcmp(spec_text(n), yes[i]);
			return true;
		}
	}
	return false;
}

void spec_copy_name(char *dst, size_t size, const char *src)
{
	memset(dst, 0, size);
	size_t len = strlen(src);
	memcpy(dst, src, len < size ? len : size - 1);
}

void spec_join(const char *const *names, int n, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < n && used < size; i++) {
		int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

void spec_mapping_read(struct spec_ctx *c, const char *path, const yaml_node_t *map,
		       const char *const *known, int nknown, yaml_node_t **values,
		       yaml_node_t **keys)
{
	char got[64], list[160];
	const char *sep = path[0] ? ": " : "";
	yaml_node_t *first_key[SPEC_MAX_FIELDS];
	TB_ASSERT(nknown <= SPEC_MAX_FIELDS);
	for (int i = 0; i < nknown; i++) {
		values[i] = first_key[i] = NULL;
		if (keys)
			keys[i] = NULL;
	}
	spec_join(known, nknown, list, sizeof(list));
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = spec_node(c, p->key);
		yaml_node_t *v = spec_node(c, p->value);
		if (!k || k->type != YAML_SCALAR_NODE || spec_is_null(k)) {
			spec_describe(k, got, sizeof(got));
			spec_fail(c, k, "%s%sexpected a key name, got %s", path, sep, got);
			continue;
		}
		const char *name = spec_text(k);
		int i = 0;
		while (i < nknown && strcmp(known[i], name))
			i++;
		if (i == nknown) {
			const char *near = spec_suggest(name, known, nknown);
			const char *what = path[0] ? "key" : "section";
			spec_fail(c, k, "%s%sunknown %s '%.60s' (%s%s%s)", path, sep, what, name,
				  near ? "did you mean '" : "expected one of ", near ? near : list,
				  near ? "'?" : "");
			continue;
		}
		if (first_key[i]) {
			struct spec_pos fp = spec_node_pos(c, first_key[i]);
			spec_fail(c, k, "%s%sduplicate key '%s' (first at %d:%d)", path, sep, name,
				  fp.line, fp.column);
			continue;
		}
		first_key[i] = k;
		values[i] = v;
		if (keys)
			keys[i] = k;
	}
}

/* ---- ranges ------------------------------------------------------------------ */

/* "1 to 100,000", "0 to below 1", "above 0, up to 1,000": a range in words, numbers in full. */
void spec_range_words(double lo, double hi, unsigned range, char *buf, size_t size)
{
	char l[40], h[40];
	tb_fmt_number(l, sizeof(l), lo);
	tb_fmt_number(h, sizeof(h), hi);
	bool lo_open = range & SPEC_R_LO_OPEN, hi_open = range & SPEC_R_HI_OPEN;
	snprintf(buf, size, "%s%s%s%s", lo_open ? "above " : "", l,
		 lo_open ? (hi_open ? ", below " : ", up to ") : (hi_open ? " to below " : " to "), h);
}

/* What a message says was expected: the lower bound alone when hi is only a sanity bound. */
static void expectation(double lo, double hi, unsigned range, bool integer, char *buf, size_t size)
{
	char l[40], h[40];
	bool lo_open = range & SPEC_R_LO_OPEN;
	tb_fmt_number(l, sizeof(l), lo);
	tb_fmt_number(h, sizeof(h), hi);
	if (range & SPEC_R_SANITY) {
		if (!integer && lo_open && lo == 0)
			snprintf(buf, size, "a positive number");
		else
			snprintf(buf, size, "%s %s %s", integer ? "an integer" : "a number", lo_open ? ">" : "≥", l);
	} else {
		snprintf(buf, size, "%s in %c%s, %s%c", integer ? "an integer" : "a number", lo_open ? '(' : '[', l, h,
			 (range & SPEC_R_HI_OPEN) ? ')' : ']');
	}
}

/* "path: expected <what the range allows>, got <got>" at `value`; returns false. */
static bool refuse(struct spec_ctx *c, const char *path, const yaml_node_t *value, double lo, double hi,
		   unsigned range, bool integer, const char *got)
{
	char want[96];
	expectation(lo, hi, range, integer, want, sizeof(want));
	spec_fail(c, value, "%s: expected %s, got %s", path, want, got);
	return false;
}

/* Check d against the range: false after reporting at `value`. `got` is the value as written. */
static bool in_range(struct spec_ctx *c, const char *path, const yaml_node_t *value, double d, double lo,
		     double hi, unsigned range, bool integer, const char *got)
{
	char words[96];
	bool low = (range & SPEC_R_LO_OPEN) ? d <= lo : d < lo;
	bool high = (range & SPEC_R_HI_OPEN) ? d >= hi : d > hi;
	if (!low && !high)
		return true;
	if (high && (range & SPEC_R_SANITY)) {
		spec_range_words(lo, hi, range, words, sizeof(words));
		spec_fail(c, value, "%s: %s is too large (the range is %s)", path, got, words);
		return false;
	}
	return refuse(c, path, value, lo, hi, range, integer, got);
}

bool spec_read_int(struct spec_ctx *c, const char *path, const yaml_node_t *value, int64_t lo,
		   int64_t hi, unsigned range, int64_t *out)
{
	char got[64];
	int64_t v;
	spec_describe(value, got, sizeof(got));
	if (!spec_integer(value, &v)) {
		/* Digits too many for 64 bits are an integer all the same, and far too large. */
		double d;
		if (spec_number(value, &d) && d == floor(d))
			return in_range(c, path, value, d, (double)lo, (double)hi, range, true, got);
		return refuse(c, path, value, (double)lo, (double)hi, range, true, got);
	}
	if (v < lo || v > hi) { /* decided in 64 bits; in_range only words it */
		if (in_range(c, path, value, (double)v, (double)lo, (double)hi, range, true, got))
			spec_fail(c, value, "%s: %s is out of range", path, got);
		return false;
	}
	*out = v;
	return true;
}

bool spec_read_number(struct spec_ctx *c, const char *path, const yaml_node_t *value, double lo,
		      double hi, unsigned range, double *out)
{
	char got[64];
	double d;
	spec_describe(value, got, sizeof(got));
	if (!spec_number(value, &d))
		return refuse(c, path, value, lo, hi, range, false, got);
	if (!in_range(c, path, value, d, lo, hi, range, false, got))
		return false;
	*out = d;
	return true;
}

bool spec_read_key(struct spec_ctx *c, const char *path, const struct spec_key *k, const yaml_node_t *value,
		   double *out)
{
	char got[64];
	int64_t iv;
	bool b;
	switch (k->type) {
	case SPEC_KEY_NUM:
		return spec_read_number(c, path, value, k->lo, k->hi, k->range, out);
	case SPEC_KEY_INT:
		if (!spec_read_int(c, path, value, (int64_t)k->lo, (int64_t)k->hi, k->range, &iv))
			return false;
		*out = (double)iv;
		return true;
	case SPEC_KEY_BOOL:
		if (!spec_bool(value, &b)) {
			spec_describe(value, got, sizeof(got));
			spec_fail(c, value, "%s: expected true or false, got %s", path, got);
			return false;
		}
		*out = b;
		return true;
	default:
		TB_ASSERT(!"spec_read_key: not a scalar key");
		return false;
	}
}

/* ---- registries ------------------------------------------------------------------ */

int spec_registry_find(const struct spec_registry *r, const char *name)
{
	for (int i = 0; i < r->count; i++)
		if (!strcmp(spec_registry_kind(r, i)->name, name))
			return i;
	return -1;
}

int spec_kind_key(const struct spec_kind *k, const char *name)
{
	for (int i = 0; i < SPEC_KIND_KEYS && k->keys[i].name; i++)
		if (!strcmp(k->keys[i].name, name))
			return i;
	return -1;
}

double spec_kind_arg(const struct spec_registry *r, int kind, const double *arg, const char *name)
{
	int i = spec_kind_key(spec_registry_kind(r, kind), name);
	TB_ASSERT(i >= 0);
	return arg[i];
}

/* The registry's names, for "one of …" lists and did-you-mean. */
static int kind_names(const struct spec_registry *r, const char **names, int max)
{
	int n = 0;
	for (int i = 0; i < r->count && n < max; i++)
		names[n++] = spec_registry_kind(r, i)->name;
	return n;
}

int spec_read_choice(struct spec_ctx *c, const char *path, const struct spec_registry *r,
		     const yaml_node_t *value, char *dst, size_t size)
{
	char list[160], got[64];
	const char *names[32];
	int n = kind_names(r, names, 32);
	spec_join(names, n, list, sizeof(list));
	const char *t = spec_text(value);
	if (!t || spec_is_null(value)) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value, "%s: expected a %s name (one of %s), got %s", path, r->what, list, got);
		return -1;
	}
	int i = spec_registry_find(r, t);
	if (i >= 0) {
		spec_copy_name(dst, size, names[i]);
		return i;
	}
	const char *near = spec_suggest(t, names, n);
	if (near)
		spec_fail(c, value, "%s: unknown %s '%.40s' (did you mean '%s'?); expected one of %s",
			  path, r->what, t, near, list);
	else
		spec_fail(c, value, "%s: unknown %s '%.40s'; expected one of %s", path, r->what, t, list);
	return -1;
}

/* ---- sections ------------------------------------------------------------------ */

/* Index of the row's key `name` when the row takes it (a FIELD key for a section field). */
static int kind_takes(const struct spec_kind *k, const char *name, bool field)
{
	int i = spec_kind_key(k, name);
	return i >= 0 && (k->keys[i].type == SPEC_KEY_FIELD) == field ? i : -1;
}

/* "sgd, rmsprop": the kinds that take key `name`. */
static void takers(const struct spec_registry *r, const char *name, bool field, char *buf, size_t size)
{
	const char *names[32];
	int n = 0;
	for (int i = 0; i < r->count && n < 32; i++)
		if (kind_takes(spec_registry_kind(r, i), name, field) >= 0)
			names[n++] = spec_registry_kind(r, i)->name;
	spec_join(names, n, buf, size);
}

/* The section's fields, then every kind key of its registry once: what a mapping may hold. */
static int section_names(const struct spec_section *s, const char **names)
{
	int n = 0;
	for (int i = 0; i < s->nfields; i++)
		names[n++] = s->fields[i].key;
	if (s->variant_field < 0)
		return n;
	const struct spec_registry *r = s->fields[s->variant_field].registry;
	for (int v = 0; v < r->count; v++) {
		const struct spec_kind *k = spec_registry_kind(r, v);
		for (int i = 0; i < SPEC_KIND_KEYS && k->keys[i].name; i++) {
			if (k->keys[i].type == SPEC_KEY_FIELD)
				continue;
			int j = 0;
			while (j < n && strcmp(names[j], k->keys[i].name))
				j++;
			if (j == n) {
				TB_ASSERT(n < SPEC_MAX_FIELDS);
				names[n++] = k->keys[i].name;
			}
		}
	}
	return n;
}

static const struct spec_field *field_named(const struct spec_section *s, const char *key)
{
	for (int i = 0; i < s->nfields; i++)
		if (!strcmp(s->fields[i].key, key))
			return &s->fields[i];
	return NULL;
}

static void field_read(struct spec_ctx *c, const struct spec_section *s, const struct spec_field *f,
		       const yaml_node_t *value, char *base)
{
	char path[96], got[64];
	void *dst = base + f->offset;
	int64_t iv;
	snprintf(path, sizeof(path), "%s.%s", s->name, f->key);
	switch (f->kind) {
	case SPEC_F_INT:
		if (spec_read_int(c, path, value, (int64_t)f->lo, (int64_t)f->hi, f->range, &iv))
			*(int *)dst = (int)iv;
		break;
	case SPEC_F_I64:
		if (spec_read_int(c, path, value, (int64_t)f->lo, (int64_t)f->hi, f->range, &iv))
			*(int64_t *)dst = iv;
		break;
	case SPEC_F_U64:
		if (!spec_unsigned(value, (uint64_t *)dst)) {
			spec_describe(value, got, sizeof(got));
			spec_fail(c, value, "%s: expected an integer ≥ 0, got %s", path, got);
		}
		break;
	case SPEC_F_NUM:
		spec_read_number(c, path, value, f->lo, f->hi, f->range, (double *)dst);
		break;
	case SPEC_F_BOOL:
		if (!spec_bool(value, (bool *)dst)) {
			spec_describe(value, got, sizeof(got));
			spec_fail(c, value, "%s: expected true or false, got %s", path, got);
		}
		break;
	case SPEC_F_CHOICE: {
		int i = spec_read_choice(c, path, f->registry, value, dst, f->size);
		if (i >= 0)
			*(int *)(base + f->index_offset) = i;
		break;
	}
	case SPEC_F_TEXT:
		if (!spec_text(value) || spec_is_null(value)) {
			spec_describe(value, got, sizeof(got));
			spec_fail(c, value, "%s: expected a text value, got %s", path, got);
		} else if (strlen(spec_text(value)) >= f->size) {
			spec_fail(c, value, "%s: too long (at most %zu characters)", path, f->size - 1);
		} else {
			spec_copy_name(dst, f->size, spec_text(value));
		}
		break;
	case SPEC_F_CUSTOM:
		f->custom(c, path, value, base);
		break;
	}
	if (f->pos_offset > 0)
		*(struct spec_pos *)(base + f->pos_offset) = spec_node_pos(c, value);
}

static void missing_variant(struct spec_ctx *c, const struct spec_section *s,
			    const yaml_node_t *at)
{
	const struct spec_field *vf = &s->fields[s->variant_field];
	char list[160];
	const char *names[32];
	spec_join(names, kind_names(vf->registry, names, 32), list, sizeof(list));
	spec_fail(c, at, "%s: missing key '%s' (one of %s)", s->name, vf->key, list);
}

/* The section's defaults, then the kind's: its name and index, its keys' defaults. */
static void section_defaults(const struct spec_section *s, void *out, int variant)
{
	char *base = out;
	s->defaults(out);
	if (s->variant_field < 0)
		return;
	const struct spec_field *vf = &s->fields[s->variant_field];
	const struct spec_kind *k = spec_registry_kind(vf->registry, variant);
	spec_copy_name(base + vf->offset, vf->size, k->name);
	*(int *)(base + vf->index_offset) = variant;
	double *arg = s->arg_offset >= 0 ? (double *)(base + s->arg_offset) : NULL;
	for (int i = 0; i < SPEC_KIND_KEYS && k->keys[i].name; i++) {
		const struct spec_key *key = &k->keys[i];
		if (key->type != SPEC_KEY_FIELD) {
			TB_ASSERT(arg); /* a kind with own keys needs a section with somewhere to put them */
			arg[i] = key->def;
			continue;
		}
		const struct spec_field *f = field_named(s, key->name);
		TB_ASSERT(f); /* a FIELD key names one of the section's fields */
		if (!key->has_def)
			continue;
		if (f->kind == SPEC_F_NUM)
			*(double *)(base + f->offset) = key->def;
		else if (f->kind == SPEC_F_INT)
			*(int *)(base + f->offset) = (int)key->def;
		else if (f->kind == SPEC_F_I64)
			*(int64_t *)(base + f->offset) = (int64_t)key->def;
		else if (f->kind == SPEC_F_BOOL)
			*(bool *)(base + f->offset) = key->def != 0;
		else
			TB_ASSERT(!"a FIELD key's default needs a numeric field");
	}
}

/* [a, b] into the two keys after the pair's; false after reporting. */
static bool pair_read(struct spec_ctx *c, const char *path, const struct spec_kind *k, int i,
		      const yaml_node_t *value, double *arg)
{
	char got[64];
	if (value->type != YAML_SEQUENCE_NODE ||
	    value->data.sequence.items.top - value->data.sequence.items.start != 2) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value, "%s: expected two numbers [%s, %s], got %s", path, k->keys[i + 1].name,
			  k->keys[i + 2].name, got);
		return false;
	}
	double v[2];
	for (int j = 0; j < 2; j++)
		if (!spec_read_key(c, path, &k->keys[i + 1 + j], spec_node(c, value->data.sequence.items.start[j]),
				   &v[j]))
			return false;
	arg[i + 1] = v[0];
	arg[i + 2] = v[1];
	return true;
}

int spec_section_read(struct spec_ctx *c, const struct spec_section *s, const yaml_node_t *key,
		      const yaml_node_t *value, void *out, const yaml_node_t **present)
{
	const char *names[SPEC_MAX_FIELDS];
	yaml_node_t *values[SPEC_MAX_FIELDS] = {0}, *keys[SPEC_MAX_FIELDS] = {0};
	const struct spec_field *vf = s->variant_field >= 0 ? &s->fields[s->variant_field] : NULL;
	const struct spec_registry *reg = vf ? vf->registry : NULL;
	char got[64], list[160], path[96], msg[200];
	int variant = s->default_variant >= 0 ? s->default_variant : 0;
	bool variant_known = true, mapping = false;
	const yaml_node_t *variant_node = NULL;
	int nnames = section_names(s, names);

	for (int i = 0; i < s->nfields; i++)
		present[i] = NULL;
	if (!value || spec_is_null(value)) {
		if (vf && s->default_variant < 0) {
			missing_variant(c, s, key);
			variant_known = false;
		}
	} else if (value->type == YAML_SCALAR_NODE && s->shorthand && vf) {
		char dummy[SPEC_NAME_MAX]; /* section_defaults() writes the name of the kind chosen */
		int v = spec_read_choice(c, s->name, reg, value, dummy, sizeof(dummy));
		variant_known = v >= 0;
		variant = v >= 0 ? v : variant;
		variant_node = present[s->variant_field] = value;
	} else if (value->type != YAML_MAPPING_NODE) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value, "expected a mapping%s for '%s', got %s",
			  s->shorthand ? " or a name" : "", s->name, got);
		variant_known = false;
	} else {
		mapping = true;
		spec_mapping_read(c, s->name, value, names, nnames, values, keys);
		for (int i = 0; i < s->nfields; i++)
			present[i] = values[i];
		if (vf && values[s->variant_field]) {
			char dummy[SPEC_NAME_MAX];
			snprintf(path, sizeof(path), "%s.%s", s->name, vf->key);
			int v = spec_read_choice(c, path, reg, values[s->variant_field], dummy, sizeof(dummy));
			variant_known = v >= 0;
			variant = v >= 0 ? v : variant;
			variant_node = values[s->variant_field];
		} else if (vf && s->default_variant < 0) {
			missing_variant(c, s, value);
			variant_known = false;
		}
	}
	section_defaults(s, out, variant);
	if (vf && variant_node && vf->pos_offset > 0)
		*(struct spec_pos *)((char *)out + vf->pos_offset) = spec_node_pos(c, variant_node);
	const struct spec_kind *kind = reg ? spec_registry_kind(reg, variant) : NULL;
	double *arg = s->arg_offset >= 0 ? (double *)((char *)out + s->arg_offset) : NULL;
	bool given[SPEC_KIND_KEYS] = {false};
	const yaml_node_t *key_node[SPEC_KIND_KEYS] = {NULL};

	for (int i = 0; mapping && i < nnames; i++) {
		if (!values[i] || i == s->variant_field)
			continue;
		bool field = i < s->nfields;
		int k = kind ? kind_takes(kind, names[i], field) : -1;
		if (field && !s->fields[i].per_kind) {
			field_read(c, s, &s->fields[i], values[i], out);
		} else if (k < 0) {
			/* With a misspelt name the kind is a guess; do not pile on. */
			if (variant_known) {
				takers(reg, names[i], field, list, sizeof(list));
				spec_fail(c, keys[i], "%s.%s: not used by %s %s (only by %s)", s->name, names[i],
					  reg->what, kind->name, list);
			}
			continue;
		} else if (field) {
			field_read(c, s, &s->fields[i], values[i], out);
		} else {
			snprintf(path, sizeof(path), "%s.%s", s->name, names[i]);
			if (kind->keys[k].type == SPEC_KEY_PAIR)
				pair_read(c, path, kind, k, values[i], arg);
			else
				spec_read_key(c, path, &kind->keys[k], values[i], &arg[k]);
		}
		if (k >= 0) {
			given[k] = true;
			key_node[k] = values[i];
		}
	}
	if (!kind || !variant_known)
		return variant;
	const yaml_node_t *at = variant_node ? variant_node : value ? value : key;
	for (int k = 0; k < SPEC_KIND_KEYS && kind->keys[k].name; k++) {
		const struct spec_key *sk = &kind->keys[k];
		if (sk->type == SPEC_KEY_PAIR && given[k] && (given[k + 1] || given[k + 2])) {
			spec_fail(c, key_node[k], "%s.%s: give %s or %s/%s, not both", s->name, sk->name, sk->name,
				  kind->keys[k + 1].name, kind->keys[k + 2].name);
		} else if (sk->type == SPEC_KEY_PAIR && given[k]) {
			given[k + 1] = given[k + 2] = true;
		}
		if (sk->required && !given[k])
			spec_fail(c, at, "%s.%s: the %s %s needs %s", s->name, sk->name, kind->name, reg->noun,
				  sk->required);
	}
	int about = -1;
	if (kind->finish && kind->finish(c->spec, given, &about, msg, sizeof(msg))) {
		if (about >= 0)
			spec_fail(c, key_node[about] ? key_node[about] : at, "%s.%s: %s", s->name,
				  kind->keys[about].name, msg);
		else
			spec_fail(c, at, "%s: %s", s->name, msg);
	}
	return variant;
}

bool spec_section_is_mapping(struct spec_ctx *c, const char *name, const yaml_node_t *value, const char *example)
{
	if (!value || spec_is_null(value))
		return false;
	if (value->type == YAML_MAPPING_NODE)
		return true;
	char got[64];
	spec_describe(value, got, sizeof(got));
	spec_fail(c, value, "expected a mapping for '%s' (for example %s), got %s", name, example, got);
	return false;
}
