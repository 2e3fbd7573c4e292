/* A stream of secret random words for the privacy code's exact samplers:
 * a fresh 256-bit key from the OS (libsodium's randombytes) per stream,
 * expanded by ChaCha20 under a per-stream nonce, so nobody who knows a
 * job's seed, the coordinator included, can predict or replay it. One
 * stream per thread; wiped by gf_csprng_wipe. */
#ifndef GF_PRIVACY_CSPRNG_H
#define GF_PRIVACY_CSPRNG_H

#include <stdint.h>

#define GF_CSPRNG_WORDS 256

typedef struct {
    uint64_t w[GF_CSPRNG_WORDS];   /* (GF_CSPRNG_WORDS) keystream words */
    int      at;
    uint64_t stream, refill;
    unsigned char key[32];
} gf_csprng;

/* A stream from a key (32 bytes) and a stream number: streams of one key
 * with different numbers are independent. key NULL: a fresh key from the
 * OS. Needs sodium_init() done (gf_csprng_init does it; -1 on failure). */
int      gf_csprng_init(gf_csprng *s, const unsigned char *key, uint64_t stream);
void     gf_csprng_wipe(gf_csprng *s);
uint64_t gf_csprng_u64(gf_csprng *s);
/* Uniform in [0, bound) exactly (rejection), bound >= 1. */
uint64_t gf_csprng_below(gf_csprng *s, uint64_t bound);
__extension__ typedef unsigned __int128 gf_u128;
gf_u128  gf_csprng_below128(gf_csprng *s, gf_u128 bound);

#endif
