/* Secret random words for the exact samplers (see csprng.h). */
#include "privacy/csprng.h"

#include <string.h>
#include <sodium.h>

static void refill(gf_csprng *s)
{
    unsigned char nonce[crypto_stream_chacha20_NONCEBYTES];
    uint64_t v = s->stream ^ (s->refill++ << 40);
    for (int k = 0; k < (int)sizeof nonce; k++) nonce[k] = (unsigned char)(v >> (8 * k));
    crypto_stream_chacha20((unsigned char *)s->w, sizeof s->w, nonce, s->key);
    s->at = 0;
}

int gf_csprng_init(gf_csprng *s, const unsigned char *key, uint64_t stream)
{
    if (sodium_init() < 0) return -1;
    memset(s, 0, sizeof *s);
    if (key) memcpy(s->key, key, sizeof s->key);
    else randombytes_buf(s->key, sizeof s->key);
    s->stream = stream;
    refill(s);
    return 0;
}

void gf_csprng_wipe(gf_csprng *s) { sodium_memzero(s, sizeof *s); }

uint64_t gf_csprng_u64(gf_csprng *s)
{
    if (s->at == GF_CSPRNG_WORDS) refill(s);
    return s->w[s->at++];
}

/* Rejection on the bit length of bound: draw that many bits, keep a value
 * below bound (at least half the draws), so no division is needed. */
uint64_t gf_csprng_below(gf_csprng *s, uint64_t bound)
{
    if (bound <= 1) return 0;
    uint64_t mask = ~(uint64_t)0 >> __builtin_clzll(bound - 1);
    for (;;) {
        uint64_t r = gf_csprng_u64(s) & mask;
        if (r < bound) return r;
    }
}

gf_u128 gf_csprng_below128(gf_csprng *s, gf_u128 bound)
{
    if (bound <= 1) return 0;
    if (bound >> 64 == 0) return gf_csprng_below(s, (uint64_t)bound);
    uint64_t hi_mask = ~(uint64_t)0 >> __builtin_clzll((uint64_t)((bound - 1) >> 64));
    for (;;) {
        uint64_t hi = gf_csprng_u64(s) & hi_mask;
        if ((gf_u128)hi > (bound - 1) >> 64) continue;        /* the high word alone decides most draws */
        gf_u128 r = ((gf_u128)hi << 64) | gf_csprng_u64(s);
        if (r < bound) return r;
    }
}
