/*
 * board.c — the instructor board's per-run summaries (see board.h).
 *
 * A run is "dirty" once something about it changed; the ticker sends each
 * dirty run once BOARD_EVERY_MS have passed since its last update, in one
 * message with every other run due then. A run whose last update is older
 * than that is due at once: the ticker is woken for it, so a quiet run's
 * news reaches the board without waiting for a tick.
 *
 * Threads: see board.h; b->lock guards everything but the ticker's handle.
 */
#include "board.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "tb.h"
#include "util.h"

#define BOARD_SEED_RUNS 300 /* runs read from the store at start-up, newest first */
#define BOARD_SEED_ROWS 960 /* train metric rows read per seeded run (its newest) */

struct brun {
	int64_t id;
	json_t *summary;        /* the store's run summary; NULL until known */
	bool summary_dirty;     /* the summary goes out with the next update */
	bool metric_dirty;      /* a new train metric since the last update */
	bool urgent;            /* it has ended: its last update goes out now, whatever the rate */
	bool has_loss, has_acc; /* the newest train metric's values */
	double loss, acc;
	int64_t step, epoch;
	double event_time; /* the worker's clock of its newest event (unix s), 0 = none */
	int64_t sent_ms;   /* monotonic: its last update; 0 = never */
	struct board_series loss_s, acc_s;
};

struct board {
	struct store *store;
	board_publish_fn publish;
	void *ctx;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t wake;  /* a run became due, or stop */
	bool stop;
	struct brun **runs; /* by id, ascending (ids only grow, so new runs append) */
	int nruns, cap;
	int ndirty;
	int64_t wake_at; /* monotonic: when the ticker means to look again */
	int64_t tick;    /* updates published so far: a snapshot says which it includes */
};

/* ---- series ---------------------------------------------------------------------- */

void board_series_add(struct board_series *s, int64_t step, double value)
{
	if (s->n > 0 && s->step[s->n - 1] == step) {
		s->value[s->n - 1] = value; /* the same step again (a resumed run): the newer value */
		return;
	}
	s->step[s->n] = step;
	s->value[s->n] = value;
	s->n++;
	if (s->n <= BOARD_POINTS)
		return;
	/* Keep every other point counting back from the newest. */
	int k = 0;
	for (int i = (s->n - 1) % 2; i < s->n; i += 2) {
		s->step[k] = s->step[i];
		s->value[k] = s->value[i];
		k++;
	}
	s->n = k;
}

static json_t *series_json(const struct board_series *s)
{
	json_t *arr = json_array();
	for (int i = 0; i < s->n; i++)
		json_array_append_new(arr, json_pack("[I, f]", (json_int_t)s->step[i], s->value[i]));
	return arr;
}

/* ---- runs --------------------------------------------------------------------------- */

static int find(const struct board *b, int64_t id)
{
	int lo = 0, hi = b->nruns - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		if (b->runs[mid]->id == id)
			return mid;
		if (b->runs[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static void drop(struct board *b, int i)
{
	struct brun *r = b->runs[i];
	if (r->summary_dirty || r->metric_dirty)
		b->ndirty--;
	json_decref(r->summary);
	free(r);
	memmove(&b->runs[i], &b->runs[i + 1], (size_t)(b->nruns - i - 1) * sizeof *b->runs);
	b->nruns--;
}

/* The run `id`, added (in id order) when new; the oldest goes when the board is full. */
static struct brun *get(struct board *b, int64_t id)
{
	int i = find(b, id);
	if (i >= 0)
		return b->runs[i];
	if (b->nruns == BOARD_MAX_RUNS)
		drop(b, 0);
	if (b->nruns == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->runs = tb_xrealloc(b->runs, (size_t)b->cap * sizeof *b->runs);
	}
	int at = b->nruns;
	while (at > 0 && b->runs[at - 1]->id > id)
		at--;
	memmove(&b->runs[at + 1], &b->runs[at], (size_t)(b->nruns - at) * sizeof *b->runs);
	struct brun *r = tb_xcalloc(1, sizeof *r);
	r->id = id;
	b->runs[at] = r;
	b->nruns++;
	return r;
}

/* When r's next update may go: a second after its last, or now once it has ended. */
static int64_t due_ms(const struct brun *r)
{
	return r->urgent ? 0 : r->sent_ms + BOARD_EVERY_MS;
}

/* r changed: due at once when its last update is old enough (the leading edge), or it ended. */
static void mark(struct board *b, struct brun *r, bool summary)
{
	bool was = r->summary_dirty || r->metric_dirty;
	if (summary)
		r->summary_dirty = true;
	else
		r->metric_dirty = true;
	if (!was)
		b->ndirty++;
	if (due_ms(r) < b->wake_at)
		pthread_cond_signal(&b->wake);
}

/*
 * A run that ended (or was deleted) says so at once: the row's last state
 * and last point are news the instructor should not wait a second for, and
 * a run ends once. Every other update keeps to one a second.
 */
static bool ended(const json_t *summary)
{
	static const char *const ends[] = {"completed", "failed", "stopped", "interrupted", "deleted"};
	const char *st = json_string_value(json_object_get(summary, "status"));
	for (size_t i = 0; st && i < TB_ARRAY_LEN(ends); i++)
		if (!strcmp(st, ends[i]))
			return true;
	return false;
}

static bool number(json_t *v, double *out)
{
	if (!json_is_number(v))
		return false;
	*out = json_number_value(v);
	return isfinite(*out);
}

void board_on_event(struct board *b, int64_t run, const char *json, size_t len)
{
	/* Only train metrics feed the sparklines; other events change the summary (board_on_run). */
	if (!memmem(json, len, "\"metric\"", 8))
		return;
	json_t *ev = json_loadb(json, len, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *split = json_string_value(json_object_get(ev, "split"));
	json_t *values = json_object_get(ev, "values");
	if (type && !strcmp(type, "metric") && (!split || !strcmp(split, "train")) && json_is_object(values)) {
		pthread_mutex_lock(&b->lock);
		struct brun *r = get(b, run);
		r->has_loss = number(json_object_get(values, "loss"), &r->loss) || r->has_loss;
		r->has_acc = number(json_object_get(values, "accuracy"), &r->acc) || r->has_acc;
		json_t *step = json_object_get(ev, "step"), *epoch = json_object_get(ev, "epoch");
		if (json_is_integer(step))
			r->step = json_integer_value(step);
		if (json_is_integer(epoch))
			r->epoch = json_integer_value(epoch);
		double t;
		if (number(json_object_get(ev, "time"), &t))
			r->event_time = t;
		mark(b, r, false);
		pthread_mutex_unlock(&b->lock);
	}
	json_decref(ev);
}

void board_on_run(struct board *b, int64_t run, const json_t *summary)
{
	pthread_mutex_lock(&b->lock);
	struct brun *r = get(b, run);
	bool was_ended = r->summary && ended(r->summary);
	json_decref(r->summary);
	/* A deleted run goes out once as {"id", "status": "deleted"} and is forgotten after that. */
	r->summary = summary ? json_deep_copy(summary) : json_pack("{s:s}", "status", "deleted");
	if (ended(r->summary) && !was_ended)
		r->urgent = true;
	mark(b, r, true);
	pthread_mutex_unlock(&b->lock);
}

/* ---- messages ------------------------------------------------------------------------- */

static void put_id(json_t *o, int64_t id)
{
	char rid[32];
	store_format_run_id(id, rid, sizeof rid);
	json_object_set_new(o, "id", json_string(rid));
}

/* The worker's clock of r's newest event in unix ms (what the board's latency is measured from), or null. */
static json_t *event_ms(const struct brun *r)
{
	return r->event_time > 0 ? json_integer((json_int_t)llround(r->event_time * 1000.0)) : json_null();
}

/* The full state of one run, for a snapshot. */
static json_t *run_full(const struct brun *r)
{
	json_t *o = json_object();
	put_id(o, r->id);
	json_object_set_new(o, "run", r->summary ? json_incref(r->summary) : json_null());
	json_object_set_new(
		o, "series",
		json_pack("{s:o, s:o}", "loss", series_json(&r->loss_s), "accuracy", series_json(&r->acc_s)));
	json_object_set_new(o, "step", json_integer(r->step));
	json_object_set_new(o, "epoch", json_integer(r->epoch));
	json_object_set_new(o, "event_ms", event_ms(r));
	return o;
}

/* What changed since r's last update; the series gain this update's point. */
static json_t *run_update(struct brun *r)
{
	json_t *o = json_object();
	put_id(o, r->id);
	if (r->summary_dirty && r->summary)
		json_object_set_new(o, "run", json_incref(r->summary));
	if (r->metric_dirty) {
		json_t *points = json_object();
		if (r->has_loss) {
			board_series_add(&r->loss_s, r->step, r->loss);
			json_object_set_new(points, "loss", json_pack("[I, f]", (json_int_t)r->step, r->loss));
		}
		if (r->has_acc) {
			board_series_add(&r->acc_s, r->step, r->acc);
			json_object_set_new(points, "accuracy", json_pack("[I, f]", (json_int_t)r->step, r->acc));
		}
		json_object_set_new(o, "points", points);
		json_object_set_new(o, "step", json_integer(r->step));
		json_object_set_new(o, "epoch", json_integer(r->epoch));
		json_object_set_new(o, "event_ms", event_ms(r));
	}
	r->summary_dirty = r->metric_dirty = r->urgent = false;
	return o;
}

static char *dump(json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(7));
	json_decref(msg);
	return text;
}

char *board_snapshot(struct board *b)
{
	json_t *runs = json_array();
	pthread_mutex_lock(&b->lock);
	for (int i = b->nruns - 1; i >= 0; i--) /* newest first, as run lists are */
		if (!b->runs[i]->summary || !json_object_get(b->runs[i]->summary, "status") ||
		    strcmp(json_string_value(json_object_get(b->runs[i]->summary, "status")), "deleted"))
			json_array_append_new(runs, run_full(b->runs[i]));
	int64_t tick = b->tick;
	pthread_mutex_unlock(&b->lock);
	return dump(
		json_pack("{s:s, s:b, s:I, s:o}", "type", "board", "full", 1, "tick", (json_int_t)tick, "runs", runs));
}

/* ---- the ticker ----------------------------------------------------------------------- */

static void *ticker_main(void *arg)
{
	struct board *b = arg;
	pthread_mutex_lock(&b->lock);
	while (!b->stop) {
		int64_t now = srv_mono_ms(), next = now + BOARD_EVERY_MS;
		json_t *runs = NULL;
		for (int i = 0; i < b->nruns && b->ndirty; i++) {
			struct brun *r = b->runs[i];
			if (!r->summary_dirty && !r->metric_dirty)
				continue;
			int64_t due = due_ms(r);
			if (due > now) {
				if (due < next)
					next = due;
				continue;
			}
			if (!runs)
				runs = json_array();
			json_array_append_new(runs, run_update(r));
			r->sent_ms = now;
			b->ndirty--;
			if (r->summary &&
			    !strcmp(json_string_value(json_object_get(r->summary, "status")) ?: "", "deleted"))
				drop(b, i--);
		}
		if (runs) {
			int64_t tick = ++b->tick;
			pthread_mutex_unlock(&b->lock);
			/* sent_ms: when it left, so a client can tell the server's share of its lag from the network's. */
			char *text = dump(json_pack("{s:s, s:I, s:I, s:o}", "type", "board", "tick", (json_int_t)tick,
						    "sent_ms", (json_int_t)srv_unix_ms(), "runs", runs));
			if (text)
				b->publish(b->ctx, text, strlen(text));
			free(text);
			pthread_mutex_lock(&b->lock);
			continue; /* what became due while publishing goes next */
		}
		b->wake_at = next;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		int64_t wait_ms = next - now;
		until.tv_sec += wait_ms / 1000;
		until.tv_nsec += (wait_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&b->wake, &b->lock, &until);
		b->wake_at = 0; /* awake: whatever is due is seen in the next round */
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

/* ---- set-up ---------------------------------------------------------------------------- */

struct seed {
	struct brun *r;
};

static int seed_row(void *ctx, const struct store_metric_row *row)
{
	struct brun *r = ((struct seed *)ctx)->r;
	json_t *vals = json_loads(row->vals, 0, NULL);
	double v;
	int64_t step = row->has_step ? row->step : row->seq;
	if (number(json_object_get(vals, "loss"), &v))
		board_series_add(&r->loss_s, step, v);
	if (number(json_object_get(vals, "accuracy"), &v))
		board_series_add(&r->acc_s, step, v);
	r->step = step;
	if (row->has_epoch)
		r->epoch = row->epoch;
	if (row->has_time)
		r->event_time = row->time;
	json_decref(vals);
	return 0;
}

struct board *board_new(struct store *store, board_publish_fn publish, void *ctx)
{
	struct board *b = tb_xcalloc(1, sizeof *b);
	b->store = store;
	b->publish = publish;
	b->ctx = ctx;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->wake, NULL);
	json_t *recent = store_runs_json(store, &(struct store_runs_query){.limit = BOARD_SEED_RUNS});
	size_t i;
	json_t *run;
	/* Oldest first, so the board's id order is built by appending. */
	for (i = json_array_size(recent); i-- > 0;) {
		run = json_array_get(recent, i);
		int64_t id = store_parse_run_id(json_string_value(json_object_get(run, "id")));
		if (id <= 0)
			continue;
		struct brun *r = get(b, id);
		r->summary = json_incref(run);
		struct seed s = {r};
		/* Every few rows is enough for a sparkline: the series thins itself. */
		store_metrics_recent(store, id, BOARD_SEED_ROWS, seed_row, &s);
	}
	json_decref(recent);
	return b;
}

int board_start(struct board *b)
{
	if (pthread_create(&b->thread, NULL, ticker_main, b) != 0)
		return -1;
	b->started = true;
	return 0;
}

void board_free(struct board *b)
{
	if (!b)
		return;
	if (b->started)
		srv_thread_stop(b->thread, &b->lock, &b->wake, &b->stop);
	for (int i = 0; i < b->nruns; i++) {
		json_decref(b->runs[i]->summary);
		free(b->runs[i]);
	}
	free(b->runs);
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->lock);
	free(b);
}
