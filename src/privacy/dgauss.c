/* Exact discrete Gaussian sampling (see dgauss.h). */
#include "privacy/dgauss.h"

#include <sodium.h>
#include "privacy/csprng.h"

#define CHUNK 4096

/* Bernoulli(num / den), 0 <= num <= den, den >= 1. */
static int bern_frac(gf_csprng *s, gf_u128 num, gf_u128 den)
{
    return gf_csprng_below128(s, den) < num;
}

/* Bernoulli(exp(-num / den)) for num >= 0, den >= 1 (CKS Algorithm 1). */
static int bern_exp(gf_csprng *s, gf_u128 num, gf_u128 den)
{
    if (num > den) {                        /* exp(-1)^floor(gamma) * exp(-frac) */
        gf_u128 whole = num / den;
        for (gf_u128 k = 0; k < whole; k++)
            if (!bern_exp(s, 1, 1)) return 0;
        return bern_exp(s, num % den, den);
    }
    /* gamma in [0, 1]: K = 1, 2, ... while Bernoulli(gamma / K); 1 when K ends odd */
    uint64_t k = 1;
    for (;;) {
        if (den > ~(gf_u128)0 / (k + 1)) return (int)(k & 1);   /* K past 2^60: probability below 1/K! */
        if (!bern_frac(s, num, den * k)) break;
        k++;
    }
    return (int)(k & 1);
}

/* Discrete Laplace with scale t >= 1: P(y) proportional to exp(-|y| / t) (CKS Algorithm 2). */
static int64_t dlaplace(gf_csprng *s, uint64_t t)
{
    for (;;) {
        uint64_t u = gf_csprng_below(s, t);
        if (!bern_exp(s, u, t)) continue;
        uint64_t v = 0;
        while (bern_exp(s, 1, 1)) v++;
        uint64_t x = u + t * v;
        int neg = (int)(gf_csprng_u64(s) & 1);
        if (neg && x == 0) continue;
        return neg ? -(int64_t)x : (int64_t)x;
    }
}

static uint64_t isqrt64(uint64_t v)
{
    uint64_t r = 0;
    for (uint64_t b = (uint64_t)1 << 62; b; b >>= 2) {
        if (v >= r + b) { v -= r + b; r = (r >> 1) + b; }
        else r >>= 1;
    }
    return r;
}

/* One N_Z(0, s2) sample, t = floor(sqrt(s2)) + 1 (CKS Algorithm 3): accept a
 * discrete Laplace Y with probability exp(-(|Y| - s2/t)^2 / (2 s2)) =
 * exp(-(|Y| t - s2)^2 / (2 s2 t^2)). */
static int64_t dgauss_one(gf_csprng *s, uint64_t s2, uint64_t t)
{
    const gf_u128 den = (gf_u128)2 * s2 * t * t;
    for (;;) {
        int64_t y = dlaplace(s, t);
        uint64_t ay = y < 0 ? -(uint64_t)y : (uint64_t)y;
        if (ay >= ((uint64_t)1 << 62) / t) continue;    /* acceptance below exp(-2^13): see dgauss.h */
        gf_u128 yt = (gf_u128)ay * t;
        gf_u128 diff = yt > s2 ? yt - s2 : (gf_u128)s2 - yt;
        if (diff >= ((gf_u128)1 << 62)) continue;
        if (bern_exp(s, diff * diff, den)) return y;
    }
}

typedef enum { OUT_I64, OUT_ADD32 } out_kind;

static gf_status run(void *out, out_kind kind, int64_t n, uint64_t sigma2)
{
    if (n < 0 || sigma2 > GF_DGAUSS_MAX_SIGMA2 || !out)
        return gf_errorf(GF_ERR_ARG, "discrete Gaussian: bad arguments (n %lld, sigma^2 %llu, at most %llu)",
                         (long long)n, (unsigned long long)sigma2, (unsigned long long)GF_DGAUSS_MAX_SIGMA2);
    if (sigma2 == 0) {
        if (kind == OUT_I64) for (int64_t i = 0; i < n; i++) ((int64_t *)out)[i] = 0;
        return GF_OK;
    }
    if (sodium_init() < 0) return gf_errorf(GF_ERR_IO, "libsodium could not initialise");
    unsigned char key[32];
    randombytes_buf(key, sizeof key);
    const uint64_t t = isqrt64(sigma2) + 1;
    const int64_t nchunks = (n + CHUNK - 1) / CHUNK;
    #pragma omp parallel for schedule(static) if (nchunks > 4)
    for (int64_t c = 0; c < nchunks; c++) {
        gf_csprng s;
        gf_csprng_init(&s, key, (uint64_t)c);
        const int64_t lo = c * CHUNK, hi = n - lo < CHUNK ? n : lo + CHUNK;
        for (int64_t i = lo; i < hi; i++) {
            int64_t v = dgauss_one(&s, sigma2, t);
            if (kind == OUT_I64) ((int64_t *)out)[i] = v;
            else ((uint32_t *)out)[i] += (uint32_t)(uint64_t)v;     /* modulo 2^32 */
        }
        gf_csprng_wipe(&s);
    }
    sodium_memzero(key, sizeof key);
    return GF_OK;
}

gf_status gf_dgauss_sample(int64_t *out, int64_t n, uint64_t sigma2) { return run(out, OUT_I64, n, sigma2); }
gf_status gf_dgauss_add_mod32(uint32_t *q, int64_t n, uint64_t sigma2) { return run(q, OUT_ADD32, n, sigma2); }
