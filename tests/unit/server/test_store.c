/*
 * test_store.c — server/store*.c on a temporary SQLite file: migrations,
 * gapless per-run sequence numbers, derived run state, exports, reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "server/export.h"
#include "server/store.h"
#include "server/util.h"
#include "tests/unit/server/temp_store.h"

struct fixture {
	char dir[64];
	char path[128];
	struct store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	f->s = temp_store_open(f->dir, sizeof f->dir, "store");
	snprintf(f->path, sizeof f->path, "%s/db", f->dir); /* to reopen it */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	temp_store_close(f->s, f->dir);
	free(f);
	return 0;
}

static int64_t new_run(struct store *s)
{
	struct store_run_new r = {.name = "t", .spec = "train: {epochs: 1}\n", .owner = "alice"};
	int64_t id = 0;
	assert_int_equal(store_run_create(s, &r, &id), 0);
	assert_true(id > 0);
	return id;
}

static int64_t append(struct store *s, int64_t run, const char *text)
{
	json_t *ev = json_loads(text, 0, NULL);
	assert_non_null(ev);
	int64_t seq = -1;
	assert_int_equal(store_append_event(s, run, text, strlen(text), ev, &seq), 0);
	json_decref(ev);
	return seq;
}

/* The whole export, read in small pieces as libmicrohttpd would. */
static char *export_all(struct store *s, int64_t run, enum export_format format)
{
	struct export *e = export_new(s, run, format);
	struct srv_buf out = {0};
	char piece[7];
	size_t n;
	while ((n = export_read(e, piece, sizeof piece)) > 0)
		srv_buf_append(&out, piece, n);
	export_free(e);
	srv_buf_puts(&out, "");
	return srv_buf_steal(&out);
}

/*
 * Exports of more rows than one page: every row once, in order, columns
 * from names that first appear late, time with milliseconds.
 */
static void export_pages(void **state)
{
	struct fixture *f = *state;
	int64_t r = new_run(f->s);
	int rows = EXPORT_PAGE_ROWS * 2 + 7;
	for (int i = 1; i <= rows; i++) {
		char text[256];
		snprintf(text, sizeof text, "{\"type\":\"metric\",\"step\":%d,\"epoch\":0,\"time\":1780000000.125,"
			 "\"values\":{\"loss\":%d%s}}", i, i, i == rows ? ",\"late\":1" : "");
		append(f->s, r, text);
	}
	char *csv = export_all(f->s, r, EXPORT_CSV);
	assert_non_null(strstr(csv, "step,epoch,split,time,loss,late\n1,0,train,1780000000.125,1,\n"));
	int lines = 0;
	for (char *p = csv; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, rows + 1);
	free(csv);
	char *text = export_all(f->s, r, EXPORT_JSON);
	json_t *doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	json_t *metrics = json_object_get(doc, "metrics");
	assert_int_equal(json_array_size(metrics), rows);
	json_t *last = json_array_get(metrics, rows - 1);
	assert_int_equal(json_integer_value(json_object_get(last, "step")), rows);
	/* Milliseconds survive (JSON_REAL_PRECISION(10) used to round them away). */
	assert_true(json_real_value(json_object_get(last, "time")) > 1780000000.1);
	json_decref(doc);
	free(text);
}

static void run_ids(void **state)
{
	(void)state;
	char buf[32];
	store_format_run_id(42, buf, sizeof buf);
	assert_string_equal(buf, "r42");
	assert_int_equal(store_parse_run_id("r42"), 42);
	assert_int_equal(store_parse_run_id("r0"), -1);
	assert_int_equal(store_parse_run_id("42"), -1);
	assert_int_equal(store_parse_run_id("r4x"), -1);
	assert_int_equal(store_parse_run_id("r"), -1);
	assert_int_equal(store_parse_run_id(NULL), -1);
	assert_int_equal(store_parse_run_id("r99999999999999999999999"), -1);
}

static int collect(void *ctx, int64_t seq, const char *json, size_t len)
{
	(void)json;
	(void)len;
	int64_t *seqs = ctx;
	seqs[++seqs[0]] = seq;
	return 0;
}

static void sequences_per_run(void **state)
{
	struct fixture *f = *state;
	int64_t a = new_run(f->s), b = new_run(f->s);
	for (int i = 1; i <= 5; i++) {
		assert_int_equal(append(f->s, a, "{\"type\":\"log\",\"level\":\"info\",\"message\":\"x\"}"), i);
		if (i % 2)
			assert_int_equal(append(f->s, b, "{\"type\":\"log\",\"message\":\"y\"}"), (i + 1) / 2);
	}
	int64_t seqs[16] = {0};
	assert_int_equal(store_events_foreach(f->s, a, 2, 100, false, collect, seqs), 3);
	assert_int_equal(seqs[0], 3);
	assert_int_equal(seqs[1], 3);
	assert_int_equal(seqs[3], 5);
	struct store_run_info info;
	assert_int_equal(store_run_info(f->s, a, &info), 0);
	assert_int_equal(info.last_seq, 5);
	assert_string_equal(info.status, "queued");
	store_run_info_free(&info);
	/* A deleted run takes no more events. */
	assert_int_equal(store_run_delete(f->s, b), 0);
	json_t *ev = json_pack("{s:s}", "type", "log");
	assert_int_equal(store_append_json(f->s, b, ev, NULL), -1);
	json_decref(ev);
	assert_int_equal(store_run_info(f->s, b, &info), -1);
}

static void derived_state(void **state)
{
	struct fixture *f = *state;
	int64_t r = new_run(f->s);
	append(f->s, r, "{\"type\":\"status\",\"status\":\"running\",\"device\":\"cpu\",\"total_steps\":20,\"epochs\":2}");
	append(f->s, r, "{\"type\":\"metric\",\"split\":\"train\",\"step\":10,\"epoch\":1,\"time\":1.5,"
			"\"values\":{\"loss\":0.5,\"accuracy\":0.8}}");
	append(f->s, r, "{\"type\":\"metric\",\"split\":\"test\",\"step\":10,\"epoch\":1,\"values\":{\"loss\":0.6,\"f1\":0.7}}");
	append(f->s, r, "{\"type\":\"checkpoint\",\"step\":10,\"epoch\":1,\"file\":\"step-10.safetensors\","
			"\"path\":\"/x/step-10.safetensors\",\"bytes\":100,\"best\":true}");
	append(f->s, r, "{\"type\":\"checkpoint\",\"step\":20,\"epoch\":2,\"file\":\"nopath.safetensors\"}");
	append(f->s, r, "{\"type\":\"summary\",\"best\":{\"metric\":\"test.accuracy\",\"value\":0.9,\"step\":10}}");
	append(f->s, r, "{\"type\":\"status\",\"status\":\"failed\",\"reason\":\"diverged\"}");
	json_t *run = store_run_json(f->s, r);
	assert_non_null(run);
	assert_string_equal(json_string_value(json_object_get(run, "status")), "failed");
	assert_string_equal(json_string_value(json_object_get(run, "reason")), "diverged");
	assert_string_equal(json_string_value(json_object_get(run, "device")), "cpu");
	assert_string_equal(json_string_value(json_object_get(run, "owner")), "alice");
	json_t *prog = json_object_get(run, "progress");
	assert_int_equal(json_integer_value(json_object_get(prog, "step")), 10);
	assert_int_equal(json_integer_value(json_object_get(prog, "total_steps")), 20);
	assert_true(json_is_integer(json_object_get(run, "ended")));
	assert_true(json_real_value(json_object_get(json_object_get(run, "best"), "value")) > 0.89);
	json_decref(run);

	json_t *cks = store_checkpoints_json(f->s, r);
	assert_int_equal(json_array_size(cks), 1); /* the one without a path is not recorded */
	json_decref(cks);
	char path[256];
	assert_int_equal(store_checkpoint_path(f->s, r, "step-10.safetensors", path, sizeof path), 0);
	assert_string_equal(path, "/x/step-10.safetensors");
	assert_int_equal(store_checkpoint_path(f->s, r, "nope", path, sizeof path), -1);
	/* The file is not on disk, so there is nothing to resume from. */
	assert_int_equal(store_last_checkpoint(f->s, r, path, sizeof path), -1);

	char *csv = export_all(f->s, r, EXPORT_CSV);
	assert_string_equal(csv, "step,epoch,split,time,loss,accuracy,f1\n"
				 "10,1,train,1.500,0.5,0.8,\n"
				 "10,1,test,,0.6,,0.7\n");
	free(csv);
	char *text = export_all(f->s, r, EXPORT_JSON);
	json_t *m = json_loads(text, 0, NULL);
	assert_non_null(m);
	assert_int_equal(json_array_size(json_object_get(m, "metrics")), 2);
	json_decref(m);
	free(text);

	/* Resume: queued again clears the end. */
	append(f->s, r, "{\"type\":\"status\",\"status\":\"queued\"}");
	run = store_run_json(f->s, r);
	assert_true(json_is_null(json_object_get(run, "ended")));
	assert_true(json_is_null(json_object_get(run, "reason")));
	json_decref(run);
	assert_int_equal(store_count_status(f->s, "queued"), 1);
	int64_t ids[4];
	assert_int_equal(store_runs_with_status(f->s, "queued", ids, 4), 1);
	assert_int_equal(ids[0], r);
}

static void reopen_keeps_everything(void **state)
{
	struct fixture *f = *state;
	int64_t r = new_run(f->s);
	append(f->s, r, "{\"type\":\"log\",\"message\":\"before\"}");
	assert_int_equal(store_run_set_pid(f->s, r, 1234), 0);
	store_free(f->s);
	char err[256];
	assert_int_equal(store_open(f->path, &f->s, err, sizeof err), 0);
	assert_int_equal(append(f->s, r, "{\"type\":\"log\",\"message\":\"after\"}"), 2);
	json_t *list = store_runs_json(f->s, &(struct store_runs_query){.limit = 10});
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
}

static void notebook_owners(void **state)
{
	struct fixture *f = *state;
	char owner[64];
	assert_false(store_notebook_owner(f->s, "a.ipynb", owner, sizeof owner));
	assert_int_equal(store_notebook_touch(f->s, "a.ipynb", "bob"), 0);
	assert_int_equal(store_notebook_touch(f->s, "a.ipynb", "carol"), 0); /* owner stays */
	assert_true(store_notebook_owner(f->s, "a.ipynb", owner, sizeof owner));
	assert_string_equal(owner, "bob");
	assert_int_equal(store_notebook_rename(f->s, "a.ipynb", "b.ipynb"), 0);
	assert_true(store_notebook_owner(f->s, "b.ipynb", owner, sizeof owner));
	assert_int_equal(store_notebook_delete(f->s, "b.ipynb"), 0);
	assert_false(store_notebook_owner(f->s, "b.ipynb", owner, sizeof owner));
}

static long long file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/*
 * The WAL is folded back into the database while the store stays open: a
 * server left running must not fill its disk. Each event here is its own
 * transaction (~4 pages), so 6,000 of them write ~100 MB of WAL frames;
 * the file must stay far below that while appending and shrink to at most
 * the size limit once the checkpointer has caught up.
 */
static void wal_stays_bounded(void **state)
{
	struct fixture *f = *state;
	int64_t r = new_run(f->s);
	char wal[160];
	snprintf(wal, sizeof wal, "%s-wal", f->path);
	long long peak = 0;
	for (int i = 0; i < 6000; i++) {
		char text[256];
		snprintf(text, sizeof text, "{\"type\":\"metric\",\"step\":%d,\"epoch\":0,"
			 "\"values\":{\"loss\":%d.5,\"accuracy\":0.25}}", i + 1, i);
		append(f->s, r, text);
		if (i % 100 == 0) {
			long long size = file_size(wal);
			peak = size > peak ? size : peak;
		}
	}
	/* Wait (up to 20 s) for the checkpointer; nothing is asserted about time. */
	for (int i = 0; i < 200 && file_size(wal) > STORE_WAL_LIMIT; i++)
		usleep(100000);
	assert_true(file_size(wal) <= STORE_WAL_LIMIT);
	/* The writer folds the WAL back once it holds 2 x the limit; the file is
	 * cut at the commit after that, so a sample may see a little more. */
	assert_true(peak <= 3 * STORE_WAL_LIMIT);
	/* Nothing was lost on the way. */
	struct store_run_info info;
	assert_int_equal(store_run_info(f->s, r, &info), 0);
	assert_int_equal(info.last_seq, 6000);
	store_run_info_free(&info);
}

/* One integer a query on the database file answers (the store closed meanwhile). */
static int64_t query_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/*
 * Migrations 5 (runs-views: notes, tags, curve summaries), 6 (the
 * scheduler: queue places, usage, quotas) and 7 (sweeps) ran, in that order, and the
 * version recorded is STORE_SCHEMA_VERSION; a database from a newer
 * trainbook is refused, naming both versions.
 */
static void schema_version_and_migrations(void **state)
{
	struct fixture *f = *state;
	int64_t id = new_run(f->s);
	store_free(f->s);
	f->s = NULL;
	assert_int_equal(STORE_SCHEMA_VERSION, 7);
	assert_int_equal(query_int(f->path, "SELECT version FROM schema_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM series_tiles"), 0);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM usage_days"), 0);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM sweeps JOIN sweep_trials ON sweep = sweeps.id"), 0);
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT archived + coalesce(queue_position, 0) + (queued_at > 0) FROM runs WHERE id = %lld",
		 (long long)id);
	assert_int_equal(query_int(f->path, sql), 1);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 8", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	char err[256] = "";
	assert_int_not_equal(store_open(f->path, &f->s, err, sizeof err), 0);
	assert_null(f->s);
	assert_string_equal(err, "database schema version 8 is newer than this trainbook (7)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(run_ids),
		cmocka_unit_test_setup_teardown(sequences_per_run, setup, teardown),
		cmocka_unit_test_setup_teardown(derived_state, setup, teardown),
		cmocka_unit_test_setup_teardown(reopen_keeps_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(schema_version_and_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(notebook_owners, setup, teardown),
		cmocka_unit_test_setup_teardown(wal_stays_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(export_pages, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
