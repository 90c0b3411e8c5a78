/*
 * store_series.c — a metric's curve at any zoom without reading every
 * point: summaries ("tiles") of the raw metric rows at eight levels, kept
 * as metrics arrive, and the query that answers GET /api/runs/<id>/series
 * from them (see store.h, store_series_json).
 *
 * A tile of level k holds the raw points of one split and metric whose
 * steps fall in one window of 4^(k+1) steps (16, 64, … 262,144): how many
 * (a folded event counts for the events it stands for), their sum, min
 * and max (a folded event's window min and max included: docs/api.md
 * "thinned"), the first step, the last step with its value and wall time,
 * and the first and last seq of those points. A query for ~2,000 buckets
 * over any range reads at most four tiles per bucket from the coarsest
 * level that is fine enough (one million points drawn whole read ~4,000
 * rows, not 10^6); when the range is narrow enough for full resolution it
 * reads the raw metric rows, found by the seqs of its level-1 tiles (the
 * metrics table's own key: no second index to write on every event).
 *
 * Writing eight tiles per metric per event would make every commit touch
 * eight more pages (the WAL grew four times as fast). So the tiles a
 * series is filling sit in memory (struct series_buffer) and go to the
 * table as one delta per level when the series moves on to that level's
 * next window (16 steps for level 1, 64 for level 2, …), when its run
 * ends, and when the store closes; queries merge what is still buffered.
 * A run that was running when the server died may have lost its buffer:
 * store_open rebuilds the tiles of every run still marked running.
 *
 * What it is not: the raw record (metrics rows, store_events.c) or the
 * drawing (web/src/curves.js). Tiles are derived data: store_open builds
 * them for runs that have none yet (series_ready = 0: runs from before
 * migration 3, written into the database by another program, or cut off
 * by a crash).
 *
 * Threads: any; the public functions hold s->lock (store_series_add and
 * store_series_flush_run run inside the caller's append transaction, which
 * holds it). The buffers are guarded by s->lock.
 */
#include "store_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

#define TILE_LEVELS 8
/* Level k (1..TILE_LEVELS) spans 1 << tile_shift(k) steps. */
static int tile_shift(int level)
{
	return 2 * level + 2;
}

struct tile {
	int64_t n;  /* raw points (a folded event counts as its events) */
	double sum; /* of value × weight: the mean is sum / n */
	double lo, hi;
	int64_t first, last;
	double last_value;
	double last_time;            /* unix seconds of the last point; NaN when the worker sent none */
	int64_t first_seq, last_seq; /* of the metric rows it holds */
};

/* The columns n, sum, lo, hi, first_step, last_step, last_value of a series_tiles row, from `col` on. */
static struct tile tile_from_row(sqlite3_stmt *st, int col)
{
	return (struct tile){
		.n = sqlite3_column_int64(st, col),
		.sum = sqlite3_column_double(st, col + 1),
		.lo = sqlite3_column_double(st, col + 2),
		.hi = sqlite3_column_double(st, col + 3),
		.first = sqlite3_column_int64(st, col + 4),
		.last = sqlite3_column_int64(st, col + 5),
		.last_value = sqlite3_column_double(st, col + 6),
	};
}

static void tile_merge(struct tile *into, const struct tile *t)
{
	if (into->n == 0) {
		*into = *t;
		return;
	}
	into->n += t->n;
	into->sum += t->sum;
	into->lo = fmin(into->lo, t->lo);
	into->hi = fmax(into->hi, t->hi);
	into->first = TB_MIN(into->first, t->first);
	into->first_seq = TB_MIN(into->first_seq, t->first_seq);
	into->last_seq = TB_MAX(into->last_seq, t->last_seq);
	if (t->last >= into->last) { /* the later of equal steps wins: a resumed run redid them */
		into->last = t->last;
		into->last_value = t->last_value;
		into->last_time = t->last_time;
	}
}

/* floor(step / 2^shift), for negative steps too. */
static int64_t bucket_of(int64_t step, int shift)
{
	return step >= 0 ? step >> shift : -((-step - 1) >> shift) - 1;
}

/* One raw point: its value, the folded window's min/max and count when `thinned` says so. */
static bool point_of(json_t *v, const char *key, json_t *thinned, int64_t seq, int64_t step, double time,
		     struct tile *out)
{
	if (!json_is_number(v))
		return false;
	double x = json_number_value(v);
	if (!isfinite(x))
		return false;
	*out = (struct tile){.n = 1,
			     .lo = x,
			     .hi = x,
			     .first = step,
			     .last = step,
			     .last_value = x,
			     .last_time = time,
			     .first_seq = seq,
			     .last_seq = seq};
	if (thinned) {
		json_t *events = json_object_get(thinned, "events");
		json_t *lo = json_object_get(json_object_get(thinned, "min"), key);
		json_t *hi = json_object_get(json_object_get(thinned, "max"), key);
		if (json_is_integer(events) && json_integer_value(events) > 1)
			out->n = json_integer_value(events);
		if (json_is_number(lo) && isfinite(json_number_value(lo)))
			out->lo = fmin(x, json_number_value(lo));
		if (json_is_number(hi) && isfinite(json_number_value(hi)))
			out->hi = fmax(x, json_number_value(hi));
	}
	out->sum = x * (double)out->n;
	return true;
}

static const char UPSERT_TILE[] =
	"INSERT INTO series_tiles(run, split, metric, level, bucket, n, sum, lo, hi, first_step, last_step,"
	" last_value, last_time, first_seq, last_seq) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	" ?14, ?15) ON CONFLICT(run, level, split, metric, bucket) DO UPDATE SET n = n + excluded.n,"
	" sum = sum + excluded.sum, lo = min(lo, excluded.lo), hi = max(hi, excluded.hi),"
	" first_step = min(first_step, excluded.first_step), first_seq = min(first_seq, excluded.first_seq),"
	" last_seq = max(last_seq, excluded.last_seq),"
	" last_value = CASE WHEN excluded.last_step >= last_step THEN excluded.last_value ELSE last_value END,"
	" last_time = CASE WHEN excluded.last_step >= last_step THEN excluded.last_time ELSE last_time END,"
	" last_step = max(last_step, excluded.last_step)";

/* Add `t` to the tile (run, split, metric, level, bucket); caller holds the lock. */
static int put_tile(struct store *s, int64_t run, const char *split, const char *metric, int level, int64_t bucket,
		    const struct tile *t)
{
	int rc = store_write_cached(s, UPSERT_TILE,
				    ARGS(INT(run), TEXT(split), TEXT(metric), INT(level), INT(bucket), INT(t->n),
					 REAL(t->sum), REAL(t->lo), REAL(t->hi), INT(t->first), INT(t->last),
					 REAL(t->last_value), isfinite(t->last_time) ? REAL(t->last_time) : NULL_ARG,
					 INT(t->first_seq), INT(t->last_seq)),
				    NULL);
	return rc == STORE_OK ? 0 : -1;
}

/* ---- the tiles a series is filling ----------------------------------------------- */

/* What one series (run, split, metric) has added to its current tiles since they were last written. */
struct series_buffer {
	int64_t run;
	char split[64], metric[64];
	struct tile delta[TILE_LEVELS + 1]; /* per level; n == 0: nothing */
	int64_t bucket[TILE_LEVELS + 1];
};

#define SERIES_BUFFERS_MAX 4096 /* past this every buffer is written out */

static struct series_buffer *find_buffer(struct store *s, int64_t run, const char *split, const char *metric)
{
	for (int i = 0; i < s->nbuffers; i++) {
		struct series_buffer *b = &s->buffers[i];
		if (b->run == run && !strcmp(b->metric, metric) && !strcmp(b->split, split))
			return b;
	}
	return NULL;
}

static int flush_buffer(struct store *s, struct series_buffer *b)
{
	for (int k = 1; k <= TILE_LEVELS; k++) {
		if (!b->delta[k].n)
			continue;
		if (put_tile(s, b->run, b->split, b->metric, k, b->bucket[k], &b->delta[k]) < 0)
			return -1;
		b->delta[k] = (struct tile){0};
	}
	return 0;
}

static void drop_buffer(struct store *s, int i)
{
	s->buffers[i] = s->buffers[--s->nbuffers];
}

int store_series_add(struct store *s, int64_t run, const char *split, int64_t seq, int64_t step, double time,
		     json_t *values, json_t *thinned)
{
	const char *key;
	json_t *v;
	if (strlen(split) >= sizeof((struct series_buffer *)0)->split)
		return 0; /* not a split a chart draws */
	json_object_foreach(values, key, v)
	{
		struct tile t;
		if (strlen(key) >= sizeof((struct series_buffer *)0)->metric ||
		    !point_of(v, key, thinned, seq, step, time, &t))
			continue;
		struct series_buffer *b = find_buffer(s, run, split, key);
		if (!b) {
			if (s->nbuffers == SERIES_BUFFERS_MAX && store_series_flush_run(s, 0) < 0)
				return -1;
			if (s->nbuffers == s->cap_buffers) {
				s->cap_buffers = s->cap_buffers ? 2 * s->cap_buffers : 16;
				s->buffers = tb_xrealloc(s->buffers, (size_t)s->cap_buffers * sizeof *s->buffers);
			}
			b = &s->buffers[s->nbuffers++];
			*b = (struct series_buffer){.run = run};
			srv_strlcpy(b->split, split, sizeof b->split);
			srv_strlcpy(b->metric, key, sizeof b->metric);
		}
		/* Each level's delta goes out when the series leaves its window: level 1
		 * every 16 steps, level 2 every 64, … (a twelfth of a write per point). */
		for (int k = 1; k <= TILE_LEVELS; k++) {
			int64_t bucket = bucket_of(step, tile_shift(k));
			if (b->delta[k].n && b->bucket[k] != bucket) {
				if (put_tile(s, run, split, key, k, b->bucket[k], &b->delta[k]) < 0)
					return -1;
				b->delta[k] = (struct tile){0};
			}
			b->bucket[k] = bucket;
			tile_merge(&b->delta[k], &t);
		}
	}
	return 0;
}

int store_series_flush_run(struct store *s, int64_t run)
{
	for (int i = s->nbuffers - 1; i >= 0; i--) {
		if (run && s->buffers[i].run != run)
			continue;
		if (flush_buffer(s, &s->buffers[i]) < 0)
			return -1;
		drop_buffer(s, i);
	}
	return 0;
}

void store_series_forget(struct store *s, int64_t run)
{
	for (int i = s->nbuffers - 1; i >= 0; i--)
		if (!run || s->buffers[i].run == run)
			drop_buffer(s, i);
}

/* The buffered part of a series' tile at `level`, or NULL. */
static const struct tile *buffered(struct store *s, int64_t run, const char *split, const char *metric, int level,
				   int64_t *bucket)
{
	struct series_buffer *b = find_buffer(s, run, split, metric);
	if (!b || !b->delta[level].n)
		return NULL;
	*bucket = b->bucket[level];
	return &b->delta[level];
}

/* ---- building the tiles of a run from its metric rows ------------------------ */

/*
 * Tiles of one run from its metric rows, in one transaction; caller holds
 * the lock. The rows go through the same buffers as live points, in seq
 * order (the table's key): a resumed run that went back to older steps
 * reopens their tiles, and the upserts merge what it adds.
 */
static int build_run(struct store *s, int64_t run)
{
	store_series_forget(s, run);
	if (store_exec(s, "BEGIN IMMEDIATE") < 0)
		return -1;
	int rc = -1;
	sqlite3_stmt *del = store_prepare(s, "DELETE FROM series_tiles WHERE run = ?");
	sqlite3_stmt *st = store_prepare(s, "SELECT seq, split, step, vals, thin, time FROM metrics"
					    " WHERE run = ? AND step IS NOT NULL ORDER BY seq");
	sqlite3_stmt *done = store_prepare(s, "UPDATE runs SET series_ready = 1 WHERE id = ?");
	if (!del || !st || !done)
		goto out;
	sqlite3_bind_int64(del, 1, run);
	if (sqlite3_step(del) != SQLITE_DONE)
		goto out;
	sqlite3_bind_int64(st, 1, run);
	int step_rc;
	while ((step_rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *split = (const char *)sqlite3_column_text(st, 1);
		json_t *vals = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
		const char *thin_text = (const char *)sqlite3_column_text(st, 4);
		json_t *thin = thin_text ? json_loads(thin_text, 0, NULL) : NULL;
		double time = sqlite3_column_type(st, 5) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 5);
		int add_rc =
			store_series_add(s, run, split ? split : "train", sqlite3_column_int64(st, 0),
					 sqlite3_column_int64(st, 2), time, vals, json_is_object(thin) ? thin : NULL);
		json_decref(vals);
		json_decref(thin);
		if (add_rc < 0)
			goto out;
	}
	if (step_rc != SQLITE_DONE || store_series_flush_run(s, run) < 0)
		goto out;
	sqlite3_bind_int64(done, 1, run);
	rc = sqlite3_step(done) == SQLITE_DONE ? 0 : -1;
out:
	sqlite3_finalize(del);
	sqlite3_finalize(st);
	sqlite3_finalize(done);
	if (rc == 0 && store_exec(s, "COMMIT") == 0)
		return 0;
	if (!sqlite3_get_autocommit(s->db))
		store_exec(s, "ROLLBACK");
	store_series_forget(s, run);
	srv_log("store: cannot build the curve summaries of r%" PRId64 ": %s", run, sqlite3_errmsg(s->db));
	return -1;
}

int store_series_build_pending(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	int64_t *ids = NULL;
	int n = 0, cap = 0, failed = 0;
	/* A run still marked running lost what its series buffered when the server died. */
	store_exec(s, "UPDATE runs SET series_ready = 0 WHERE status = 'running'");
	sqlite3_stmt *st = store_prepare(s, "SELECT id FROM runs WHERE series_ready = 0 ORDER BY id");
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			ids = tb_xrealloc(ids, (size_t)cap * sizeof *ids);
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (n) {
		srv_log("store: building the curve summaries of %d run%s (once)", n, n == 1 ? "" : "s");
		double t0 = srv_unix_now_f();
		for (int i = 0; i < n; i++)
			failed += build_run(s, ids[i]) < 0;
		srv_log("store: curve summaries built in %.1f s", srv_unix_now_f() - t0);
	}
	free(ids);
	pthread_mutex_unlock(&s->lock);
	return failed ? -1 : 0;
}

/* ---- a run's metrics in a few numbers ------------------------------------------ */

/* Merge tile `t` into out[key] = {"last", "min", "max", "step", "count"}. */
static void add_metric_numbers(json_t *out, const char *key, const struct tile *t)
{
	json_t *have = json_object_get(out, key);
	struct tile acc = {0};
	if (have)
		acc = (struct tile){
			.n = json_integer_value(json_object_get(have, "count")),
			.lo = json_real_value(json_object_get(have, "min")),
			.hi = json_real_value(json_object_get(have, "max")),
			.last = json_integer_value(json_object_get(have, "step")),
			.first = json_integer_value(json_object_get(have, "step")),
			.last_value = json_real_value(json_object_get(have, "last")),
		};
	tile_merge(&acc, t);
	json_object_set_new(out, key,
			    json_pack("{s:f, s:f, s:f, s:I, s:I}", "last", acc.last_value, "min", acc.lo, "max", acc.hi,
				      "step", (json_int_t)acc.last, "count", (json_int_t)acc.n));
}

json_t *store_run_metrics_json(struct store *s, int64_t run)
{
	json_t *out = json_object();
	pthread_mutex_lock(&s->lock);
	/* The coarsest tiles: a few per metric however long the run (level follows run in the key). */
	sqlite3_stmt *st = store_query_cached(s,
					      "SELECT split, metric, n, sum, lo, hi, first_step, last_step,"
					      " last_value FROM series_tiles WHERE run = ? AND level = 8"
					      " ORDER BY split, metric, bucket",
					      ARGS(INT(run)));
	if (st) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			char key[200];
			snprintf(key, sizeof key, "%s/%s", (const char *)sqlite3_column_text(st, 0),
				 (const char *)sqlite3_column_text(st, 1));
			struct tile t = tile_from_row(st, 2);
			add_metric_numbers(out, key, &t);
		}
		store_release(s, st);
	}
	/* and what the run's series still buffer */
	for (int i = 0; i < s->nbuffers; i++) {
		const struct series_buffer *b = &s->buffers[i];
		if (b->run != run || !b->delta[TILE_LEVELS].n)
			continue;
		char key[200];
		snprintf(key, sizeof key, "%s/%s", b->split, b->metric);
		add_metric_numbers(out, key, &b->delta[TILE_LEVELS]);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

/* ---- the series query ---------------------------------------------------------- */

/* Output buckets, in step order; each is the merge of what fell in it. */
struct series_out {
	struct tile *b;
	int64_t *key; /* floor(step / width) of each bucket */
	int n, cap;
};

static void out_add(struct series_out *o, int64_t key, const struct tile *t, bool replace)
{
	if (o->n && o->key[o->n - 1] == key) {
		if (replace)
			o->b[o->n - 1] = *t; /* exact: the later row of a repeated step stands alone */
		else
			tile_merge(&o->b[o->n - 1], t);
		return;
	}
	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 256;
		o->b = tb_xrealloc(o->b, (size_t)o->cap * sizeof *o->b);
		o->key = tb_xrealloc(o->key, (size_t)o->cap * sizeof *o->key);
	}
	o->key[o->n] = key;
	o->b[o->n++] = *t;
}

/* Merge `t` into the bucket `key` wherever it is in the (sorted) output, or insert it there. */
static void out_insert(struct series_out *o, int64_t key, const struct tile *t)
{
	int i = o->n;
	while (i > 0 && o->key[i - 1] > key)
		i--;
	if (i > 0 && o->key[i - 1] == key) {
		tile_merge(&o->b[i - 1], t);
		return;
	}
	out_add(o, key, t, false); /* grows the arrays; then moved into place */
	struct tile moved = o->b[o->n - 1];
	memmove(&o->b[i + 1], &o->b[i], (size_t)(o->n - 1 - i) * sizeof *o->b);
	memmove(&o->key[i + 1], &o->key[i], (size_t)(o->n - 1 - i) * sizeof *o->key);
	o->b[i] = moved;
	o->key[i] = key;
}

/* floor(a / w) for w > 0 */
static int64_t floor_div(int64_t a, int64_t w)
{
	int64_t q = a / w;
	return (a % w != 0 && a < 0) ? q - 1 : q;
}

/* '$."name"' for json_extract; false when the name cannot be quoted simply. */
static bool json_path(char *buf, size_t len, const char *prefix, const char *name)
{
	if (strpbrk(name, "\"\\") || (size_t)snprintf(buf, len, "%s\"%s\"", prefix, name) >= len)
		return false;
	return true;
}

static int read_tiles(struct store *s, const struct store_series_query *q, int level, int64_t from, int64_t to,
		      int64_t width, struct series_out *o)
{
	sqlite3_stmt *st =
		store_prepare_cached(s, "SELECT n, sum, lo, hi, first_step, last_step, last_value,"
					" last_time FROM series_tiles WHERE run = ? AND split = ? AND metric = ?"
					" AND level = ? AND bucket BETWEEN ? AND ? ORDER BY bucket");
	if (!st)
		return -1;
	int shift = tile_shift(level);
	sqlite3_bind_int64(st, 1, q->run);
	sqlite3_bind_text(st, 2, q->split, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, q->metric, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, level);
	sqlite3_bind_int64(st, 5, bucket_of(from, shift));
	sqlite3_bind_int64(st, 6, bucket_of(to, shift));
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct tile t = tile_from_row(st, 0);
		t.last_time = sqlite3_column_type(st, 7) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 7);
		/* width is a multiple of the tile's: a tile lies inside one output bucket */
		out_add(o, floor_div(t.first, width), &t, false);
	}
	store_release(s, st);
	/* What the series still buffers belongs to its newest tile (or, after a resume that
	 * went back, to an older one: merged where it falls). */
	int64_t bucket;
	const struct tile *d = buffered(s, q->run, q->split, q->metric, level, &bucket);
	if (d && bucket >= bucket_of(from, shift) && bucket <= bucket_of(to, shift))
		out_insert(o, floor_div(d->first, width), d);
	return 0;
}

/*
 * The metric's first and last step: its coarsest tiles (a few rows) and
 * what it buffers; without tiles (their build failed) a pass over the
 * run's rows. lo > hi when it has none.
 */
static void step_range(struct store *s, const struct store_series_query *q, bool tiles, int64_t *lo, int64_t *hi)
{
	*lo = INT64_MAX;
	*hi = INT64_MIN;
	sqlite3_stmt *st =
		tiles ? store_prepare_cached(s, "SELECT min(first_step), max(last_step) FROM series_tiles"
						" WHERE run = ?1 AND level = 8 AND split = ?2 AND metric = ?3")
		      : store_prepare_cached(s, "SELECT min(step), max(step) FROM metrics WHERE run = ?1"
						" AND split = ?2 AND json_type(vals, ?3) IS NOT NULL");
	char path[160];
	if (st && (tiles || json_path(path, sizeof path, "$.", q->metric))) {
		sqlite3_bind_int64(st, 1, q->run);
		sqlite3_bind_text(st, 2, q->split, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, tiles ? q->metric : path, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			*lo = sqlite3_column_int64(st, 0);
			*hi = sqlite3_column_int64(st, 1);
		}
	}
	if (st)
		store_release(s, st);
	int64_t bucket;
	const struct tile *d = buffered(s, q->run, q->split, q->metric, TILE_LEVELS, &bucket);
	if (d) {
		*lo = TB_MIN(*lo, d->first);
		*hi = TB_MAX(*hi, d->last);
	}
}

/* The seqs of the metric rows with steps in [from, to]: from its level-1 tiles and what it buffers. */
static void seq_range(struct store *s, const struct store_series_query *q, bool tiles, int64_t from, int64_t to,
		      int64_t *first, int64_t *last)
{
	if (!tiles) {
		*first = 0;
		*last = INT64_MAX;
		return;
	}
	*first = INT64_MAX;
	*last = INT64_MIN;
	sqlite3_stmt *st =
		store_query_cached(s,
				   "SELECT min(first_seq), max(last_seq) FROM series_tiles"
				   " WHERE run = ? AND level = 1 AND split = ? AND metric = ?"
				   " AND bucket BETWEEN ? AND ?",
				   ARGS(INT(q->run), TEXT(q->split), TEXT(q->metric),
					INT(bucket_of(from, tile_shift(1))), INT(bucket_of(to, tile_shift(1)))));
	if (st) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			*first = sqlite3_column_int64(st, 0);
			*last = sqlite3_column_int64(st, 1);
		}
		store_release(s, st);
	}
	int64_t bucket;
	const struct tile *d = buffered(s, q->run, q->split, q->metric, 1, &bucket);
	if (d && bucket >= bucket_of(from, tile_shift(1)) && bucket <= bucket_of(to, tile_shift(1))) {
		*first = TB_MIN(*first, d->first_seq);
		*last = TB_MAX(*last, d->last_seq);
	}
}

static int read_raw(struct store *s, const struct store_series_query *q, bool tiles, int64_t from, int64_t to,
		    int64_t width, struct series_out *o)
{
	char value[160], lo[170], hi[170];
	if (!json_path(value, sizeof value, "$.", q->metric) || !json_path(lo, sizeof lo, "$.min.", q->metric) ||
	    !json_path(hi, sizeof hi, "$.max.", q->metric))
		return 0;
	int64_t first, last;
	seq_range(s, q, tiles, from, to, &first, &last);
	if (first > last)
		return 0;
	/* The rows by the table's key (run, seq); a resumed run's older steps may
	 * come later in seq, so they are sorted by step (a few thousand rows). */
	sqlite3_stmt *st =
		store_prepare_cached(s, "SELECT step, json_extract(vals, ?3), json_extract(thin, ?4),"
					" json_extract(thin, ?5), json_extract(thin, '$.events'), time"
					" FROM metrics WHERE run = ?1 AND seq BETWEEN ?8 AND ?9 AND split = ?2"
					" AND step BETWEEN ?6 AND ?7 ORDER BY step, seq");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 8, first);
	sqlite3_bind_int64(st, 9, last);
	sqlite3_bind_int64(st, 1, q->run);
	sqlite3_bind_text(st, 2, q->split, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, lo, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, hi, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, from);
	sqlite3_bind_int64(st, 7, to);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int type = sqlite3_column_type(st, 1);
		if (type != SQLITE_INTEGER && type != SQLITE_FLOAT)
			continue;
		double x = sqlite3_column_double(st, 1);
		int64_t step = sqlite3_column_int64(st, 0);
		struct tile t = {.n = 1,
				 .lo = x,
				 .hi = x,
				 .first = step,
				 .last = step,
				 .last_value = x,
				 .last_time = sqlite3_column_type(st, 5) == SQLITE_NULL ? NAN
											: sqlite3_column_double(st, 5)};
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			t.lo = fmin(x, sqlite3_column_double(st, 2));
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			t.hi = fmax(x, sqlite3_column_double(st, 3));
		if (sqlite3_column_int64(st, 4) > 1)
			t.n = sqlite3_column_int64(st, 4);
		t.sum = x * (double)t.n;
		out_add(o, floor_div(step, width), &t, width == 1);
	}
	store_release(s, st);
	return 0;
}

static void put_string(struct srv_buf *b, const char *key, const char *v)
{
	json_t *j = json_string(v);
	char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	srv_buf_printf(b, "\"%s\":%s,", key, text ? text : "null");
	free(text);
	json_decref(j);
}

/* "name":[…]: one field of every bucket; times as seconds after t0. */
enum series_field { F_STEP, F_VALUE, F_MEAN, F_MIN, F_MAX, F_COUNT, F_TIME };
static void put_array(struct srv_buf *b, const char *name, const struct series_out *o, enum series_field f, double t0)
{
	srv_buf_printf(b, ",\"%s\":[", name);
	for (int i = 0; i < o->n; i++) {
		const struct tile *t = &o->b[i];
		const char *sep = i ? "," : "";
		switch (f) {
		case F_STEP:
			srv_buf_printf(b, "%s%" PRId64, sep, t->last);
			break;
		case F_COUNT:
			srv_buf_printf(b, "%s%" PRId64, sep, t->n);
			break;
		case F_VALUE:
			srv_buf_puts(b, sep);
			srv_buf_double9(b, t->last_value);
			break;
		case F_MEAN:
			srv_buf_puts(b, sep);
			srv_buf_double9(b, t->sum / (double)t->n);
			break;
		case F_MIN:
			srv_buf_puts(b, sep);
			srv_buf_double9(b, t->lo);
			break;
		case F_MAX:
			srv_buf_puts(b, sep);
			srv_buf_double9(b, t->hi);
			break;
		case F_TIME:
			srv_buf_puts(b, sep);
			if (isfinite(t->last_time))
				srv_buf_double9(b, t->last_time - t0);
			else
				srv_buf_puts(b, "null");
			break;
		}
	}
	srv_buf_puts(b, "]");
}

char *store_series_json(struct store *s, const struct store_series_query *q, size_t *len)
{
	struct series_out o = {0};
	struct srv_buf b = {0};
	int64_t last_seq = 0, lo = 0, hi = -1, from = 0, to = -1, width = 1;
	int level = 0;
	bool found = false;
	pthread_mutex_lock(&s->lock);
	bool tiles = false;
	sqlite3_stmt *st =
		store_query_cached(s, "SELECT last_seq, series_ready FROM runs WHERE id = ?", ARGS(INT(q->run)));
	if (st) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			found = true;
			last_seq = sqlite3_column_int64(st, 0);
			tiles = sqlite3_column_int(st, 1) != 0; /* else its summaries failed to build: read raw rows */
		}
		store_release(s, st);
	}
	if (found)
		step_range(s, q, tiles, &lo, &hi);
	/* The range read: inside the steps there are. The bucket width comes
	 * from the span or the range asked for, so runs of different lengths
	 * asked alike share one grid of buckets (a chart overlays them). */
	from = q->has_from ? TB_MAX(q->from, lo) : lo;
	to = q->has_to ? TB_MIN(q->to, hi) : hi;
	if (found && to >= from) {
		int64_t span = q->has_from && q->has_to ? q->to - q->from : to - from,
			points = q->points > 0 ? q->points : 1;
		if (span < INT64_MAX)
			span++;
		if (q->span > 0)
			span = q->span;
		width = span / points + (span % points != 0);
		for (int k = TILE_LEVELS; tiles && k >= 1 && !level; k--)
			if ((int64_t)1 << tile_shift(k) <= width)
				level = k;
		if (level) {
			int64_t tile = (int64_t)1 << tile_shift(level);
			width = (width + tile - 1) / tile * tile;
			/* Rounded up, the width may be a coarser level's: read that one, a tile a bucket. */
			while (level < TILE_LEVELS && width % ((int64_t)1 << tile_shift(level + 1)) == 0)
				level++;
			read_tiles(s, q, level, from, to, width, &o);
		} else {
			read_raw(s, q, tiles, from, to, width, &o);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!found)
		return NULL;
	char rid[32];
	store_format_run_id(q->run, rid, sizeof rid);
	srv_buf_puts(&b, "{");
	put_string(&b, "run", rid);
	put_string(&b, "split", q->split);
	put_string(&b, "metric", q->metric);
	if (to >= from)
		srv_buf_printf(&b, "\"from\":%" PRId64 ",\"to\":%" PRId64 ",", from, to);
	else
		srv_buf_puts(&b, "\"from\":null,\"to\":null,"); /* no points in this split */
	srv_buf_printf(&b, "\"bucket\":%" PRId64 ",\"level\":%d,\"exact\":%s,\"last_seq\":%" PRId64, width, level,
		       width == 1 ? "true" : "false", last_seq);
	/* Times as offsets from a whole second: 9 digits keep the milliseconds of a week-long run. */
	double t0 = INFINITY;
	for (int i = 0; i < o.n; i++)
		if (isfinite(o.b[i].last_time))
			t0 = fmin(t0, floor(o.b[i].last_time));
	if (!isfinite(t0))
		t0 = 0;
	srv_buf_printf(&b, ",\"t0\":%.0f", t0);
	put_array(&b, "steps", &o, F_STEP, t0);
	put_array(&b, "values", &o, F_VALUE, t0);
	put_array(&b, "means", &o, F_MEAN, t0);
	put_array(&b, "mins", &o, F_MIN, t0);
	put_array(&b, "maxs", &o, F_MAX, t0);
	put_array(&b, "counts", &o, F_COUNT, t0);
	put_array(&b, "times", &o, F_TIME, t0);
	srv_buf_puts(&b, "}");
	free(o.b);
	free(o.key);
	*len = b.len;
	return srv_buf_steal(&b);
}
