/*
 * store_internal.h — the struct behind struct store, shared by store.c
 * (open, migrations, notebooks), store_runs.c (run rows), store_events.c
 * (events, metrics, checkpoints), store_series.c (curve summaries) and
 * store_accounts.c, and the statement helpers they all use (prepare, a
 * typed write: store_write). Not for other modules.
 */
#ifndef TB_SERVER_STORE_INTERNAL_H
#define TB_SERVER_STORE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdbool.h>
#include <sqlite3.h>

#include "store.h"

struct store {
	sqlite3 *db;
	pthread_mutex_t lock; /* guards db, error_log and every statement below */
	struct srv_log_limit error_log; /* a full disk fails every write: log it once in a while */
	/* WAL checkpoints (which fsync) run on a thread of their own with a
	 * second connection, so committing an event never waits for the disk. */
	sqlite3 *checkpoint_db;     /* checkpoint thread only */
	pthread_t checkpoint_thread;
	bool checkpoint_started;
	pthread_mutex_t checkpoint_lock; /* guards checkpoint_stop and checkpoint_due */
	pthread_cond_t checkpoint_wake;
	pthread_mutex_t checkpoint_pass; /* held through a checkpoint pass, by the thread or the writer */
	bool checkpoint_stop;
	bool checkpoint_due;        /* a commit left the WAL more than half full */
	struct srv_log_limit checkpoint_log; /* checkpoint thread only */
	char wal_path[PATH_MAX];    /* set at open, read-only after */
	int page_size;              /* set at open, read-only after */
	sqlite3_stmt *append_event; /* prepared once: the hot path of every run */
	sqlite3_stmt *bump_seq;
	sqlite3_stmt *insert_metric;
	sqlite3_stmt *update_progress;
	sqlite3_stmt *set_worker_seq;   /* runs.worker_seq of a dial-home worker's event */
	sqlite3_stmt *insert_metric_name;
	/* Statements of frequent reads (status, feed catch-up), prepared once. */
	struct {
		const char *sql;    /* a string literal: its address is the key */
		sqlite3_stmt *st;
	} cache[80];
	int ncache;
	/* The tiles each live series is filling, written out a window at a
	 * time (store_series.c). Guarded by lock. */
	struct series_buffer *buffers;
	int nbuffers, cap_buffers;
};

/* Run `sql` (no results). Caller holds the lock. */
int store_exec(struct store *s, const char *sql);
/* Prepare or log; caller holds the lock and finalizes. */
sqlite3_stmt *store_prepare(struct store *s, const char *sql);
/*
 * The same for a string literal used often: prepared once, kept; give it
 * back with store_release (which resets it) instead of finalizing.
 */
sqlite3_stmt *store_prepare_cached(struct store *s, const char *literal_sql);
void store_release(struct store *s, sqlite3_stmt *st);

/*
 * A bound value: ?1, ?2, … of a statement, in order. Written
 * ARGS(INT(id), TEXT(name), REAL(x), NULL_ARG) where a function takes
 * `const struct store_arg *args, int n`; TEXT(NULL) binds NULL.
 */
struct store_arg {
	enum { STORE_ARG_NULL, STORE_ARG_INT, STORE_ARG_REAL, STORE_ARG_TEXT } kind;
	int64_t i;
	double r;
	const char *t;
};
static inline struct store_arg store_text_arg(const char *v)
{
	return (struct store_arg){.kind = v ? STORE_ARG_TEXT : STORE_ARG_NULL, .t = v};
}
#define INT(v) ((struct store_arg){.kind = STORE_ARG_INT, .i = (v)})
#define REAL(v) ((struct store_arg){.kind = STORE_ARG_REAL, .r = (v)})
#define TEXT(v) store_text_arg(v)
#define NULL_ARG ((struct store_arg){.kind = STORE_ARG_NULL})
#define ARGS(...)                                                                                                      \
	(const struct store_arg[]){__VA_ARGS__},                                                                       \
		(int)(sizeof(const struct store_arg[]){__VA_ARGS__} / sizeof(struct store_arg))

/* Bind args to ?1..?n of st; a value past the statement's last parameter is ignored. */
void store_bind(sqlite3_stmt *st, const struct store_arg *args, int n);

/*
 * A statement that returns rows, with `args` bound: prepared for `sql`, or
 * once for a string literal read often (_cached). NULL when it cannot be
 * prepared. The caller holds the lock and finalizes it (a cached one: store_release).
 */
sqlite3_stmt *store_query(struct store *s, const char *sql, const struct store_arg *args, int n);
sqlite3_stmt *store_query_cached(struct store *s, const char *literal_sql, const struct store_arg *args, int n);

/*
 * Run one statement that returns no rows, with `args` bound; the caller
 * holds the lock. STORE_OK, STORE_EEXIST (a UNIQUE name or key), STORE_EFULL
 * or STORE_EIO; *changes gets the rows it changed (may be NULL).
 */
int store_write(struct store *s, const char *sql, const struct store_arg *args, int n, int *changes);
/* The same for a string literal written often: its statement is prepared once (store_prepare_cached). */
int store_write_cached(struct store *s, const char *literal_sql, const struct store_arg *args, int n, int *changes);

enum store_write_flags {
	STORE_WRITE_CACHED = 1,  /* sql is a string literal written often: store_write_cached */
	STORE_WRITE_ONE_ROW = 2, /* STORE_ENOENT when it changed no row (an UPDATE of a row that is gone) */
};
/* store_write (or _cached) taking the lock for it. */
int store_write_locked(struct store *s, const char *sql, const struct store_arg *args, int n, int flags);

/* Reads of one integer column, taking the lock: the first row's value (0 when none)... */
int64_t store_read_int(struct store *s, const char *literal_sql, const struct store_arg *args, int n);
/* ...and every row's, up to max, into ids: how many. */
int store_read_ids(struct store *s, const char *literal_sql, const struct store_arg *args, int n, int64_t *ids,
		   int max);

/* store_series.c: the curve summaries of a metric event (inside the append transaction, lock held). */
int store_series_add(struct store *s, int64_t run, const char *split, int64_t seq, int64_t step, double time,
		     json_t *values, json_t *thinned);
/* Build the summaries of every run that has none yet (store_open; takes the lock). */
int store_series_build_pending(struct store *s);
/* Write out what run `run`'s series buffer (0: every run's) and forget it; lock held, inside a transaction. */
int store_series_flush_run(struct store *s, int64_t run);
/* Forget what run `run`'s series buffer (0: every run's) without writing it; lock held. */
void store_series_forget(struct store *s, int64_t run);

#endif
