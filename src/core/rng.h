/* Deterministic random numbers: xoshiro256** streams seeded by splitmix64,
 * plus a stateless counter hash for per-element randomness (dropout) that
 * gives the same bits whatever the thread count. The whole state is four
 * uint64 words, so checkpoints can save and restore it exactly. */
#ifndef GF_CORE_RNG_H
#define GF_CORE_RNG_H

#include <stdint.h>

typedef struct { uint64_t s[4]; } gf_rng;

void     gf_rng_seed(gf_rng *r, uint64_t seed);
uint64_t gf_rng_next(gf_rng *r);
/* Uniform in [0, 1) with 24 random bits (exact in float). */
float    gf_rng_uniform(gf_rng *r);
/* Uniform integer in [0, n), unbiased (n > 0). */
uint64_t gf_rng_below(gf_rng *r, uint64_t n);
/* Standard normal (Box-Muller, double precision). */
double   gf_rng_normal(gf_rng *r);
/* Gamma(shape, 1) (Marsaglia-Tsang), shape > 0. */
double   gf_rng_gamma(gf_rng *r, double shape);

/* Stateless: a well-mixed 64-bit hash of (key, counter). */
uint64_t gf_hash64(uint64_t key, uint64_t counter);

#endif
