/*
 * spec_flat.c — a run spec's YAML as flat "section.key" → value pairs, the
 * way run lists and tables show hyperparameters (see spec_flat.h).
 *
 * What it is not: the spec parser. It reads only what is written (no
 * defaults, no validation); the engine's parser stays the one judge of
 * what a spec means. A value that is not a scalar (a layer list, an
 * augment list) is kept as its YAML text with the white space folded.
 *
 * Threads: any; no shared state.
 */
#include "spec_flat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util.h"

#define FLAT_DEPTH 8 /* deeper mappings are kept as text */
#define FLAT_KEY_MAX 256
#define FLAT_TEXT_MAX 512 /* a non-scalar value's folded text, at most */

struct flat {
	yaml_parser_t parser;
	const char *src;
	size_t len;
	json_t *out;
};

/* A YAML scalar as JSON: plain numbers and booleans typed, the rest strings. */
static json_t *scalar_json(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && *v) {
		if (!strcmp(v, "true"))
			return json_true();
		if (!strcmp(v, "false"))
			return json_false();
		if (!strcmp(v, "null") || !strcmp(v, "~"))
			return json_null();
		char *end;
		long long i = strtoll(v, &end, 10);
		if (!*end)
			return json_integer(i);
		double d = strtod(v, &end);
		if (!*end)
			return json_real(d);
	}
	return json_string(v);
}

/*
 * The byte offset of character `index` of the source: libyaml's marks
 * count characters, and a comment with "→" before a value moves its bytes.
 */
static size_t byte_offset(const struct flat *f, size_t index)
{
	size_t i = 0;
	for (size_t chars = 0; i < f->len && chars < index; chars++) {
		i++;
		while (i < f->len && ((unsigned char)f->src[i] & 0xC0) == 0x80)
			i++; /* continuation bytes of the same character */
	}
	return i;
}

/* The source text from character `start` to `end`, runs of white space folded to one space. */
static json_t *folded_text(const struct flat *f, size_t start, size_t end)
{
	start = byte_offset(f, start);
	end = byte_offset(f, end);
	char buf[FLAT_TEXT_MAX + 4];
	size_t n = 0;
	bool space = false;
	for (size_t i = start; i < end && i < f->len && n < FLAT_TEXT_MAX; i++) {
		char c = f->src[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = n > 0;
			continue;
		}
		if (space)
			buf[n++] = ' ';
		space = false;
		buf[n++] = c;
	}
	if (n == FLAT_TEXT_MAX)
		n += (size_t)snprintf(buf + n, 4, "...");
	buf[n] = '\0';
	return json_stringn(buf, n);
}

/* Skip the rest of a collection whose start event was just read; returns its end offset. */
static int skip_collection(struct flat *f, size_t *end)
{
	int depth = 1;
	while (depth > 0) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&f->parser, &ev))
			return -1;
		if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		*end = ev.end_mark.index;
		bool bad = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (bad)
			return -1;
	}
	return 0;
}

/* A mapping whose start event was read: its pairs into f->out under `prefix`. */
static int flatten_mapping(struct flat *f, const char *prefix, int depth)
{
	for (;;) {
		yaml_event_t key;
		if (!yaml_parser_parse(&f->parser, &key))
			return -1;
		if (key.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&key);
			return 0;
		}
		if (key.type != YAML_SCALAR_EVENT) { /* a complex key: not a spec */
			yaml_event_delete(&key);
			return -1;
		}
		char path[FLAT_KEY_MAX];
		snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", (const char *)key.data.scalar.value);
		yaml_event_delete(&key);
		yaml_event_t val;
		if (!yaml_parser_parse(&f->parser, &val))
			return -1;
		int rc = 0;
		if (val.type == YAML_SCALAR_EVENT) {
			json_object_set_new(f->out, path, scalar_json(&val));
		} else if (val.type == YAML_MAPPING_START_EVENT && depth < FLAT_DEPTH) {
			rc = flatten_mapping(f, path, depth + 1);
		} else if (val.type == YAML_SEQUENCE_START_EVENT || val.type == YAML_MAPPING_START_EVENT) {
			size_t start = val.start_mark.index, end = start;
			rc = skip_collection(f, &end);
			if (rc == 0)
				json_object_set_new(f->out, path, folded_text(f, start, end));
		} else {
			rc = -1; /* an alias or the end of the stream */
		}
		yaml_event_delete(&val);
		if (rc < 0)
			return -1;
	}
}

json_t *spec_flat(const char *yaml, size_t len)
{
	struct flat f = {.src = yaml, .len = len, .out = json_object()};
	if (!yaml_parser_initialize(&f.parser))
		return f.out;
	yaml_parser_set_input_string(&f.parser, (const unsigned char *)yaml, len);
	/* STREAM-START, DOCUMENT-START, then the top-level mapping. */
	for (int i = 0; i < 3; i++) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&f.parser, &ev))
			break;
		yaml_event_type_t type = ev.type;
		yaml_event_delete(&ev);
		if (type == YAML_MAPPING_START_EVENT) {
			if (flatten_mapping(&f, "", 1) < 0) {
				json_decref(f.out);
				f.out = json_object(); /* broken YAML: nothing rather than half */
			}
			break;
		}
		if (type != YAML_STREAM_START_EVENT && type != YAML_DOCUMENT_START_EVENT)
			break;
	}
	yaml_parser_delete(&f.parser);
	return f.out;
}

/* The keys a run list shows beside a run's name, in this order. */
static const char *const summary_keys[] = {
	"data.dataset",    "model",           "model.preset", "optimizer",     "optimizer.name",
	"optimizer.lr",    "data.batch_size", "schedule",     "schedule.name", "train.epochs",
	"train.max_steps", "train.precision", "train.device", "train.seed",
};

json_t *spec_summary_params(const char *yaml, size_t len)
{
	json_t *flat = spec_flat(yaml, len), *out = json_object();
	for (size_t i = 0; i < sizeof summary_keys / sizeof summary_keys[0]; i++) {
		json_t *v = json_object_get(flat, summary_keys[i]);
		if (v)
			json_object_set(out, summary_keys[i], v);
	}
	json_decref(flat);
	return out;
}

/* A short word: letters, digits and - _ . only, or "" */
static bool word_like(const char *v)
{
	if (!v || !*v || strlen(v) > 40)
		return false;
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_' || *p == '.'))
			return false;
	return true;
}

void spec_run_label(const char *yaml, size_t len, char *out, size_t outlen)
{
	json_t *flat = spec_flat(yaml, len);
	const char *model = json_string_value(json_object_get(flat, "model"));
	const char *preset = json_string_value(json_object_get(flat, "model.preset"));
	if (word_like(preset))
		snprintf(out, outlen, "%s", preset);
	else if (word_like(model))
		snprintf(out, outlen, "%s", model);
	else if (model && model[0] == '[')
		snprintf(out, outlen, "%s", strstr(model, "conv") ? "cnn" : "mlp");
	else
		snprintf(out, outlen, "model");
	json_decref(flat);
}

void spec_dataset(const char *yaml, size_t len, char *out, size_t outlen)
{
	json_t *flat = spec_flat(yaml, len);
	const char *v = json_string_value(json_object_get(flat, "data.dataset"));
	snprintf(out, outlen, "%s", word_like(v) ? v : "");
	json_decref(flat);
}
