/*
 * sweeps.c — sweeps on the server (see sweeps.h).
 *
 * The sweeps thread wakes for evaluation events (handed over by the runq
 * hook) and every SWEEPS_TICK_MS: it records each trial's metric, takes
 * the ASHA decision at a rung, and tops every running sweep up to
 * `parallel` queued-or-running trials, marking it completed when none is
 * left. Topping up reads everything from the store, so a restart, a
 * missed event or a trial that ended however it ended are all the same
 * case.
 *
 * Threads: see sweeps.h. Lock order: sw->submit_lock, then runq's and the
 * store's own locks inside the calls; sw->lock is never held across a call
 * into runq or the store.
 */
#include "sweeps.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asha.h"
#include "early_stop.h"
#include "runq.h"
#include "spec.h"
#include "store.h"
#include "sweep.h"
#include "tb.h"
#include "util.h"

#define SWEEPS_QUEUE_MAX 1024 /* evaluation events waiting for the thread; more are dropped (and logged) */
#define SWEEPS_TICK_MS 1000
#define SWEEPS_MAX_RUNNING 4096 /* running sweeps looked at per tick */

/* One evaluation of a trial's run. */
struct sweeps_eval {
	int64_t run;
	char split[16];
	int epoch;
	double loss, accuracy;
};

/* A running sweep whose next trial the queue, the disk or a quota holds back, and why. */
struct sweeps_waiting {
	int64_t id;
	char why[256];
};

struct sweeps {
	struct store *store;
	struct runq *runq;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* guards queue, head, count, stopping, dropped_log, waiting, nwaiting */
	pthread_cond_t wake;
	struct sweeps_eval queue[SWEEPS_QUEUE_MAX];
	int head, count;
	bool stopping;
	struct srv_log_limit dropped_log;
	struct sweeps_waiting *waiting; /* nwaiting of them, in no order */
	int nwaiting, waiting_cap;
	pthread_mutex_t submit_lock; /* held while trials are queued or a sweep stopped: one decision at a time */
};

struct sweeps *sweeps_new(struct store *store, struct runq *runq)
{
	struct sweeps *sw = tb_xcalloc(1, sizeof *sw);
	sw->store = store;
	sw->runq = runq;
	pthread_mutex_init(&sw->lock, NULL);
	pthread_cond_init(&sw->wake, NULL);
	pthread_mutex_init(&sw->submit_lock, NULL);
	return sw;
}

/* ---- parsing a sweep ------------------------------------------------------------- */

bool sweeps_is_sweep(const char *yaml, size_t len)
{
	struct spec *s = tb_xmalloc(sizeof *s);
	struct spec_errors *e = tb_xmalloc(sizeof *e);
	bool sweep = spec_parse(yaml, len, "<cell>", NULL, 0, s, e) == 0 && s->sweep.enabled;
	spec_free(s);
	free(s);
	free(e);
	return sweep;
}

static json_t *errors_json(const struct spec_errors *e)
{
	json_t *list = json_array();
	for (int i = 0; i < e->count; i++)
		json_array_append_new(list, json_pack("{s:i, s:i, s:s}", "line", e->list[i].pos.line, "column",
						      e->list[i].pos.column, "message", e->list[i].message));
	return list;
}

/* ---- queuing trials --------------------------------------------------------------- */

/* Remember why sweep `id` cannot queue its next trial now, or (why NULL) that it can. */
static void set_waiting(struct sweeps *sw, int64_t id, const char *why)
{
	pthread_mutex_lock(&sw->lock);
	int i = 0;
	while (i < sw->nwaiting && sw->waiting[i].id != id)
		i++;
	if (why) {
		if (i == sw->nwaiting) {
			if (sw->nwaiting == sw->waiting_cap) {
				sw->waiting_cap = sw->waiting_cap ? 2 * sw->waiting_cap : 16;
				sw->waiting = tb_xrealloc(sw->waiting, (size_t)sw->waiting_cap * sizeof *sw->waiting);
			}
			sw->waiting[sw->nwaiting++].id = id;
		}
		srv_strlcpy(sw->waiting[i].why, why, sizeof sw->waiting[i].why);
	} else if (i < sw->nwaiting) {
		sw->waiting[i] = sw->waiting[--sw->nwaiting];
	}
	pthread_mutex_unlock(&sw->lock);
}

bool sweeps_waiting(struct sweeps *sw, int64_t id, char *why, size_t len)
{
	if (!sw)
		return false;
	bool found = false;
	pthread_mutex_lock(&sw->lock);
	for (int i = 0; i < sw->nwaiting && !found; i++)
		if (sw->waiting[i].id == id) {
			srv_strlcpy(why, sw->waiting[i].why, len);
			found = true;
		}
	pthread_mutex_unlock(&sw->lock);
	return found;
}

/*
 * Bring sweep `id` up to `parallel` live trials; mark it completed when
 * nothing is pending or live. Caller holds submit_lock.
 */
static void top_up(struct sweeps *sw, int64_t id)
{
	struct store_sweep_state st;
	for (;;) {
		if (store_sweep_state(sw->store, id, &st) < 0 || strcmp(st.status, "running")) {
			set_waiting(sw, id, NULL);
			return;
		}
		if (st.pending == 0 && st.active == 0) {
			store_sweep_set_status(sw->store, id, "completed");
			set_waiting(sw, id, NULL);
			srv_log("sweep s%" PRId64 " completed (%d trials)", id, st.ntrials);
			return;
		}
		if (st.active >= st.parallel || st.next_trial < 0) {
			set_waiting(sw, id, NULL); /* its own trials fill its places */
			return;
		}
		char *spec = store_trial_spec(sw->store, id, st.next_trial);
		char name[200], err[512];
		snprintf(name, sizeof name, "%s #%d", st.name, st.next_trial + 1);
		struct runq_submit sub = {.spec = spec ? spec : "",
					  .spec_len = spec ? strlen(spec) : 0,
					  .name = name,
					  .notebook = st.notebook[0] ? st.notebook : NULL,
					  .cell = st.notebook[0] && st.cell[0] ? st.cell : NULL,
					  .owner = st.owner};
		int64_t run = 0;
		int rc = spec ? runq_submit(sw->runq, &sub, &run, err, sizeof err) : RUNQ_EIO;
		free(spec);
		/* The queue, the disk or one of the owner's quotas is full for now: the next tick tries again,
		 * so a sweep waits its turn like any of the owner's runs, and says why as a queued run does. */
		if (rc == RUNQ_EFULL || rc == RUNQ_ENOSPACE || rc == RUNQ_EQUOTA) {
			set_waiting(sw, id, err);
			return;
		}
		set_waiting(sw, id, NULL);
		if (rc) {
			srv_log("sweep s%" PRId64 ": trial %d cannot be queued (%s): the sweep fails", id,
				st.next_trial + 1, spec ? err : "no spec stored");
			store_sweep_set_status(sw->store, id, "failed");
			return;
		}
		store_trial_set_run(sw->store, id, st.next_trial, run);
	}
}

int sweeps_create(struct sweeps *sw, const struct sweeps_new *n, int64_t *id, json_t **errors, char *err, size_t errlen)
{
	struct spec *s = tb_xmalloc(sizeof *s);
	struct spec *trial = tb_xmalloc(sizeof *trial);
	struct spec_errors *e = tb_xmalloc(sizeof *e);
	struct sweep_trial *trials = NULL;
	char **specs = NULL, **vals = NULL;
	int ntrials = 0, rc = SWEEPS_EINVALID;
	*errors = NULL;
	if (spec_parse(n->yaml, n->len, "<cell>", NULL, 0, s, e) < 0 || !s->sweep.enabled) {
		if (!s->sweep.enabled && !e->count)
			spec_error_add(e, (struct spec_pos){0, 0}, "the spec has no sweep: section");
		spec_free(s);
		goto invalid;
	}
	ntrials = sweep_expand(&s->sweep, &trials);
	if (sweep_check(n->yaml, n->len, "<cell>", NULL, 0, &s->sweep, trials, ntrials, e) < 0)
		goto invalid_spec;
	specs = tb_xcalloc((size_t)ntrials, sizeof *specs);
	vals = tb_xcalloc((size_t)ntrials, sizeof *vals);
	for (int i = 0; i < ntrials; i++) {
		if (sweep_trial_parse(n->yaml, n->len, "<cell>", NULL, 0, &trials[i], trial, e) < 0)
			goto invalid_spec; /* sweep_check parsed it: only a broken invariant gets here */
		specs[i] = trial->source;
		trial->source = NULL;
		spec_free(trial);
		json_t *v = json_array();
		for (int j = 0; j < trials[i].nparams; j++)
			json_array_append_new(v, json_string(trials[i].values[j]));
		vals[i] = json_dumps(v, JSON_COMPACT);
		json_decref(v);
	}
	json_t *params = json_array(), *rungs = json_array();
	for (int j = 0; j < s->sweep.nparams; j++)
		json_array_append_new(params, json_string(s->sweep.params[j].path));
	int rung_epochs[ASHA_MAX_RUNGS];
	int nrungs =
		s->sweep.asha.enabled ? asha_rungs(&s->sweep.asha, s->train.epochs, rung_epochs, ASHA_MAX_RUNGS) : 0;
	for (int k = 0; k < nrungs; k++)
		json_array_append_new(rungs, json_integer(rung_epochs[k]));
	char *params_text = json_dumps(params, JSON_COMPACT), *rungs_text = json_dumps(rungs, JSON_COMPACT);
	json_decref(params);
	json_decref(rungs);
	bool maximize;
	const char *metric = sweep_metric(s, &maximize);
	struct store_sweep_new sn = {
		.name = n->name && *n->name ? n->name : "sweep",
		.owner = n->owner,
		.notebook = n->notebook,
		.cell = n->cell,
		.spec = s->source,
		.metric = metric,
		.split = early_stop_split(metric, s->data.validation > 0),
		.maximize = maximize,
		.parallel = s->sweep.parallel,
		.reduction = s->sweep.asha.reduction,
		.rungs = rungs_text,
		.params = params_text,
		.ntrials = ntrials,
		.trial_specs = (const char *const *)specs,
		.trial_vals = (const char *const *)vals,
	};
	pthread_mutex_lock(&sw->submit_lock);
	if (store_sweep_create(sw->store, &sn, id) < 0) {
		snprintf(err, errlen, "cannot record the sweep");
		rc = SWEEPS_EIO;
	} else {
		srv_log("sweep s%" PRId64 " of %s: %d trials, %d at a time", *id, n->owner, ntrials, s->sweep.parallel);
		top_up(sw, *id);
		rc = SWEEPS_OK;
	}
	pthread_mutex_unlock(&sw->submit_lock);
	free(params_text);
	free(rungs_text);
	goto out;
invalid_spec:
	spec_free(s);
invalid:
	*errors = errors_json(e);
	snprintf(err, errlen, "the sweep is invalid: %s", e->count ? e->list[0].message : "see errors");
out:
	for (int i = 0; specs && i < ntrials; i++) {
		free(specs[i]);
		free(vals[i]);
	}
	free(specs);
	free(vals);
	free(trials);
	if (rc != SWEEPS_EINVALID)
		spec_free(s);
	free(s);
	free(trial);
	free(e);
	return rc;
}

int sweeps_stop(struct sweeps *sw, int64_t id, char *err, size_t errlen)
{
	struct store_sweep_state st;
	int rc = SWEEPS_OK;
	pthread_mutex_lock(&sw->submit_lock);
	if (store_sweep_state(sw->store, id, &st) < 0) {
		snprintf(err, errlen, "no sweep s%" PRId64, id);
		rc = SWEEPS_ENOENT;
	} else if (strcmp(st.status, "running")) {
		snprintf(err, errlen, "sweep s%" PRId64 " is %s already", id, st.status);
		rc = SWEEPS_ESTATE;
	} else if (store_sweep_set_status(sw->store, id, "stopped") < 0) {
		snprintf(err, errlen, "cannot record the stop");
		rc = SWEEPS_EIO;
	} else {
		set_waiting(sw, id, NULL);
		int64_t runs[256];
		int n = store_sweep_live_runs(sw->store, id, runs, 256);
		char why[256];
		for (int i = 0; i < n; i++)
			runq_stop(sw->runq, runs[i], why, sizeof why); /* one that just ended says so: nothing to do */
		srv_log("sweep s%" PRId64 " stopped (%d trial%s stopped)", id, n, n == 1 ? "" : "s");
	}
	pthread_mutex_unlock(&sw->submit_lock);
	return rc;
}

/* ---- evaluation events ------------------------------------------------------------- */

void sweeps_on_event(struct sweeps *sw, int64_t run, const char *json, size_t len)
{
	/* Most events are train metrics and progress: a cheap look first. */
	if (!sw || len > 4096 || !memmem(json, len, "\"type\":\"metric\"", 15) ||
	    memmem(json, len, "\"split\":\"train\"", 15))
		return;
	json_t *ev = json_loadb(json, len, 0, NULL);
	const char *split = json_string_value(json_object_get(ev, "split"));
	json_t *values = json_object_get(ev, "values");
	int64_t sweep;
	int trial;
	if (split && (!strcmp(split, "validation") || !strcmp(split, "test")) && json_is_object(values) &&
	    store_trial_of_run(sw->store, run, &sweep, &trial)) {
		struct sweeps_eval e = {.run = run,
					.epoch = (int)json_integer_value(json_object_get(ev, "epoch")),
					.loss = json_number_value(json_object_get(values, "loss")),
					.accuracy = json_number_value(json_object_get(values, "accuracy"))};
		srv_strlcpy(e.split, split, sizeof e.split);
		pthread_mutex_lock(&sw->lock);
		if (sw->count < SWEEPS_QUEUE_MAX) {
			sw->queue[(sw->head + sw->count++) % SWEEPS_QUEUE_MAX] = e;
			pthread_cond_signal(&sw->wake);
		} else {
			srv_log_limited(&sw->dropped_log, "sweeps: %d evaluations waiting; one of r%" PRId64 " dropped",
					SWEEPS_QUEUE_MAX, run);
		}
		pthread_mutex_unlock(&sw->lock);
	}
	json_decref(ev);
}

/* Record an evaluation and, at a rung, decide (sweeps thread). */
static void evaluation(struct sweeps *sw, const struct sweeps_eval *e)
{
	int64_t id;
	int trial;
	struct store_sweep_state st;
	if (!store_trial_of_run(sw->store, e->run, &id, &trial) || store_sweep_state(sw->store, id, &st) < 0 ||
	    strcmp(e->split, st.split))
		return;
	struct eval_results r = {.has_validation = !strcmp(st.split, "validation")};
	double *v = r.has_validation ? r.validation : r.test;
	v[0] = e->loss;
	v[1] = e->accuracy;
	double value = early_stop_value(st.metric, &r);
	store_trial_record(sw->store, id, trial, e->epoch, value);
	bool rung = false;
	for (int k = 0; k < st.nrungs; k++)
		rung |= st.rungs[k] == e->epoch;
	if (!rung || strcmp(st.status, "running"))
		return;
	double values[SPEC_SWEEP_MAX_TRIALS];
	int n = store_rung_add(sw->store, id, e->epoch, trial, value, values, SPEC_SWEEP_MAX_TRIALS);
	if (n < 1 || asha_continue(values, n, value, st.reduction, st.maximize))
		return;
	char err[256];
	store_trial_asha_stopped(sw->store, id, trial, e->epoch);
	srv_log("sweep s%" PRId64 ": trial %d (r%" PRId64 ") stopped by ASHA at epoch %d", id, trial + 1, e->run,
		e->epoch);
	pthread_mutex_lock(&sw->submit_lock);
	runq_stop(sw->runq, e->run, err, sizeof err);
	pthread_mutex_unlock(&sw->submit_lock);
}

static void tick(struct sweeps *sw)
{
	int64_t *ids = tb_xmalloc(SWEEPS_MAX_RUNNING * sizeof *ids);
	int n = store_sweeps_running(sw->store, ids, SWEEPS_MAX_RUNNING);
	pthread_mutex_lock(&sw->submit_lock);
	for (int i = 0; i < n; i++)
		top_up(sw, ids[i]);
	pthread_mutex_unlock(&sw->submit_lock);
	free(ids);
}

static void *sweeps_main(void *arg)
{
	struct sweeps *sw = arg;
	struct sweeps_eval batch[64];
	pthread_mutex_lock(&sw->lock);
	while (!sw->stopping) {
		if (sw->count == 0) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += (long)SWEEPS_TICK_MS * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&sw->wake, &sw->lock, &until);
		}
		int n = 0;
		while (sw->count > 0 && n < (int)TB_ARRAY_LEN(batch)) {
			batch[n++] = sw->queue[sw->head];
			sw->head = (sw->head + 1) % SWEEPS_QUEUE_MAX;
			sw->count--;
		}
		bool stopping = sw->stopping;
		pthread_mutex_unlock(&sw->lock);
		for (int i = 0; i < n && !stopping; i++)
			evaluation(sw, &batch[i]);
		if (!stopping)
			tick(sw);
		pthread_mutex_lock(&sw->lock);
	}
	pthread_mutex_unlock(&sw->lock);
	return NULL;
}

int sweeps_start(struct sweeps *sw)
{
	if (pthread_create(&sw->thread, NULL, sweeps_main, sw) != 0)
		return -1;
	sw->started = true;
	return 0;
}

void sweeps_shutdown(struct sweeps *sw)
{
	if (!sw || !sw->started)
		return;
	srv_thread_stop(sw->thread, &sw->lock, &sw->wake, &sw->stopping);
	sw->started = false;
}

void sweeps_free(struct sweeps *sw)
{
	if (!sw)
		return;
	sweeps_shutdown(sw);
	pthread_cond_destroy(&sw->wake);
	pthread_mutex_destroy(&sw->lock);
	pthread_mutex_destroy(&sw->submit_lock);
	free(sw->waiting);
	free(sw);
}
