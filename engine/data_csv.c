/*
 * data_csv.c — tabular data from comma-separated files: every column but
 * one is a float32 feature, the remaining column is the label.
 *
 * What it is: an optional header line (data.header), the label column by
 * header name or 0-based index (data.label_column; default the last
 * column), labels that are non-negative integers (used as class indices)
 * or arbitrary strings (classes sorted by name), double-quoted fields with
 * "" escapes, CRLF line ends, a UTF-8 byte-order mark. A test file
 * (data.test_path) or a test_fraction split off the train file.
 * Every parse error names file:line:column and the column's name.
 * What it is not: a streaming reader (the file is read whole, as the data
 * set lives in memory anyway) or a dialect guesser (comma only).
 *
 * Threads: caller's thread only.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "tb.h"

#define CSV_MAX_COLUMNS 100000
/* Integer labels become class indices; a larger value is almost surely an
 * id column picked by mistake, and would size the output layer absurdly. */
#define CSV_MAX_CLASSES 100000

struct csv_field {
	char *text;     /* NUL-terminated, unquoted, in the table's buffer */
	int column;     /* 1-based character column where the field starts */
};

/* One parsed file. Fields are cut out of `text` in place, so labels are
 * pointers into it and it lives until the labels are resolved. */
struct csv_table {
	const char *path;
	char *text;              /* the whole file; owned */
	size_t text_len;
	int64_t max_rows;        /* rows the arrays below were sized for (line ends + 1) */
	int ncols;               /* fields per row */
	int label_col;           /* 0-based */
	int64_t rows;
	float *features;         /* rows × (ncols - 1); owned; NULL when probing */
	char **labels;           /* rows pointers into text; owned array */
	int64_t *lines;          /* source line of each row, for label errors; owned */
};

static void csv_table_free(struct csv_table *t)
{
	free(t->text);
	free(t->features);
	free(t->labels);
	free(t->lines);
	memset(t, 0, sizeof(*t));
}

/*
 * Split one line (NUL-terminated, no line end) into fields in place.
 * Returns the field count, growing *fields as needed, or -1 with err set
 * for an unterminated quote.
 */
static int csv_split(char *line, const char *path, int64_t lineno, struct csv_field **fields,
		     int *cap, char *err, size_t errlen)
{
	int n = 0;
	char *p = line;
	for (;;) {
		if (n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*fields = tb_xrealloc(*fields, (size_t)*cap * sizeof(**fields));
		}
		struct csv_field *f = &(*fields)[n++];
		f->column = (int)(p - line) + 1;
		if (*p == '"') {
			/* Unquote in place: the write cursor trails the read one. */
			char *out = p, *in = p + 1;
			f->text = out;
			for (;;) {
				if (*in == 0)
					return data_fail(err, errlen, "%s:%lld:%d: unterminated quote",
							 path, (long long)lineno, f->column);
				if (*in == '"' && in[1] == '"') {
					*out++ = '"';
					in += 2;
				} else if (*in == '"') {
					in++;
					break;
				} else {
					*out++ = *in++;
				}
			}
			char *after = in;
			while (*after == ' ' || *after == '\t')
				after++;
			if (*after != ',' && *after != 0)
				return data_fail(err, errlen, "%s:%lld:%d: text after a closing quote",
						 path, (long long)lineno, (int)(after - line) + 1);
			*out = 0;
			if (*after == 0)
				return n;
			p = after + 1;
			continue;
		}
		f->text = p;
		char *comma = strchr(p, ',');
		if (!comma)
			return n;
		*comma = 0;
		p = comma + 1;
	}
}

/* Trim spaces and tabs in place (fields are written "1, 2" often enough). */
static char *csv_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = 0;
	return s;
}

/* Cut the next line out of *cursor: NUL-terminated, CR stripped. */
static char *csv_next_line(char **cursor, int64_t *lineno)
{
	char *line = *cursor;
	if (*line == 0)
		return NULL;
	char *nl = strchr(line, '\n');
	if (nl) {
		*nl = 0;
		*cursor = nl + 1;
	} else {
		*cursor = line + strlen(line);
	}
	size_t len = strlen(line);
	if (len && line[len - 1] == '\r')
		line[len - 1] = 0;
	(*lineno)++;
	return line;
}

static int csv_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == 0;
}

/* The label column: a header name, a 0-based index, or "" for the last. */
static int csv_label_column(const struct spec_data *spec, const char *path,
			    const struct csv_field *header, int ncols, char *err, size_t errlen)
{
	const char *want = spec->label_column;
	if (!want[0])
		return ncols - 1;
	if (header) {
		for (int i = 0; i < ncols; i++)
			if (strcmp(csv_trim(header[i].text), want) == 0)
				return i;
	}
	char *end;
	errno = 0;
	long index = strtol(want, &end, 10);
	if (end != want && *end == 0 && errno == 0) {
		if (index < 0 || index >= ncols)
			return data_fail(err, errlen,
					 "%s: data.label_column %ld is out of range (the file has "
					 "%d columns, numbered from 0)",
					 path, index, ncols);
		return (int)index;
	}
	if (!header)
		return data_fail(err, errlen,
				 "%s: data.label_column '%s' is a name but data.header is false; "
				 "give a 0-based column index",
				 path, want);
	return data_fail(err, errlen, "%s: no column named '%s' in the header (first column '%s')",
			 path, want, header[0].text);
}

/*
 * Append one split row to t: the label text, and (unless probing) the
 * features converted to float. `names` are the header names or NULL.
 */
static int csv_add_row(struct csv_table *t, struct csv_field *fields, int nf, char **names,
		       int64_t lineno, int probe, char *err, size_t errlen)
{
	if (nf != t->ncols)
		return data_fail(err, errlen, "%s:%lld: expected %d fields, got %d", t->path,
				 (long long)lineno, t->ncols, nf);
	float *row = probe ? NULL : t->features + t->rows * (t->ncols - 1);
	for (int i = 0, k = 0; i < nf; i++) {
		char *text = csv_trim(fields[i].text);
		if (i == t->label_col) {
			t->labels[t->rows] = text;
			continue;
		}
		if (probe)
			continue;
		char *end;
		float v = strtof(text, &end);
		if (end == text || *end != 0 || !isfinite(v)) {
			char col[SPEC_NAME_MAX + 16];
			if (names[i])
				snprintf(col, sizeof(col), "column '%.60s'", names[i]);
			else
				snprintf(col, sizeof(col), "column %d", i);
			return data_fail(err, errlen,
					 "%s:%lld:%d: expected a finite number in %s, got '%.40s'",
					 t->path, (long long)lineno, fields[i].column, col, text);
		}
		row[k++] = v;
	}
	t->lines[t->rows] = lineno;
	t->rows++;
	return 0;
}

/*
 * Read and parse one file. With probe set, features are counted but not
 * converted (probing wants the shape and the label set only).
 */
static int csv_parse(const struct spec_data *spec, const char *path, int probe,
		     const volatile sig_atomic_t *stop, struct csv_table *t, char *err, size_t errlen)
{
	struct csv_field *fields = NULL;
	char **names = NULL; /* header names (pointers into t->text), for messages */
	int cap = 0, nf;
	size_t len, bytes;
	int64_t lineno = 0;
	char *line;
	memset(t, 0, sizeof(*t));
	t->path = path;
	if (tb_read_file(path, &t->text, &len) != 0)
		return data_fail(err, errlen,
				 "csv: %s not found or unreadable (set data.path to the train CSV "
				 "file)",
				 path);
	t->text_len = len;
	/* Lines are C strings: a NUL byte would silently end the file there. */
	const char *nul = memchr(t->text, 0, len);
	if (nul) {
		int64_t at = 1;
		for (const char *c = t->text; c < nul; c++)
			at += *c == '\n';
		data_fail(err, errlen, "%s:%lld: a NUL byte: not a CSV text file", path, (long long)at);
		goto fail;
	}
	char *cursor = t->text;
	if (len >= 3 && memcmp(cursor, "\xef\xbb\xbf", 3) == 0)
		cursor += 3; /* UTF-8 byte-order mark, as spreadsheet exports write */
	int64_t max_rows = 1;
	for (const char *c = cursor; *c; c++)
		max_rows += *c == '\n';
	while ((line = csv_next_line(&cursor, &lineno)) && csv_blank(line))
		;
	if (!line) {
		data_fail(err, errlen, "%s: empty file", path);
		goto fail;
	}
	/* The first non-blank line fixes the column count; it is the header
	 * or the first data row. */
	nf = csv_split(line, path, lineno, &fields, &cap, err, errlen);
	if (nf < 0)
		goto fail;
	if (nf < 2 || nf > CSV_MAX_COLUMNS) {
		data_fail(err, errlen,
			  "%s:%lld: expected 2 to %d columns (features and a label), got %d", path,
			  (long long)lineno, CSV_MAX_COLUMNS, nf);
		goto fail;
	}
	t->ncols = nf;
	names = tb_xcalloc((size_t)nf, sizeof(*names));
	for (int i = 0; i < nf && spec->header; i++)
		names[i] = csv_trim(fields[i].text);
	t->label_col = csv_label_column(spec, path, spec->header ? fields : NULL, nf, err, errlen);
	if (t->label_col < 0)
		goto fail;
	if (!probe &&
	    (__builtin_mul_overflow((size_t)max_rows, (size_t)(nf - 1) * sizeof(float), &bytes) ||
	     !(t->features = malloc(bytes)))) {
		data_fail(err, errlen, "%s: cannot allocate memory for %lld rows", path,
			  (long long)max_rows);
		goto fail;
	}
	t->max_rows = max_rows;
	t->labels = tb_xmalloc((size_t)max_rows * sizeof(*t->labels));
	t->lines = tb_xmalloc((size_t)max_rows * sizeof(*t->lines));
	if (!spec->header && csv_add_row(t, fields, nf, names, lineno, probe, err, errlen))
		goto fail;
	while ((line = csv_next_line(&cursor, &lineno))) {
		if (lineno % DATA_STOP_EVERY == 0 && data_stopped(stop, err, errlen))
			goto fail;
		if (csv_blank(line))
			continue;
		nf = csv_split(line, path, lineno, &fields, &cap, err, errlen);
		if (nf < 0 || csv_add_row(t, fields, nf, names, lineno, probe, err, errlen))
			goto fail;
	}
	if (t->rows == 0) {
		/* Else probing would report 0 classes and check advise {linear: 0}. */
		data_fail(err, errlen, "%s: no data rows below the header", path);
		goto fail;
	}
	free(fields);
	free(names);
	return 0;
fail:
	free(fields);
	free(names);
	csv_table_free(t);
	return -1;
}

/* Is s a non-negative decimal integer that fits a class index? */
static int csv_class_index(const char *s, long *value)
{
	if (!isdigit((unsigned char)s[0]))
		return 0;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end != 0 || errno != 0)
		return 0;
	*value = v;
	return 1;
}

static int csv_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Give every row of the tables a class. If every label of every table is
 * a non-negative integer, the integers are the classes; otherwise the
 * distinct strings, sorted by name (strcmp), are. The same rule for train
 * and test keeps their numbering consistent.
 */
static int csv_classes(struct csv_table *tables, int ntables, int32_t **out_labels,
		       char ***out_names, int *out_classes, char *err, size_t errlen)
{
	int integers = 1;
	long max = -1, v = 0;
	int64_t total = 0;
	const struct csv_table *max_table = NULL;
	int64_t max_row = 0;
	for (int t = 0; t < ntables; t++) {
		total += tables[t].rows;
		for (int64_t i = 0; i < tables[t].rows && integers; i++) {
			if (!csv_class_index(tables[t].labels[i], &v)) {
				integers = 0;
			} else if (v > max) {
				max = v;
				max_table = &tables[t];
				max_row = i;
			}
		}
	}
	if (integers) {
		if (max >= CSV_MAX_CLASSES)
			return data_fail(err, errlen,
					 "%s:%lld: label %ld is too large for a class index (labels "
					 "must be 0..N-1 with N ≤ %d, or class names)",
					 max_table->path, (long long)max_table->lines[max_row], max,
					 CSV_MAX_CLASSES);
		for (int t = 0; t < ntables; t++)
			for (int64_t i = 0; i < tables[t].rows; i++) {
				csv_class_index(tables[t].labels[i], &v);
				out_labels[t][i] = (int32_t)v;
			}
		*out_names = NULL;
		*out_classes = (int)(max + 1);
		return 0;
	}
	char **sorted = tb_xmalloc((size_t)(total ? total : 1) * sizeof(char *));
	int64_t k = 0;
	for (int t = 0; t < ntables; t++)
		for (int64_t i = 0; i < tables[t].rows; i++)
			sorted[k++] = tables[t].labels[i];
	qsort(sorted, (size_t)total, sizeof(char *), csv_strcmp);
	int64_t unique = 0;
	for (int64_t i = 0; i < total; i++)
		if (unique == 0 || strcmp(sorted[unique - 1], sorted[i]) != 0)
			sorted[unique++] = sorted[i];
	if (unique > CSV_MAX_CLASSES) {
		free(sorted);
		return data_fail(err, errlen, "csv: %lld distinct labels; at most %d classes",
				 (long long)unique, CSV_MAX_CLASSES);
	}
	for (int t = 0; t < ntables; t++)
		for (int64_t i = 0; i < tables[t].rows; i++) {
			char **hit = bsearch(&tables[t].labels[i], sorted, (size_t)unique,
					     sizeof(char *), csv_strcmp);
			TB_ASSERT(hit);
			out_labels[t][i] = (int32_t)(hit - sorted);
		}
	*out_names = data_class_names_copy((const char *const *)sorted, (int)unique);
	*out_classes = (int)unique;
	free(sorted);
	return 0;
}

/* Turn a parsed table into a dataset (features are copied, labels set
 * later by csv_classes). */
static int csv_to_dataset(const struct csv_table *t, const char *name, struct dataset *d,
			  char *err, size_t errlen)
{
	if (data_dataset_alloc(d, name, DATASET_F32, t->rows, t->ncols - 1, 1, 1, 0, t->path, err,
			       errlen))
		return -1;
	memcpy(d->f32, t->features, (size_t)t->rows * (size_t)(t->ncols - 1) * sizeof(float));
	return 0;
}

/* Parse train (and test, when data.test_path is set) tables. */
static int csv_parse_all(const struct spec_data *spec, int probe, const volatile sig_atomic_t *stop,
			 struct csv_table tables[2], int *ntables, char *err, size_t errlen)
{
	if (!spec->path[0])
		return data_fail(err, errlen, "csv: set data.path to the train CSV file");
	if (csv_parse(spec, spec->path, probe, stop, &tables[0], err, errlen))
		return -1;
	*ntables = 1;
	if (!spec->test_path[0])
		return 0;
	if (csv_parse(spec, spec->test_path, probe, stop, &tables[1], err, errlen)) {
		csv_table_free(&tables[0]);
		return -1;
	}
	*ntables = 2;
	if (tables[1].ncols != tables[0].ncols) {
		data_fail(err, errlen, "%s has %d columns but %s has %d", spec->test_path,
			  tables[1].ncols, spec->path, tables[0].ncols);
		csv_table_free(&tables[0]);
		csv_table_free(&tables[1]);
		return -1;
	}
	return 0;
}

int data_csv_load(const struct spec_data *spec, const volatile sig_atomic_t *stop,
		  struct data_splits *out, char *err, size_t errlen)
{
	struct csv_table tables[2];
	int ntables = 0, classes = 0, rc = -1;
	char **names = NULL;
	struct dataset sets[2];
	memset(sets, 0, sizeof(sets));
	if (spec->test_fraction < 0.0 || spec->test_fraction >= 1.0)
		return data_fail(err, errlen, "csv: data.test_fraction must be in [0, 1), got %g",
				 spec->test_fraction);
	if (csv_parse_all(spec, 0, stop, tables, &ntables, err, errlen))
		return -1;
	for (int t = 0; t < ntables; t++)
		if (csv_to_dataset(&tables[t], t ? "csv/test" : "csv/train", &sets[t], err, errlen))
			goto done;
	int32_t *labels[2] = {sets[0].labels, sets[1].labels};
	if (csv_classes(tables, ntables, labels, &names, &classes, err, errlen))
		goto done;
	for (int t = 0; t < ntables; t++) {
		sets[t].classes = classes;
		sets[t].class_names = data_class_names_copy((const char *const *)names, classes);
	}
	if (ntables == 2) {
		out->train = sets[0];
		out->test = sets[1];
	} else {
		int64_t count = (int64_t)((double)sets[0].n * spec->test_fraction);
		data_split(&sets[0], count, DATA_TEST_SPLIT_KEY, &out->train, &out->test);
	}
	memset(sets, 0, sizeof(sets));
	rc = 0;
done:
	dataset_free(&sets[0]);
	dataset_free(&sets[1]);
	if (names)
		for (int i = 0; i < classes; i++)
			free(names[i]);
	free(names);
	for (int t = 0; t < ntables; t++)
		csv_table_free(&tables[t]);
	return rc;
}

/*
 * What loading holds besides the samples, at its peak: each file's text,
 * its parsed rows (features, label pointers, line numbers, sized for every
 * line end) while the datasets are copied from them, and the sorted labels
 * when labels are names.
 */
static int64_t csv_reader_bytes(const struct csv_table *tables, int ntables)
{
	int64_t bytes = 0, rows = 0;
	for (int t = 0; t < ntables; t++) {
		const struct csv_table *ct = &tables[t];
		bytes += (int64_t)ct->text_len +
			 ct->max_rows * ((int64_t)(ct->ncols - 1) * (int64_t)sizeof(float) + 2 * (int64_t)sizeof(int64_t));
		rows += ct->rows;
	}
	return bytes + rows * (int64_t)sizeof(char *);
}

int data_csv_probe(const struct spec_data *spec, struct data_info *out, char *err, size_t errlen)
{
	struct csv_table tables[2];
	int ntables = 0, rc = -1, classes = 0;
	char **names = NULL;
	int32_t *labels[2] = {NULL, NULL};
	if (csv_parse_all(spec, 1, NULL, tables, &ntables, err, errlen))
		return -1;
	for (int t = 0; t < ntables; t++)
		labels[t] = tb_xmalloc((size_t)(tables[t].rows ? tables[t].rows : 1) * sizeof(int32_t));
	if (csv_classes(tables, ntables, labels, &names, &classes, err, errlen))
		goto done;
	*out = (struct data_info){
		.c = tables[0].ncols - 1, .h = 1, .w = 1, .classes = classes, .storage = DATASET_F32,
		.reader_bytes = csv_reader_bytes(tables, ntables),
	};
	if (ntables == 2) {
		out->train_n = tables[0].rows;
		out->test_n = tables[1].rows;
	} else {
		/* As data_csv_load splits: a test_fraction of the file, the rest is train. */
		out->test_n = (int64_t)((double)tables[0].rows * spec->test_fraction);
		out->train_n = tables[0].rows - out->test_n;
		out->test_carved = true;
	}
	rc = 0;
done:
	if (names)
		for (int i = 0; i < classes; i++)
			free(names[i]);
	free(names);
	for (int t = 0; t < ntables; t++) {
		free(labels[t]);
		csv_table_free(&tables[t]);
	}
	return rc;
}
