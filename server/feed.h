/*
 * feed.h — what one live-feed client is owed: its subscriptions with a
 * per-run cursor (the last sequence number queued to it), a bounded queue
 * of messages, catching up from the store after subscribe(since=…) or a
 * gap, and the resync rule when it falls too far behind.
 *
 * What it is: the delivery rules of docs/api.md "Live feed", free of
 * libwebsockets so they are unit-tested directly. What it is not: sockets,
 * frames or threads (ws.c).
 *
 * Ordering argument: an event is stored before it is published, and
 * publications of one run arrive in order. A client either takes a live
 * event whose seq is cursor+1, or reads the store from its cursor, so it
 * gets every seq exactly once and in order; anything it could not take is
 * fetched from the store later, or it is told to resync.
 *
 * Threads: the libwebsockets service thread only (messages are refcounted
 * without atomics for that reason), except feed_msg_new, which publishers
 * call on their own thread before handing the message over.
 */
#ifndef TB_SERVER_FEED_H
#define TB_SERVER_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define FEED_HEADROOM 16        /* ≥ LWS_PRE; checked in ws.c */
#define FEED_QUEUE_MAX 512      /* messages a client may have waiting */
#define FEED_QUEUE_BYTES (16u << 20)
#define FEED_CONTROL_MAX 128    /* extra room for run/resync/error messages */
#define FEED_MAX_SUBS 64        /* runs one client follows at once */
#define FEED_IN_MAX 4096        /* a client message */

struct feed_msg {
	int refs;       /* one per queue holding it + the creator until it lets go */
	int64_t run;    /* event messages: run and seq; 0 otherwise */
	int64_t seq;
	size_t len;     /* bytes of text after the headroom */
	char data[];    /* FEED_HEADROOM bytes, then the text */
};

struct feed_msg *feed_msg_new(const char *text, size_t len, int64_t run, int64_t seq);
/* {"type":"event","run":"rN","seq":S,"event":<json>} */
struct feed_msg *feed_msg_event(int64_t run, int64_t seq, const char *json, size_t len);
void feed_msg_unref(struct feed_msg *m);
static inline const char *feed_msg_text(const struct feed_msg *m)
{
	return m->data + FEED_HEADROOM;
}

struct feed_sub {
	int64_t run;
	int64_t cursor;       /* highest seq queued to this client */
	bool catching_up;     /* read the store from cursor before taking live events */
};

struct feed_client {
	struct feed_msg **ring;  /* grows by doubling up to FEED_QUEUE_MAX + FEED_CONTROL_MAX */
	int cap, head, count;
	size_t bytes;
	struct feed_sub subs[FEED_MAX_SUBS];
	int nsubs;
	bool system;             /* subscribe_system */
	bool runs;               /* subscribe_runs */
	int64_t overflows;       /* resyncs sent, for logs and tests */
};

void feed_client_init(struct feed_client *c);
void feed_client_free(struct feed_client *c);

/*
 * Handle one client message (JSON text). Replies and backlog go into the
 * queue. Returns 0, or -1 when the client must be closed (hopelessly behind).
 */
int feed_handle(struct feed_client *c, struct store *store, const char *text, size_t len);

/* A live event / run change / system sample published to every client. */
int feed_on_event(struct feed_client *c, struct feed_msg *m);
int feed_on_run(struct feed_client *c, struct feed_msg *m);
void feed_on_system(struct feed_client *c, struct feed_msg *m);
/* Publications were lost on the way (hub overflow): catch everything up from the store. */
void feed_lost(struct feed_client *c);

/* Top up catching-up subscriptions from the store while the queue has room. */
void feed_fill(struct feed_client *c, struct store *store);

/* The next message to send (still queued), or NULL; then pop it once sent. */
struct feed_msg *feed_peek(const struct feed_client *c);
void feed_pop(struct feed_client *c);

#endif
