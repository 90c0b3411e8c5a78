/*
 * fuzz_ws.c — the live feed's client messages (feed_handle, server/feed.c:
 * what server/ws.c hands over once a WebSocket message is reassembled) and
 * the delivery rules they drive, against a real store.
 *
 * The store (made once, never written afterwards, so inputs do not
 * interact) holds run r1 with FEED_EVENTS events and r2 with none. Input:
 * up to 64 steps joined by FUZZ_SEP; each step's first byte says what
 * happens, as it can on the service thread:
 *   0  the client sends the rest of the step as one message;
 *   1  the next few of r1's stored events are published live, in order
 *      (the second byte says how many; an event is stored before it is
 *      published, so only stored ones are);
 *   2  publications are lost (hub overflow: feed_lost, then feed_fill);
 *   3  a run change and a system sample are published;
 *   4+ the client's socket takes up to the second byte's count of messages
 *      (pop, then fill below half a queue, as write_one does).
 * Properties: no crash, leak or UB; every queued message is a JSON object
 * with a "type"; the queue stays within its bounds; and, the feed's
 * ordering promise, r1's events reach the client in consecutive sequence
 * numbers — the chain may restart only after a message from the client
 * (a new subscribe) or a resync.
 *
 * Threads: one (the service thread's role).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "server/feed.h"
#include "server/store.h"

#define FEED_EVENTS 700 /* more than a queue, so catch-up takes several fills */
#define MAX_STEPS 64

static struct store *store_get(void)
{
	static struct store *s;
	if (s)
		return s;
	char path[512], err[256];
	fuzz_path(path, sizeof path, fuzz_scratch(), "feed.db");
	if (store_open(path, &s, err, sizeof err) < 0)
		fuzz_fail("store_open: %s", err);
	struct store_run_new r = {.name = "fuzz", .spec = "data: {dataset: synthetic}", .owner = "fuzz"};
	int64_t id;
	if (store_run_create(s, &r, &id) < 0 || id != 1 || store_run_create(s, &r, &id) < 0)
		fuzz_fail("store_run_create");
	for (int i = 1; i <= FEED_EVENTS; i++) {
		json_t *ev = json_pack("{s:s, s:i}", "type", "log", "step", i);
		int64_t seq;
		if (store_append_json(s, 1, ev, &seq) < 0 || seq != i)
			fuzz_fail("store_append_json");
		json_decref(ev);
	}
	return s;
}

/*
 * What the client has seen of r1: the last seq, -1 when the next may start
 * a new chain. A client message can restart the chain (subscribe with any
 * since), but only for what is queued after it: the restart applies once
 * the messages queued before it are taken, so restart points are counted
 * in messages taken since the start of the input.
 */
struct chain {
	int64_t last;
	int64_t taken;
	int64_t restarts[MAX_STEPS]; /* ascending; restarts[next..count) pending */
	int next, count;
};

static void restart_after_queue(const struct feed_client *c, struct chain *ch)
{
	if (c->count == 0)
		ch->last = -1;
	else
		ch->restarts[ch->count++] = ch->taken + c->count;
}

static void take(struct feed_client *c, struct chain *ch)
{
	struct feed_msg *m = feed_peek(c);
	if (!m)
		return;
	json_t *j = json_loadb(feed_msg_text(m), m->len, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "type"));
	if (!type)
		fuzz_fail("a queued message is not a JSON object with a type: %.200s", feed_msg_text(m));
	if (!strcmp(type, "event") && m->run == 1) {
		if (ch->last >= 0 && m->seq != ch->last + 1)
			fuzz_fail("r1 event %lld after %lld", (long long)m->seq, (long long)ch->last);
		ch->last = m->seq;
	}
	if (!strcmp(type, "resync"))
		ch->last = -1;
	json_decref(j);
	feed_pop(c);
	ch->taken++;
	while (ch->next < ch->count && ch->restarts[ch->next] <= ch->taken) {
		ch->next++;
		ch->last = -1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store *s = store_get();
	struct fuzz_part steps[MAX_STEPS];
	int n = fuzz_split(data, size, steps, MAX_STEPS);
	struct feed_client c;
	/* The single-user owner, who may subscribe to every run. */
	static const struct acct_who owner = {.name = "fuzz", .instructor = true};
	feed_client_init(&c, &owner);
	struct chain ch = {.last = -1};
	int64_t published = 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *p = steps[i].data;
		size_t len = steps[i].len;
		if (len == 0)
			continue;
		int arg = len > 1 ? p[1] : 1;
		int rc = 0;
		if (p[0] == 0) {
			restart_after_queue(&c, &ch);
			rc = feed_handle(&c, s, (const char *)p + 1, len - 1);
		} else if (p[0] == 1) {
			for (int k = 0; k < arg && published < FEED_EVENTS && rc == 0; k++) {
				published++;
				char text[64];
				int tl = snprintf(text, sizeof text, "{\"type\":\"log\",\"step\":%lld}",
						  (long long)published);
				struct feed_msg *m = feed_msg_event(1, published, text, (size_t)tl);
				rc = feed_on_event(&c, m);
				feed_msg_unref(m);
			}
		} else if (p[0] == 2) {
			feed_lost(&c);
			feed_fill(&c, s);
		} else if (p[0] == 3) {
			static const char run[] = "{\"type\":\"run\",\"run\":{\"id\":\"r1\"}}";
			static const char sys[] = "{\"type\":\"system\",\"system\":{}}";
			struct feed_msg *m = feed_msg_new(run, sizeof run - 1, 0, 0);
			rc = feed_on_run(&c, m);
			feed_msg_unref(m);
			m = feed_msg_new(sys, sizeof sys - 1, 0, 0);
			feed_on_system(&c, m);
			feed_msg_unref(m);
		} else {
			for (int k = 0; k < arg && feed_peek(&c); k++) {
				take(&c, &ch);
				if (c.count < FEED_QUEUE_MAX / 2)
					feed_fill(&c, s);
			}
		}
		if (c.count > FEED_QUEUE_MAX + FEED_CONTROL_MAX)
			fuzz_fail("%d messages queued", c.count);
		if (rc < 0)
			break; /* ws.c closes the client */
	}
	/* Drain what is left, checking the tail of the chain too. */
	while (feed_peek(&c))
		take(&c, &ch);
	feed_client_free(&c);
	return 0;
}
