/* Clipping, Gaussian noise, secret Poisson sampling and the spent budget of
 * client-level DP (see dp.h). */
#include "privacy/dp.h"

#include <math.h>
#include <sodium.h>
#include "privacy/accountant.h"

double gf_dp_norm(const float *x, int64_t n)
{
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * (double)x[i];
    return sqrt(ss);
}

double gf_dp_clip_scale_norm(double norm, double clip)
{
    if (!isfinite(norm)) return 0.0;   /* NaN or inf: nothing bounds it; never passed unclipped */
    return norm > clip ? clip / norm : 1.0;
}

double gf_dp_clip_scale(const float *x, int64_t n, double clip)
{
    return gf_dp_clip_scale_norm(gf_dp_norm(x, n), clip);
}

/* The randomness: a 32-byte key from the OS per call (libsodium's default
 * source costs a getrandom() call per request, about 140 ns), expanded by
 * ChaCha20. Values are drawn in chunks of NOISE_CHUNK, in parallel; chunk c
 * reads the keystream of nonce (c, refill), KEY_WORDS words at a time. */
#define NOISE_CHUNK 2048
#define KEY_WORDS   512

typedef struct {
    uint64_t w[KEY_WORDS];       /* (KEY_WORDS) keystream words */
    int      at;
    uint64_t chunk, refill;
    const unsigned char *key;
} keystream;

static void keystream_fill(keystream *s)
{
    unsigned char nonce[crypto_stream_chacha20_NONCEBYTES];
    uint64_t v = s->chunk | (s->refill++ << 48);
    for (int k = 0; k < (int)sizeof nonce; k++) nonce[k] = (unsigned char)(v >> (8 * (k % 8)));
    crypto_stream_chacha20((unsigned char *)s->w, sizeof s->w, nonce, s->key);
    s->at = 0;
}

/* Uniform in (-1, 1), symmetric, from 53 random bits. */
static double keystream_signed(keystream *s)
{
    if (s->at == KEY_WORDS) keystream_fill(s);
    return ((double)(s->w[s->at++] >> 11) + 0.5) * 0x1.0p-52 - 1.0;
}

gf_status gf_dp_gaussian(float *out, int64_t n, double stddev)
{
    if (n < 0 || !(stddev >= 0) || !isfinite(stddev)) return gf_errorf(GF_ERR_ARG, "gaussian noise: bad arguments");
    if (sodium_init() < 0) return gf_errorf(GF_ERR_IO, "libsodium could not initialise");
    unsigned char key[crypto_stream_chacha20_KEYBYTES];
    randombytes_buf(key, sizeof key);
    const int64_t nchunks = (n + NOISE_CHUNK - 1) / NOISE_CHUNK;
    #pragma omp parallel for schedule(static) if (nchunks > 16)
    for (int64_t c = 0; c < nchunks; c++) {
        keystream ks = { .chunk = (uint64_t)c, .key = key };
        keystream_fill(&ks);
        const int64_t lo = c * NOISE_CHUNK, len = n - lo < NOISE_CHUNK ? n - lo : NOISE_CHUNK;
        float *o = out + lo;
        for (int64_t i = 0; i < len; i += 2) {            /* Marsaglia's polar method */
            double v1, v2, r2;
            do {
                v1 = keystream_signed(&ks);
                v2 = keystream_signed(&ks);
                r2 = v1 * v1 + v2 * v2;
            } while (r2 >= 1.0);
            double f = stddev * sqrt(-2.0 * log(r2) / r2);
            o[i] = (float)(v1 * f);
            if (i + 1 < len) o[i + 1] = (float)(v2 * f);
        }
        sodium_memzero(&ks, sizeof ks);
    }
    sodium_memzero(key, sizeof key);
    return GF_OK;
}

gf_status gf_dp_poisson_sample(int64_t n, double q, int64_t *idx, int64_t *count)
{
    *count = 0;
    if (n < 0 || !(q >= 0 && q <= 1)) return gf_errorf(GF_ERR_ARG, "Poisson sampling: bad arguments (n %lld, q %g)",
                                                       (long long)n, q);
    if (sodium_init() < 0) return gf_errorf(GF_ERR_IO, "libsodium could not initialise");
    unsigned char key[crypto_stream_chacha20_KEYBYTES];
    randombytes_buf(key, sizeof key);
    keystream ks = { .key = key };
    keystream_fill(&ks);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ks.at == KEY_WORDS) keystream_fill(&ks);
        double u = (double)(ks.w[ks.at++] >> 11) * 0x1.0p-53;     /* [0, 1) */
        if (u < q) idx[k++] = i;
    }
    sodium_memzero(&ks, sizeof ks);
    sodium_memzero(key, sizeof key);
    *count = k;
    return GF_OK;
}

gf_status gf_dp_spent(const gf_dp_config *c, int64_t rounds, double *eps, double *order)
{
    if (order) *order = NAN;
    if (rounds <= 0) { *eps = 0.0; return GF_OK; }
    if (c->noise <= 0) { *eps = INFINITY; return GF_OK; }
    return gf_dp_epsilon(c->noise, GF_DP_CLIENT_SAMPLE_RATE, rounds, c->delta, eps, order);
}
