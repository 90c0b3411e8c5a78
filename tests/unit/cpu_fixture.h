/*
 * cpu_fixture.h — the CPU backend (two threads) that the engine unit tests
 * of kernels and layers run on: `be`, made by setup and destroyed by
 * teardown, as cmocka set-up and tear-down (of a group or a test).
 *
 * What it is not: a library. Header only, because each unit test is its
 * own binary; include it once, from the test's .c. Threads: the test's.
 */
#ifndef TB_TESTS_UNIT_CPU_FIXTURE_H
#define TB_TESTS_UNIT_CPU_FIXTURE_H

#include "backend.h"

static struct backend *be;

static int setup(void **state)
{
	(void)state;
	be = backend_cpu_new(2);
	return be ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	be->destroy(be);
	return 0;
}

#endif
