/*
 * board.h — what the instructor board is sent: for every recent run its
 * summary (name, owner, status, queue position and reason, progress, best
 * metric, device, device time), a downsampled series of its train loss and
 * accuracy, and the worker's clock of its newest event ("event_ms", unix
 * milliseconds: the board measures its lag from it). The feed's
 * `subscribe_board` (instructors only, feed.c) gets a snapshot of it all,
 * then `board` messages with what changed: at most one per run a second,
 * at once when a run that was quiet for a second has news (so the board
 * trails a worker by one hop, not by a tick), and at once when a run ends
 * (its last state and point are not held back a second). 60 students' runs at
 * 20 metric events a second each become ≤ 60 small updates a second.
 *
 * What it is not: delivery (ws.c, feed.c) or storage. It learns of events
 * and run changes from the hooks serve_main.c wires to runq.
 *
 * Threads: board_on_event/board_on_run from the supervisor thread (and API
 * threads through run_changed), board_snapshot from the feed's service
 * thread; a ticker thread of its own publishes. Everything is guarded by
 * the board's lock, which is never held while publishing.
 */
#ifndef TB_SERVER_BOARD_H
#define TB_SERVER_BOARD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct board;
struct store;

#define BOARD_POINTS 120    /* a series keeps at most this many points; past it every other goes */
#define BOARD_MAX_RUNS 2000 /* runs followed at once; the oldest go first */
#define BOARD_EVERY_MS 1000 /* one update per run at most this often */

/* Called with a `board` message's text (the ticker thread, no lock held). */
typedef void (*board_publish_fn)(void *ctx, const char *json, size_t len);

/* Seeded from the store with the newest runs and their recent metrics. */
struct board *board_new(struct store *store, board_publish_fn publish, void *ctx);
int board_start(struct board *b);
void board_free(struct board *b);

/* A stored event of `run` (its JSON text). */
void board_on_event(struct board *b, int64_t run, const char *json, size_t len);
/* `run`'s summary changed (the store's run summary, borrowed), or the run is gone (NULL). */
void board_on_run(struct board *b, int64_t run, const json_t *summary);

/* {"type":"board","full":true,"tick":N,"runs":[…]}: everything, for a new subscriber (malloc'd). */
char *board_snapshot(struct board *b);

/*
 * The series rule, shared with the page (web/src/board.js): append a
 * point; when past BOARD_POINTS, keep every other one, the newest always.
 * Exposed for unit tests.
 */
struct board_series {
	int64_t step[BOARD_POINTS + 1];
	double value[BOARD_POINTS + 1];
	int n;
};
void board_series_add(struct board_series *s, int64_t step, double value);

#endif
