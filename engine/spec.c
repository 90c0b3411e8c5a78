/*
 * spec.c — the run spec parser's front: YAML text (or a file) in, struct
 * spec or located errors out, plus the error list and did-you-mean helpers
 * everything else uses.
 *
 * What it is: loading the YAML with libyaml, turning its syntax errors into
 * "line:column: what" messages, applying overrides, handing the tree to the
 * converter and keeping the spec's source text for checkpoints. What it is
 * not: the schema (spec_sections.c, spec_model.c, spec_augment.c) nor the
 * override walker (spec_override.c).
 *
 * Threads: no globals; every call works on its own parser and document, so
 * any thread may parse at any time.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_internal.h"
#include "tb.h"

#define SPEC_FILE_MAX (1 << 20) /* a spec is a page of YAML; anything bigger is a mistake */
#define SPEC_MAX_DEPTH 64       /* collections inside collections; a spec uses about six */

/* ---- errors -------------------------------------------------------------------- */

void spec_error_add(struct spec_errors *errs, struct spec_pos pos, const char *fmt, ...)
{
	if (errs->count >= SPEC_MAX_ERRORS)
		return;
	struct spec_error *e = &errs->list[errs->count++];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	/* One error is one line, whatever the YAML's strings held. */
	for (char *p = e->message; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7F)
			*p = ' ';
	e->pos = pos;
}

void spec_errors_print(const struct spec_errors *errs, void *stdio_file)
{
	FILE *f = stdio_file;
	const char *name = errs->filename[0] ? errs->filename : "<cell>";
	for (int i = 0; i < errs->count; i++) {
		const struct spec_error *e = &errs->list[i];
		if (e->pos.line > 0)
			fprintf(f, "%s:%d:%d: error: %s\n", name, e->pos.line, e->pos.column, e->message);
		else
			fprintf(f, "%s: error: %s\n", name, e->message);
	}
}

/* Errors are found section by section; show them in source order, like a compiler. */
static void errors_sort(struct spec_errors *errs)
{
	for (int i = 1; i < errs->count; i++) {
		struct spec_error e = errs->list[i];
		int j = i;
		while (j > 0 && (errs->list[j - 1].pos.line > e.pos.line ||
				 (errs->list[j - 1].pos.line == e.pos.line &&
				  errs->list[j - 1].pos.column > e.pos.column))) {
			errs->list[j] = errs->list[j - 1];
			j--;
		}
		errs->list[j] = e;
	}
}

/* ---- did you mean --------------------------------------------------------------- */

/* Optimal string alignment distance (a swap of neighbours counts 1), case-insensitive. */
static int edit_distance(const char *a, const char *b)
{
	int la = (int)strlen(a), lb = (int)strlen(b);
	int rows[3][SPEC_NAME_MAX + 1];
	int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
	for (int j = 0; j <= lb; j++)
		prev[j] = j;
	for (int i = 1; i <= la; i++) {
		cur[0] = i;
		for (int j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
			int cost = ca != cb;
			int d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (prev[j - 1] + cost < d)
				d = prev[j - 1] + cost;
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < d)
				d = prev2[j - 2] + 1;
			cur[j] = d;
		}
		int *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

const char *spec_suggest(const char *word, const char *const *known, int nknown)
{
	const char *best = NULL;
	int best_d = 3;
	if (!word || strlen(word) > SPEC_NAME_MAX)
		return NULL;
	for (int i = 0; i < nknown; i++) {
		if (!known[i] || strlen(known[i]) > SPEC_NAME_MAX)
			continue;
		int d = edit_distance(word, known[i]);
		/* "ab" is two edits from "lr" but not a misspelling of it. */
		if (d < best_d && d < (int)strlen(known[i])) {
			best = known[i];
			best_d = d;
		}
	}
	return best;
}

/* ---- YAML syntax errors ------------------------------------------------------------ */

/* The reader reports byte offsets; turn one into a 1-based line and character column. */
static struct spec_pos offset_pos(const char *text, size_t len, size_t offset)
{
	struct spec_pos p = {1, 1};
	for (size_t i = 0; i < offset && i < len; i++) {
		if (text[i] == '\n') {
			p.line++;
			p.column = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			p.column++;
		}
	}
	return p;
}

/* Spaces before the first other character of the line that starts at `line`. */
static int indent_of(const char *line, const char *end)
{
	int n = 0;
	while (line + n < end && line[n] == ' ')
		n++;
	return n;
}

/*
 * libyaml says "mapping values are not allowed in this context" when a
 * `key: value` turns up where a plain value was expected. A newcomer has
 * done one of two things: written a nested mapping on its parent's line
 * (`model: relu: 3`) or indented a key deeper than its siblings. Say which,
 * from the text around the colon at `mark`.
 */
static void colon_hint(const char *text, size_t len, yaml_mark_t mark, char *hint, size_t size)
{
	const char *end = text + len, *start = text;
	for (size_t l = 0; l < mark.line && start < end; start++)
		l += *start == '\n';
	const char *colon = start;
	for (size_t c = 0; c < mark.column && colon < end && *colon != '\n'; c++) /* characters, not bytes */
		for (colon++; colon < end && ((unsigned char)*colon & 0xC0) == 0x80; colon++)
			;
	for (const char *q = start; q + 1 < colon; q++) {
		if (q[0] == ':' && (q[1] == ' ' || q[1] == '\t')) {
			tb_fmt(hint, size, "; a nested mapping cannot share its key's line: put it on the lines "
					   "below, indented, or write it in braces ({key: value})");
			return;
		}
	}
	/* The nearest line above that holds something: the sibling the key should line up with. */
	const char *prev = start;
	while (prev > text) {
		const char *line_end = prev - 1, *line = line_end;
		while (line > text && line[-1] != '\n')
			line--;
		int ind = indent_of(line, line_end);
		prev = line;
		if (line + ind < line_end && line[ind] != '#') {
			int mine = indent_of(start, end);
			if (mine > ind)
				tb_fmt(hint, size, "; this line is indented %d spaces but the line above it %d: keys of one "
						   "mapping line up, and only a key ending in ':' takes an indented block",
				       mine, ind);
			return;
		}
	}
}

static void syntax_error(const yaml_parser_t *p, const char *text, size_t len,
			 struct spec_errors *errs)
{
	const char *problem = p->problem ? p->problem : "unreadable YAML";
	if (p->error == YAML_MEMORY_ERROR) {
		fprintf(stderr, "trainbook: out of memory parsing a spec\n");
		abort();
	}
	if (p->error == YAML_READER_ERROR) {
		struct spec_pos pos = offset_pos(text, len, p->problem_offset);
		spec_error_add(errs, pos, "YAML syntax error: %s (byte 0x%02x)", problem,
			       (unsigned)p->problem_value & 0xFF);
		return;
	}
	struct spec_pos pos = {(int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1};
	size_t at = p->problem_mark.index;
	if (at < len && text[at] == '\t') {
		spec_error_add(errs, pos, "YAML syntax error: a tab character; YAML indents with "
					  "spaces only");
		return;
	}
	char hint[160] = "";
	if (!strcmp(problem, "mapping values are not allowed in this context"))
		colon_hint(text, len, p->problem_mark, hint, sizeof(hint));
	if (p->context)
		spec_error_add(errs, pos, "YAML syntax error: %s (%s at %d:%d)%s", problem, p->context,
			       (int)p->context_mark.line + 1, (int)p->context_mark.column + 1, hint);
	else
		spec_error_add(errs, pos, "YAML syntax error: %s%s", problem, hint);
}

/*
 * libyaml's scanner does work proportional to the flow nesting depth for
 * every token, so 200k nested `[` take minutes. A spec needs six levels;
 * refuse deep nesting with a cheap event pass that stops as soon as it is
 * too deep. Returns false after reporting; syntax errors are left to the loader.
 */
static bool depth_check(const char *text, size_t len, struct spec_errors *errs)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0;
	bool ok = true, more = true;
	if (!yaml_parser_initialize(&p)) {
		fprintf(stderr, "trainbook: out of memory parsing a spec\n");
		abort();
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (more && yaml_parser_parse(&p, &ev)) {
		if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		if (depth > SPEC_MAX_DEPTH) {
			spec_error_add(errs, (struct spec_pos){(int)ev.start_mark.line + 1,
							       (int)ev.start_mark.column + 1},
				       "nested more than %d levels deep", SPEC_MAX_DEPTH);
			ok = false;
		}
		more = ok && ev.type != YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return ok;
}

/* A second `---` document would be silently ignored otherwise. */
static void second_document_check(yaml_parser_t *p, const char *text, size_t len,
				  struct spec_errors *errs)
{
	yaml_document_t doc;
	if (!yaml_parser_load(p, &doc)) {
		syntax_error(p, text, len, errs);
		return;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root)
		spec_error_add(errs, (struct spec_pos){(int)doc.start_mark.line + 1,
						       (int)doc.start_mark.column + 1},
			       "a spec is one YAML document, but a second one starts here");
	yaml_document_delete(&doc);
}

/* ---- source text for checkpoints ------------------------------------------------------ */

struct text_buf {
	char *data;
	size_t len, cap;
};

static void buf_append(struct text_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (b->len + n + 1 > cap)
			cap *= 2;
		char *d = tb_xmalloc(cap);
		if (b->data)
			memcpy(d, b->data, b->len);
		free(b->data);
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static int emit_write(void *data, unsigned char *bytes, size_t size)
{
	buf_append(data, (const char *)bytes, size);
	return 1;
}

/*
 * With overrides, the text the run really used is the tree re-written: the
 * emitter quotes whatever needs it, so parsing it again gives the same spec.
 * Comments of the original are lost; a first comment line lists the
 * overrides. yaml_emitter_dump consumes the document, even on failure.
 */
static char *source_emit(yaml_document_t *doc, const char *const *overrides, int n)
{
	struct text_buf b = {0};
	yaml_emitter_t em;
	buf_append(&b, "# spec after --set", 18);
	for (int i = 0; i < n; i++) {
		size_t start = b.len + 1;
		buf_append(&b, i ? ", " : " ", i ? 2 : 1);
		buf_append(&b, overrides[i], strlen(overrides[i]));
		/* The comment must stay one line of valid text whatever the override held. */
		for (size_t j = start; j < b.len; j++)
			if ((unsigned char)b.data[j] < 0x20 || (unsigned char)b.data[j] >= 0x7F)
				b.data[j] = '?';
	}
	buf_append(&b, "\n", 1);
	/* The emitter writes an empty plain scalar inside [..] or {..} as '', which
	 * reads back as an empty string, not as null: spell null as ~. */
	for (yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++) {
		if (spec_is_null(n) && n->data.scalar.length == 0) {
			yaml_char_t *tilde = tb_xmalloc(2);
			memcpy(tilde, "~", 2);
			free(n->data.scalar.value); /* libyaml allocates with malloc */
			n->data.scalar.value = tilde;
			n->data.scalar.length = 1;
		}
	}
	if (!yaml_emitter_initialize(&em)) {
		yaml_document_delete(doc);
		free(b.data);
		return NULL;
	}
	yaml_emitter_set_output(&em, emit_write, &b);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	int ok = yaml_emitter_open(&em) && yaml_emitter_dump(&em, doc) && yaml_emitter_close(&em) &&
		 yaml_emitter_flush(&em);
	yaml_emitter_delete(&em);
	if (!ok) {
		free(b.data);
		return NULL;
	}
	return b.data;
}

/* ---- parse ----------------------------------------------------------------------- */

int spec_parse(const char *text, size_t len, const char *filename,
	       const char *const *overrides, int noverrides,
	       struct spec *out, struct spec_errors *errs)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	bool have_doc = false;
	struct spec_ctx c = {.doc = &doc, .errs = errs, .overrides = overrides,
			     .noverrides = noverrides > 0 && overrides ? noverrides : 0};

	memset(errs, 0, sizeof(*errs));
	spec_copy_name(errs->filename, sizeof(errs->filename), filename ? filename : "<cell>");
	memset(out, 0, sizeof(*out));
	if (!text)
		len = 0;
	if (!depth_check(text ? text : "", len, errs))
		return -1;
	if (!yaml_parser_initialize(&parser)) {
		fprintf(stderr, "trainbook: out of memory parsing a spec\n");
		abort();
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""), len);
	if (!yaml_parser_load(&parser, &doc)) {
		syntax_error(&parser, text, len, errs);
		goto fail;
	}
	have_doc = true;
	c.text_nodes = (int)(doc.nodes.top - doc.nodes.start);
	if (yaml_document_get_root_node(&doc))
		second_document_check(&parser, text, len, errs);
	if (c.noverrides)
		spec_overrides_apply(&c);

	yaml_node_t *root = yaml_document_get_root_node(&doc);
	char got[64];
	if (!root) {
		spec_error_add(errs, (struct spec_pos){1, 1},
			       "the spec is empty; expected a mapping with sections such as data: and "
			       "model:");
	} else if (root->type != YAML_MAPPING_NODE) {
		spec_describe(root, got, sizeof(got));
		spec_fail(&c, root, "expected a mapping of sections (data:, model:, ...) at the top "
				    "level, got %s", got);
	} else {
		spec_convert(&c, root, out);
	}
	if (errs->count)
		goto fail;

	if (c.noverrides) {
		have_doc = false; /* the emitter frees it */
		out->source = source_emit(&doc, overrides, c.noverrides);
		if (!out->source) {
			spec_error_add(errs, (struct spec_pos){0, 0},
				       "could not re-write the spec after --set overrides");
			goto fail;
		}
	} else {
		out->source = tb_xmalloc(len + 1);
		memcpy(out->source, text, len);
		out->source[len] = '\0';
	}
	if (have_doc)
		yaml_document_delete(&doc);
	free(c.override_first);
	yaml_parser_delete(&parser);
	return 0;

fail:
	errors_sort(errs);
	if (have_doc)
		yaml_document_delete(&doc);
	free(c.override_first);
	yaml_parser_delete(&parser);
	spec_free(out);
	return -1;
}

int spec_parse_file(const char *path, const char *const *overrides, int noverrides,
		    struct spec *out, struct spec_errors *errs)
{
	FILE *f = path ? fopen(path, "rb") : NULL;
	memset(errs, 0, sizeof(*errs));
	spec_copy_name(errs->filename, sizeof(errs->filename), path ? path : "<none>");
	memset(out, 0, sizeof(*out));
	if (!f) {
		spec_error_add(errs, (struct spec_pos){0, 0}, "cannot read the spec: %s",
			       path ? strerror(errno) : "no file given");
		return -1;
	}
	char *text = tb_xmalloc(SPEC_FILE_MAX + 1);
	size_t len = fread(text, 1, SPEC_FILE_MAX + 1, f);
	int failed = ferror(f);
	fclose(f);
	if (failed || len > SPEC_FILE_MAX) {
		spec_error_add(errs, (struct spec_pos){0, 0}, "cannot read the spec: %s",
			       failed ? "read error" : "larger than 1 MiB");
		free(text);
		return -1;
	}
	int rc = spec_parse(text, len, path, overrides, noverrides, out, errs);
	free(text);
	return rc;
}

void spec_free(struct spec *s)
{
	if (!s)
		return;
	free(s->source);
	memset(s, 0, sizeof(*s));
}
