/*
 * throttle.c — token buckets in a fixed open-addressed table (see
 * throttle.h).
 *
 * Why a bucket per key and not a global counter: one client guessing must
 * not lock out everyone else. Why a fixed table: a flood from many
 * addresses must not grow memory; when a key's probe window is full, the
 * entry touched longest ago gives way (it has likely refilled anyway).
 *
 * Threads: any; t->lock guards every entry.
 */
#include "throttle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"
#include "util.h"

#define THROTTLE_KEY_MAX 64 /* an IPv6 /64 with its suffix, or a user name */
#define THROTTLE_PROBE 8    /* entries looked at for one key */

struct entry {
	char key[THROTTLE_KEY_MAX]; /* "" = free */
	int64_t credit_ms;          /* allowance in ms of refill time, at most burst*refill_ms */
	int64_t last_ms;            /* when credit_ms was last brought up to date */
};

struct throttle {
	struct throttle_policy p;
	pthread_mutex_t lock;  /* guards entries */
	struct entry *entries; /* p.slots of them */
};

struct throttle *throttle_new(const struct throttle_policy *policy)
{
	TB_ASSERT(policy->burst > 0 && policy->refill_ms > 0);
	TB_ASSERT(policy->slots >= THROTTLE_PROBE && (policy->slots & (policy->slots - 1)) == 0);
	struct throttle *t = tb_xcalloc(1, sizeof *t);
	t->p = *policy;
	t->entries = tb_xcalloc((size_t)policy->slots, sizeof *t->entries);
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void throttle_free(struct throttle *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->entries);
	free(t);
}

static int64_t full_credit(const struct throttle *t)
{
	return (int64_t)t->p.burst * t->p.refill_ms;
}

/* Bring an entry's credit up to `now`. */
static void refill(const struct throttle *t, struct entry *e, int64_t now_ms)
{
	if (now_ms > e->last_ms) {
		e->credit_ms += now_ms - e->last_ms;
		if (e->credit_ms > full_credit(t))
			e->credit_ms = full_credit(t);
		e->last_ms = now_ms;
	}
}

/* The entry of `key`, or NULL; with `create`, a new one (evicting the stalest of the window). */
static struct entry *lookup(struct throttle *t, const char *key, bool create, int64_t now_ms)
{
	size_t mask = (size_t)t->p.slots - 1;
	size_t h = (size_t)srv_fnv1a64(key, strlen(key), 0);
	struct entry *free_slot = NULL, *stalest = NULL;
	for (size_t i = 0; i < THROTTLE_PROBE; i++) {
		struct entry *e = &t->entries[(h + i) & mask];
		if (!e->key[0]) {
			if (!free_slot)
				free_slot = e;
			continue;
		}
		if (!strncmp(e->key, key, THROTTLE_KEY_MAX - 1))
			return e;
		if (!stalest || e->last_ms < stalest->last_ms)
			stalest = e;
	}
	if (!create)
		return NULL;
	struct entry *e = free_slot ? free_slot : stalest;
	srv_strlcpy(e->key, key, sizeof e->key);
	e->credit_ms = full_credit(t);
	e->last_ms = now_ms;
	return e;
}

int throttle_wait_s(struct throttle *t, const char *key, int64_t now_ms)
{
	pthread_mutex_lock(&t->lock);
	int wait = 0;
	struct entry *e = lookup(t, key, false, now_ms);
	if (e) {
		refill(t, e, now_ms);
		/* One try costs refill_ms of credit. */
		if (e->credit_ms < t->p.refill_ms)
			wait = (int)((t->p.refill_ms - e->credit_ms + 999) / 1000);
	}
	pthread_mutex_unlock(&t->lock);
	return wait;
}

void throttle_failed(struct throttle *t, const char *key, int64_t now_ms)
{
	pthread_mutex_lock(&t->lock);
	struct entry *e = lookup(t, key, true, now_ms);
	refill(t, e, now_ms);
	e->credit_ms -= t->p.refill_ms;
	if (e->credit_ms < 0)
		e->credit_ms = 0;
	pthread_mutex_unlock(&t->lock);
}

void throttle_succeeded(struct throttle *t, const char *key)
{
	pthread_mutex_lock(&t->lock);
	struct entry *e = lookup(t, key, false, 0);
	if (e)
		e->key[0] = '\0';
	pthread_mutex_unlock(&t->lock);
}
