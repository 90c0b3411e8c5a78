/*
 * export.c — metric rows as CSV or JSON, a page at a time (see export.h).
 *
 * Threads: whichever thread owns the export.
 */
#include "export.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "tb.h"
#include "util.h"

struct export
{
	struct store *store;
	int64_t run;
	enum export_format format;
	json_t *names;  /* CSV columns */
	int64_t cursor; /* seq of the last row formatted */
	int rows;       /* rows formatted so far */
	bool head_done, tail_done;
	struct srv_buf out; /* formatted, not yet read */
	size_t out_pos;
};

/* Append a CSV field, quoted when it holds a comma, quote or newline. */
static void csv_field(struct srv_buf *out, const char *v)
{
	if (!strpbrk(v, ",\"\n\r")) {
		srv_buf_puts(out, v);
		return;
	}
	srv_buf_puts(out, "\"");
	for (const char *p = v; *p; p++) {
		if (*p == '"')
			srv_buf_puts(out, "\"\"");
		else
			srv_buf_append(out, p, 1);
	}
	srv_buf_puts(out, "\"");
}

static void csv_number(struct srv_buf *out, json_t *v)
{
	if (json_is_integer(v))
		srv_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_number(v) && isfinite(json_number_value(v)))
		srv_buf_printf(out, "%.9g", json_number_value(v));
}

static void csv_row(struct export *e, const struct store_metric_row *row)
{
	struct srv_buf *out = &e->out;
	if (row->has_step)
		srv_buf_printf(out, "%" PRId64, row->step);
	srv_buf_puts(out, ",");
	if (row->has_epoch)
		srv_buf_printf(out, "%" PRId64, row->epoch);
	srv_buf_puts(out, ",");
	csv_field(out, row->split);
	srv_buf_puts(out, ",");
	if (row->has_time)
		srv_buf_printf(out, "%.3f", row->time);
	json_t *values = json_loads(row->vals, 0, NULL), *name;
	size_t k;
	json_array_foreach(e->names, k, name)
	{
		srv_buf_puts(out, ",");
		csv_number(out, json_object_get(values, json_string_value(name)));
	}
	json_decref(values);
	srv_buf_puts(out, "\n");
}

static void json_row(struct export *e, const struct store_metric_row *row)
{
	struct srv_buf *out = &e->out;
	srv_buf_puts(out, e->rows ? ",{\"step\":" : "{\"step\":");
	if (row->has_step)
		srv_buf_printf(out, "%" PRId64, row->step);
	else
		srv_buf_puts(out, "null");
	srv_buf_puts(out, ",\"epoch\":");
	if (row->has_epoch)
		srv_buf_printf(out, "%" PRId64, row->epoch);
	else
		srv_buf_puts(out, "null");
	json_t *split = json_string(row->split);
	char *split_text = json_dumps(split, JSON_ENCODE_ANY);
	srv_buf_printf(out, ",\"split\":%s,\"time\":", split_text ? split_text : "\"train\"");
	free(split_text);
	json_decref(split);
	/* Milliseconds, as the worker wrote them (a 10-digit real would round to seconds). */
	if (row->has_time && isfinite(row->time))
		srv_buf_printf(out, "%.3f", row->time);
	else
		srv_buf_puts(out, "null");
	srv_buf_puts(out, ",\"values\":");
	srv_buf_puts(out, row->vals && *row->vals ? row->vals : "{}");
	srv_buf_puts(out, "}");
}

static int format_row(void *ctx, const struct store_metric_row *row)
{
	struct export *e = ctx;
	if (e->format == EXPORT_CSV)
		csv_row(e, row);
	else
		json_row(e, row);
	e->cursor = row->seq;
	e->rows++;
	return 0;
}

struct export *export_new(struct store *s, int64_t run, enum export_format format)
{
	struct export *e = tb_xcalloc(1, sizeof *e);
	e->store = s;
	e->run = run;
	e->format = format;
	e->names = store_metric_names(s, run);
	return e;
}

/* Format the next part of the answer into e->out; false when nothing is left. */
static bool refill(struct export *e)
{
	if (!e->head_done) {
		e->head_done = true;
		if (e->format == EXPORT_CSV) {
			srv_buf_puts(&e->out, "step,epoch,split,time");
			json_t *name;
			size_t k;
			json_array_foreach(e->names, k, name)
			{
				srv_buf_puts(&e->out, ",");
				csv_field(&e->out, json_string_value(name));
			}
			srv_buf_puts(&e->out, "\n");
		} else {
			srv_buf_printf(&e->out, "{\"run\":\"r%" PRId64 "\",\"metrics\":[", e->run);
		}
		return true;
	}
	if (e->tail_done)
		return false;
	int n = store_metrics_foreach(e->store, e->run, e->cursor, EXPORT_PAGE_ROWS, format_row, e);
	if (n < EXPORT_PAGE_ROWS) {
		e->tail_done = true;
		if (e->format == EXPORT_JSON)
			srv_buf_puts(&e->out, "]}");
	}
	return true;
}

size_t export_read(struct export *e, char *buf, size_t max)
{
	while (e->out_pos == e->out.len) {
		e->out.len = 0;
		e->out_pos = 0;
		if (!refill(e))
			return 0;
	}
	size_t n = e->out.len - e->out_pos;
	if (n > max)
		n = max;
	memcpy(buf, e->out.data + e->out_pos, n);
	e->out_pos += n;
	return n;
}

void export_free(struct export *e)
{
	if (!e)
		return;
	json_decref(e->names);
	srv_buf_free(&e->out);
	free(e);
}
