/* xoshiro256** generator, splitmix64 seeding and derived distributions. */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void gf_rng_seed(gf_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

uint64_t gf_rng_next(gf_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float gf_rng_uniform(gf_rng *r)
{
    return (float)(gf_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

uint64_t gf_rng_below(gf_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = gf_rng_next(r); while (x >= limit);
    return x % n;
}

double gf_rng_normal(gf_rng *r)
{
    double u1 = ((gf_rng_next(r) >> 11) + 1) * (1.0 / 9007199254740993.0); /* (0,1] */
    double u2 = (gf_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double gf_rng_gamma(gf_rng *r, double shape)
{
    if (shape < 1.0) { /* boost: G(a) = G(a+1) * U^(1/a) */
        double u = ((gf_rng_next(r) >> 11) + 1) * (1.0 / 9007199254740993.0);
        return gf_rng_gamma(r, shape + 1.0) * pow(u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do { x = gf_rng_normal(r); v = 1.0 + c * x; } while (v <= 0.0);
        v = v * v * v;
        double u = ((gf_rng_next(r) >> 11) + 1) * (1.0 / 9007199254740993.0);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}

uint64_t gf_hash64(uint64_t key, uint64_t counter)
{
    uint64_t x = key ^ (counter * 0xD1B54A32D192ED03ull);
    return splitmix64(&x);
}
