/*
 * cuda_rng.cuh — engine/rng.c's counter-based hash on the device,
 * bit-for-bit: the same splitmix64 finaliser and the same salts, so a
 * dropout mask drawn here equals the CPU backend's for the same
 * (seed, counter, index). What it is not: a second RNG design — any change
 * to rng.c must be mirrored here (tests/gpu/parity_ops.c checks masks
 * element by element).
 * Threads: pure device functions.
 */
#ifndef TB_CUDA_RNG_CUH
#define TB_CUDA_RNG_CUH

#include <stdint.h>

#define CUDA_RNG_SALT_SEED 0x243f6a8885a308d3ULL
#define CUDA_RNG_SALT_A 0x13198a2e03707344ULL
#define CUDA_RNG_SALT_B 0xa4093822299f31d0ULL
#define CUDA_RNG_SALT_STREAM 0x082efa98ec4e6c89ULL
#define CUDA_RNG_GOLDEN 0x9e3779b97f4a7c15ULL

__device__ __forceinline__ uint64_t cuda_rng_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* rng_hash(seed, a, b) of rng.c. */
__device__ __forceinline__ uint64_t cuda_rng_hash(uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t h = cuda_rng_mix64(seed ^ CUDA_RNG_SALT_SEED);
	h = cuda_rng_mix64(h ^ (a + CUDA_RNG_SALT_A));
	h = cuda_rng_mix64(h ^ (b + CUDA_RNG_SALT_B));
	return h;
}

/* The seed-and-counter prefix is the same for every element of one call:
 * hoist it out of the per-element loop. */
__device__ __forceinline__ uint64_t cuda_rng_prefix(uint64_t seed, uint64_t a)
{
	return cuda_rng_mix64(cuda_rng_mix64(seed ^ CUDA_RNG_SALT_SEED) ^ (a + CUDA_RNG_SALT_A));
}

__device__ __forceinline__ uint64_t cuda_rng_finish(uint64_t prefix, uint64_t b)
{
	return cuda_rng_mix64(prefix ^ (b + CUDA_RNG_SALT_B));
}

/* struct rng of rng.c: rng_seed, rng_next_u64, rng_uniform, rng_below. */
__device__ __forceinline__ uint64_t cuda_rng_seed(uint64_t seed)
{
	return cuda_rng_mix64(seed ^ CUDA_RNG_SALT_STREAM);
}

__device__ __forceinline__ uint64_t cuda_rng_next(uint64_t *state)
{
	*state += CUDA_RNG_GOLDEN;
	return cuda_rng_mix64(*state);
}

__device__ __forceinline__ float cuda_rng_uniform(uint64_t *state)
{
	return (float)(cuda_rng_next(state) >> 40) * 0x1.0p-24f;
}

/* Lemire's multiply-and-reject, the same draws as rng_below. */
__device__ __forceinline__ uint64_t cuda_rng_below(uint64_t *state, uint64_t n)
{
	uint64_t x = cuda_rng_next(state);
	uint64_t low = x * n, high = __umul64hi(x, n);
	if (low < n) {
		uint64_t threshold = (0 - n) % n;
		while (low < threshold) {
			x = cuda_rng_next(state);
			low = x * n;
			high = __umul64hi(x, n);
		}
	}
	return high;
}

#endif
