/*
 * preprocess.c — a model's input contract to and from checkpoint metadata
 * (see preprocess.h for the keys).
 *
 * What it is not: the loader (loader.c applies the same steps to batches)
 * or image decoding (data_images.c).
 *
 * Threads: pure; any thread.
 */
#include "preprocess.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "jsonw.h"
#include "spec.h"
#include "tb.h"

/* A class count or channel count beyond these is a damaged file, not a model. */
#define PREPROCESS_MAX_CLASSES 100000
#define PREPROCESS_MAX_CHANNELS 4096

static void default_names(struct preprocess *p)
{
	p->class_names = tb_xcalloc((size_t)p->classes, sizeof(char *));
	for (int i = 0; i < p->classes; i++) {
		char buf[16];
		p->class_names[i] = tb_xstrdup(tb_fmt(buf, sizeof(buf), "%d", i));
	}
}

int preprocess_from_data(struct preprocess *p, const struct dataset *train, const struct spec_data *spec, char *err,
			 size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->c = train->c;
	p->h = train->h;
	p->w = train->w;
	p->classes = train->classes;
	p->image = train->storage == DATASET_U8;
	p->mean = tb_xmalloc((size_t)p->c * sizeof(float));
	p->std = tb_xmalloc((size_t)p->c * sizeof(float));
	int rc = loader_normalization(train, spec, p->mean, p->std, err, errlen);
	if (rc < 0) {
		preprocess_free(p);
		return -1;
	}
	p->normalize = rc == 1;
	if (train->class_names) {
		p->class_names = tb_xcalloc((size_t)p->classes, sizeof(char *));
		for (int i = 0; i < p->classes; i++)
			p->class_names[i] = tb_xstrdup(train->class_names[i] ? train->class_names[i] : "");
	} else {
		default_names(p);
	}
	return 0;
}

/* ---- writing --------------------------------------------------------------- */

static char *numbers_json(const float *v, int n)
{
	struct jsonw w;
	jsonw_init(&w);
	jsonw_begin_array(&w);
	for (int i = 0; i < n; i++)
		jsonw_num(&w, v[i]);
	jsonw_end_array(&w);
	char *out = jsonw_take(&w);
	jsonw_free(&w); /* take leaves a fresh empty buffer */
	return out;
}

static void meta_add(struct preprocess_meta *m, const char *key, char *owned_value)
{
	TB_ASSERT(m->n < PREPROCESS_META_MAX);
	m->owned[m->n] = owned_value;
	m->meta[m->n] = (struct st_meta){key, owned_value};
	m->n++;
}

void preprocess_meta(const struct preprocess *p, struct preprocess_meta *m)
{
	memset(m, 0, sizeof(*m));
	char buf[64];
	meta_add(m, "trainbook.input_shape", tb_xstrdup(tb_fmt(buf, sizeof(buf), "[%d, %d, %d]", p->c, p->h, p->w)));
	meta_add(m, "trainbook.input_kind", tb_xstrdup(p->image ? "image" : "features"));
	if (p->image)
		meta_add(m, "trainbook.channel_order", tb_xstrdup(p->c == 3 ? "RGB" : "gray"));
	if (p->normalize) {
		meta_add(m, "trainbook.normalize_mean", numbers_json(p->mean, p->c));
		meta_add(m, "trainbook.normalize_std", numbers_json(p->std, p->c));
	}
	struct jsonw w;
	jsonw_init(&w);
	jsonw_begin_array(&w);
	for (int i = 0; i < p->classes; i++)
		jsonw_str(&w, p->class_names[i]);
	jsonw_end_array(&w);
	meta_add(m, "trainbook.class_names", jsonw_take(&w));
	jsonw_free(&w);
}

void preprocess_meta_free(struct preprocess_meta *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->owned[i]);
	memset(m, 0, sizeof(*m));
}

/* ---- reading --------------------------------------------------------------- */

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return s;
}

/* A JSON array of exactly `n` numbers; false on anything else. */
static bool parse_numbers(const char *s, float *out, int n)
{
	s = skip_ws(s);
	if (*s++ != '[')
		return false;
	for (int i = 0; i < n; i++) {
		char *end;
		double v = strtod(skip_ws(s), &end);
		if (end == skip_ws(s))
			return false;
		out[i] = (float)v;
		s = skip_ws(end);
		if (*s != (i + 1 < n ? ',' : ']'))
			return false;
		s++;
	}
	return *skip_ws(s) == '\0';
}

static void put_utf8(char *out, size_t *len, unsigned cp)
{
	if (cp < 0x80) {
		out[(*len)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*len)++] = (char)(0xc0 | (cp >> 6));
		out[(*len)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*len)++] = (char)(0xe0 | (cp >> 12));
		out[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*len)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* One JSON string at *s (escapes decoded, \u0000 and surrogates refused); malloc'd, or NULL. */
static char *parse_string(const char **s)
{
	const char *p = *s;
	if (*p++ != '"')
		return NULL;
	char *out = tb_xmalloc(strlen(p) * 3 + 1); /* \uXXXX (6 bytes) never grows past 3 */
	size_t len = 0;
	static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
	while (*p && *p != '"') {
		if (*p != '\\') {
			out[len++] = *p++;
			continue;
		}
		p++;
		const char *e = *p ? strchr(esc_in, *p) : NULL;
		if (e) {
			out[len++] = esc_out[e - esc_in];
			p++;
			continue;
		}
		unsigned cp = 0;
		if (*p != 'u' || sscanf(p + 1, "%4x", &cp) != 1 || strspn(p + 1, "0123456789abcdefABCDEF") < 4 ||
		    cp == 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
			free(out);
			return NULL;
		}
		put_utf8(out, &len, cp);
		p += 5;
	}
	if (*p != '"') {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	*s = p + 1;
	return out;
}

/* A JSON array of exactly `n` strings into names (n entries, malloc'd); false on anything else. */
static bool parse_strings(const char *s, char **names, int n)
{
	s = skip_ws(s);
	if (*s++ != '[')
		return false;
	for (int i = 0; i < n; i++) {
		s = skip_ws(s);
		names[i] = parse_string(&s);
		if (!names[i])
			return false;
		s = skip_ws(s);
		if (*s != (i + 1 < n ? ',' : ']'))
			return false;
		s++;
	}
	return *skip_ws(s) == '\0';
}

/* How many items a JSON array of strings has (commas outside strings + 1), for sizing. */
static int count_strings(const char *s)
{
	s = skip_ws(s);
	if (*s != '[')
		return -1;
	if (*skip_ws(s + 1) == ']')
		return 0;
	int n = 1;
	bool in_string = false;
	for (s++; *s; s++) {
		if (in_string && *s == '\\' && s[1])
			s++;
		else if (*s == '"')
			in_string = !in_string;
		else if (!in_string && *s == ',')
			n++;
	}
	return n;
}

static int from_meta(struct preprocess *p, const struct safetensors *st, const char *shape, const char *path, char *err,
		     size_t errlen)
{
	const char *kind = safetensors_meta(st, "trainbook.input_kind");
	const char *mean = safetensors_meta(st, "trainbook.normalize_mean");
	const char *std = safetensors_meta(st, "trainbook.normalize_std");
	const char *names = safetensors_meta(st, "trainbook.class_names");
	const char *bad = NULL;
	if (sscanf(shape, " [ %d , %d , %d ]", &p->c, &p->h, &p->w) != 3 || p->c < 1 || p->h < 1 || p->w < 1 ||
	    p->c > PREPROCESS_MAX_CHANNELS)
		bad = "trainbook.input_shape";
	else if (!kind || (strcmp(kind, "image") && strcmp(kind, "features")))
		bad = "trainbook.input_kind";
	else if (!names || (p->classes = count_strings(names)) < 1 || p->classes > PREPROCESS_MAX_CLASSES)
		bad = "trainbook.class_names";
	if (bad) {
		tb_fmt(err, errlen, "%s: metadata %s is missing or malformed", path, bad);
		return -1;
	}
	p->image = strcmp(kind, "image") == 0;
	p->normalize = mean || std;
	p->mean = tb_xcalloc((size_t)p->c, sizeof(float));
	p->std = tb_xcalloc((size_t)p->c, sizeof(float));
	p->class_names = tb_xcalloc((size_t)p->classes, sizeof(char *));
	if (p->normalize && (!mean || !std || !parse_numbers(mean, p->mean, p->c) || !parse_numbers(std, p->std, p->c)))
		bad = "trainbook.normalize_mean/std";
	for (int ch = 0; !bad && p->normalize && ch < p->c; ch++)
		if (!(p->std[ch] > 0))
			bad = "trainbook.normalize_std";
	if (!bad && !parse_strings(names, p->class_names, p->classes))
		bad = "trainbook.class_names";
	if (bad) {
		tb_fmt(err, errlen, "%s: metadata %s is malformed", path, bad);
		return -1;
	}
	return 0;
}

int preprocess_from_checkpoint(struct preprocess *p, const struct safetensors *st, const struct spec *spec,
			       const char *path, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	const char *shape = safetensors_meta(st, "trainbook.input_shape");
	if (shape) {
		if (from_meta(p, st, shape, path, err, errlen) == 0)
			return 0;
		preprocess_free(p);
		return -1;
	}
	/* Written before the input was recorded: load the data set as training did. */
	struct data_splits data;
	char why[512];
	if (data_load(&spec->data, spec->train.seed, &data, why, sizeof(why)) < 0) {
		tb_fmt(err, errlen,
		       "%s records no input preprocessing and its data set cannot be loaded to find it: %s", path, why);
		return -1;
	}
	int rc = preprocess_from_data(p, &data.train, &spec->data, err, errlen);
	data_splits_free(&data);
	return rc;
}

struct shape preprocess_input_shape(const struct preprocess *p)
{
	return p->h == 1 && p->w == 1 ? shape_vec(p->c) : shape_chw(p->c, p->h, p->w);
}

void preprocess_pixels(const struct preprocess *p, const unsigned char *pixels, float *x)
{
	int64_t plane = (int64_t)p->h * p->w;
	for (int ch = 0; ch < p->c; ch++) {
		for (int64_t k = 0; k < plane; k++) {
			/* The loader's exact steps: i / 255.0f, then divide by std (not multiply by 1/std). */
			float v = (float)pixels[ch * plane + k] / 255.0f;
			x[ch * plane + k] = p->normalize ? (v - p->mean[ch]) / p->std[ch] : v;
		}
	}
}

void preprocess_free(struct preprocess *p)
{
	if (!p)
		return;
	for (int i = 0; p->class_names && i < p->classes; i++)
		free(p->class_names[i]);
	free(p->class_names);
	free(p->mean);
	free(p->std);
	memset(p, 0, sizeof(*p));
}
