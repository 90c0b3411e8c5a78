/*
 * rng.h — the engine's one source of randomness: a counter-based hash for
 * "random but reproducible from coordinates" (shuffles, augmentation,
 * dropout masks, weight init), and a tiny stateful generator seeded from it.
 *
 * What it is: splitmix64-style mixing (Steele, Lea & Flood 2014), which
 * passes BigCrush and costs a few multiplies. What it is not: a
 * cryptographic generator, and not bit-compatible with PyTorch's RNG (parity
 * tests feed identical data instead of trying to reproduce torch's streams).
 *
 * Why counter-based: resume must be bit-identical. A value that is a pure
 * function of (seed, epoch, index) can be recomputed anywhere, by any thread,
 * in any order; a shared sequential stream could not.
 *
 * Threads: everything is pure or works on caller-owned state; a struct rng
 * must not be shared between threads without the caller's lock.
 */
#ifndef TB_RNG_H
#define TB_RNG_H

#include <stdint.h>

/* A pure 64-bit hash of three words: equal inputs give equal outputs on
 * every machine, and changing any input changes the output unpredictably.
 * Convention: `seed` is the run seed, `a` and `b` the coordinates (e.g.
 * epoch and sample index). Derive sub-seeds for separate purposes as
 * rng_hash(seed, TAG, 0) with a distinct TAG so streams never coincide. */
uint64_t rng_hash(uint64_t seed, uint64_t a, uint64_t b);

/* A sequential generator: 8 bytes, cheap to make one per sample or per
 * thread. Seeding with any value (0 included) gives a good stream. */
struct rng {
	uint64_t state; /* splitmix64 counter; the only state */
};

void rng_seed(struct rng *r, uint64_t seed);

/* 64 uniformly distributed bits. */
uint64_t rng_next_u64(struct rng *r);

/* Uniform float in [0, 1) with 24 random bits (every float of the form
 * k * 2^-24); never returns 1.0f. */
float rng_uniform(struct rng *r);

/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform_double(struct rng *r);

/* Standard normal N(0, 1) by Box-Muller. Each call consumes exactly two
 * u64 draws and returns one value (the sine half is dropped) so that the
 * number of draws per call is fixed and streams stay easy to reason about. */
float rng_normal(struct rng *r);

/* Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject).
 * n must be ≥ 1; rng_below(r, 1) is always 0. */
uint64_t rng_below(struct rng *r, uint64_t n);

#endif
