/*
 * feed.c — per-client delivery rules of the live feed and the access rule
 * of each message type (see feed.h).
 *
 * Threads: the libwebsockets service thread only.
 */
#include "feed.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "store.h"
#include "tb.h"

#define RING_MAX (FEED_QUEUE_MAX + FEED_CONTROL_MAX)
#define RING_START 16 /* most clients never have more waiting; grow on demand */

struct feed_msg *feed_msg_new(const char *text, size_t len, int64_t run, int64_t seq)
{
	struct feed_msg *m = tb_xmalloc(sizeof *m + FEED_HEADROOM + len + 1);
	m->refs = 1;
	m->owner[0] = '\0';
	m->run = run;
	m->seq = seq;
	m->len = len;
	memcpy(m->data + FEED_HEADROOM, text, len);
	m->data[FEED_HEADROOM + len] = '\0';
	return m;
}

struct feed_msg *feed_msg_event(int64_t run, int64_t seq, const char *json, size_t len)
{
	char head[96];
	int n = snprintf(head, sizeof head,
			 "{\"type\":\"event\",\"run\":\"r%" PRId64 "\",\"seq\":%" PRId64 ",\"event\":",
			 run, seq);
	struct feed_msg *m = tb_xmalloc(sizeof *m + FEED_HEADROOM + (size_t)n + len + 2);
	m->refs = 1;
	m->owner[0] = '\0';
	m->run = run;
	m->seq = seq;
	m->len = (size_t)n + len + 1;
	char *p = m->data + FEED_HEADROOM;
	memcpy(p, head, (size_t)n);
	memcpy(p + n, json, len);
	p[(size_t)n + len] = '}';
	p[(size_t)n + len + 1] = '\0';
	return m;
}

void feed_msg_unref(struct feed_msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

void feed_client_init(struct feed_client *c, const struct acct_who *who)
{
	memset(c, 0, sizeof *c);
	c->who = *who;
}

/* May this client see what belongs to `owner`? */
static bool sees(const struct feed_client *c, const char *owner)
{
	return c->who.instructor || !strcmp(owner, c->who.name);
}

void feed_client_free(struct feed_client *c)
{
	while (c->count)
		feed_pop(c);
	free(c->ring);
	memset(c, 0, sizeof *c);
}

/* Append without any bound check; the callers decide what may go in. */
static void push(struct feed_client *c, struct feed_msg *m)
{
	TB_ASSERT(c->count < RING_MAX);
	if (c->count == c->cap) {
		int cap = c->cap ? c->cap * 2 : RING_START;
		if (cap > RING_MAX)
			cap = RING_MAX;
		struct feed_msg **ring = tb_xmalloc((size_t)cap * sizeof *ring);
		for (int i = 0; i < c->count; i++)
			ring[i] = c->ring[(c->head + i) % c->cap];
		free(c->ring);
		c->ring = ring;
		c->cap = cap;
		c->head = 0;
	}
	m->refs++;
	c->ring[(c->head + c->count) % c->cap] = m;
	c->count++;
	c->bytes += m->len;
}

struct feed_msg *feed_peek(const struct feed_client *c)
{
	return c->count ? c->ring[c->head] : NULL;
}

void feed_pop(struct feed_client *c)
{
	if (!c->count)
		return;
	struct feed_msg *m = c->ring[c->head];
	c->head = (c->head + 1) % c->cap;
	c->count--;
	c->bytes -= m->len;
	feed_msg_unref(m);
}

static bool full(const struct feed_client *c)
{
	return c->count >= FEED_QUEUE_MAX || c->bytes >= FEED_QUEUE_BYTES;
}

/* Control messages may use the extra room; past it the client is hopeless. */
static int push_control(struct feed_client *c, const char *text)
{
	if (c->count >= RING_MAX)
		return -1;
	struct feed_msg *m = feed_msg_new(text, strlen(text), 0, 0);
	push(c, m);
	feed_msg_unref(m);
	return 0;
}

static int push_error(struct feed_client *c, const char *message)
{
	json_t *j = json_pack("{s:s, s:s}", "type", "error", "message", message);
	char *text = json_dumps(j, JSON_COMPACT);
	int rc = push_control(c, text);
	free(text);
	json_decref(j);
	return rc;
}

static struct feed_sub *find_sub(struct feed_client *c, int64_t run)
{
	for (int i = 0; i < c->nsubs; i++)
		if (c->subs[i].run == run)
			return &c->subs[i];
	return NULL;
}

static void remove_sub(struct feed_client *c, struct feed_sub *s)
{
	*s = c->subs[--c->nsubs];
}

int feed_on_event(struct feed_client *c, struct feed_msg *m)
{
	struct feed_sub *s = find_sub(c, m->run);
	if (!s || s->catching_up || m->seq <= s->cursor)
		return 0;
	if (m->seq > s->cursor + 1) {
		s->catching_up = true; /* a gap: the store has what we missed */
		return 0;
	}
	if (full(c)) {
		char text[128];
		snprintf(text, sizeof text, "{\"type\":\"resync\",\"run\":\"r%" PRId64 "\",\"since\":%" PRId64 "}",
			 s->run, s->cursor);
		remove_sub(c, s);
		c->overflows++;
		return push_control(c, text);
	}
	push(c, m);
	s->cursor = m->seq;
	return 0;
}

int feed_on_run(struct feed_client *c, struct feed_msg *m)
{
	if (!c->runs || !sees(c, m->owner))
		return 0;
	if (c->count >= RING_MAX)
		return -1;
	push(c, m);
	return 0;
}

void feed_on_system(struct feed_client *c, struct feed_msg *m)
{
	/* A sample is replaced by the next one a second later: drop it when busy. */
	if (c->system && !full(c))
		push(c, m);
}

void feed_on_board(struct feed_client *c, struct feed_msg *m)
{
	if (!c->board || !c->who.instructor)
		return;
	if (c->board_due || full(c)) {
		c->board_due = true; /* what it missed is in the next snapshot */
		return;
	}
	push(c, m);
}

void feed_board_snapshot(struct feed_client *c, struct feed_msg *snapshot)
{
	if (!c->board || !c->who.instructor || !c->board_due || c->count >= FEED_QUEUE_MAX / 2)
		return;
	push(c, snapshot);
	c->board_due = false;
}

struct feed_msg *feed_system_view(const struct acct_who *who, struct feed_msg *all)
{
	/* Only GPU processes of runs carry an owner: without one there is nothing to hide. */
	if (who->instructor || !strstr(feed_msg_text(all), "\"owner\":\"")) {
		all->refs++;
		return all;
	}
	json_t *msg = json_loadb(feed_msg_text(all), all->len, 0, NULL);
	access_system_view(who, json_object_get(msg, "system"));
	char *text = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(4));
	json_decref(msg);
	struct feed_msg *m = feed_msg_new(text ? text : "{\"type\":\"system\",\"system\":{}}",
					  text ? strlen(text) : 27, 0, 0);
	free(text);
	return m;
}

void feed_lost(struct feed_client *c)
{
	for (int i = 0; i < c->nsubs; i++)
		c->subs[i].catching_up = true;
}

struct fill_ctx {
	struct feed_client *c;
	struct feed_sub *s;
};

static int fill_one(void *ctx, int64_t seq, const char *json, size_t len)
{
	struct fill_ctx *f = ctx;
	struct feed_msg *m = feed_msg_event(f->s->run, seq, json, len);
	push(f->c, m);
	feed_msg_unref(m);
	f->s->cursor = seq;
	return f->c->bytes >= FEED_QUEUE_BYTES / 2; /* stop early on huge events */
}

void feed_fill(struct feed_client *c, struct store *store)
{
	/* Fill to half the queue only, so live events keep room behind the backlog. */
	for (int i = 0; i < c->nsubs; i++) {
		struct feed_sub *s = &c->subs[i];
		if (!s->catching_up)
			continue;
		int room = FEED_QUEUE_MAX / 2 - c->count;
		if (room <= 0 || c->bytes >= FEED_QUEUE_BYTES / 2)
			return;
		struct fill_ctx f = {c, s};
		int got = store_events_foreach(store, s->run, s->cursor, room, false, fill_one, &f);
		if (got >= 0 && got < room && c->bytes < FEED_QUEUE_BYTES / 2)
			s->catching_up = false; /* reached the end of what is stored */
	}
}

/* ---- client messages, one handler each ------------------------------------- */

static int on_subscribe(struct feed_client *c, struct store *store, json_t *msg)
{
	const char *rid = json_string_value(json_object_get(msg, "run"));
	int64_t run = store_parse_run_id(rid);
	json_t *since = json_object_get(msg, "since");
	struct store_run_info info;
	struct feed_sub *s = find_sub(c, run);
	char err[160];
	if (run < 0)
		return push_error(c, "subscribe needs \"run\": \"r<number>\"");
	if (since && (!json_is_integer(since) || json_integer_value(since) < 0))
		return push_error(c, "\"since\" must be a sequence number ≥ 0");
	/* Someone else's run answers exactly as a missing one does. */
	bool exists = store_run_info(store, run, &info) == 0;
	bool allowed = exists && sees(c, info.owner);
	if (exists)
		store_run_info_free(&info);
	if (!allowed) {
		snprintf(err, sizeof err, "no run %s", rid);
		return push_error(c, err);
	}
	if (!s && c->nsubs >= FEED_MAX_SUBS)
		return push_error(c, "too many subscriptions");
	if (!s)
		s = &c->subs[c->nsubs++];
	s->run = run;
	s->cursor = since ? json_integer_value(since) : 0;
	s->catching_up = true;
	feed_fill(c, store);
	return 0;
}

static int on_unsubscribe(struct feed_client *c, struct store *store, json_t *msg)
{
	(void)store;
	struct feed_sub *s = find_sub(c, store_parse_run_id(json_string_value(json_object_get(msg, "run"))));
	if (s)
		remove_sub(c, s);
	return 0;
}

static int on_system(struct feed_client *c, struct store *store, json_t *msg)
{
	(void)store;
	c->system = !strcmp(json_string_value(json_object_get(msg, "type")), "subscribe_system");
	return 0;
}

static int on_runs(struct feed_client *c, struct store *store, json_t *msg)
{
	(void)store;
	c->runs = !strcmp(json_string_value(json_object_get(msg, "type")), "subscribe_runs");
	return 0;
}

/* The snapshot follows from ws.c, which holds the board (feed_board_snapshot). */
static int on_board(struct feed_client *c, struct store *store, json_t *msg)
{
	(void)store;
	c->board = !strcmp(json_string_value(json_object_get(msg, "type")), "subscribe_board");
	c->board_due = c->board;
	return 0;
}

const char *const feed_rule_names[FEED_NRULES] = {
	[FEED_RULE_NONE] = "none",
	[FEED_RULE_ANY] = "any",
	[FEED_RULE_RUN_OWNER] = "run-owner",
	[FEED_RULE_OWN_RUNS] = "own-runs",
	[FEED_RULE_REDACTED] = "redacted",
	[FEED_RULE_INSTRUCTOR] = "instructor",
};

/*
 * Every message type in both directions, with its rule. The rules are
 * enforced where the messages are made: on_subscribe (run-owner),
 * feed_on_run (own-runs), feed_system_view (redacted), feed_handle and
 * feed_on_board (instructor); events and resyncs only ever follow a
 * subscription the rule let in.
 */
const struct feed_type feed_types[] = {
	{"in", "subscribe", FEED_RULE_RUN_OWNER, "follow a run's events from a sequence number", on_subscribe},
	{"in", "unsubscribe", FEED_RULE_ANY, "stop following a run", on_unsubscribe},
	{"in", "subscribe_system", FEED_RULE_REDACTED, "a system sample every second", on_system},
	{"in", "unsubscribe_system", FEED_RULE_ANY, "stop the system samples", on_system},
	{"in", "subscribe_runs", FEED_RULE_OWN_RUNS, "a run message when a run changes", on_runs},
	{"in", "unsubscribe_runs", FEED_RULE_ANY, "stop the run messages", on_runs},
	{"in", "subscribe_board", FEED_RULE_INSTRUCTOR, "the instructor board: a snapshot, then updates", on_board},
	{"in", "unsubscribe_board", FEED_RULE_ANY, "stop the board updates", on_board},
	{"out", "event", FEED_RULE_RUN_OWNER, "a stored event of a subscribed run", NULL},
	{"out", "resync", FEED_RULE_RUN_OWNER, "a subscribed run fell behind: subscribe again", NULL},
	{"out", "run", FEED_RULE_OWN_RUNS, "a run's summary after a change (or its deletion)", NULL},
	{"out", "system", FEED_RULE_REDACTED, "GPU, CPU and memory use", NULL},
	{"out", "board", FEED_RULE_INSTRUCTOR, "every run's summary and sparkline points, ≤ 1 a second per run", NULL},
	{"out", "error", FEED_RULE_ANY, "what was wrong with a client message", NULL},
};
const size_t feed_ntypes = sizeof feed_types / sizeof feed_types[0];

int feed_handle(struct feed_client *c, struct store *store, const char *text, size_t len)
{
	if (len > FEED_IN_MAX)
		return push_error(c, "message too long");
	json_t *msg = json_loadb(text, len, 0, NULL);
	const char *type = json_string_value(json_object_get(msg, "type"));
	const struct feed_type *t = NULL;
	for (size_t i = 0; type && i < feed_ntypes && !t; i++)
		if (!strcmp(feed_types[i].dir, "in") && !strcmp(feed_types[i].type, type))
			t = &feed_types[i];
	int rc;
	char err[160];
	if (!type) {
		rc = push_error(c, "expected a JSON object with a \"type\"");
	} else if (!t || !t->handle) {
		snprintf(err, sizeof err, "unknown message type \"%.40s\"", type);
		rc = push_error(c, err);
	} else if (t->rule <= FEED_RULE_NONE || t->rule >= FEED_NRULES) {
		snprintf(err, sizeof err, "message type \"%.40s\" has no access rule (a server bug)", type);
		rc = push_error(c, err);
	} else if (t->rule == FEED_RULE_INSTRUCTOR && !c->who.instructor) {
		snprintf(err, sizeof err, "only instructors may send \"%.40s\"", type);
		rc = push_error(c, err);
	} else {
		rc = t->handle(c, store, msg);
	}
	json_decref(msg);
	return rc;
}
