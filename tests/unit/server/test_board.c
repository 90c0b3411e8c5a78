/*
 * test_board.c — the instructor board's summaries (server/board.c): the
 * series keep their newest point and thin themselves, a start-up snapshot
 * comes from the store, a quiet run's news goes out at once and a busy
 * run's at most once a second, a summary change and a deletion go out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <pthread.h>

#include "server/board.h"
#include "server/store.h"
#include "server/util.h"
#include "tests/unit/server/temp_store.h"

struct sent {
	pthread_mutex_t lock;
	int n;
	int64_t at[64]; /* monotonic ms */
	char *text[64];
};

static void publish(void *ctx, const char *json, size_t len)
{
	struct sent *s = ctx;
	pthread_mutex_lock(&s->lock);
	if (s->n < 64) {
		s->at[s->n] = srv_mono_ms();
		s->text[s->n] = strndup(json, len);
		s->n++;
	}
	pthread_mutex_unlock(&s->lock);
}

static int sent_count(struct sent *s)
{
	pthread_mutex_lock(&s->lock);
	int n = s->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static bool wait_sent(struct sent *s, int n, int ms)
{
	for (int i = 0; i < ms / 5; i++) {
		if (sent_count(s) >= n)
			return true;
		usleep(5000);
	}
	return false;
}

static void series_thins_keeping_the_newest(void **state)
{
	(void)state;
	struct board_series s = {0};
	for (int i = 1; i <= BOARD_POINTS; i++)
		board_series_add(&s, i, i * 0.5);
	assert_int_equal(s.n, BOARD_POINTS);
	board_series_add(&s, BOARD_POINTS + 1, 99);
	assert_int_equal(s.n, (BOARD_POINTS + 2) / 2);
	assert_int_equal(s.step[s.n - 1], BOARD_POINTS + 1); /* the newest stays */
	assert_true(s.value[s.n - 1] == 99);
	assert_int_equal(s.step[0], 1);
	assert_int_equal(s.step[1], 3);
	/* The same step again replaces its value (a resumed run). */
	board_series_add(&s, BOARD_POINTS + 1, 7);
	assert_int_equal(s.n, (BOARD_POINTS + 2) / 2);
	assert_true(s.value[s.n - 1] == 7);
}

static char *metric(int64_t step, double loss, double time)
{
	char *t = malloc(200);
	snprintf(t, 200,
		 "{\"type\":\"metric\",\"split\":\"train\",\"step\":%lld,\"epoch\":0,\"time\":%.3f,"
		 "\"values\":{\"loss\":%g,\"accuracy\":0.5}}",
		 (long long)step, time, loss);
	return t;
}

static void updates_at_most_once_a_second(void **state)
{
	(void)state;
	char dir[64];
	struct store *st = temp_store_open(dir, sizeof dir, "board");
	/* A run with metrics before the server started: the snapshot has its series. */
	struct store_run_new r = {.name = "old", .spec = "x", .owner = "alice"};
	int64_t old, live;
	assert_int_equal(store_run_create(st, &r, &old), 0);
	for (int i = 1; i <= 5; i++) {
		char *t = metric(i, 1.0 / i, 1700000000.0 + i);
		json_t *ev = json_loads(t, 0, NULL);
		int64_t seq;
		assert_int_equal(store_append_event(st, old, t, strlen(t), ev, &seq), 0);
		json_decref(ev);
		free(t);
	}
	r.name = "live";
	r.owner = "bob";
	assert_int_equal(store_run_create(st, &r, &live), 0);
	struct sent s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct board *b = board_new(st, publish, &s);
	char *snap = board_snapshot(b);
	json_t *j = json_loads(snap, 0, NULL);
	free(snap);
	assert_true(json_is_true(json_object_get(j, "full")));
	json_t *runs = json_object_get(j, "runs");
	assert_int_equal(json_array_size(runs), 2);
	json_t *first = json_array_get(runs, 0), *second = json_array_get(runs, 1);
	assert_string_equal(json_string_value(json_object_get(first, "id")), "r2"); /* newest first */
	assert_string_equal(json_string_value(json_object_get(json_object_get(second, "run"), "owner")), "alice");
	assert_int_equal(json_array_size(json_object_get(json_object_get(second, "series"), "loss")), 5);
	json_decref(j);

	assert_int_equal(board_start(b), 0);
	/* A quiet run's first metric goes out at once. */
	int64_t t0 = srv_mono_ms();
	char *ev = metric(1, 2.0, 1800000000.125);
	board_on_event(b, live, ev, strlen(ev));
	free(ev);
	assert_true(wait_sent(&s, 1, 2000));
	assert_true(s.at[0] - t0 < 500);
	/* Then a burst: 20 more within the second go out as one update, a second after the first. */
	for (int i = 2; i <= 21; i++) {
		ev = metric(i, 2.0 / i, 1800000000.0 + i);
		board_on_event(b, live, ev, strlen(ev));
		free(ev);
		usleep(10000);
	}
	assert_true(wait_sent(&s, 2, 3000));
	usleep(300000);
	assert_int_equal(sent_count(&s), 2);
	assert_true(s.at[1] - s.at[0] >= BOARD_EVERY_MS - 5);
	j = json_loads(s.text[1], 0, NULL);
	json_t *u = json_array_get(json_object_get(j, "runs"), 0);
	assert_int_equal(json_integer_value(json_object_get(u, "step")), 21); /* the newest, not every one */
	assert_int_equal(json_integer_value(json_object_get(u, "event_ms")), 1800000021000LL);
	json_t *pt = json_object_get(json_object_get(u, "points"), "loss");
	assert_int_equal(json_integer_value(json_array_get(pt, 0)), 21);
	assert_true(json_integer_value(json_object_get(j, "tick")) == 2);
	json_decref(j);
	/* A summary change goes out at the run's next turn, a second after its last update. */
	json_t *sum = json_pack("{s:s, s:s}", "id", "r2", "status", "running");
	board_on_run(b, live, sum);
	json_decref(sum);
	assert_true(wait_sent(&s, 3, 3000));
	assert_non_null(strstr(s.text[2], "\"status\":\"running\""));
	assert_true(s.at[2] - s.at[1] >= BOARD_EVERY_MS - 5);
	/* Its end goes out at once: the row's last state is not held back. */
	int64_t t1 = srv_mono_ms();
	sum = json_pack("{s:s, s:s}", "id", "r2", "status", "completed");
	board_on_run(b, live, sum);
	json_decref(sum);
	assert_true(wait_sent(&s, 4, 3000));
	assert_true(s.at[3] - t1 < 500 && s.at[3] - s.at[2] < BOARD_EVERY_MS);
	assert_non_null(strstr(s.text[3], "\"status\":\"completed\""));
	board_on_run(b, old, NULL);
	assert_true(wait_sent(&s, 5, 3000));
	assert_non_null(strstr(s.text[4], "\"deleted\""));
	snap = board_snapshot(b);
	assert_null(strstr(snap, "\"r1\""));
	free(snap);
	board_free(b);
	for (int i = 0; i < s.n; i++)
		free(s.text[i]);
	temp_store_close(st, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(series_thins_keeping_the_newest),
		cmocka_unit_test(updates_at_most_once_a_second),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
