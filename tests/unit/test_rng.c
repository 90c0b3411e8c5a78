/*
 * test_rng.c — the engine RNG: rng_hash is pure and sensitive to every
 * argument; streams are reproducible per seed and distinct across seeds;
 * uniform, normal and bounded draws have the right range and moments;
 * rng_below is unbiased (chi-square) including for bounds near 2^64.
 * All draws use fixed seeds, so the statistical checks are deterministic.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rng.h"

static void test_hash_is_pure_and_sensitive(void **state)
{
	(void)state;
	uint64_t h = rng_hash(1, 2, 3);
	assert_int_equal(h, rng_hash(1, 2, 3));
	assert_int_not_equal(h, rng_hash(0, 2, 3));
	assert_int_not_equal(h, rng_hash(1, 3, 3));
	assert_int_not_equal(h, rng_hash(1, 2, 4));
	/* The argument positions are separate domains. */
	assert_int_not_equal(rng_hash(1, 2, 3), rng_hash(1, 3, 2));
	assert_int_not_equal(rng_hash(0, 0, 1), rng_hash(0, 1, 0));
	/* Avalanche: flipping one input bit flips about half the output bits. */
	int total = 0;
	for (int bit = 0; bit < 64; bit++)
		total += __builtin_popcountll(rng_hash(7, 100, 0) ^ rng_hash(7, 100 ^ (1ULL << bit), 0));
	double mean_flips = total / 64.0;
	assert_true(mean_flips > 28 && mean_flips < 36);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_hash_has_no_collisions_on_a_grid(void **state)
{
	(void)state;
	/* 256 × 256 (epoch, index) pairs: a collision would mean two samples
	 * share an augmentation stream. */
	enum { N = 256 };
	static uint64_t seen[N * N];
	for (int a = 0; a < N; a++)
		for (int b = 0; b < N; b++)
			seen[a * N + b] = rng_hash(42, (uint64_t)a, (uint64_t)b);
	qsort(seen, N * N, sizeof(seen[0]), cmp_u64);
	for (int i = 1; i < N * N; i++)
		assert_int_not_equal(seen[i - 1], seen[i]);
	/* The top bits spread evenly: 65536 values into 256 buckets by the
	 * top byte, each expected 256 times. */
	int buckets[256] = {0};
	for (int i = 0; i < N * N; i++)
		buckets[seen[i] >> 56]++;
	for (int i = 0; i < 256; i++)
		assert_true(buckets[i] > 180 && buckets[i] < 340);
}

static void test_streams_reproduce_and_differ(void **state)
{
	(void)state;
	struct rng a, b, c;
	rng_seed(&a, 5);
	rng_seed(&b, 5);
	rng_seed(&c, 6);
	int same_c = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = rng_next_u64(&a);
		assert_int_equal(x, rng_next_u64(&b));
		same_c += x == rng_next_u64(&c);
	}
	assert_int_equal(same_c, 0);
	/* Seed 0 is a fine seed, not a degenerate stream. */
	struct rng z;
	rng_seed(&z, 0);
	uint64_t first = rng_next_u64(&z);
	assert_int_not_equal(first, 0);
	assert_int_not_equal(first, rng_next_u64(&z));
}

static void test_uniform_range_and_moments(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 123);
	enum { N = 200000 };
	double sum = 0, sq = 0;
	float lo = 1, hi = 0;
	for (int i = 0; i < N; i++) {
		float u = rng_uniform(&r);
		assert_true(u >= 0.0f && u < 1.0f);
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
		sum += u;
		sq += (double)u * u;
	}
	double mean = sum / N, var = sq / N - mean * mean;
	assert_true(fabs(mean - 0.5) < 0.005);
	assert_true(fabs(var - 1.0 / 12) < 0.002);
	assert_true(lo < 0.001f && hi > 0.999f);
	double d = rng_uniform_double(&r);
	assert_true(d >= 0.0 && d < 1.0);
}

static void test_normal_moments(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 99);
	enum { N = 200000 };
	double sum = 0, sq = 0, fourth = 0;
	int beyond2 = 0;
	for (int i = 0; i < N; i++) {
		double x = rng_normal(&r);
		assert_true(isfinite(x));
		sum += x;
		sq += x * x;
		fourth += x * x * x * x;
		beyond2 += fabs(x) > 2.0;
	}
	double mean = sum / N, var = sq / N - mean * mean;
	assert_true(fabs(mean) < 0.01);
	assert_true(fabs(var - 1.0) < 0.015);
	assert_true(fabs(fourth / N - 3.0) < 0.1); /* kurtosis of a normal */
	/* P(|x| > 2) = 4.55% for a normal. */
	double tail = (double)beyond2 / N;
	assert_true(tail > 0.042 && tail < 0.049);
}

static void test_below_is_unbiased(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 2024);
	enum { K = 7, N = 140000 };
	long counts[K] = {0};
	for (int i = 0; i < N; i++) {
		uint64_t v = rng_below(&r, K);
		assert_true(v < K);
		counts[v]++;
	}
	double expected = (double)N / K, chi2 = 0;
	for (int k = 0; k < K; k++)
		chi2 += (counts[k] - expected) * (counts[k] - expected) / expected;
	/* 6 degrees of freedom: P(chi2 > 22.46) = 0.001. */
	assert_true(chi2 < 22.46);
	assert_int_equal(rng_below(&r, 1), 0);
}

static void test_below_large_bounds(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 3);
	/* A bound just above 2^63 is where `x % n` is most biased: values
	 * below 2^64 - n would come up twice as often as the rest. */
	uint64_t n = (1ULL << 63) + 12345;
	int upper = 0;
	enum { N = 20000 };
	for (int i = 0; i < N; i++) {
		uint64_t v = rng_below(&r, n);
		assert_true(v < n);
		upper += v >= n / 2;
	}
	assert_true(upper > N * 0.47 && upper < N * 0.53);
	assert_true(rng_below(&r, UINT64_MAX) < UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_is_pure_and_sensitive),
		cmocka_unit_test(test_hash_has_no_collisions_on_a_grid),
		cmocka_unit_test(test_streams_reproduce_and_differ),
		cmocka_unit_test(test_uniform_range_and_moments),
		cmocka_unit_test(test_normal_moments),
		cmocka_unit_test(test_below_is_unbiased),
		cmocka_unit_test(test_below_large_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
