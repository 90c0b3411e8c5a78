/*
 * throttle.h — a bounded table of token buckets keyed by any short string:
 * each key may fail `burst` times at once and earns one more try every
 * `refill_ms`. Today the key is a client address (srv_addr_key) and what
 * fails is a wrong token; accounts will key it by user name too.
 *
 * What it is not: the policy of what counts as a failure (http.c and ws.c
 * decide that) or HTTP. It never sleeps: a caller over its budget is told
 * how long to wait and answers at once (429 + Retry-After).
 *
 * Threads: any; one mutex inside guards the table, because libmicrohttpd's
 * thread and the libwebsockets service thread both check logins.
 */
#ifndef TB_SERVER_THROTTLE_H
#define TB_SERVER_THROTTLE_H

#include <stdint.h>

struct throttle;

struct throttle_policy {
	int burst;     /* failures allowed back to back */
	int refill_ms; /* one more allowed failure per this many ms */
	int slots;     /* keys remembered at once (memory bound); a power of two */
};

struct throttle *throttle_new(const struct throttle_policy *policy);
void throttle_free(struct throttle *t);

/*
 * May `key` make an attempt now? 0 = yes; otherwise the whole seconds
 * (>= 1) until it may, for Retry-After. A key never seen may always try.
 */
int throttle_wait_s(struct throttle *t, const char *key, int64_t now_ms);

/* Count a failed attempt of `key`. */
void throttle_failed(struct throttle *t, const char *key, int64_t now_ms);

/* A successful attempt forgets the key's failures. */
void throttle_succeeded(struct throttle *t, const char *key);

#endif
