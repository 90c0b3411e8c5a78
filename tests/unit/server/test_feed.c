/*
 * test_feed.c — the live feed's delivery rules (server/feed.c) against a
 * real store: backlog then live events in order, no duplicates, catch-up
 * after a gap, resync on overflow, droppable system samples.
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

#include "server/feed.h"
#include "server/store.h"
#include "server/util.h"
#include "tests/unit/server/temp_store.h"

struct fixture {
	char dir[64];
	struct store *s;
	int64_t run;
	struct feed_client c;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	f->s = temp_store_open(f->dir, sizeof f->dir, "feed");
	struct store_run_new r = {.name = "t", .spec = "x", .owner = "o"};
	assert_int_equal(store_run_create(f->s, &r, &f->run), 0);
	struct acct_who owner = {.name = "o", .instructor = false};
	feed_client_init(&f->c, &owner);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	feed_client_free(&f->c);
	temp_store_close(f->s, f->dir);
	free(f);
	return 0;
}

/* Store an event and return the message a publisher would hand to the feed. */
static struct feed_msg *publish(struct fixture *f)
{
	json_t *ev = json_pack("{s:s, s:s}", "type", "log", "message", "m");
	int64_t seq;
	assert_int_equal(store_append_json(f->s, f->run, ev, &seq), 0);
	json_decref(ev);
	const char *text = "{\"type\":\"log\",\"message\":\"m\"}";
	return feed_msg_event(f->run, seq, text, strlen(text));
}

static void subscribe(struct fixture *f, int64_t since)
{
	char msg[128];
	snprintf(msg, sizeof msg, "{\"type\":\"subscribe\",\"run\":\"r%lld\",\"since\":%lld}", (long long)f->run,
		 (long long)since);
	assert_int_equal(feed_handle(&f->c, f->s, msg, strlen(msg)), 0);
}

/* Pop everything queued, check event seqs continue from *next, return count. */
static int drain(struct fixture *f, int64_t *next, int *resyncs, int *errors)
{
	int n = 0;
	struct feed_msg *m;
	while ((m = feed_peek(&f->c))) {
		json_t *j = json_loads(feed_msg_text(m), 0, NULL);
		assert_non_null(j);
		const char *type = json_string_value(json_object_get(j, "type"));
		if (!strcmp(type, "event")) {
			assert_int_equal(json_integer_value(json_object_get(j, "seq")), *next);
			(*next)++;
		} else if (!strcmp(type, "resync") && resyncs) {
			(*resyncs)++;
			assert_int_equal(json_integer_value(json_object_get(j, "since")), *next - 1);
		} else if (!strcmp(type, "error") && errors) {
			(*errors)++;
		}
		json_decref(j);
		feed_pop(&f->c);
		n++;
	}
	return n;
}

static void backlog_then_live(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 10; i++)
		feed_msg_unref(publish(f)); /* stored before anyone listens */
	subscribe(f, 3);
	int64_t next = 4;
	assert_int_equal(drain(f, &next, NULL, NULL), 7);
	/* A live event already read from the store is not sent twice. */
	struct feed_msg *old = feed_msg_event(f->run, 10, "{}", 2);
	assert_int_equal(feed_on_event(&f->c, old), 0);
	feed_msg_unref(old);
	for (int i = 0; i < 5; i++) {
		struct feed_msg *m = publish(f);
		assert_int_equal(feed_on_event(&f->c, m), 0);
		feed_msg_unref(m);
	}
	assert_int_equal(drain(f, &next, NULL, NULL), 5);
	assert_int_equal(next, 16);
}

static void gap_catches_up(void **state)
{
	struct fixture *f = *state;
	subscribe(f, 0);
	int64_t next = 1;
	/* Publications 1..3 were lost on the way (hub overflow); 4 arrives. */
	for (int i = 0; i < 3; i++)
		feed_msg_unref(publish(f));
	struct feed_msg *m = publish(f);
	feed_on_event(&f->c, m);
	feed_msg_unref(m);
	assert_int_equal(drain(f, &next, NULL, NULL), 0); /* not out of order */
	feed_fill(&f->c, f->s);
	assert_int_equal(drain(f, &next, NULL, NULL), 4);
	m = publish(f);
	feed_on_event(&f->c, m);
	feed_msg_unref(m);
	assert_int_equal(drain(f, &next, NULL, NULL), 1);
	assert_int_equal(next, 6);
}

static void big_backlog_in_pages(void **state)
{
	struct fixture *f = *state;
	int total = FEED_QUEUE_MAX * 3;
	for (int i = 0; i < total; i++)
		feed_msg_unref(publish(f));
	subscribe(f, 0);
	int64_t next = 1;
	int got = 0;
	for (int round = 0; round < 20 && got < total; round++) {
		assert_true(f->c.count <= FEED_QUEUE_MAX);
		got += drain(f, &next, NULL, NULL);
		feed_fill(&f->c, f->s);
	}
	assert_int_equal(got, total);
	assert_int_equal(next, total + 1);
}

static void overflow_resyncs(void **state)
{
	struct fixture *f = *state;
	subscribe(f, 0);
	int64_t next = 1;
	int resyncs = 0;
	/* A client that never reads: the queue fills, then one resync. */
	for (int i = 0; i < FEED_QUEUE_MAX + 50; i++) {
		struct feed_msg *m = publish(f);
		assert_int_equal(feed_on_event(&f->c, m), 0);
		feed_msg_unref(m);
	}
	assert_int_equal(f->c.nsubs, 0);
	assert_int_equal(f->c.overflows, 1);
	assert_true(f->c.count <= FEED_QUEUE_MAX + FEED_CONTROL_MAX);
	drain(f, &next, &resyncs, NULL);
	assert_int_equal(resyncs, 1);
	/* Subscribing again from the resync point delivers the rest, in order. */
	subscribe(f, next - 1);
	drain(f, &next, NULL, NULL);
	assert_int_equal(next, FEED_QUEUE_MAX + 51);
}

static void system_and_runs(void **state)
{
	struct fixture *f = *state;
	struct feed_msg *sys = feed_msg_new("{\"type\":\"system\"}", 17, 0, 0);
	feed_on_system(&f->c, sys);
	assert_int_equal(f->c.count, 0); /* not subscribed */
	assert_int_equal(feed_handle(&f->c, f->s, "{\"type\":\"subscribe_system\"}", 27), 0);
	feed_on_system(&f->c, sys);
	assert_int_equal(f->c.count, 1);
	feed_msg_unref(sys);
	struct feed_msg *run = feed_msg_new("{\"type\":\"run\"}", 14, 0, 0);
	strcpy(run->owner, "o");
	assert_int_equal(feed_on_run(&f->c, run), 0);
	assert_int_equal(f->c.count, 1);
	assert_int_equal(feed_handle(&f->c, f->s, "{\"type\":\"subscribe_runs\"}", 25), 0);
	assert_int_equal(feed_on_run(&f->c, run), 0);
	assert_int_equal(f->c.count, 2);
	/* Another user's run: not for this student's feed; an instructor's gets it. */
	strcpy(run->owner, "someone-else");
	assert_int_equal(feed_on_run(&f->c, run), 0);
	assert_int_equal(f->c.count, 2);
	f->c.who.instructor = true;
	assert_int_equal(feed_on_run(&f->c, run), 0);
	assert_int_equal(f->c.count, 3);
	feed_msg_unref(run); /* the queue still holds its own reference */
	assert_string_equal(feed_msg_text(feed_peek(&f->c)), "{\"type\":\"system\"}");
}

/* Pop everything, returning the last error message text (or ""). */
static const char *last_error(struct fixture *f, char *buf, size_t len)
{
	buf[0] = '\0';
	struct feed_msg *m;
	while ((m = feed_peek(&f->c))) {
		json_t *j = json_loads(feed_msg_text(m), 0, NULL);
		if (!strcmp(json_string_value(json_object_get(j, "type")), "error"))
			snprintf(buf, len, "%s", json_string_value(json_object_get(j, "message")));
		json_decref(j);
		feed_pop(&f->c);
	}
	return buf;
}

/* subscribe to another user's run: the very error a missing run gets, and nothing queued. */
static void foreign_run(void **state)
{
	struct fixture *f = *state;
	struct store_run_new r = {.name = "theirs", .spec = "x", .owner = "other"};
	int64_t theirs;
	assert_int_equal(store_run_create(f->s, &r, &theirs), 0);
	char msg[128], missing[200], foreign[200];
	snprintf(msg, sizeof msg, "{\"type\":\"subscribe\",\"run\":\"r%lld\"}", (long long)theirs + 100);
	assert_int_equal(feed_handle(&f->c, f->s, msg, strlen(msg)), 0);
	last_error(f, missing, sizeof missing);
	snprintf(msg, sizeof msg, "{\"type\":\"subscribe\",\"run\":\"r%lld\"}", (long long)theirs);
	assert_int_equal(feed_handle(&f->c, f->s, msg, strlen(msg)), 0);
	assert_int_equal(f->c.nsubs, 0);
	last_error(f, foreign, sizeof foreign);
	/* Same words, only the id differs. */
	char expect[200];
	snprintf(expect, sizeof expect, "no run r%lld", (long long)theirs);
	assert_string_equal(foreign, expect);
	snprintf(expect, sizeof expect, "no run r%lld", (long long)theirs + 100);
	assert_string_equal(missing, expect);
	/* An instructor follows it. */
	f->c.who.instructor = true;
	assert_int_equal(feed_handle(&f->c, f->s, msg, strlen(msg)), 0);
	assert_int_equal(f->c.nsubs, 1);
}

/*
 * The board: a student asking for it gets an error and no board messages;
 * an instructor gets the snapshot, then updates; one too busy to take an
 * update skips it and is owed a snapshot again.
 */
static void board_is_for_instructors(void **state)
{
	struct fixture *f = *state;
	char err[200];
	struct feed_msg *up = feed_msg_new("{\"type\":\"board\",\"runs\":[]}", 26, 0, 0);
	struct feed_msg *snap = feed_msg_new("{\"type\":\"board\",\"full\":true}", 28, 0, 0);
	assert_int_equal(feed_handle(&f->c, f->s, "{\"type\":\"subscribe_board\"}", 26), 0);
	assert_string_equal(last_error(f, err, sizeof err), "only instructors may send \"subscribe_board\"");
	assert_false(f->c.board);
	feed_on_board(&f->c, up);
	feed_board_snapshot(&f->c, snap);
	assert_int_equal(f->c.count, 0);
	/* An instructor's feed. */
	f->c.who.instructor = true;
	assert_int_equal(feed_handle(&f->c, f->s, "{\"type\":\"subscribe_board\"}", 26), 0);
	assert_true(f->c.board && f->c.board_due);
	feed_on_board(&f->c, up); /* before the snapshot: skipped, the snapshot has it */
	assert_int_equal(f->c.count, 0);
	feed_board_snapshot(&f->c, snap);
	feed_on_board(&f->c, up);
	assert_int_equal(f->c.count, 2);
	assert_string_equal(feed_msg_text(feed_peek(&f->c)), "{\"type\":\"board\",\"full\":true}");
	/* A full queue drops updates and owes a snapshot. */
	while (f->c.count < FEED_QUEUE_MAX)
		feed_on_board(&f->c, up);
	feed_on_board(&f->c, up);
	assert_true(f->c.board_due);
	assert_int_equal(f->c.count, FEED_QUEUE_MAX);
	feed_board_snapshot(&f->c, snap); /* no room yet */
	assert_true(f->c.board_due);
	while (f->c.count)
		feed_pop(&f->c);
	feed_board_snapshot(&f->c, snap);
	assert_false(f->c.board_due);
	assert_int_equal(f->c.count, 1);
	assert_int_equal(feed_handle(&f->c, f->s, "{\"type\":\"unsubscribe_board\"}", 28), 0);
	feed_on_board(&f->c, up);
	assert_int_equal(f->c.count, 1);
	feed_msg_unref(up);
	feed_msg_unref(snap);
}

/* Every message type has an access rule, and a client type a handler. */
static void every_type_has_a_rule(void **state)
{
	(void)state;
	assert_true(feed_ntypes >= 11);
	for (size_t i = 0; i < feed_ntypes; i++) {
		assert_true(feed_types[i].rule > FEED_RULE_NONE && feed_types[i].rule < FEED_NRULES);
		assert_true(!strcmp(feed_types[i].dir, "in") == (feed_types[i].handle != NULL));
	}
}

/* System samples: other users' GPU processes lose pid and run for a student. */
static void system_redacted(void **state)
{
	struct fixture *f = *state;
	const char *text = "{\"type\":\"system\",\"system\":{\"gpus\":[{\"index\":0,\"processes\":["
			   "{\"pid\":11,\"memory\":5,\"run\":\"r1\",\"owner\":\"o\"},"
			   "{\"pid\":22,\"memory\":7,\"run\":\"r2\",\"owner\":\"other\"}]}]}}";
	struct feed_msg *all = feed_msg_new(text, strlen(text), 0, 0);
	struct feed_msg *mine = feed_system_view(&f->c.who, all);
	assert_ptr_not_equal(mine, all);
	assert_null(strstr(feed_msg_text(mine), "r2"));
	assert_null(strstr(feed_msg_text(mine), "other"));
	assert_null(strstr(feed_msg_text(mine), "22"));
	assert_non_null(strstr(feed_msg_text(mine), "\"r1\""));
	assert_non_null(strstr(feed_msg_text(mine), "\"memory\":7"));
	feed_msg_unref(mine);
	struct acct_who ins = {.name = "prof", .instructor = true};
	struct feed_msg *theirs = feed_system_view(&ins, all);
	assert_ptr_equal(theirs, all);
	feed_msg_unref(theirs);
	feed_msg_unref(all);
}

static void bad_messages(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = {"nope", "{}", "{\"type\":\"dance\"}", "{\"type\":\"subscribe\",\"run\":\"x\"}",
			     "{\"type\":\"subscribe\",\"run\":\"r999\"}",
			     "{\"type\":\"subscribe\",\"run\":\"r1\",\"since\":-4}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(feed_handle(&f->c, f->s, bad[i], strlen(bad[i])), 0);
	int errors = 0;
	int64_t next = 1;
	drain(f, &next, NULL, &errors);
	assert_int_equal(errors, (int)(sizeof bad / sizeof bad[0]));
	assert_int_equal(f->c.nsubs, 0);
	/* Unsubscribe stops delivery. */
	subscribe(f, 0);
	assert_int_equal(feed_handle(&f->c, f->s, "{\"type\":\"unsubscribe\",\"run\":\"r1\"}", 33), 0);
	struct feed_msg *m = publish(f);
	feed_on_event(&f->c, m);
	feed_msg_unref(m);
	assert_int_equal(f->c.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(backlog_then_live, setup, teardown),
		cmocka_unit_test_setup_teardown(gap_catches_up, setup, teardown),
		cmocka_unit_test_setup_teardown(big_backlog_in_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(overflow_resyncs, setup, teardown),
		cmocka_unit_test_setup_teardown(system_and_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(foreign_run, setup, teardown),
		cmocka_unit_test_setup_teardown(every_type_has_a_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(board_is_for_instructors, setup, teardown),
		cmocka_unit_test_setup_teardown(system_redacted, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_messages, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
