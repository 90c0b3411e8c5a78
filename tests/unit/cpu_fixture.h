/*
 * cpu_fixture.h — the CPU backend (two threads) that the engine unit tests
 * of kernels and layers run on: `be`, made by setup and destroyed by
 * teardown, as cmocka set-up and tear-down (of a group or a test), and
 * random_floats, the tests' inputs on it.
 *
 * What it is not: a library. Header only, because each unit test is its
 * own binary; include it once, from the test's .c. Threads: the test's.
 */
#ifndef TB_TESTS_UNIT_CPU_FIXTURE_H
#define TB_TESTS_UNIT_CPU_FIXTURE_H

#include <stdint.h>

#include "backend.h"
#include "rng.h"

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

/* n floats uniform in [-1, 1) from `seed`, allocated on `be` (the caller frees them with be->free). */
static float *random_floats(int64_t n, uint64_t seed)
{
	struct rng r;
	rng_seed(&r, seed);
	float *p = be->alloc(be, (size_t)n * sizeof(float));
	for (int64_t i = 0; i < n; i++)
		p[i] = rng_uniform(&r) * 2.0f - 1.0f;
	return p;
}

#endif
