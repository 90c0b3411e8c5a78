/*
 * reference.c — the spec reference generated from the tables (see
 * reference.h). What it is not: a second description of anything; every
 * word comes from a row (its docs line, keys, defaults and ranges) or from
 * a section's field table.
 */
#include "reference.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "layer.h"
#include "loss.h"
#include "model.h"
#include "optim.h"
#include "precision.h"
#include "schedule.h"
#include "spec_internal.h"
#include "tb.h"

/* The extension points in the order the reference lists them, with the key that names a kind. */
static const struct {
	const struct spec_registry *registry;
	const char *key;
	const char *title;
} reference_points[] = {
	{&data_set_registry, "data.dataset", "Data sets"},
	{&augment_registry, "data.augment", "Augmentation steps"},
	{&model_preset_registry, "model", "Model presets"},
	{&loss_registry, "loss.name", "Losses"},
	{&optim_registry, "optimizer.name", "Optimizers"},
	{&schedule_registry, "schedule.name", "Schedules"},
	{&precision_registry, "train.precision", "Precisions"},
};

int reference_registry_count(void)
{
	return (int)TB_ARRAY_LEN(reference_points);
}

const struct spec_registry *reference_registry(int i)
{
	TB_ASSERT(i >= 0 && i < reference_registry_count());
	return reference_points[i].registry;
}

static const char *number(char *buf, size_t len, double v)
{
	return tb_fmt_number(buf, len, v);
}

/* "integer, 1 to 100,000" / "number, 0 to below 1" / "true or false": what a key accepts. */
static void accepts(char *buf, size_t len, bool integer, double lo, double hi, unsigned range)
{
	char words[96];
	spec_range_words(lo, hi, range, words, sizeof(words));
	tb_fmt(buf, len, "%s, %s", integer ? "integer" : "number", words);
}

/* ---- the sections' own keys ------------------------------------------------------ */

static void field_default(const struct spec_section *s, const struct spec_field *f, const char *base, char *buf,
			  size_t len)
{
	const char *at = base + f->offset;
	if (f->def_text) {
		tb_fmt(buf, len, "%s", f->def_text);
		return;
	}
	switch (f->kind) {
	case SPEC_F_INT:
		number(buf, len, *(const int *)at);
		break;
	case SPEC_F_I64:
		number(buf, len, (double)*(const int64_t *)at);
		break;
	case SPEC_F_U64:
		number(buf, len, (double)*(const uint64_t *)at);
		break;
	case SPEC_F_NUM:
		number(buf, len, *(const double *)at);
		break;
	case SPEC_F_BOOL:
		tb_fmt(buf, len, "%s", *(const bool *)at ? "true" : "false");
		break;
	case SPEC_F_CHOICE:
		if (s->variant_field >= 0 && f == &s->fields[s->variant_field])
			tb_fmt(buf, len, "%s",
			       s->default_variant >= 0 ? spec_registry_kind(f->registry, s->default_variant)->name
						       : "required");
		else
			tb_fmt(buf, len, "%s", *at ? at : "required");
		break;
	default:
		tb_fmt(buf, len, "%s", *at ? at : "none");
		break;
	}
}

static void field_accepts(const struct spec_field *f, char *buf, size_t len)
{
	if (f->type_text) {
		tb_fmt(buf, len, "%s", f->type_text);
		return;
	}
	switch (f->kind) {
	case SPEC_F_INT:
	case SPEC_F_I64:
		accepts(buf, len, true, f->lo, f->hi, f->range);
		break;
	case SPEC_F_NUM:
		accepts(buf, len, false, f->lo, f->hi, f->range);
		break;
	case SPEC_F_BOOL:
		tb_fmt(buf, len, "true or false");
		break;
	case SPEC_F_CHOICE:
		tb_fmt(buf, len, "a name from the table below");
		break;
	default:
		tb_fmt(buf, len, "text");
		break;
	}
}

/* "csv, image-folder": the kinds that list field `key`. */
static void field_takers(const struct spec_section *s, const char *key, char *buf, size_t len)
{
	const struct spec_registry *r = s->fields[s->variant_field].registry;
	size_t used = 0;
	buf[0] = 0;
	for (int i = 0; i < r->count; i++) {
		const struct spec_kind *k = spec_registry_kind(r, i);
		int j = spec_kind_key(k, key);
		if (j >= 0 && k->keys[j].type == SPEC_KEY_FIELD && used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", k->name);
	}
}

static void sections(FILE *out)
{
	struct spec *scratch = tb_xcalloc(1, sizeof(*scratch)); /* room for any section's struct */
	fprintf(out, "| key | takes | default | what it is |\n|---|---|---|---|\n");
	for (const struct spec_section *const *sp = spec_sections; *sp; sp++) {
		const struct spec_section *s = *sp;
		memset(scratch, 0, sizeof(*scratch));
		s->defaults(scratch);
		for (int i = 0; i < s->nfields; i++) {
			const struct spec_field *f = &s->fields[i];
			char def[96], acc[128], only[160] = "";
			field_default(s, f, (const char *)scratch, def, sizeof(def));
			field_accepts(f, acc, sizeof(acc));
			if (f->per_kind) {
				char list[140];
				field_takers(s, f->key, list, sizeof(list));
				tb_fmt(only, sizeof(only), " (%s only)", list);
			}
			fprintf(out, "| `%s.%s` | %s | %s | %s%s |\n", s->name, f->key, acc, def, f->doc ? f->doc : "",
				only);
		}
	}
	free(scratch);
}

/* ---- the registries ----------------------------------------------------------------- */

static void key_text(const struct spec_kind *k, int i, char *buf, size_t len)
{
	const struct spec_key *key = &k->keys[i];
	char def[64], acc[128];
	if (key->required)
		tb_fmt(def, sizeof(def), "required");
	else if (key->def_text)
		tb_fmt(def, sizeof(def), "%s", key->def_text);
	else if (key->type == SPEC_KEY_BOOL)
		tb_fmt(def, sizeof(def), "%s", key->def != 0 ? "true" : "false");
	else if ((key->type == SPEC_KEY_FIELD && !key->has_def) || key->type == SPEC_KEY_PAIR)
		def[0] = 0;
	else
		number(def, sizeof(def), key->def);
	switch (key->type) {
	case SPEC_KEY_NUM:
	case SPEC_KEY_INT:
		accepts(acc, sizeof(acc), key->type == SPEC_KEY_INT, key->lo, key->hi, key->range);
		break;
	case SPEC_KEY_BOOL:
		tb_fmt(acc, sizeof(acc), "true or false");
		break;
	case SPEC_KEY_PAIR:
		tb_fmt(acc, sizeof(acc), "[%s, %s]", k->keys[i + 1].name, k->keys[i + 2].name);
		break;
	case SPEC_KEY_CHANNELS: {
		char words[96];
		spec_range_words(key->lo, key->hi, key->range, words, sizeof(words));
		tb_fmt(acc, sizeof(acc), "1-4 numbers, %s", words);
		break;
	}
	case SPEC_KEY_FIELD:
		acc[0] = 0;
		break;
	}
	const char *sep = def[0] && acc[0] ? "; " : "";
	tb_fmt(buf, len, "`%s`%s%s%s%s%s%s%s", key->name, def[0] || acc[0] ? " (" : "", def, sep, acc,
	       def[0] || acc[0] ? ")" : "", key->doc ? ": " : "", key->doc ? key->doc : "");
}

static void registry(FILE *out, const struct spec_registry *r, const char *key, const char *title)
{
	fprintf(out, "\n**%s** (`%s`)\n\n| name | what it is | keys (default; range) |\n|---|---|---|\n", title, key);
	for (int i = 0; i < r->count; i++) {
		const struct spec_kind *k = spec_registry_kind(r, i);
		fprintf(out, "| `%s` | %s | ", k->name, k->summary);
		for (int j = 0; j < SPEC_KIND_KEYS && k->keys[j].name; j++) {
			char text[320];
			key_text(k, j, text, sizeof(text));
			fprintf(out, "%s%s", j ? "; " : "", text);
		}
		fprintf(out, " |\n");
	}
}

/* ---- layers ------------------------------------------------------------------------------ */

static void layers(FILE *out)
{
	const char *names[64];
	int n = layer_kind_names(names, 64);
	fprintf(out,
		"\n**Layers** (`model: [...]`; `{layer: value}` sets the first argument, "
		"`{layer: {arg: value}}` any)\n\n| layer | what it is | arguments (default; range) |\n|---|---|---|\n");
	for (int i = 0; i < n; i++) {
		const struct layer_kind *k = layer_kind_find(names[i]);
		fprintf(out, "| `%s` | %s | ", k->name, k->summary);
		for (int j = 0; j < LAYER_ARGS_MAX && k->args[j].name; j++) {
			const struct layer_arg *a = &k->args[j];
			char def[48], acc[128];
			if (a->required)
				tb_fmt(def, sizeof(def), "required");
			else
				number(def, sizeof(def), a->def);
			accepts(acc, sizeof(acc), a->integer, a->min, a->max, 0);
			fprintf(out, "%s`%s` (%s; %s)", j ? "; " : "", a->name, def, acc);
		}
		fprintf(out, " |\n");
	}
}

char *reference_markdown(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	TB_ASSERT(out);
	fprintf(out, "<!-- Generated from the tables in engine/ by `trainbook-engine reference README.md`; "
		     "do not edit by hand. -->\n\n");
	sections(out);
	for (size_t i = 0; i < TB_ARRAY_LEN(reference_points); i++)
		registry(out, reference_points[i].registry, reference_points[i].key, reference_points[i].title);
	layers(out);
	fclose(out);
	return text;
}

/* Where the markers are: the first character after BEGIN's line and the start of END's. */
static bool markers(const char *text, const char **inside, const char **end)
{
	const char *b = strstr(text, REFERENCE_BEGIN);
	const char *e = b ? strstr(b, REFERENCE_END) : NULL;
	if (!b || !e)
		return false;
	b += strlen(REFERENCE_BEGIN);
	if (*b == '\n')
		b++;
	*inside = b;
	*end = e;
	return true;
}

char *reference_extract(const char *text)
{
	const char *in, *end;
	if (!markers(text, &in, &end))
		return NULL;
	char *out = tb_xmalloc((size_t)(end - in) + 1);
	memcpy(out, in, (size_t)(end - in));
	out[end - in] = 0;
	return out;
}

char *reference_splice(const char *text, const char *reference)
{
	const char *in, *end;
	if (!markers(text, &in, &end))
		return NULL;
	size_t head = (size_t)(in - text), body = strlen(reference), tail = strlen(end);
	char *out = tb_xmalloc(head + body + tail + 1);
	memcpy(out, text, head);
	memcpy(out + head, reference, body);
	memcpy(out + head + body, end, tail + 1);
	return out;
}
