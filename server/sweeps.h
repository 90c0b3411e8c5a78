/*
 * sweeps.h — sweeps on the server: a run cell whose spec has a sweep:
 * section becomes a sweep, stored with its trials (store_sweeps.c); the
 * trials are queued as ordinary runs through the run queue, `parallel` at
 * a time, so whatever the queue decides (fair share, quotas) applies to
 * them as to any run. ASHA decisions are taken here from the trials'
 * evaluation events and carried out with runq_stop. A sweep survives a
 * restart: everything it needs is in the store, and the sweeps thread
 * picks up where the store says it is.
 *
 * What it is not: the expansion or the stopping rule (engine/sweep.c,
 * engine/asha.c, shared with `trainbook sweep`), nor HTTP (routes_sweeps.c).
 *
 * Threads: the sweeps thread owns decisions and queuing; the runq event
 * hook (supervisor thread, runq lock held) only hands evaluation events
 * over through a bounded queue guarded by sw->lock; sweeps_create and
 * sweeps_stop run on the HTTP thread and take sw->submit_lock, as the
 * sweeps thread does when it queues trials.
 */
#ifndef TB_SERVER_SWEEPS_H
#define TB_SERVER_SWEEPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct runq;
struct sweeps;

enum sweeps_err {
	SWEEPS_OK = 0,
	SWEEPS_EINVALID = -1, /* the sweep or a trial does not parse: 400 with errors */
	SWEEPS_ENOENT = -2,   /* no such sweep: 404 */
	SWEEPS_ESTATE = -3,   /* already ended: 409 */
	SWEEPS_EIO = -4,      /* store failure: 500 */
};

struct sweeps *sweeps_new(struct store *store, struct runq *runq);
/* Start the sweeps thread (it resumes running sweeps from the store). 0 or -1. */
int sweeps_start(struct sweeps *sw);
/* Stop the thread (before the run queue goes: the thread calls it); the hook may still be called. */
void sweeps_shutdown(struct sweeps *sw);
/* Free (after the run queue is gone: its hook calls sweeps_on_event); NULL is fine. */
void sweeps_free(struct sweeps *sw);

/* Does this YAML have a sweep: section (that is not null)? False also for a spec that does not parse. */
bool sweeps_is_sweep(const char *yaml, size_t len);

struct sweeps_new {
	const char *yaml;
	size_t len;
	const char *name;     /* NULL = "sweep" */
	const char *notebook; /* or NULL */
	const char *cell;     /* or NULL */
	const char *owner;
};
/*
 * Store the sweep and queue its first trials. SWEEPS_EINVALID: *errors is
 * a JSON array of {line, column, message} (caller decrefs) and err says
 * the first.
 */
int sweeps_create(struct sweeps *sw, const struct sweeps_new *n, int64_t *id, json_t **errors, char *err,
		  size_t errlen);
/* Stop a sweep: no trial is queued any more, queued and running trials are stopped. */
int sweeps_stop(struct sweeps *sw, int64_t id, char *err, size_t errlen);

/*
 * Why running sweep `id` cannot queue its next trial now (the queue, the
 * disk or one of its owner's quotas is full: the runq's message), copied to
 * why; false when nothing holds it back. Any thread; sw may be NULL.
 */
bool sweeps_waiting(struct sweeps *sw, int64_t id, char *why, size_t len);

/* The runq event hook's tap (any thread, runq lock held): evaluation events of trials go to the sweeps thread. */
void sweeps_on_event(struct sweeps *sw, int64_t run, const char *json, size_t len);

#endif
