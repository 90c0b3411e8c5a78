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
#include <jansson.h>
#include <stdint.h>

#include "accounts.h"

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
	char owner[STORE_NAME_MAX]; /* run messages: the run's owner, who (and instructors) may see it */
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

/*
 * The access rule of each message type, in both directions (docs/api.md
 * "Live feed"). A type without a rule is refused (client messages) and
 * fails the isolation sweep, which walks this table (--list-feed).
 */
enum feed_rule {
	FEED_RULE_NONE = 0,   /* no rule written: refused */
	FEED_RULE_ANY,        /* any signed-in user; it names nothing of anyone else's */
	FEED_RULE_RUN_OWNER,  /* about one run: its owner or an instructor; others get the error of a missing run */
	FEED_RULE_OWN_RUNS,   /* only runs the caller owns (instructors: every run) */
	FEED_RULE_REDACTED,   /* to everyone, other users' runs unnamed (instructors see all) */
	FEED_RULE_INSTRUCTOR, /* instructors only (the board: every student's runs); students get an error */
	FEED_NRULES
};
extern const char *const feed_rule_names[FEED_NRULES];

struct feed_client;
struct feed_type {
	const char *dir;      /* "in" (client → server) or "out" (server → client) */
	const char *type;     /* the message's "type" */
	enum feed_rule rule;
	const char *summary;
	/* in: handle the parsed message; 0, or -1 to close the client */
	int (*handle)(struct feed_client *c, struct store *store, json_t *msg);
};
extern const struct feed_type feed_types[];
extern const size_t feed_ntypes;

struct feed_client {
	struct feed_msg **ring;  /* grows by doubling up to FEED_QUEUE_MAX + FEED_CONTROL_MAX */
	int cap, head, count;
	size_t bytes;
	struct feed_sub subs[FEED_MAX_SUBS];
	int nsubs;
	bool system;             /* subscribe_system */
	bool runs;               /* subscribe_runs */
	bool board;              /* subscribe_board (instructors) */
	bool board_due;          /* owes a board snapshot: just subscribed, or updates were dropped */
	int64_t overflows;       /* resyncs sent, for logs and tests */
	struct acct_who who;     /* whose feed this is: what the rules are decided on */
};

/* A client of `who` (single-user mode: the OS user, who sees everything). */
void feed_client_init(struct feed_client *c, const struct acct_who *who);
void feed_client_free(struct feed_client *c);

/*
 * Handle one client message (JSON text). Replies and backlog go into the
 * queue. Returns 0, or -1 when the client must be closed (hopelessly behind).
 */
int feed_handle(struct feed_client *c, struct store *store, const char *text, size_t len);

/*
 * A live event / run change / system sample published to every client.
 * Run messages reach a client only when m->owner is the client's user (or
 * it is an instructor's); events only through a subscription, which the
 * same rule let in.
 */
int feed_on_event(struct feed_client *c, struct feed_msg *m);
int feed_on_run(struct feed_client *c, struct feed_msg *m);
void feed_on_system(struct feed_client *c, struct feed_msg *m);
/*
 * A board update (board.h) for board subscribers. A client too busy to
 * take it skips it and is owed a fresh snapshot instead (board_due).
 */
void feed_on_board(struct feed_client *c, struct feed_msg *m);
/* Queue a board snapshot for a client that is owed one, when it has room. */
void feed_board_snapshot(struct feed_client *c, struct feed_msg *snapshot);

/*
 * The system message `who` gets for `all` (a new reference): `all` itself
 * when it names no run of anyone else, else a copy with other users' GPU
 * processes unnamed (access_system_view).
 */
struct feed_msg *feed_system_view(const struct acct_who *who, struct feed_msg *all);
/* Publications were lost on the way (hub overflow): catch everything up from the store. */
void feed_lost(struct feed_client *c);

/* Top up catching-up subscriptions from the store while the queue has room. */
void feed_fill(struct feed_client *c, struct store *store);

/* The next message to send (still queued), or NULL; then pop it once sent. */
struct feed_msg *feed_peek(const struct feed_client *c);
void feed_pop(struct feed_client *c);

#endif
