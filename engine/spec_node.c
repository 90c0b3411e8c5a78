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

static void int_expectation(int64_t lo, int64_t hi, bool hi_is_limit, char *buf, size_t size)
{
	if (hi_is_limit)
		snprintf(buf, size, "an integer ≥ %lld", (long long)lo);
	else
		snprintf(buf, size, "an integer in [%lld, %lld]", (long long)lo, (long long)hi);
}

bool spec_read_int(struct spec_ctx *c, const char *path, const yaml_node_t *value, int64_t lo,
		   int64_t hi, bool hi_is_limit, int64_t *out)
{
	char want[64], got[64];
	int64_t v;
	int_expectation(lo, hi, hi_is_limit, want, sizeof(want));
	if (!spec_integer(value, &v)) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value, "%s: expected %s, got %s", path, want, got);
		return false;
	}
	if (v < lo || (v > hi && !hi_is_limit)) {
		spec_fail(c, value, "%s: expected %s, got %lld", path, want, (long long)v);
		return false;
	}
	if (v > hi) {
		spec_fail(c, value, "%s: %lld is too large (at most %lld)", path, (long long)v,
			  (long long)hi);
		return false;
	}
	*out = v;
	return true;
}

static void num_expectation(const struct spec_field *f, char *buf, size_t size)
{
	bool lo_open = f->range & SPEC_R_LO_OPEN;
	if (f->range & SPEC_R_NO_HI) {
		if (lo_open && f->lo == 0)
			snprintf(buf, size, "a positive number");
		else
			snprintf(buf, size, "a number %s %g", lo_open ? ">" : "≥", f->lo);
	} else {
		snprintf(buf, size, "a number in %c%g, %g%c", lo_open ? '(' : '[', f->lo, f->hi,
			 (f->range & SPEC_R_HI_OPEN) ? ')' : ']');
	}
}

bool spec_read_number(struct spec_ctx *c, const char *path, const yaml_node_t *value,
		      const struct spec_field *f, double *out)
{
	char want[64], got[64];
	double d;
	num_expectation(f, want, sizeof(want));
	spec_describe(value, got, sizeof(got));
	if (!spec_number(value, &d)) {
		spec_fail(c, value, "%s: expected %s, got %s", path, want, got);
		return false;
	}
	bool low = (f->range & SPEC_R_LO_OPEN) ? d <= f->lo : d < f->lo;
	bool high = !(f->range & SPEC_R_NO_HI) && ((f->range & SPEC_R_HI_OPEN) ? d >= f->hi : d > f->hi);
	if (low || high) {
		spec_fail(c, value, "%s: expected %s, got %s", path, want, got);
		return false;
	}
	*out = d;
	return true;
}

int spec_read_choice(struct spec_ctx *c, const char *path, const char *what,
		     const char *const *choices, const yaml_node_t *value, char *dst, size_t size)
{
	char list[160], got[64];
	int n = 0;
	while (choices[n])
		n++;
	spec_join(choices, n, list, sizeof(list));
	const char *t = spec_text(value);
	if (!t || spec_is_null(value)) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value, "%s: expected a %s name (one of %s), got %s", path, what, list, got);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (!strcmp(t, choices[i])) {
			spec_copy_name(dst, size, choices[i]);
			return i;
		}
	}
	const char *near = spec_suggest(t, choices, n);
	if (near)
		spec_fail(c, value, "%s: unknown %s '%.40s' (did you mean '%s'?); expected one of %s",
			  path, what, t, near, list);
	else
		spec_fail(c, value, "%s: unknown %s '%.40s'; expected one of %s", path, what, t, list);
	return -1;
}

/* ---- sections ------------------------------------------------------------------ */

static void only_list(const struct spec_section *s, unsigned mask, char *buf, size_t size)
{
	const char *names[16];
	int n = 0;
	const char *const *choices = s->fields[s->variant_field].choices;
	for (int v = 0; choices[v] && v < 16; v++)
		if (mask & (1u << v))
			names[n++] = choices[v];
	spec_join(names, n, buf, size);
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
		if (spec_read_int(c, path, value, (int64_t)f->lo,
				  (f->range & SPEC_R_NO_HI) ? INT_MAX : (int64_t)f->hi,
				  f->range & SPEC_R_NO_HI, &iv))
			*(int *)dst = (int)iv;
		break;
	case SPEC_F_I64:
		if (spec_read_int(c, path, value, (int64_t)f->lo,
				  (f->range & SPEC_R_NO_HI) ? INT64_MAX : (int64_t)f->hi,
				  f->range & SPEC_R_NO_HI, &iv))
			*(int64_t *)dst = iv;
		break;
	case SPEC_F_U64:
		if (!spec_unsigned(value, (uint64_t *)dst)) {
			spec_describe(value, got, sizeof(got));
			spec_fail(c, value, "%s: expected an integer ≥ 0, got %s", path, got);
		}
		break;
	case SPEC_F_NUM:
		spec_read_number(c, path, value, f, (double *)dst);
		break;
	case SPEC_F_BOOL:
		if (!spec_bool(value, (bool *)dst)) {
			spec_describe(value, got, sizeof(got));
			spec_fail(c, value, "%s: expected true or false, got %s", path, got);
		}
		break;
	case SPEC_F_CHOICE:
		spec_read_choice(c, path, f->what, f->choices, value, dst, f->size);
		break;
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
	if (f->pos_offset >= 0)
		*(struct spec_pos *)(base + f->pos_offset) = spec_node_pos(c, value);
}

static void missing_variant(struct spec_ctx *c, const struct spec_section *s,
			    const yaml_node_t *at)
{
	const struct spec_field *vf = &s->fields[s->variant_field];
	char list[160];
	int n = 0;
	while (vf->choices[n])
		n++;
	spec_join(vf->choices, n, list, sizeof(list));
	spec_fail(c, at, "%s: missing key '%s' (one of %s)", s->name, vf->key, list);
}

int spec_section_read(struct spec_ctx *c, const struct spec_section *s, const yaml_node_t *key,
		      const yaml_node_t *value, void *out, const yaml_node_t **present)
{
	const char *names[SPEC_MAX_FIELDS];
	yaml_node_t *values[SPEC_MAX_FIELDS], *keys[SPEC_MAX_FIELDS];
	const struct spec_field *vf = s->variant_field >= 0 ? &s->fields[s->variant_field] : NULL;
	char got[64], list[160];
	int variant = s->default_variant >= 0 ? s->default_variant : 0;
	bool variant_known = true;

	for (int i = 0; i < s->nfields; i++) {
		names[i] = s->fields[i].key;
		present[i] = NULL;
	}
	if (!value || spec_is_null(value)) {
		if (s->default_variant < 0)
			missing_variant(c, s, key);
		s->defaults(out, variant);
		return variant;
	}
	if (value->type == YAML_SCALAR_NODE && s->shorthand && vf) {
		char dummy[SPEC_NAME_MAX]; /* defaults() writes the name of the variant chosen */
		int v = spec_read_choice(c, s->name, vf->what, vf->choices, value, dummy, sizeof(dummy));
		variant = v >= 0 ? v : variant;
		s->defaults(out, variant);
		present[s->variant_field] = value;
		if (vf->pos_offset >= 0)
			*(struct spec_pos *)((char *)out + vf->pos_offset) = spec_node_pos(c, value);
		return variant;
	}
	if (value->type != YAML_MAPPING_NODE) {
		spec_describe(value, got, sizeof(got));
		spec_fail(c, value, "expected a mapping%s for '%s', got %s",
			  s->shorthand ? " or a name" : "", s->name, got);
		s->defaults(out, variant);
		return variant;
	}

	spec_mapping_read(c, s->name, value, names, s->nfields, values, keys);
	for (int i = 0; i < s->nfields; i++)
		present[i] = values[i];
	if (vf && values[s->variant_field]) {
		char path[96], dummy[SPEC_NAME_MAX];
		snprintf(path, sizeof(path), "%s.%s", s->name, vf->key);
		int v = spec_read_choice(c, path, vf->what, vf->choices, values[s->variant_field],
					 dummy, sizeof(dummy));
		variant_known = v >= 0;
		variant = v >= 0 ? v : variant;
	} else if (vf && s->default_variant < 0) {
		missing_variant(c, s, value);
		variant_known = false;
	}
	s->defaults(out, variant);
	if (vf && values[s->variant_field] && vf->pos_offset >= 0)
		*(struct spec_pos *)((char *)out + vf->pos_offset) =
			spec_node_pos(c, values[s->variant_field]);

	for (int i = 0; i < s->nfields; i++) {
		const struct spec_field *f = &s->fields[i];
		if (!values[i] || i == s->variant_field)
			continue;
		if (f->only && !(f->only & (1u << variant))) {
			/* With a misspelt name the variant is a guess; do not pile on. */
			if (variant_known) {
				only_list(s, f->only, list, sizeof(list));
				spec_fail(c, keys[i], "%s.%s: not used by %s %s (only by %s)", s->name,
					  f->key, vf->what, vf->choices[variant], list);
			}
			continue;
		}
		field_read(c, s, f, values[i], out);
	}
	return variant;
}
