/*
 * test_throttle.c — the login throttle's token buckets (server/throttle.c)
 * on a simulated clock: the burst, the refill, keys apart from each other,
 * success forgetting failures, and a full table staying bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "server/throttle.h"

static const struct throttle_policy policy = {.burst = 3, .refill_ms = 2000, .slots = 16};

static void burst_then_wait(void **state)
{
	(void)state;
	struct throttle *t = throttle_new(&policy);
	int64_t now = 1000000;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(throttle_wait_s(t, "10.0.0.1", now), 0);
		throttle_failed(t, "10.0.0.1", now);
	}
	/* Out of tries: one more every 2 s. */
	assert_int_equal(throttle_wait_s(t, "10.0.0.1", now), 2);
	assert_int_equal(throttle_wait_s(t, "10.0.0.1", now + 1500), 1);
	assert_int_equal(throttle_wait_s(t, "10.0.0.1", now + 2000), 0);
	throttle_failed(t, "10.0.0.1", now + 2000);
	assert_int_equal(throttle_wait_s(t, "10.0.0.1", now + 2000), 2);
	/* Another key is untouched. */
	assert_int_equal(throttle_wait_s(t, "10.0.0.2", now), 0);
	/* A long quiet spell refills to the burst, never beyond it. */
	now += 3600 * 1000;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(throttle_wait_s(t, "10.0.0.1", now), 0);
		throttle_failed(t, "10.0.0.1", now);
	}
	assert_true(throttle_wait_s(t, "10.0.0.1", now) > 0);
	/* The right token clears the key at once. */
	throttle_succeeded(t, "10.0.0.1");
	assert_int_equal(throttle_wait_s(t, "10.0.0.1", now), 0);
	throttle_free(t);
}

static void bounded_table(void **state)
{
	(void)state;
	struct throttle *t = throttle_new(&policy);
	char key[32];
	/* Far more keys than slots: nothing grows, every key is answered, and
	 * the most recent offender is still remembered. */
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "10.1.%d.%d", i / 256, i % 256);
		for (int k = 0; k < 3; k++)
			throttle_failed(t, key, 5000 + i);
	}
	assert_true(throttle_wait_s(t, key, 5000 + 999) > 0);
	throttle_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(burst_then_wait),
		cmocka_unit_test(bounded_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
