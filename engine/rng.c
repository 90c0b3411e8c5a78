/*
 * rng.c — splitmix64 mixing as a counter-based hash and as a small
 * sequential generator; uniform, normal and bounded-integer draws on top.
 *
 * What it is not: a cryptographic generator, nor a copy of PyTorch's
 * Philox/MT streams. Threads: pure functions and caller-owned state only.
 */
#include "rng.h"

#include <math.h>

#include "tb.h"

/* The golden-ratio increment of splitmix64: odd, and its bits are well
 * spread, so consecutive counters land far apart before mixing. */
#define RNG_GOLDEN 0x9e3779b97f4a7c15ULL

/* Salts that keep the three words of rng_hash (and rng_seed) in separate
 * domains: hash(s, a, b) and hash(s, b, a) must differ. */
#define RNG_SALT_SEED 0x243f6a8885a308d3ULL
#define RNG_SALT_A 0x13198a2e03707344ULL
#define RNG_SALT_B 0xa4093822299f31d0ULL
#define RNG_SALT_STREAM 0x082efa98ec4e6c89ULL

/*
 * The splitmix64 finaliser (Stafford's "Mix13" variant): a bijection on
 * 64-bit words with full avalanche, so every input bit flips about half of
 * the output bits. Being a bijection matters: distinct counters can never
 * collide after mixing.
 */
static inline uint64_t rng_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Absorb one word at a time, mixing after each, like a sponge with a
 * bijective round. For a fixed prefix each step is a bijection of the new
 * word, so (seed, a) pairs that differ only in `a` never collide; across
 * different prefixes collisions are as rare as for a random function.
 */
uint64_t rng_hash(uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t h = rng_mix64(seed ^ RNG_SALT_SEED);
	h = rng_mix64(h ^ (a + RNG_SALT_A));
	h = rng_mix64(h ^ (b + RNG_SALT_B));
	return h;
}

/*
 * The seed is mixed before it becomes the counter. Plain splitmix64 uses
 * the seed as the counter directly, which makes seeds s and s + k*GOLDEN
 * produce the same stream shifted by k; mixing first removes that
 * structure for seeds people actually type (0, 1, 2, 42...).
 */
void rng_seed(struct rng *r, uint64_t seed)
{
	r->state = rng_mix64(seed ^ RNG_SALT_STREAM);
}

uint64_t rng_next_u64(struct rng *r)
{
	r->state += RNG_GOLDEN;
	return rng_mix64(r->state);
}

float rng_uniform(struct rng *r)
{
	/* The top 24 bits fill a float mantissa exactly: no rounding up to 1. */
	return (float)(rng_next_u64(r) >> 40) * 0x1.0p-24f;
}

double rng_uniform_double(struct rng *r)
{
	return (double)(rng_next_u64(r) >> 11) * 0x1.0p-53;
}

/*
 * Box-Muller. u1 is drawn from (0, 1] rather than [0, 1) so the log never
 * sees zero; the largest magnitude it can produce is sqrt(-2 ln 2^-53)
 * ≈ 8.57, which is plenty of tail for initialisation and noise.
 * Computed in double so the float result is correctly rounded.
 */
float rng_normal(struct rng *r)
{
	double u1 = (double)((rng_next_u64(r) >> 11) + 1) * 0x1.0p-53;
	double u2 = (double)(rng_next_u64(r) >> 11) * 0x1.0p-53;
	double radius = sqrt(-2.0 * log(u1));
	return (float)(radius * cos(6.283185307179586476925286766559 * u2));
}

/*
 * Lemire, "Fast Random Integer Generation in an Interval" (2019): take the
 * high word of x * n. The low word tells whether x fell in the short,
 * over-represented stretch; those x are rejected, which removes the bias
 * that a plain `x % n` has. The division happens only on the rare path.
 */
uint64_t rng_below(struct rng *r, uint64_t n)
{
	TB_ASSERT(n >= 1);
	unsigned __int128 m = (unsigned __int128)rng_next_u64(r) * n;
	uint64_t low = (uint64_t)m;
	if (low < n) {
		uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
		while (low < threshold) {
			m = (unsigned __int128)rng_next_u64(r) * n;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}
