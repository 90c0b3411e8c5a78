/*
 * store.c — opening and migrating the database, keeping its WAL short,
 * notebook owners (see store.h), and the statement helpers of
 * store_internal.h. Run rows are in store_runs.c; events,
 * metrics and checkpoints in store_events.c; curve summaries in
 * store_series.c; accounts in store_accounts.c.
 *
 * Threads: any; every public function holds s->lock for its whole body.
 */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tb.h"

/*
 * Migrations in order; schema_version holds how many have run. Never edit
 * one that has shipped: add the next.
 */
static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE runs("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,"
	" notebook TEXT, cell TEXT, spec TEXT NOT NULL, device TEXT,"
	" created INTEGER NOT NULL, started INTEGER, ended INTEGER,"
	" owner TEXT NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0,"
	" step INTEGER, total_steps INTEGER, epoch INTEGER, epochs INTEGER,"
	" best_metric TEXT, best_value REAL, worker_pid INTEGER, resume TEXT);"
	"CREATE INDEX runs_status ON runs(status);"
	"CREATE TABLE events(run INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" type TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY(run, seq)) WITHOUT ROWID;"
	"CREATE TABLE metrics(run INTEGER NOT NULL, seq INTEGER NOT NULL, step INTEGER,"
	" epoch INTEGER, split TEXT, time REAL, vals TEXT NOT NULL,"
	" PRIMARY KEY(run, seq)) WITHOUT ROWID;"
	"CREATE TABLE checkpoints(run INTEGER NOT NULL, file TEXT NOT NULL, path TEXT NOT NULL,"
	" step INTEGER, epoch INTEGER, bytes INTEGER, best INTEGER NOT NULL DEFAULT 0,"
	" time INTEGER NOT NULL, PRIMARY KEY(run, file)) WITHOUT ROWID;"
	"CREATE TABLE notebooks(path TEXT PRIMARY KEY, owner TEXT NOT NULL,"
	" created INTEGER NOT NULL, modified INTEGER NOT NULL);",
	/* 2: run summaries carry a few hyperparameters instead of the whole spec;
	 * metric names per run, so an export knows its columns without reading
	 * every row first */
	"ALTER TABLE runs ADD COLUMN params TEXT;"
	"CREATE TABLE metric_names(run INTEGER NOT NULL, name TEXT NOT NULL, ord INTEGER NOT NULL,"
	" PRIMARY KEY(run, name)) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO metric_names SELECT m.run, j.key, min(m.seq * 64 + j.id)"
	" FROM metrics m, json_each(m.vals) j GROUP BY m.run, j.key;",
	/* 3: executors whose workers outlive the server (Slurm): the job id, the
	 * secret its worker dials home with, and how many of that worker's own
	 * events are stored, so a re-attached worker's resent events are taken
	 * once */
	"ALTER TABLE runs ADD COLUMN job TEXT;"
	"ALTER TABLE runs ADD COLUMN job_secret TEXT;"
	"ALTER TABLE runs ADD COLUMN worker_seq INTEGER NOT NULL DEFAULT 0;",
	/* 4: classroom accounts. Only hashes of secrets are kept: SHA-256 of
	 * the random session, token and link secrets, argon2id (a PHC string
	 * that records its parameters) of passwords. A deleted user is
	 * archived, never removed: their runs keep naming them as owner, and
	 * the name cannot be given to someone else. */
	"CREATE TABLE users(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
	" email TEXT, role TEXT NOT NULL CHECK(role IN ('instructor', 'student')),"
	" password TEXT, created INTEGER NOT NULL, last_login INTEGER, archived INTEGER);"
	"CREATE TABLE sessions(hash TEXT PRIMARY KEY, user INTEGER NOT NULL REFERENCES users(id),"
	" method TEXT NOT NULL, created INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
	" expires INTEGER NOT NULL, address TEXT, user_agent TEXT, revoked INTEGER) WITHOUT ROWID;"
	"CREATE INDEX sessions_user ON sessions(user);"
	"CREATE TABLE api_tokens(id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL UNIQUE,"
	" user INTEGER NOT NULL REFERENCES users(id), name TEXT NOT NULL, created INTEGER NOT NULL,"
	" last_used INTEGER, revoked INTEGER);"
	"CREATE INDEX api_tokens_user ON api_tokens(user);"
	"CREATE TABLE login_links(hash TEXT PRIMARY KEY, user INTEGER NOT NULL REFERENCES users(id),"
	" created INTEGER NOT NULL, expires INTEGER NOT NULL, used INTEGER) WITHOUT ROWID;"
	"CREATE INDEX login_links_user ON login_links(user);"
	"CREATE INDEX runs_owner ON runs(owner, id);",
	/* 5: what a researcher keeps about a run (notes, tags, archived); its
	 * duration as the sum of its running segments (run_seconds, plus now -
	 * running_since while it runs); an evaluation waiting to start (the
	 * status to restore after it); steps per epoch; a folded metric's
	 * window (thin); curve summaries per level of a few raw points
	 * (series_tiles, store_series.c) with series_ready = 0 on runs whose
	 * summaries are still to be built (every run from before: store_open
	 * builds them); and an index that finds a run's other events without
	 * reading its metrics. */
	"ALTER TABLE runs ADD COLUMN notes TEXT;"
	"ALTER TABLE runs ADD COLUMN tags TEXT;"
	"ALTER TABLE runs ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE runs ADD COLUMN run_seconds REAL NOT NULL DEFAULT 0;"
	"ALTER TABLE runs ADD COLUMN running_since REAL;"
	"ALTER TABLE runs ADD COLUMN evaluate TEXT;"
	"ALTER TABLE runs ADD COLUMN series_ready INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE runs ADD COLUMN steps_per_epoch INTEGER;"
	"UPDATE runs SET run_seconds = max(0, coalesce(ended, started) - started) WHERE started IS NOT NULL;"
	"ALTER TABLE metrics ADD COLUMN thin TEXT;"
	"CREATE INDEX events_other ON events(run, seq) WHERE type <> 'metric';"
	"CREATE TABLE series_tiles(run INTEGER NOT NULL, split TEXT NOT NULL, metric TEXT NOT NULL,"
	" level INTEGER NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL, sum REAL NOT NULL,"
	" lo REAL NOT NULL, hi REAL NOT NULL, first_step INTEGER NOT NULL, last_step INTEGER NOT NULL,"
	" last_value REAL NOT NULL, last_time REAL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,"
	" PRIMARY KEY(run, level, split, metric, bucket)) WITHOUT ROWID;",
	/* 6: the scheduler (scheduler.h, store_sched.c). A run keeps when it joined
	 * the queue (FIFO within a user, and the order survives a restart),
	 * what it needs (so a pass need not parse every waiting spec), its
	 * estimated peak memory, the position and reason of its last pass, an
	 * instructor's extension of its duration limit and the device-seconds
	 * it used. Usage per user and local day (the minutes quotas), decayed
	 * usage per user (fair share), quota overrides by role and user, and
	 * settings such as the instructor's lab sessions. */
	"ALTER TABLE runs ADD COLUMN queued_at INTEGER;"
	"ALTER TABLE runs ADD COLUMN need_gpus INTEGER;"
	"ALTER TABLE runs ADD COLUMN need_index INTEGER;"
	"ALTER TABLE runs ADD COLUMN est_bytes INTEGER;"
	"ALTER TABLE runs ADD COLUMN queue_position INTEGER;"
	"ALTER TABLE runs ADD COLUMN queue_reason TEXT;"
	"ALTER TABLE runs ADD COLUMN duration_limit INTEGER;"
	"ALTER TABLE runs ADD COLUMN compute_s REAL NOT NULL DEFAULT 0;"
	"UPDATE runs SET queued_at = created * 1000;"
	"CREATE INDEX runs_queue ON runs(status, queued_at, id);"
	"CREATE TABLE usage_days(user TEXT NOT NULL, day TEXT NOT NULL, gpu_s REAL NOT NULL DEFAULT 0,"
	" cpu_s REAL NOT NULL DEFAULT 0, PRIMARY KEY(user, day)) WITHOUT ROWID;"
	"CREATE TABLE usage_decayed(user TEXT PRIMARY KEY, gpu_s REAL NOT NULL, cpu_s REAL NOT NULL,"
	" as_of INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE quotas(subject TEXT PRIMARY KEY, limits TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
	/* 7: sweeps (issue 17; keep this the last entry, renumbered when branches merge):
	 * a sweep and its trials, each trial an ordinary run once queued; the
	 * values each trial reached at each ASHA rung, so decisions survive a restart */
	"CREATE TABLE sweeps(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, owner TEXT NOT NULL,"
	" notebook TEXT, cell TEXT, spec TEXT NOT NULL, status TEXT NOT NULL, created INTEGER NOT NULL,"
	" ended INTEGER, metric TEXT NOT NULL, split TEXT NOT NULL, maximize INTEGER NOT NULL,"
	" parallel INTEGER NOT NULL, reduction INTEGER NOT NULL, rungs TEXT NOT NULL, params TEXT NOT NULL);"
	"CREATE INDEX sweeps_owner ON sweeps(owner, id);"
	"CREATE TABLE sweep_trials(sweep INTEGER NOT NULL, trial INTEGER NOT NULL, run INTEGER,"
	" spec TEXT NOT NULL, vals TEXT NOT NULL, metric REAL, epochs INTEGER, asha_stopped INTEGER,"
	" PRIMARY KEY(sweep, trial)) WITHOUT ROWID;"
	"CREATE INDEX sweep_trials_run ON sweep_trials(run);"
	"CREATE TABLE sweep_rungs(sweep INTEGER NOT NULL, epoch INTEGER NOT NULL, trial INTEGER NOT NULL,"
	" value REAL, PRIMARY KEY(sweep, epoch, trial)) WITHOUT ROWID;",
};

_Static_assert(TB_ARRAY_LEN(migrations) == STORE_SCHEMA_VERSION, "STORE_SCHEMA_VERSION is the number of migrations");

int store_exec(struct store *s, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		srv_log_limited(&s->error_log, "store: %s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

sqlite3_stmt *store_prepare(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		srv_log("store: prepare failed: %s", sqlite3_errmsg(s->db));
		return NULL;
	}
	return st;
}

sqlite3_stmt *store_prepare_cached(struct store *s, const char *literal_sql)
{
	for (int i = 0; i < s->ncache; i++)
		if (s->cache[i].sql == literal_sql)
			return s->cache[i].st;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(s->db, literal_sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		srv_log("store: prepare failed: %s", sqlite3_errmsg(s->db));
		return NULL;
	}
	TB_ASSERT(s->ncache < (int)TB_ARRAY_LEN(s->cache));
	s->cache[s->ncache].sql = literal_sql;
	s->cache[s->ncache].st = st;
	s->ncache++;
	return st;
}

void store_release(struct store *s, sqlite3_stmt *st)
{
	for (int i = 0; i < s->ncache; i++) {
		if (s->cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	}
	sqlite3_finalize(st);
}

void store_bind(sqlite3_stmt *st, const struct store_arg *args, int n)
{
	for (int i = 0; i < n; i++) {
		if (args[i].kind == STORE_ARG_INT)
			sqlite3_bind_int64(st, i + 1, args[i].i);
		else if (args[i].kind == STORE_ARG_REAL)
			sqlite3_bind_double(st, i + 1, args[i].r);
		else if (args[i].kind == STORE_ARG_TEXT)
			sqlite3_bind_text(st, i + 1, args[i].t, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, i + 1);
	}
}

/* st (NULL: its prepare failed) with args bound. */
static sqlite3_stmt *bound(sqlite3_stmt *st, const struct store_arg *args, int n)
{
	if (st)
		store_bind(st, args, n);
	return st;
}

sqlite3_stmt *store_query(struct store *s, const char *sql, const struct store_arg *args, int n)
{
	return bound(store_prepare(s, sql), args, n);
}

sqlite3_stmt *store_query_cached(struct store *s, const char *literal_sql, const struct store_arg *args, int n)
{
	return bound(store_prepare_cached(s, literal_sql), args, n);
}

/* store_write on a bound statement from store_query or _cached (NULL: it failed); gives the statement back. */
static int write_statement(struct store *s, sqlite3_stmt *st, int *changes)
{
	if (!st)
		return STORE_EIO;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = STORE_OK;
	} else {
		int ext = sqlite3_extended_errcode(s->db);
		srv_log_limited(&s->error_log, "store: %s", sqlite3_errmsg(s->db));
		rc = ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY ? STORE_EEXIST
		     : rc == SQLITE_FULL                                                    ? STORE_EFULL
											    : STORE_EIO;
	}
	if (changes)
		*changes = sqlite3_changes(s->db);
	store_release(s, st); /* finalizes one that is not cached */
	return rc;
}

int store_write(struct store *s, const char *sql, const struct store_arg *args, int n, int *changes)
{
	return write_statement(s, store_query(s, sql, args, n), changes);
}

int store_write_cached(struct store *s, const char *literal_sql, const struct store_arg *args, int n, int *changes)
{
	return write_statement(s, store_query_cached(s, literal_sql, args, n), changes);
}

int store_write_locked(struct store *s, const char *sql, const struct store_arg *args, int n, int flags)
{
	pthread_mutex_lock(&s->lock);
	int changes = 0;
	int rc = flags & STORE_WRITE_CACHED ? store_write_cached(s, sql, args, n, &changes)
					    : store_write(s, sql, args, n, &changes);
	pthread_mutex_unlock(&s->lock);
	return rc == STORE_OK && (flags & STORE_WRITE_ONE_ROW) && changes == 0 ? STORE_ENOENT : rc;
}

int64_t store_read_int(struct store *s, const char *literal_sql, const struct store_arg *args, int n)
{
	int64_t v = 0;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query_cached(s, literal_sql, args, n);
	if (st) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return v;
}

int store_read_ids(struct store *s, const char *literal_sql, const struct store_arg *args, int n, int64_t *ids, int max)
{
	int count = 0;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query_cached(s, literal_sql, args, n);
	if (st) {
		while (count < max && sqlite3_step(st) == SQLITE_ROW)
			ids[count++] = sqlite3_column_int64(st, 0);
		store_release(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return count;
}

static int schema_version(struct store *s)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT version FROM schema_version");
	if (!st)
		return -1;
	int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return v;
}

static int migrate(struct store *s, char *err, size_t errlen)
{
	if (store_exec(s, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)") < 0)
		goto fail;
	int have = schema_version(s);
	int want = (int)TB_ARRAY_LEN(migrations);
	if (have < 0)
		goto fail;
	if (have > want) {
		snprintf(err, errlen, "database schema version %d is newer than this trainbook (%d)",
			 have, want);
		return -1;
	}
	for (int v = have; v < want; v++) {
		char bump[128];
		snprintf(bump, sizeof bump,
			 "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%d);", v + 1);
		if (store_exec(s, "BEGIN IMMEDIATE") < 0)
			goto fail;
		if (store_exec(s, migrations[v]) < 0 || store_exec(s, bump) < 0) {
			store_exec(s, "ROLLBACK");
			goto fail;
		}
		if (store_exec(s, "COMMIT") < 0)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "database migration failed: %s", sqlite3_errmsg(s->db));
	return -1;
}

#define STORE_CHECKPOINT_MS 1000

/*
 * WAL upkeep. SQLite appends every commit to the WAL; a checkpoint copies
 * the frames back into the database, and once a checkpoint has copied
 * everything the next writer starts the WAL over (and truncates the file to
 * journal_size_limit). Checkpoints fsync, so the routine ones run on a
 * thread with its own connection, off the commit path: every
 * STORE_CHECKPOINT_MS, and at once when a commit leaves more than half of
 * STORE_WAL_LIMIT in the WAL (wal_hook).
 *
 * That thread's PASSIVE pass never waits for the writer, so under a steady
 * stream of commits it may never catch the WAL fully copied at the moment
 * a writer starts, and the file would keep growing. The bound therefore
 * comes from the writer itself: past STORE_WAL_LIMIT, the commit that
 * crosses it runs a PASSIVE pass on the main connection, as SQLite's own
 * autocheckpoint would. It is the only writer and the only reader there,
 * so that pass copies everything and the next commit starts the WAL over:
 * one fsync per STORE_WAL_LIMIT of events, and only when the thread fell
 * behind. (A TRUNCATE from the thread was tried first: it waits for the
 * write lock holding the checkpoint lock, and a busy writer starved it for
 * its whole busy timeout while the WAL grew. It is used only when
 * everything is copied already and the writer has gone quiet, with a short
 * busy timeout, to cut a long file back.)
 *
 * The writer's pass gets SQLITE_BUSY while the thread is mid-pass, and a
 * pass of the thread can take seconds on a loaded disk while a flood of
 * events keeps coming. So the two take turns on checkpoint_pass: below
 * twice the limit the writer only tries it (and tries again at its next
 * commit); past twice the limit it waits for the thread's pass to end, so
 * the WAL never holds much more than 2 x STORE_WAL_LIMIT. (The thread's
 * passes never wait for the writer: PASSIVE does not, and its TRUNCATE
 * gives up after its 50 ms busy timeout.)
 */
static int64_t wal_bytes(const struct store *s)
{
	struct stat sb;
	return stat(s->wal_path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

static void *checkpoint_main(void *arg)
{
	struct store *s = arg;
	pthread_mutex_lock(&s->checkpoint_lock);
	while (!s->checkpoint_stop) {
		if (!s->checkpoint_due) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += STORE_CHECKPOINT_MS / 1000;
			pthread_cond_timedwait(&s->checkpoint_wake, &s->checkpoint_lock, &until);
		}
		if (s->checkpoint_stop)
			break;
		s->checkpoint_due = false;
		pthread_mutex_unlock(&s->checkpoint_lock);
		int log = -1, done = -1;
		pthread_mutex_lock(&s->checkpoint_pass);
		int rc = sqlite3_wal_checkpoint_v2(s->checkpoint_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		/* All copied but the file still long (the writer has gone quiet since
		 * it grew): cut it now rather than at the next commit. */
		if (rc == SQLITE_OK && log == done && wal_bytes(s) > STORE_WAL_LIMIT)
			rc = sqlite3_wal_checkpoint_v2(s->checkpoint_db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
						       NULL);
		pthread_mutex_unlock(&s->checkpoint_pass);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			srv_log_limited(&s->checkpoint_log, "store: WAL checkpoint: %s",
					sqlite3_errmsg(s->checkpoint_db));
		pthread_mutex_lock(&s->checkpoint_lock);
	}
	pthread_mutex_unlock(&s->checkpoint_lock);
	return NULL;
}

/* After every commit on the main connection (its thread, s->lock held). */
static int wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
	struct store *s = ctx;
	int64_t bytes = (int64_t)frames * s->page_size;
	if (bytes > STORE_WAL_LIMIT) {
		/* Past twice the limit, wait for the thread's pass; below, only if free. */
		bool must = bytes > 2 * STORE_WAL_LIMIT;
		if ((must ? pthread_mutex_lock(&s->checkpoint_pass) : pthread_mutex_trylock(&s->checkpoint_pass)) == 0) {
			sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
			pthread_mutex_unlock(&s->checkpoint_pass);
		}
	} else if (bytes > STORE_WAL_LIMIT / 2) {
		pthread_mutex_lock(&s->checkpoint_lock);
		if (!s->checkpoint_due) {
			s->checkpoint_due = true;
			pthread_cond_signal(&s->checkpoint_wake);
		}
		pthread_mutex_unlock(&s->checkpoint_lock);
	}
	return SQLITE_OK;
}

static void start_checkpointer(struct store *s, const char *path)
{
	if (sqlite3_open_v2(path, &s->checkpoint_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		goto fallback;
	sqlite3_busy_timeout(s->checkpoint_db, 50); /* never hold the checkpoint lock long */
	/*
	 * A connection learns that the database is in WAL mode only when it
	 * first reads it; until then sqlite3_wal_checkpoint_v2 (before SQLite
	 * 3.42) returns SQLITE_OK and does nothing at all. This read is what
	 * makes the checkpoints below real: without it the WAL grew by every
	 * event for as long as the server ran.
	 */
	if (sqlite3_exec(s->checkpoint_db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto fallback;
	if (pthread_create(&s->checkpoint_thread, NULL, checkpoint_main, s) != 0)
		goto fallback;
	s->checkpoint_started = true;
	store_exec(s, "PRAGMA wal_autocheckpoint=0");
	sqlite3_wal_hook(s->db, wal_hook, s);
	return;
fallback:
	/* No thread: SQLite checkpoints on commit, as it does by default. */
	srv_log("store: no checkpoint thread (%s); checkpointing on commit",
		s->checkpoint_db ? sqlite3_errmsg(s->checkpoint_db) : "cannot open a second connection");
	sqlite3_close(s->checkpoint_db);
	s->checkpoint_db = NULL;
}

static void stop_checkpointer(struct store *s)
{
	if (s->checkpoint_started) {
		pthread_mutex_lock(&s->checkpoint_lock);
		s->checkpoint_stop = true;
		pthread_cond_signal(&s->checkpoint_wake);
		pthread_mutex_unlock(&s->checkpoint_lock);
		pthread_join(s->checkpoint_thread, NULL);
		s->checkpoint_started = false;
		sqlite3_wal_hook(s->db, NULL, NULL);
	}
	sqlite3_close(s->checkpoint_db);
	s->checkpoint_db = NULL;
}

int store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store *s = tb_xcalloc(1, sizeof *s);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->checkpoint_lock, NULL);
	pthread_mutex_init(&s->checkpoint_pass, NULL);
	pthread_cond_init(&s->checkpoint_wake, NULL);
	*out = NULL;
	/* NOMUTEX: our own lock serialises every use of the connection. */
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* WAL + NORMAL: a crash of this process loses nothing committed; only an
	 * OS crash may lose the last transactions, which is fine for metrics. */
	char pragmas[160];
	snprintf(pragmas, sizeof pragmas,
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
		 " PRAGMA journal_size_limit=%lld;", (long long)STORE_WAL_LIMIT);
	if (store_exec(s, pragmas) < 0) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (migrate(s, err, errlen) < 0)
		goto fail;
	s->append_event = store_prepare(s, "INSERT INTO events(run, seq, type, json) VALUES(?,?,?,?)");
	s->bump_seq = store_prepare(s, "UPDATE runs SET last_seq = last_seq + 1 WHERE id = ?"
				       " RETURNING last_seq");
	s->insert_metric = store_prepare(s, "INSERT INTO metrics(run, seq, step, epoch, split, time, vals, thin)"
					    " VALUES(?,?,?,?,?,?,?,?)");
	s->update_progress = store_prepare(s, "UPDATE runs SET step = coalesce(?, step),"
					      " epoch = coalesce(?, epoch) WHERE id = ?");
	s->insert_metric_name = store_prepare(s, "INSERT OR IGNORE INTO metric_names(run, name, ord)"
						 " VALUES(?,?,?)");
	s->set_worker_seq = store_prepare(s, "UPDATE runs SET worker_seq = max(worker_seq, ?) WHERE id = ?");
	if (!s->append_event || !s->bump_seq || !s->insert_metric || !s->update_progress ||
	    !s->insert_metric_name || !s->set_worker_seq) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	s->page_size = 4096;
	sqlite3_stmt *ps = store_prepare(s, "PRAGMA page_size");
	if (ps && sqlite3_step(ps) == SQLITE_ROW)
		s->page_size = sqlite3_column_int(ps, 0);
	sqlite3_finalize(ps);
	snprintf(s->wal_path, sizeof s->wal_path, "%s-wal", path);
	if (store_series_build_pending(s) < 0)
		srv_log("store: some curves will draw from their raw points only until rebuilt");
	start_checkpointer(s, path);
	*out = s;
	return 0;
fail:
	store_free(s);
	return -1;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	stop_checkpointer(s);
	if (s->db && s->nbuffers) {
		/* What live series buffered, so the next start need not rebuild their tiles. */
		pthread_mutex_lock(&s->lock);
		if (store_exec(s, "BEGIN IMMEDIATE") == 0) {
			if (store_series_flush_run(s, 0) == 0)
				store_exec(s, "COMMIT");
			else
				store_exec(s, "ROLLBACK");
		}
		pthread_mutex_unlock(&s->lock);
	}
	free(s->buffers);
	for (int i = 0; i < s->ncache; i++)
		sqlite3_finalize(s->cache[i].st);
	sqlite3_finalize(s->append_event);
	sqlite3_finalize(s->bump_seq);
	sqlite3_finalize(s->insert_metric);
	sqlite3_finalize(s->update_progress);
	sqlite3_finalize(s->insert_metric_name);
	sqlite3_finalize(s->set_worker_seq);
	if (s->db) {
		/* Fold the WAL back so the .db file alone is a complete copy. */
		sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		sqlite3_close(s->db);
	}
	pthread_cond_destroy(&s->checkpoint_wake);
	pthread_mutex_destroy(&s->checkpoint_lock);
	pthread_mutex_destroy(&s->checkpoint_pass);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- notebooks ------------------------------------------------------------ */

int store_notebook_touch(struct store *s, const char *path, const char *owner)
{
	int rc = store_write_locked(s,
				    "INSERT INTO notebooks(path, owner, created, modified) VALUES(?1, ?2, ?3, ?3)"
				    " ON CONFLICT(path) DO UPDATE SET modified = excluded.modified",
				    ARGS(TEXT(path), TEXT(owner), INT(srv_unix_now())), 0);
	return rc == STORE_OK ? 0 : -1;
}

int store_notebook_rename(struct store *s, const char *from, const char *to)
{
	/* The target may hold a stale record of a file deleted behind our back. */
	store_write_locked(s, "DELETE FROM notebooks WHERE path = ?1", ARGS(TEXT(to)), 0);
	int rc = store_write_locked(s, "UPDATE notebooks SET path = ?2 WHERE path = ?1", ARGS(TEXT(from), TEXT(to)), 0);
	return rc == STORE_OK ? 0 : -1;
}

int store_notebook_delete(struct store *s, const char *path)
{
	return store_write_locked(s, "DELETE FROM notebooks WHERE path = ?1", ARGS(TEXT(path)), 0) == STORE_OK ? 0 : -1;
}

bool store_notebook_owner(struct store *s, const char *path, char *owner, size_t len)
{
	bool found = false;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_query(s, "SELECT owner FROM notebooks WHERE path = ?", ARGS(TEXT(path)));
	if (st) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			srv_strlcpy(owner, (const char *)sqlite3_column_text(st, 0), len);
			found = true;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}
