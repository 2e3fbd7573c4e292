/* Secure aggregation (SecAgg / SecAgg+): the seeded Harary graph, the key
 * derivations and the ChaCha20 mask expansion, the client's and the server's
 * phase functions with their checks of untrusted messages, and the
 * fixed-point quantisation. Crypto primitives are libsodium's (X25519,
 * BLAKE2b, ChaCha20, XChaCha20-Poly1305, randombytes); the protocol logic is
 * here, the Shamir sharing in shamir.c. */
#include "privacy/secagg.h"
#include "privacy/csprng.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYB 32                       /* X25519 key / seed size */
#define SHB GF_SHAMIR_SHARE_BYTES
#define CTB GF_SECAGG_CT_BYTES
#define ROWB GF_SECAGG_UNMASK_ROW_BYTES
#define NONCEB crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define PTB (2 * SHB)                 /* plaintext: b-share || s-share */
#define ADB (10 + GF_SECAGG_SEED_BYTES + 8)
#define PRG_CHUNK 1024                /* uint32 words per keystream chunk (64 ChaCha blocks) */

/* ChaCha20 nonces (IETF, 12 bytes): one per purpose, for domain separation */
static const uint8_t nonce_self[12] = { 'g', 'f', 's', 'a', '-', 's', 'e', 'l', 'f', 0, 0, 0 };
static const uint8_t nonce_pair[12] = { 'g', 'f', 's', 'a', '-', 'p', 'a', 'i', 'r', 0, 0, 0 };
static const uint8_t nonce_graph[12] = { 'g', 'f', 's', 'a', '-', 'g', 'r', 'a', 'p', 'h', 0, 0 };

enum { C_NEW, C_ADVERTISED, C_SHARED, C_MASKED, C_DONE, C_ABORTED };
enum { S_KEYS, S_SHARES, S_MASKED, S_UNMASK, S_DONE };

static gf_status init_sodium(void)
{
    if (sodium_init() < 0) return gf_errorf(GF_ERR_ARG, "secagg: libsodium initialisation failed");
    return GF_OK;
}

static void put_u32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v; b[1] = (uint8_t)(v >> 8); b[2] = (uint8_t)(v >> 16); b[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int is_zero(const uint8_t *b, size_t len) { return sodium_is_zero(b, len); }

/* ------------------------------------------------------------------ params */

gf_status gf_secagg_params_check(const gf_secagg_params *p)
{
    if (!p) return gf_errorf(GF_ERR_ARG, "secagg: NULL params");
    if (p->n < 2 || p->n > GF_SECAGG_MAX_CLIENTS)
        return gf_errorf(GF_ERR_ARG, "secagg: n = %d clients, need 2..%d", p->n, GF_SECAGG_MAX_CLIENTS);
    if (p->k != p->n - 1 && (p->k < 2 || p->k % 2 != 0 || p->k >= p->n - 1))
        return gf_errorf(GF_ERR_ARG, "secagg: k = %d neighbours, need n - 1 = %d or an even k in [2, %d)",
                         p->k, p->n - 1, p->n - 1);
    if (p->t < 1 || p->t > p->k || 2 * p->t <= p->k)
        return gf_errorf(GF_ERR_ARG, "secagg: threshold t = %d, need k/2 < t <= k (k = %d)", p->t, p->k);
    if (p->d < 1 || p->d > ((int64_t)1 << 32))
        return gf_errorf(GF_ERR_ARG, "secagg: vector length d = %lld, need 1..2^32", (long long)p->d);
    return GF_OK;
}

/* ------------------------------------------------------------------- graph */

/* Deterministic ChaCha20 stream over the public seed, for the permutation. */
typedef struct {
    const uint8_t *key;
    uint32_t block;
    uint8_t buf[64];
    int pos;
} seed_stream;

static uint32_t stream_u32(seed_stream *st)
{
    if (st->pos == 64) {
        memset(st->buf, 0, sizeof st->buf);
        crypto_stream_chacha20_ietf_xor_ic(st->buf, st->buf, sizeof st->buf, nonce_graph, st->block++,
                                           st->key);
        st->pos = 0;
    }
    uint32_t v = get_u32(st->buf + st->pos);
    st->pos += 4;
    return v;
}

/* uniform in [0, m), m >= 1, by rejection */
static uint32_t stream_below(seed_stream *st, uint32_t m)
{
    uint32_t lim = (uint32_t)(0x100000000ull - 0x100000000ull % m);   /* multiple of m; 0 means 2^32 */
    for (;;) {
        uint32_t v = stream_u32(st);
        if (lim == 0 || v < lim) return v % m;
    }
}

/* The ring order: perm (n) position -> client, inv (n) client -> position.
 * Full graphs (k == n - 1) need neither. */
typedef struct { int *perm, *inv; } ring;

static gf_status ring_make(const gf_secagg_params *p, ring *r)
{
    r->perm = r->inv = NULL;
    if (p->k == p->n - 1) return GF_OK;
    r->perm = malloc((size_t)p->n * sizeof *r->perm);
    r->inv = malloc((size_t)p->n * sizeof *r->inv);
    if (!r->perm || !r->inv) {
        free(r->perm); free(r->inv);
        r->perm = r->inv = NULL;
        return gf_errorf(GF_ERR_NOMEM, "secagg: out of memory for the graph (n = %d)", p->n);
    }
    seed_stream st = { .key = p->seed, .block = 0, .pos = 64 };
    for (int i = 0; i < p->n; i++) r->perm[i] = i;
    for (int i = p->n - 1; i > 0; i--) {   /* Fisher-Yates */
        int j = (int)stream_below(&st, (uint32_t)i + 1);
        int tmp = r->perm[i]; r->perm[i] = r->perm[j]; r->perm[j] = tmp;
    }
    for (int i = 0; i < p->n; i++) r->inv[r->perm[i]] = i;
    return GF_OK;
}

static void ring_free(ring *r) { free(r->perm); free(r->inv); }

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void ring_neighbours(const gf_secagg_params *p, const ring *r, int i, int *out /* (k) */)
{
    if (p->k == p->n - 1) {
        for (int j = 0, m = 0; j < p->n; j++)
            if (j != i) out[m++] = j;
        return;
    }
    int pos = r->inv[i], h = p->k / 2;
    for (int m = 1; m <= h; m++) {
        out[2 * (m - 1)] = r->perm[(pos + m) % p->n];
        out[2 * (m - 1) + 1] = r->perm[(pos - m + p->n) % p->n];
    }
    qsort(out, (size_t)p->k, sizeof *out, cmp_int);
}

/* position of j in the sorted list nb (k), or -1 */
static int find_pos(const int *nb, int k, int j)
{
    int lo = 0, hi = k - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (nb[mid] == j) return mid;
        if (nb[mid] < j) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

gf_status gf_secagg_neighbours(const gf_secagg_params *p, int i, int *out /* (k) */)
{
    gf_status st = gf_secagg_params_check(p);
    if (st) return st;
    if (!out) return gf_errorf(GF_ERR_ARG, "secagg neighbours: NULL output");
    if (i < 0 || i >= p->n)
        return gf_errorf(GF_ERR_ARG, "secagg neighbours: client %d not in 0..%d", i, p->n - 1);
    ring r;
    if ((st = ring_make(p, &r))) return st;
    ring_neighbours(p, &r, i, out);
    ring_free(&r);
    return GF_OK;
}

/* Full neighbour table (n, k), for the server and for the client's positions. */
static gf_status neighbour_table(const gf_secagg_params *p, int **out)
{
    *out = NULL;
    ring r;
    gf_status st = ring_make(p, &r);
    if (st) return st;
    int *nb = malloc((size_t)p->n * (size_t)p->k * sizeof *nb);
    if (!nb) {
        ring_free(&r);
        return gf_errorf(GF_ERR_NOMEM, "secagg: out of memory for the neighbour table (n = %d, k = %d)",
                         p->n, p->k);
    }
    for (int i = 0; i < p->n; i++) ring_neighbours(p, &r, i, nb + (size_t)i * p->k);
    ring_free(&r);
    *out = nb;
    return GF_OK;
}

/* --------------------------------------------------------- key derivation */

/* BLAKE2b-256(label || seed || x25519(sk, pk_other) || pk_lo || pk_hi), where
 * pk_lo / pk_hi are the public keys of the lower / higher client index. */
static gf_status derive(uint8_t out[KEYB], const char *label, const uint8_t seed[GF_SECAGG_SEED_BYTES],
                        const uint8_t sk[KEYB], const uint8_t pk_other[KEYB], const uint8_t pk_lo[KEYB],
                        const uint8_t pk_hi[KEYB])
{
    uint8_t shared[KEYB];
    if (crypto_scalarmult(shared, sk, pk_other) != 0) {
        sodium_memzero(shared, sizeof shared);
        return gf_errorf(GF_ERR_FORMAT, "secagg: a peer's public key is a low-order point");
    }
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, KEYB);
    crypto_generichash_update(&h, (const uint8_t *)label, strlen(label) + 1);
    crypto_generichash_update(&h, seed, GF_SECAGG_SEED_BYTES);
    crypto_generichash_update(&h, shared, sizeof shared);
    crypto_generichash_update(&h, pk_lo, KEYB);
    crypto_generichash_update(&h, pk_hi, KEYB);
    crypto_generichash_final(&h, out, KEYB);
    sodium_memzero(shared, sizeof shared);
    sodium_memzero(&h, sizeof h);
    return GF_OK;
}

/* Pairwise-mask seed between clients a and b, from a's s secret key. */
static gf_status pair_seed(uint8_t out[KEYB], const uint8_t seed[GF_SECAGG_SEED_BYTES], int a,
                           const uint8_t a_sk[KEYB], const uint8_t a_pk[KEYB], int b, const uint8_t b_pk[KEYB])
{
    return derive(out, "gfsa-pair-seed-v1", seed, a_sk, b_pk, a < b ? a_pk : b_pk, a < b ? b_pk : a_pk);
}

/* Share-encryption key between clients a and b, from a's c secret key. */
static gf_status enc_key(uint8_t out[KEYB], const uint8_t seed[GF_SECAGG_SEED_BYTES], int a,
                         const uint8_t a_sk[KEYB], const uint8_t a_pk[KEYB], int b, const uint8_t b_pk[KEYB])
{
    return derive(out, "gfsa-enc-key-v1", seed, a_sk, b_pk, a < b ? a_pk : b_pk, a < b ? b_pk : a_pk);
}

static void make_ad(uint8_t ad[ADB], const uint8_t seed[GF_SECAGG_SEED_BYTES], int from, int to)
{
    memcpy(ad, "gfsa-ct-v1", 10);
    memcpy(ad + 10, seed, GF_SECAGG_SEED_BYTES);
    put_u32(ad + 10 + GF_SECAGG_SEED_BYTES, (uint32_t)from);
    put_u32(ad + 14 + GF_SECAGG_SEED_BYTES, (uint32_t)to);
}

/* A mask stream: sign * PRG(key, nonce), PRG words little-endian uint32. */
typedef struct {
    uint8_t        key[KEYB];
    const uint8_t *nonce;          /* nonce_self or nonce_pair */
    int            sign;           /* +1 or -1 */
} mask_stream;

/* acc (d) += sum of the streams (ns). The vector is cut into PRG_CHUNK-word
 * pieces that threads take independently: piece c of every stream starts
 * at ChaCha20 block c * PRG_CHUNK * 4 / 64, so the bits are the same with
 * any number of threads. */
static void streams_apply(uint32_t *acc, int64_t d, const mask_stream *st, int ns)
{
    const int64_t npieces = (d + PRG_CHUNK - 1) / PRG_CHUNK;
    #pragma omp parallel for schedule(static) if (npieces * ns >= 64)
    for (int64_t c = 0; c < npieces; c++) {
        uint8_t buf[PRG_CHUNK * 4];
        const int64_t off = c * PRG_CHUNK, len = d - off < PRG_CHUNK ? d - off : PRG_CHUNK;
        const uint32_t block = (uint32_t)(off * 4 / 64);
        uint32_t *a = acc + off;
        for (int m = 0; m < ns; m++) {
            memset(buf, 0, (size_t)len * 4);
            crypto_stream_chacha20_ietf_xor_ic(buf, buf, (unsigned long long)len * 4, st[m].nonce, block, st[m].key);
            if (st[m].sign > 0)
                for (int64_t w = 0; w < len; w++) a[w] += get_u32(buf + 4 * w);
            else
                for (int64_t w = 0; w < len; w++) a[w] -= get_u32(buf + 4 * w);
        }
        sodium_memzero(buf, sizeof buf);
    }
}

/* ------------------------------------------------------------------ client */

struct gf_secagg_client {
    gf_secagg_params p;
    int index, phase;
    int *nbr;              /* (k) N(index), sorted */
    int *pos_in;           /* (k) position of index in N(nbr[m]) */
    uint8_t c_pk[KEYB], c_sk[KEYB], s_pk[KEYB], s_sk[KEYB], b[KEYB];
    uint8_t *nkeys;        /* (k, 64) neighbours' keys from the table */
    unsigned char *has_keys; /* (k) */
    unsigned char *got;    /* (k) neighbour's ciphertext was in the inbox */
    uint8_t *held;         /* (k, 2, SHB) shares received: of b_nbr, of s_nbr's key */
};

static void client_wipe_secrets(gf_secagg_client *c)
{
    sodium_memzero(c->c_sk, KEYB);
    sodium_memzero(c->s_sk, KEYB);
    sodium_memzero(c->b, KEYB);
    if (c->held) sodium_memzero(c->held, (size_t)c->p.k * 2 * SHB);
}

static gf_status client_abort(gf_secagg_client *c, gf_status st)
{
    c->phase = C_ABORTED;
    client_wipe_secrets(c);
    return st;
}

void gf_secagg_client_free(gf_secagg_client *c)
{
    if (!c) return;
    client_wipe_secrets(c);
    free(c->nbr);
    free(c->pos_in);
    free(c->nkeys);
    free(c->has_keys);
    free(c->got);
    free(c->held);
    sodium_memzero(c, sizeof *c);
    free(c);
}

static gf_status client_graph(gf_secagg_client *c);

gf_status gf_secagg_client_new(const gf_secagg_params *p, int index, gf_secagg_client **out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "secagg client: NULL output");
    *out = NULL;
    gf_status st = gf_secagg_params_check(p);
    if (st) return st;
    if (index < 0 || index >= p->n)
        return gf_errorf(GF_ERR_ARG, "secagg client: index %d not in 0..%d", index, p->n - 1);
    if ((st = init_sodium())) return st;
    gf_secagg_client *c = calloc(1, sizeof *c);
    if (!c) return gf_errorf(GF_ERR_NOMEM, "secagg client: out of memory");
    c->p = *p;
    c->index = index;
    size_t k = (size_t)p->k;
    c->nbr = malloc(k * sizeof *c->nbr);
    c->pos_in = malloc(k * sizeof *c->pos_in);
    c->nkeys = calloc(k, GF_SECAGG_KEYS_BYTES);
    c->has_keys = calloc(k, 1);
    c->got = calloc(k, 1);
    c->held = calloc(k, 2 * SHB);
    if (!c->nbr || !c->pos_in || !c->nkeys || !c->has_keys || !c->got || !c->held) {
        gf_secagg_client_free(c);
        return gf_errorf(GF_ERR_NOMEM, "secagg client: out of memory (k = %d)", p->k);
    }
    if ((st = client_graph(c))) {
        gf_secagg_client_free(c);
        return st;
    }
    crypto_box_keypair(c->c_pk, c->c_sk);   /* X25519 */
    crypto_box_keypair(c->s_pk, c->s_sk);
    c->phase = C_NEW;
    *out = c;
    return GF_OK;
}

/* The client's graph: N(index) and its position in each neighbour's list. */
static gf_status client_graph(gf_secagg_client *c)
{
    size_t k = (size_t)c->p.k;
    ring r;
    int *tmp = malloc(k * sizeof *tmp);   /* (k) a neighbour's neighbours */
    gf_status st = tmp ? ring_make(&c->p, &r) : gf_errorf(GF_ERR_NOMEM, "secagg client: out of memory (k = %d)", c->p.k);
    if (st) { free(tmp); return st; }
    ring_neighbours(&c->p, &r, c->index, c->nbr);
    for (size_t m = 0; m < k; m++) {
        ring_neighbours(&c->p, &r, c->nbr[m], tmp);
        c->pos_in[m] = find_pos(tmp, c->p.k, c->index);   /* >= 0: the graph is symmetric */
    }
    ring_free(&r);
    free(tmp);
    return GF_OK;
}

gf_status gf_secagg_client_set_seed(gf_secagg_client *c, const uint8_t seed[GF_SECAGG_SEED_BYTES])
{
    if (!c || !seed) return gf_errorf(GF_ERR_ARG, "secagg set_seed: NULL argument");
    if (c->phase != C_NEW && c->phase != C_ADVERTISED)
        return gf_errorf(GF_ERR_ARG, "secagg set_seed: client %d is past phase 1", c->index);
    memcpy(c->p.seed, seed, GF_SECAGG_SEED_BYTES);
    gf_status st = client_graph(c);
    return st ? client_abort(c, st) : GF_OK;
}

gf_status gf_secagg_client_advertise(gf_secagg_client *c, uint8_t out[GF_SECAGG_KEYS_BYTES])
{
    if (!c || !out) return gf_errorf(GF_ERR_ARG, "secagg advertise: NULL argument");
    if (c->phase != C_NEW && c->phase != C_ADVERTISED)
        return gf_errorf(GF_ERR_ARG, "secagg advertise: client %d is past phase 1", c->index);
    memcpy(out, c->c_pk, KEYB);
    memcpy(out + KEYB, c->s_pk, KEYB);
    c->phase = C_ADVERTISED;
    return GF_OK;
}

gf_status gf_secagg_client_share(gf_secagg_client *c, const uint8_t *keys /* (n, 64) */,
                                 uint8_t *cts /* (k, CT) */, unsigned char *sent /* (k) */)
{
    if (!c || !keys || !cts || !sent) return gf_errorf(GF_ERR_ARG, "secagg share: NULL argument");
    if (c->phase != C_ADVERTISED)
        return gf_errorf(GF_ERR_ARG, "secagg share: client %d is not in phase 2", c->index);
    const gf_secagg_params *p = &c->p;
    int k = p->k, me = c->index;
    const uint8_t *own = keys + (size_t)me * GF_SECAGG_KEYS_BYTES;
    if (sodium_memcmp(own, c->c_pk, KEYB) != 0 || sodium_memcmp(own + KEYB, c->s_pk, KEYB) != 0)
        return client_abort(c, gf_errorf(GF_ERR_MISMATCH,
                                         "secagg share: client %d's row of the key table is not its keys", me));
    int present = 0;
    for (int m = 0; m < k; m++) {
        const uint8_t *row = keys + (size_t)c->nbr[m] * GF_SECAGG_KEYS_BYTES;
        memcpy(c->nkeys + (size_t)m * GF_SECAGG_KEYS_BYTES, row, GF_SECAGG_KEYS_BYTES);
        c->has_keys[m] = !is_zero(row, GF_SECAGG_KEYS_BYTES);
        present += c->has_keys[m];
    }
    if (present < p->t)
        return client_abort(c, gf_errorf(GF_ERR_MISMATCH,
                                         "secagg share: client %d has %d neighbours with keys, fewer than t = %d",
                                         me, present, p->t));

    uint8_t *sh = malloc((size_t)k * 2 * SHB);   /* (2, k, SHB): shares of b, of s_sk */
    if (!sh) return gf_errorf(GF_ERR_NOMEM, "secagg share: out of memory");
    randombytes_buf(c->b, KEYB);
    gf_status st = gf_shamir_split(c->b, p->t, k, sh);
    if (!st) st = gf_shamir_split(c->s_sk, p->t, k, sh + (size_t)k * SHB);
    memset(cts, 0, (size_t)k * CTB);
    memset(sent, 0, (size_t)k);
    for (int m = 0; m < k && !st; m++) {
        if (!c->has_keys[m]) continue;
        const uint8_t *nk = c->nkeys + (size_t)m * GF_SECAGG_KEYS_BYTES;
        uint8_t key[KEYB], pt[PTB], ad[ADB];
        st = enc_key(key, p->seed, me, c->c_sk, c->c_pk, c->nbr[m], nk);
        if (st) {
            st = gf_errorf(st, "secagg share: client %d: neighbour %d's c key is a low-order point", me,
                           c->nbr[m]);
            break;
        }
        memcpy(pt, sh + (size_t)m * SHB, SHB);
        memcpy(pt + SHB, sh + ((size_t)k + m) * SHB, SHB);
        make_ad(ad, p->seed, me, c->nbr[m]);
        uint8_t *ct = cts + (size_t)m * CTB;
        randombytes_buf(ct, NONCEB);
        unsigned long long clen = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(ct + NONCEB, &clen, pt, PTB, ad, ADB, NULL, ct, key);
        sent[m] = 1;
        sodium_memzero(key, sizeof key);
        sodium_memzero(pt, sizeof pt);
    }
    sodium_memzero(sh, (size_t)k * 2 * SHB);
    free(sh);
    if (st) {
        memset(cts, 0, (size_t)k * CTB);
        memset(sent, 0, (size_t)k);
        return client_abort(c, st);
    }
    c->phase = C_SHARED;
    return GF_OK;
}

gf_status gf_secagg_client_mask(gf_secagg_client *c, const uint32_t *x /* (d) */,
                                const uint8_t *inbox /* (k, CT) */, const unsigned char *received /* (k) */,
                                uint32_t *y /* (d) */)
{
    if (!c || !x || !inbox || !received || !y) return gf_errorf(GF_ERR_ARG, "secagg mask: NULL argument");
    if (c->phase != C_SHARED) return gf_errorf(GF_ERR_ARG, "secagg mask: client %d is not in phase 3", c->index);
    const gf_secagg_params *p = &c->p;
    int k = p->k, me = c->index, count = 0;
    gf_status st = GF_OK;
    for (int m = 0; m < k; m++) {
        c->got[m] = 0;
        if (!received[m]) continue;
        int from = c->nbr[m];
        if (!c->has_keys[m])
            return client_abort(c, gf_errorf(GF_ERR_MISMATCH,
                                             "secagg mask: client %d got a ciphertext from %d, which had no keys",
                                             me, from));
        const uint8_t *nk = c->nkeys + (size_t)m * GF_SECAGG_KEYS_BYTES;
        const uint8_t *ct = inbox + (size_t)m * CTB;
        uint8_t key[KEYB], pt[PTB], ad[ADB];
        if ((st = enc_key(key, p->seed, me, c->c_sk, c->c_pk, from, nk))) return client_abort(c, st);
        make_ad(ad, p->seed, from, me);
        unsigned long long plen = 0;
        int bad = crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &plen, NULL, ct + NONCEB, CTB - NONCEB, ad, ADB,
                                                             ct, key) != 0 || plen != PTB;
        sodium_memzero(key, sizeof key);
        if (bad) {
            sodium_memzero(pt, sizeof pt);
            return client_abort(c, gf_errorf(GF_ERR_FORMAT,
                                             "secagg mask: client %d: ciphertext from %d does not authenticate",
                                             me, from));
        }
        unsigned want = (unsigned)c->pos_in[m] + 1;
        if ((unsigned)(pt[0] | pt[1] << 8) != want || (unsigned)(pt[SHB] | pt[SHB + 1] << 8) != want) {
            sodium_memzero(pt, sizeof pt);
            return client_abort(c, gf_errorf(GF_ERR_FORMAT,
                                             "secagg mask: client %d: shares from %d are not at x = %u", me,
                                             from, want));
        }
        memcpy(c->held + (size_t)m * 2 * SHB, pt, PTB);
        sodium_memzero(pt, sizeof pt);
        c->got[m] = 1;
        count++;
    }
    if (count < p->t)
        return client_abort(c, gf_errorf(GF_ERR_MISMATCH,
                                         "secagg mask: client %d has %d neighbours' shares, fewer than t = %d",
                                         me, count, p->t));

    mask_stream *ms = malloc(sizeof *ms * (size_t)(k + 1));   /* (k + 1): the self mask, then the pairs */
    if (!ms) return client_abort(c, gf_errorf(GF_ERR_NOMEM, "secagg mask: out of memory"));
    int ns = 0;
    memcpy(ms[ns].key, c->b, KEYB);
    ms[ns].nonce = nonce_self;
    ms[ns++].sign = +1;
    for (int m = 0; m < k && !st; m++) {
        if (!c->got[m]) continue;
        int j = c->nbr[m];
        st = pair_seed(ms[ns].key, p->seed, me, c->s_sk, c->s_pk, j, c->nkeys + (size_t)m * GF_SECAGG_KEYS_BYTES + KEYB);
        if (st) st = gf_errorf(st, "secagg mask: client %d: neighbour %d's s key is a low-order point", me, j);
        ms[ns].nonce = nonce_pair;
        ms[ns++].sign = j > me ? +1 : -1;
    }
    if (!st) {
        if (y != x) memmove(y, x, (size_t)p->d * sizeof *y);
        streams_apply(y, p->d, ms, ns);
    }
    sodium_memzero(ms, sizeof *ms * (size_t)(k + 1));
    free(ms);
    if (st) return client_abort(c, st);
    c->phase = C_MASKED;
    return GF_OK;
}

gf_status gf_secagg_client_unmask(gf_secagg_client *c, const unsigned char *survived /* (n) */,
                                  const unsigned char *dropped /* (n) */, uint8_t *resp /* (k, ROW) */)
{
    if (!c || !survived || !dropped || !resp) return gf_errorf(GF_ERR_ARG, "secagg unmask: NULL argument");
    if (c->phase != C_MASKED)
        return gf_errorf(GF_ERR_ARG, "secagg unmask: client %d is not in phase 4 (one request per round)",
                         c->index);
    const gf_secagg_params *p = &c->p;
    int k = p->k, me = c->index, nsurv = 0;
    for (int i = 0; i < p->n; i++) {
        if (survived[i] && dropped[i])
            return client_abort(c, gf_errorf(GF_ERR_MISMATCH,
                                             "secagg unmask: client %d refuses: %d is listed as both survived "
                                             "and dropped", me, i));
        nsurv += survived[i] != 0;
    }
    if (!survived[me] || dropped[me])
        return client_abort(c, gf_errorf(GF_ERR_MISMATCH, "secagg unmask: client %d refuses: it is not listed as "
                                         "a survivor", me));
    if (nsurv < p->t)
        return client_abort(c, gf_errorf(GF_ERR_MISMATCH, "secagg unmask: client %d refuses: %d survivors, fewer "
                                         "than t = %d", me, nsurv, p->t));
    for (int m = 0; m < k; m++) {
        int i = c->nbr[m], listed = survived[i] || dropped[i];
        if (c->got[m] && !listed)
            return client_abort(c, gf_errorf(GF_ERR_MISMATCH, "secagg unmask: client %d refuses: neighbour %d "
                                             "shared keys but is neither survived nor dropped", me, i));
        if (!c->got[m] && listed)
            return client_abort(c, gf_errorf(GF_ERR_MISMATCH, "secagg unmask: client %d refuses: neighbour %d is "
                                             "listed but never shared keys with it", me, i));
    }
    memset(resp, 0, (size_t)k * ROWB);
    for (int m = 0; m < k; m++) {
        if (!c->got[m]) continue;
        uint8_t *row = resp + (size_t)m * ROWB;
        int self = survived[c->nbr[m]] != 0;   /* exactly one of survived / dropped, checked above */
        row[0] = self ? GF_SECAGG_SHARE_SELF : GF_SECAGG_SHARE_KEY;
        memcpy(row + 1, c->held + ((size_t)m * 2 + (self ? 0 : 1)) * SHB, SHB);
    }
    client_wipe_secrets(c);
    c->phase = C_DONE;
    return GF_OK;
}

/* ------------------------------------------------------------------ server */

struct gf_secagg_server {
    gf_secagg_params p;
    int phase;
    int *nbr;              /* (n, k) */
    uint8_t *keys;         /* (n, 64) */
    unsigned char *has_keys, *shared, *masked, *answered;   /* (n) each: phase 1, 2, 3, 4 done */
    uint8_t *cts;          /* (n, k, CT): from i to nbr[i][m] */
    uint8_t *shares;       /* (n, k, SHB): share of i's secret held by nbr[i][m] */
    unsigned char *kind;   /* (n, k): GF_SECAGG_SHARE_* of that share */
    uint32_t *sum;         /* (d) sum of the masked inputs */
    int nmasked;
};

void gf_secagg_server_free(gf_secagg_server *s)
{
    if (!s) return;
    size_t nk = (size_t)s->p.n * (size_t)s->p.k;
    if (s->shares) sodium_memzero(s->shares, nk * SHB);
    free(s->nbr);
    free(s->keys);
    free(s->has_keys);
    free(s->shared);
    free(s->masked);
    free(s->answered);
    free(s->cts);
    free(s->shares);
    free(s->kind);
    free(s->sum);
    free(s);
}

gf_status gf_secagg_server_new(const gf_secagg_params *p, gf_secagg_server **out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "secagg server: NULL output");
    *out = NULL;
    gf_status st = gf_secagg_params_check(p);
    if (st) return st;
    if ((st = init_sodium())) return st;
    if ((uint64_t)p->d > SIZE_MAX / sizeof(uint32_t))
        return gf_errorf(GF_ERR_ARG, "secagg server: d = %lld is too large", (long long)p->d);
    gf_secagg_server *s = calloc(1, sizeof *s);
    if (!s) return gf_errorf(GF_ERR_NOMEM, "secagg server: out of memory");
    s->p = *p;
    size_t n = (size_t)p->n, nk = n * (size_t)p->k;
    s->keys = calloc(n, GF_SECAGG_KEYS_BYTES);
    s->has_keys = calloc(n, 1);
    s->shared = calloc(n, 1);
    s->masked = calloc(n, 1);
    s->answered = calloc(n, 1);
    s->cts = calloc(nk, CTB);
    s->shares = calloc(nk, SHB);
    s->kind = calloc(nk, 1);
    s->sum = calloc((size_t)p->d, sizeof *s->sum);
    if (!s->keys || !s->has_keys || !s->shared || !s->masked || !s->answered || !s->cts || !s->shares ||
        !s->kind || !s->sum) {
        gf_secagg_server_free(s);
        return gf_errorf(GF_ERR_NOMEM, "secagg server: out of memory (n = %d, k = %d, d = %lld)", p->n, p->k,
                         (long long)p->d);
    }
    if ((st = neighbour_table(p, &s->nbr))) {
        gf_secagg_server_free(s);
        return st;
    }
    s->phase = S_KEYS;
    *out = s;
    return GF_OK;
}

gf_status gf_secagg_server_set_seed(gf_secagg_server *s, const uint8_t seed[GF_SECAGG_SEED_BYTES])
{
    if (!s || !seed) return gf_errorf(GF_ERR_ARG, "secagg server set_seed: NULL argument");
    if (s->phase != S_KEYS) return gf_errorf(GF_ERR_ARG, "secagg server set_seed: phase 1 is closed");
    int *nb = NULL;
    gf_secagg_params q = s->p;
    memcpy(q.seed, seed, GF_SECAGG_SEED_BYTES);
    gf_status st = neighbour_table(&q, &nb);
    if (st) return st;
    free(s->nbr);
    s->nbr = nb;
    s->p = q;
    return GF_OK;
}

static gf_status check_client(const gf_secagg_server *s, int i, const char *what)
{
    if (i < 0 || i >= s->p.n)
        return gf_errorf(GF_ERR_ARG, "secagg server %s: client %d not in 0..%d", what, i, s->p.n - 1);
    return GF_OK;
}

gf_status gf_secagg_server_add_keys(gf_secagg_server *s, int i, const uint8_t keys[GF_SECAGG_KEYS_BYTES])
{
    if (!s || !keys) return gf_errorf(GF_ERR_ARG, "secagg server add_keys: NULL argument");
    gf_status st = check_client(s, i, "add_keys");
    if (st) return st;
    if (s->phase != S_KEYS) return gf_errorf(GF_ERR_ARG, "secagg server add_keys: phase 1 is closed");
    if (s->has_keys[i]) return gf_errorf(GF_ERR_MISMATCH, "secagg server add_keys: client %d sent keys twice", i);
    /* a low-order point gives an all-zero product for every scalar */
    static const uint8_t probe[KEYB] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 6, 7,
                                         8, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 6 };
    uint8_t q[KEYB];
    for (int h = 0; h < 2; h++)
        if (crypto_scalarmult(q, probe, keys + h * KEYB) != 0)
            return gf_errorf(GF_ERR_FORMAT, "secagg server add_keys: client %d's %s key is a low-order point", i,
                             h ? "s" : "c");
    if (sodium_memcmp(keys, keys + KEYB, KEYB) == 0)
        return gf_errorf(GF_ERR_FORMAT, "secagg server add_keys: client %d's c and s keys are equal", i);
    for (int o = 0; o < s->p.n; o++) {   /* a key copied from another client would let it read that one's shares */
        if (!s->has_keys[o]) continue;
        const uint8_t *ok = s->keys + (size_t)o * GF_SECAGG_KEYS_BYTES;
        for (int h = 0; h < 4; h++)
            if (sodium_memcmp(keys + (h & 1) * KEYB, ok + (h >> 1) * KEYB, KEYB) == 0)
                return gf_errorf(GF_ERR_MISMATCH, "secagg server add_keys: client %d reuses a public key of "
                                 "client %d", i, o);
    }
    memcpy(s->keys + (size_t)i * GF_SECAGG_KEYS_BYTES, keys, GF_SECAGG_KEYS_BYTES);
    s->has_keys[i] = 1;
    return GF_OK;
}

gf_status gf_secagg_server_keys(gf_secagg_server *s, uint8_t *out /* (n, 64) */)
{
    if (!s || !out) return gf_errorf(GF_ERR_ARG, "secagg server keys: NULL argument");
    if (s->phase != S_KEYS && s->phase != S_SHARES)
        return gf_errorf(GF_ERR_ARG, "secagg server keys: phase 2 is closed");
    s->phase = S_SHARES;
    memcpy(out, s->keys, (size_t)s->p.n * GF_SECAGG_KEYS_BYTES);
    return GF_OK;
}

gf_status gf_secagg_server_add_shares(gf_secagg_server *s, int i, const uint8_t *cts /* (k, CT) */,
                                      const unsigned char *sent /* (k) */)
{
    if (!s || !cts || !sent) return gf_errorf(GF_ERR_ARG, "secagg server add_shares: NULL argument");
    gf_status st = check_client(s, i, "add_shares");
    if (st) return st;
    if (s->phase != S_SHARES)
        return gf_errorf(GF_ERR_ARG, "secagg server add_shares: not in phase 2 (the key table was not sent, or "
                         "inboxes were)");
    if (!s->has_keys[i]) return gf_errorf(GF_ERR_MISMATCH, "secagg server add_shares: client %d sent no keys", i);
    if (s->shared[i])
        return gf_errorf(GF_ERR_MISMATCH, "secagg server add_shares: client %d sent shares twice", i);
    int k = s->p.k;
    const int *nb = s->nbr + (size_t)i * k;
    for (int m = 0; m < k; m++)
        if ((sent[m] != 0) != (s->has_keys[nb[m]] != 0))
            return gf_errorf(GF_ERR_MISMATCH, "secagg server add_shares: client %d %s a ciphertext for "
                             "neighbour %d, which %s keys", i, sent[m] ? "sent" : "did not send", nb[m],
                             s->has_keys[nb[m]] ? "has" : "has no");
    uint8_t *dst = s->cts + (size_t)i * k * CTB;
    for (int m = 0; m < k; m++) {
        if (sent[m]) memcpy(dst + (size_t)m * CTB, cts + (size_t)m * CTB, CTB);
        else memset(dst + (size_t)m * CTB, 0, CTB);
    }
    s->shared[i] = 1;
    return GF_OK;
}

gf_status gf_secagg_server_inbox(gf_secagg_server *s, int j, uint8_t *inbox /* (k, CT) */,
                                 unsigned char *received /* (k) */)
{
    if (!s || !inbox || !received) return gf_errorf(GF_ERR_ARG, "secagg server inbox: NULL argument");
    gf_status st = check_client(s, j, "inbox");
    if (st) return st;
    if (s->phase != S_SHARES && s->phase != S_MASKED)
        return gf_errorf(GF_ERR_ARG, "secagg server inbox: not in phase 2 or 3");
    if (!s->shared[j])
        return gf_errorf(GF_ERR_MISMATCH, "secagg server inbox: client %d did not complete ShareKeys", j);
    s->phase = S_MASKED;
    int k = s->p.k;
    const int *nb = s->nbr + (size_t)j * k;
    for (int m = 0; m < k; m++) {
        int i = nb[m];
        received[m] = s->shared[i] != 0;
        if (!received[m]) {
            memset(inbox + (size_t)m * CTB, 0, CTB);
            continue;
        }
        int pos = find_pos(s->nbr + (size_t)i * k, k, j);
        memcpy(inbox + (size_t)m * CTB, s->cts + ((size_t)i * k + pos) * CTB, CTB);
    }
    return GF_OK;
}

gf_status gf_secagg_server_add_masked(gf_secagg_server *s, int i, const uint32_t *y /* (d) */)
{
    if (!s || !y) return gf_errorf(GF_ERR_ARG, "secagg server add_masked: NULL argument");
    gf_status st = check_client(s, i, "add_masked");
    if (st) return st;
    if (s->phase != S_MASKED)
        return gf_errorf(GF_ERR_ARG, "secagg server add_masked: not in phase 3 (inboxes not sent, or unmasking "
                         "started)");
    if (!s->shared[i])
        return gf_errorf(GF_ERR_MISMATCH, "secagg server add_masked: client %d did not complete ShareKeys", i);
    if (s->masked[i]) return gf_errorf(GF_ERR_MISMATCH, "secagg server add_masked: client %d sent twice", i);
    for (int64_t w = 0; w < s->p.d; w++) s->sum[w] += y[w];
    s->masked[i] = 1;
    s->nmasked++;
    return GF_OK;
}

gf_status gf_secagg_server_unmask_request(gf_secagg_server *s, unsigned char *survived /* (n) */,
                                          unsigned char *dropped /* (n) */)
{
    if (!s || !survived || !dropped) return gf_errorf(GF_ERR_ARG, "secagg server unmask_request: NULL argument");
    if (s->phase != S_MASKED && s->phase != S_UNMASK)
        return gf_errorf(GF_ERR_ARG, "secagg server unmask_request: not in phase 3 or 4");
    if (s->nmasked < s->p.t)
        return gf_errorf(GF_ERR_MISMATCH, "secagg server unmask_request: %d masked inputs, fewer than t = %d; "
                         "aborting the round", s->nmasked, s->p.t);
    s->phase = S_UNMASK;
    for (int i = 0; i < s->p.n; i++) {
        survived[i] = s->masked[i] != 0;
        dropped[i] = s->shared[i] && !s->masked[i];
    }
    return GF_OK;
}

gf_status gf_secagg_server_add_unmask(gf_secagg_server *s, int j, const uint8_t *resp /* (k, ROW) */)
{
    if (!s || !resp) return gf_errorf(GF_ERR_ARG, "secagg server add_unmask: NULL argument");
    gf_status st = check_client(s, j, "add_unmask");
    if (st) return st;
    if (s->phase != S_UNMASK) return gf_errorf(GF_ERR_ARG, "secagg server add_unmask: not in phase 4");
    if (!s->masked[j])
        return gf_errorf(GF_ERR_MISMATCH, "secagg server add_unmask: client %d is not a survivor", j);
    if (s->answered[j])
        return gf_errorf(GF_ERR_MISMATCH, "secagg server add_unmask: client %d answered twice", j);
    int k = s->p.k;
    const int *nb = s->nbr + (size_t)j * k;
    for (int m = 0; m < k; m++) {   /* check everything before storing anything */
        const uint8_t *row = resp + (size_t)m * ROWB;
        int i = nb[m], want = s->masked[i] ? GF_SECAGG_SHARE_SELF : s->shared[i] ? GF_SECAGG_SHARE_KEY
                                                                                  : GF_SECAGG_SHARE_NONE;
        if (row[0] == GF_SECAGG_SHARE_NONE) continue;
        if (row[0] != want)
            return gf_errorf(GF_ERR_FORMAT, "secagg server add_unmask: client %d's row for %d has kind %d, "
                             "expected %d", j, i, row[0], want);
        int pos = find_pos(s->nbr + (size_t)i * k, k, j);
        if ((row[1] | row[2] << 8) != pos + 1)
            return gf_errorf(GF_ERR_FORMAT, "secagg server add_unmask: client %d's share of %d is not at x = %d",
                             j, i, pos + 1);
    }
    for (int m = 0; m < k; m++) {
        const uint8_t *row = resp + (size_t)m * ROWB;
        if (row[0] == GF_SECAGG_SHARE_NONE) continue;
        int i = nb[m], pos = find_pos(s->nbr + (size_t)i * k, k, j);
        size_t at = (size_t)i * k + pos;
        s->kind[at] = row[0];
        memcpy(s->shares + at * SHB, row + 1, SHB);
    }
    s->answered[j] = 1;
    return GF_OK;
}

/* Whether finish must rebuild a secret of client i: b_i for a survivor; s_i's
 * key for a dropped client with at least one surviving neighbour (the only
 * ones that masked with it). */
static int needed(const gf_secagg_server *s, int i)
{
    if (!s->shared[i]) return 0;
    if (s->masked[i]) return 1;
    const int *nb = s->nbr + (size_t)i * s->p.k;
    for (int m = 0; m < s->p.k; m++)
        if (s->masked[nb[m]]) return 1;
    return 0;
}

/* Gather the shares of client i's secret of the given kind into buf (k, SHB). */
static int gather(const gf_secagg_server *s, int i, int kind, uint8_t *buf)
{
    int k = s->p.k, c = 0;
    for (int m = 0; m < k; m++) {
        size_t at = (size_t)i * k + m;
        if (s->kind[at] != kind) continue;
        memcpy(buf + (size_t)c * SHB, s->shares + at * SHB, SHB);
        c++;
    }
    return c;
}

gf_status gf_secagg_server_finish(gf_secagg_server *s, uint32_t *z /* (d) */, int *nsummed)
{
    if (!s || !z) return gf_errorf(GF_ERR_ARG, "secagg server finish: NULL argument");
    if (s->phase != S_UNMASK) return gf_errorf(GF_ERR_ARG, "secagg server finish: not in phase 4");
    const gf_secagg_params *p = &s->p;
    int n = p->n, k = p->k;
    /* count first: nothing is reconstructed unless every needed secret can be */
    for (int i = 0; i < n; i++) {
        if (!needed(s, i)) continue;
        int kind = s->masked[i] ? GF_SECAGG_SHARE_SELF : GF_SECAGG_SHARE_KEY, c = 0;
        for (int m = 0; m < k; m++) c += s->kind[(size_t)i * k + m] == kind;
        if (c < p->t)
            return gf_errorf(GF_ERR_MISMATCH, "secagg server finish: %d shares of %s client %d's %s, fewer than "
                             "t = %d; aborting", c, s->masked[i] ? "surviving" : "dropped", i,
                             s->masked[i] ? "self-mask seed" : "mask key", p->t);
    }
    /* first every secret and pair seed, then all their masks in one parallel pass */
    size_t cap = 0;
    for (int i = 0; i < n; i++)
        if (needed(s, i)) cap += s->masked[i] ? 1 : (size_t)k;
    uint8_t *buf = malloc((size_t)k * SHB);
    uint32_t *acc = malloc((size_t)p->d * sizeof *acc);
    mask_stream *ms = malloc(sizeof *ms * (cap + 1));   /* (cap) streams to remove */
    if (!buf || !acc || !ms) {
        free(buf); free(acc); free(ms);
        return gf_errorf(GF_ERR_NOMEM, "secagg server finish: out of memory");
    }
    int ns = 0;
    uint8_t secret[KEYB], pk[KEYB];
    gf_status st = GF_OK;
    char why[256];
    for (int i = 0; i < n && !st; i++) {
        if (!needed(s, i)) continue;
        if (s->masked[i]) {   /* remove PRG(b_i) */
            int c = gather(s, i, GF_SECAGG_SHARE_SELF, buf);
            if ((st = gf_shamir_combine(buf, c, secret))) {
                snprintf(why, sizeof why, "%s", gf_last_error());
                st = gf_errorf(st, "secagg server finish: client %d's self-mask seed: %s", i, why);
                break;
            }
            memcpy(ms[ns].key, secret, KEYB);
            ms[ns].nonce = nonce_self;
            ms[ns++].sign = -1;
            continue;
        }
        /* dropped: rebuild s_i's key and remove the masks its surviving neighbours added */
        int c = gather(s, i, GF_SECAGG_SHARE_KEY, buf);
        if ((st = gf_shamir_combine(buf, c, secret))) {
            snprintf(why, sizeof why, "%s", gf_last_error());
            st = gf_errorf(st, "secagg server finish: client %d's mask key: %s", i, why);
            break;
        }
        const uint8_t *spk_i = s->keys + (size_t)i * GF_SECAGG_KEYS_BYTES + KEYB;
        crypto_scalarmult_base(pk, secret);
        if (sodium_memcmp(pk, spk_i, KEYB) != 0) {
            st = gf_errorf(GF_ERR_MISMATCH, "secagg server finish: the shares of client %d's mask key do not "
                           "match its public key", i);
            break;
        }
        const int *nb = s->nbr + (size_t)i * k;
        for (int m = 0; m < k && !st; m++) {
            int j = nb[m];
            if (!s->masked[j]) continue;
            const uint8_t *spk_j = s->keys + (size_t)j * GF_SECAGG_KEYS_BYTES + KEYB;
            if ((st = pair_seed(ms[ns].key, p->seed, i, secret, spk_i, j, spk_j))) break;
            /* j added +PRG(s_ij) if i > j, -PRG(s_ij) if i < j: undo it */
            ms[ns].nonce = nonce_pair;
            ms[ns++].sign = i > j ? -1 : +1;
        }
    }
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(buf, (size_t)k * SHB);
    free(buf);
    if (!st) {
        memcpy(acc, s->sum, (size_t)p->d * sizeof *acc);
        streams_apply(acc, p->d, ms, ns);
    }
    sodium_memzero(ms, sizeof *ms * (cap + 1));
    free(ms);
    if (!st) {
        memcpy(z, acc, (size_t)p->d * sizeof *acc);
        if (nsummed) *nsummed = s->nmasked;
        s->phase = S_DONE;
    }
    sodium_memzero(acc, (size_t)p->d * sizeof *acc);   /* partly unmasked on failure */
    free(acc);
    return st;
}

gf_status gf_secagg_default_params(int n, int *k, int *t)
{
    if (n < 2 || n > GF_SECAGG_MAX_CLIENTS)
        return gf_errorf(GF_ERR_ARG, "secure aggregation needs 2..%d sites in a round, got %d", GF_SECAGG_MAX_CLIENTS, n);
    int kk = 2 * (int)ceil(1.5 * log2((double)n));        /* even, about 3 log2 n */
    if (kk >= n - 1) kk = n - 1;                          /* small rounds: full SecAgg */
    *k = kk;
    *t = (2 * kk + 2) / 3;                                /* ceil(2k/3): a third of the neighbours may drop */
    return GF_OK;
}

/* ------------------------------------------------------------ quantisation */

static gf_status quant_args(const void *in, const void *out, int64_t d, float clip, int nclients, const char *who)
{
    if ((d > 0 && (!in || !out)) || d < 0)
        return gf_errorf(GF_ERR_ARG, "secagg %s: bad buffers or d = %lld", who, (long long)d);
    if (!isfinite(clip) || !(clip > 0))
        return gf_errorf(GF_ERR_ARG, "secagg %s: clip = %g, need a finite value > 0", who, (double)clip);
    if (nclients < 1) return gf_errorf(GF_ERR_ARG, "secagg %s: nclients = %d, need >= 1", who, nclients);
    return GF_OK;
}

static double quant_levels(int nclients) { return floor(2147483647.0 / nclients); }   /* M */

double gf_secagg_quant_scale(float clip, int nclients)
{
    if (!isfinite(clip) || !(clip > 0) || nclients < 1) return 0.0;
    return quant_levels(nclients) / (double)clip;
}

gf_status gf_secagg_quantize(const float *x /* (d) */, int64_t d, float clip, int nclients, uint32_t *q /* (d) */)
{
    gf_status st = quant_args(x, q, d, clip, nclients, "quantize");
    if (st) return st;
    for (int64_t w = 0; w < d; w++)
        if (!isfinite(x[w]))
            return gf_errorf(GF_ERR_NUMERIC, "secagg quantize: value %lld is not finite", (long long)w);
    double M = quant_levels(nclients), c = clip;
    gf_csprng rng;
    if (gf_csprng_init(&rng, NULL, 0)) return gf_errorf(GF_ERR_IO, "libsodium could not initialise");
    for (int64_t w = 0; w < d; w++) {
        double v = x[w];
        v = v > c ? c : v < -c ? -c : v;
        double r = v / c * M, f = floor(r);
        /* stochastic rounding: up with probability r - f (exact in double), from a 53-bit secret uniform */
        r = f + ((double)(gf_csprng_u64(&rng) >> 11) * 0x1.0p-53 < r - f);
        r = r > M ? M : r < -M ? -M : r;
        q[w] = (uint32_t)(int64_t)r;       /* two's complement mod 2^32 */
    }
    gf_csprng_wipe(&rng);
    return GF_OK;
}

gf_status gf_secagg_dequantize(const uint32_t *z /* (d) */, int64_t d, float clip, int nclients,
                               float *out /* (d) */)
{
    gf_status st = quant_args(z, out, d, clip, nclients, "dequantize");
    if (st) return st;
    double scale = gf_secagg_quant_scale(clip, nclients);
    for (int64_t w = 0; w < d; w++) {
        int64_t v = z[w] < 0x80000000u ? (int64_t)z[w] : (int64_t)z[w] - ((int64_t)1 << 32);
        out[w] = (float)((double)v / scale);
    }
    return GF_OK;
}
