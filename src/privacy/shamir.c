/* Shamir sharing over GF(2^31 - 1) of 32-byte secrets in 16-bit limbs: the
 * split (random polynomials from libsodium's randombytes) and the Lagrange
 * interpolation at 0, with the share encoding of shamir.h. */
#include "privacy/shamir.h"

#include <sodium.h>
#include <stddef.h>
#include <string.h>

#define P GF_SHAMIR_PRIME
#define LIMBS (GF_SHAMIR_SECRET_BYTES / 2)

static uint32_t add_p(uint32_t a, uint32_t b) { uint32_t s = a + b; return s >= P ? s - P : s; }
static uint32_t sub_p(uint32_t a, uint32_t b) { return a >= b ? a - b : a + P - b; }
static uint32_t mul_p(uint32_t a, uint32_t b) { return (uint32_t)(((uint64_t)a * b) % P); }

/* a^(p-2) = a^-1 for a != 0 (Fermat) */
static uint32_t inv_p(uint32_t a)
{
    uint32_t r = 1, e = P - 2;
    while (e) {
        if (e & 1) r = mul_p(r, a);
        a = mul_p(a, a);
        e >>= 1;
    }
    return r;
}

static void put_u32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v; b[1] = (uint8_t)(v >> 8); b[2] = (uint8_t)(v >> 16); b[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

gf_status gf_shamir_split(const uint8_t secret[GF_SHAMIR_SECRET_BYTES], int t, int n,
                          uint8_t *shares /* (n, GF_SHAMIR_SHARE_BYTES) */)
{
    if (!secret || !shares) return gf_errorf(GF_ERR_ARG, "shamir split: NULL argument");
    if (t < 1 || n < t || n > GF_SHAMIR_MAX_HOLDERS)
        return gf_errorf(GF_ERR_ARG, "shamir split: need 1 <= t <= n <= %d, got t=%d n=%d",
                         GF_SHAMIR_MAX_HOLDERS, t, n);
    if (sodium_init() < 0) return gf_errorf(GF_ERR_ARG, "shamir split: libsodium init failed");

    /* coef[l * t + e]: coefficient of x^e of limb l's polynomial; e = 0 is the limb */
    size_t ncoef = (size_t)LIMBS * (size_t)t;
    uint32_t stack_coef[LIMBS * 16];
    uint32_t *coef = ncoef <= sizeof stack_coef / sizeof *stack_coef ? stack_coef
                                                                       : sodium_allocarray(ncoef, sizeof *coef);
    if (!coef) return gf_errorf(GF_ERR_NOMEM, "shamir split: out of memory (t=%d)", t);
    for (int l = 0; l < LIMBS; l++) {
        coef[(size_t)l * t] = (uint32_t)secret[2 * l] | (uint32_t)secret[2 * l + 1] << 8;
        for (int e = 1; e < t; e++) coef[(size_t)l * t + e] = randombytes_uniform(P);
    }
    for (int h = 0; h < n; h++) {
        uint8_t *s = shares + (size_t)h * GF_SHAMIR_SHARE_BYTES;
        uint32_t x = (uint32_t)h + 1;
        s[0] = (uint8_t)x; s[1] = (uint8_t)(x >> 8);
        for (int l = 0; l < LIMBS; l++) {   /* Horner */
            const uint32_t *c = coef + (size_t)l * t;
            uint32_t y = c[t - 1];
            for (int e = t - 2; e >= 0; e--) y = add_p(mul_p(y, x), c[e]);
            put_u32(s + 2 + 4 * l, y);
        }
    }
    if (coef == stack_coef) sodium_memzero(stack_coef, sizeof stack_coef);
    else sodium_free(coef);   /* sodium_free wipes */
    return GF_OK;
}

gf_status gf_shamir_combine(const uint8_t *shares /* (count, GF_SHAMIR_SHARE_BYTES) */, int count,
                            uint8_t secret[GF_SHAMIR_SECRET_BYTES])
{
    if (!secret) return gf_errorf(GF_ERR_ARG, "shamir combine: NULL secret");
    memset(secret, 0, GF_SHAMIR_SECRET_BYTES);
    if (!shares || count < 1 || count > GF_SHAMIR_MAX_HOLDERS)
        return gf_errorf(GF_ERR_ARG, "shamir combine: need 1..%d shares, got %d", GF_SHAMIR_MAX_HOLDERS,
                         count);
    for (int j = 0; j < count; j++) {
        const uint8_t *s = shares + (size_t)j * GF_SHAMIR_SHARE_BYTES;
        if ((s[0] | s[1] << 8) == 0) return gf_errorf(GF_ERR_FORMAT, "shamir combine: share %d has x = 0", j);
        for (int l = 0; l < LIMBS; l++)
            if (get_u32(s + 2 + 4 * l) >= P)
                return gf_errorf(GF_ERR_FORMAT, "shamir combine: share %d limb %d is not in GF(p)", j, l);
    }

    /* Lagrange basis at 0: lambda_j = prod_{m != j} x_m / (x_m - x_j). O(count^2). */
    uint32_t acc[LIMBS] = { 0 };
    for (int j = 0; j < count; j++) {
        const uint8_t *sj = shares + (size_t)j * GF_SHAMIR_SHARE_BYTES;
        uint32_t xj = (uint32_t)(sj[0] | sj[1] << 8), num = 1, den = 1;
        for (int m = 0; m < count; m++) {
            if (m == j) continue;
            const uint8_t *sm = shares + (size_t)m * GF_SHAMIR_SHARE_BYTES;
            uint32_t xm = (uint32_t)(sm[0] | sm[1] << 8);
            if (xm == xj) {
                sodium_memzero(acc, sizeof acc);
                return gf_errorf(GF_ERR_FORMAT, "shamir combine: shares %d and %d have the same x = %u",
                                 m < j ? m : j, m < j ? j : m, (unsigned)xj);
            }
            num = mul_p(num, xm);
            den = mul_p(den, sub_p(xm, xj));
        }
        uint32_t lambda = mul_p(num, inv_p(den));
        for (int l = 0; l < LIMBS; l++) acc[l] = add_p(acc[l], mul_p(lambda, get_u32(sj + 2 + 4 * l)));
    }
    int ok = 1;
    for (int l = 0; l < LIMBS; l++) {
        if (acc[l] > 0xffffu) ok = 0;
        secret[2 * l] = (uint8_t)acc[l];
        secret[2 * l + 1] = (uint8_t)(acc[l] >> 8);
    }
    sodium_memzero(acc, sizeof acc);
    if (!ok) {
        sodium_memzero(secret, GF_SHAMIR_SECRET_BYTES);
        return gf_errorf(GF_ERR_MISMATCH,
                         "shamir combine: %d shares do not interpolate to a valid secret "
                         "(too few or inconsistent shares)", count);
    }
    return GF_OK;
}
