/* Secure aggregation of the SecAgg / SecAgg+ family (Bonawitz et al. 2017,
 * "Practical Secure Aggregation for Privacy-Preserving Machine Learning";
 * Bell et al. 2020, "Secure Single-Server Aggregation with (Poly)Logarithmic
 * Overhead"), in-process and transport-agnostic: every message is a plain
 * byte buffer of constant size that the coordinator relays, and each phase
 * is one function call on the client object or on the server object. The
 * server learns z = sum_{i in U} x_i mod 2^32 over the clients U that sent
 * masked inputs, and (for an honest-but-curious server) nothing else.
 *
 * Round parameters (public, the same for everybody):
 *   n      clients, indices 0..n-1, 2 <= n <= GF_SECAGG_MAX_CLIENTS
 *   k      neighbours per client: k == n - 1 is full SecAgg (everybody is
 *          everybody's neighbour); otherwise k must be even, 2 <= k < n - 1
 *          (SecAgg+). Every client has exactly k neighbours.
 *   t      threshold: a client's secrets are Shamir-shared among its k
 *          neighbours (the client itself holds no share) and any t of those
 *          k shares recover them. Required: k / 2 < t <= k (i.e. 2t > k, so
 *          that no server can collect t shares of one client's self-mask
 *          seed and t shares of its mask key from disjoint honest sets).
 *   d      vector length, 1 <= d <= 2^32.
 *   seed   32 public bytes, fresh per round: it draws the graph and is
 *          bound into every key derivation and ciphertext.
 *
 * Graph: a random Harary graph (Bell et al.): the n clients are put on a
 * ring in the order of a Fisher-Yates permutation drawn from ChaCha20 keyed
 * by the seed, and each is joined to the k/2 nearest on either side. The
 * graph is symmetric (j in N(i) iff i in N(j)) and exactly k-regular.
 * gf_secagg_neighbours lists N(i) in increasing index order; every per-
 * neighbour buffer below, shape (k, ...), follows that order.
 *
 * Phases and messages (sizes in bytes):
 *   1 AdvertiseKeys  client -> server: c_pk || s_pk (64), two X25519 public
 *                    keys: c for encrypting shares, s for pairwise masks.
 *                    server -> clients: the table (n, 64), zeros for absent.
 *   2 ShareKeys      client i draws a self-mask seed b_i, Shamir-shares b_i
 *                    and s_i's secret key among N(i), and sends neighbour m
 *                    its two shares under XChaCha20-Poly1305 (key: BLAKE2b of
 *                    the X25519 secret of the c keys, the round seed and both
 *                    public keys; associated data: a label, the round seed,
 *                    sender and recipient indices): (k, GF_SECAGG_CT_BYTES).
 *                    The server routes them; each client gets its inbox:
 *                    the ciphertexts of the neighbours that completed this
 *                    phase (k, GF_SECAGG_CT_BYTES) with a received flag (k).
 *   3 MaskedInput    y_i = x_i + PRG(b_i) + sum_{j in R(i), j > i} PRG(s_ij)
 *                    - sum_{j in R(i), j < i} PRG(s_ij)  mod 2^32, (d) uint32,
 *                    where R(i) are the neighbours in i's inbox and s_ij is
 *                    BLAKE2b of the X25519 secret of the s keys (with a label,
 *                    the round seed and both public keys). PRG = ChaCha20
 *                    (IETF), little-endian uint32 words, nonce "gfsa-self" for
 *                    self masks and "gfsa-pair" for pairwise masks.
 *   4 Unmasking      server -> clients: survivors U (sent y) and dropped D
 *                    (completed phase 2, no y), as (n) flags each. Surviving
 *                    client j answers (k, GF_SECAGG_UNMASK_ROW_BYTES): for
 *                    each neighbour i in its inbox, the share of b_i if i is
 *                    in U, the share of s_i's key if i is in D, never both.
 *   5 Finish         the server rebuilds b_i (i in U) and s_i (i in D) from at
 *                    least t shares each, removes PRG(b_i) and the pairwise
 *                    masks between each dropped i and its surviving
 *                    neighbours, and outputs z.
 * Dropouts: before phase 1 or 2, a client is simply excluded (nobody masks
 * with it); between 2 and 3 its pairwise masks are removed through its key
 * shares; between 3 and 4 it still counts (its b_i comes from the others).
 *
 * Unmask response row: byte 0 the kind (0 none, 1 share of the self-mask
 * seed b_i, 2 share of the mask secret key s_i), then GF_SHAMIR_SHARE_BYTES
 * (zeros for kind 0).
 *
 * Aborts: a client refuses (and stays aborted) when it has fewer than t
 * neighbours with keys (phase 2) or in its inbox (phase 3), a ciphertext
 * does not authenticate or carries the wrong indices or share positions, or
 * the unmask request lists an index as both survivor and dropped, lists the
 * client itself as dropped or not surviving, leaves a neighbour of its inbox
 * out of both sets, names one outside it, or has fewer than t survivors. The
 * server refuses the unmask request with fewer than t survivors, and
 * gf_secagg_server_finish fails, writing nothing to z, when any needed
 * secret has fewer than t shares or the shares are inconsistent.
 *
 * Threat model: honest-but-curious server, any clients may drop out. Inputs
 * from other parties are untrusted bytes and are checked (lengths, indices,
 * authentication). Against a malicious server (swapped keys, different
 * survivor lists for different clients, a chosen graph) the clients run
 * this protocol inside privacy/secagg_peer.h (signed keys, a seed drawn from
 * every advertisement, the consistency round); a malicious server could
 * still break correctness. Messages are not padded
 * for traffic analysis. Secrets are wiped with sodium_memzero on free.
 *
 * Objects are per round and not thread-safe; different objects may be used
 * from different threads. Every function returns a gf_status and leaves a
 * gf_errorf message on failure; nothing prints. */
#ifndef GF_PRIVACY_SECAGG_H
#define GF_PRIVACY_SECAGG_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "privacy/shamir.h"

#define GF_SECAGG_MAX_CLIENTS 65535
#define GF_SECAGG_SEED_BYTES 32
#define GF_SECAGG_KEYS_BYTES 64   /* c_pk || s_pk */
/* 24-byte nonce || AEAD(b-share || s-share) with its 16-byte tag */
#define GF_SECAGG_CT_BYTES (24 + 2 * GF_SHAMIR_SHARE_BYTES + 16)
#define GF_SECAGG_UNMASK_ROW_BYTES (1 + GF_SHAMIR_SHARE_BYTES)

enum { GF_SECAGG_SHARE_NONE = 0, GF_SECAGG_SHARE_SELF = 1, GF_SECAGG_SHARE_KEY = 2 };

typedef struct {
    int n, k, t;
    int64_t d;
    uint8_t seed[GF_SECAGG_SEED_BYTES];
} gf_secagg_params;

/* A job's secure-aggregation settings (the job spec's "secure_aggregation").
 * Each site sends x_i = [w_i * update_i, w_i] quantised with `clip` and the
 * round's n: w_i = min(samples_i, max_weight) / max_weight, so the sum
 * yields the sample-weighted mean without any single weight in the clear.
 * With client-level DP the weight is 1 and each site adds its part of the
 * noise (see docs/privacy.md). */
typedef struct {
    int    enabled;
    int    k, t;              /* 0: gf_secagg_default_params for the round's n */
    double clip;              /* quantisation range per coordinate; 0: default */
    double max_weight;        /* samples at which a site's weight saturates */
    double phase_timeout_s;   /* deadline of the key, share and unmask phases */
} gf_secagg_config;

/* GF_OK when the parameters satisfy the constraints above. */
gf_status gf_secagg_params_check(const gf_secagg_params *p);

/* N(i), the k neighbours of client i in increasing order (deterministic). */
gf_status gf_secagg_neighbours(const gf_secagg_params *p, int i, int *out /* (k) */);

/* Defaults for n clients: k = n - 1 (full SecAgg) while 3 log2 n reaches
 * n - 1, else the even k = 2 ceil(1.5 log2 n) (SecAgg+: 20 at n = 100, 28 at
 * n = 500); t = ceil(2k / 3) (6 of 9, 14 of 20, 19 of 28). A client holds
 * no share of its own secrets, so a survivor's self mask opens when t of
 * its k neighbours survive: a round survives up to a third of every
 * neighbourhood dropping. GF_ERR_ARG for n outside 2..GF_SECAGG_MAX_CLIENTS. */
gf_status gf_secagg_default_params(int n, int *k, int *t);

/* ---- client: one object per client per round ---- */
typedef struct gf_secagg_client gf_secagg_client;

/* Makes the two X25519 key pairs. */
gf_status gf_secagg_client_new(const gf_secagg_params *p, int index, gf_secagg_client **out);
void gf_secagg_client_free(gf_secagg_client *c);   /* wipes; NULL is fine */

/* Replaces the round seed (and so the graph) before phase 2: the seed of
 * an authenticated round is drawn from every client's advertisement
 * (privacy/secagg_peer.h), known only once the key table is. GF_ERR_ARG
 * after phase 1. */
gf_status gf_secagg_client_set_seed(gf_secagg_client *c, const uint8_t seed[GF_SECAGG_SEED_BYTES]);

/* Phase 1: c_pk || s_pk. */
gf_status gf_secagg_client_advertise(gf_secagg_client *c, uint8_t out[GF_SECAGG_KEYS_BYTES]);

/* Phase 2: from the server's key table, encrypts share pairs for the
 * neighbours that have keys; sent[m] says whether row m of cts is a message
 * for neighbour m (other rows are zeroed). The table must hold this client's
 * own keys in its row. */
gf_status gf_secagg_client_share(gf_secagg_client *c, const uint8_t *keys /* (n, 64) */,
                                 uint8_t *cts /* (k, GF_SECAGG_CT_BYTES) */,
                                 unsigned char *sent /* (k) */);

/* Phase 3: decrypts the inbox (row m from neighbour m when received[m]) and
 * writes the masked input. y may equal x. */
gf_status gf_secagg_client_mask(gf_secagg_client *c, const uint32_t *x /* (d) */,
                                const uint8_t *inbox /* (k, GF_SECAGG_CT_BYTES) */,
                                const unsigned char *received /* (k) */, uint32_t *y /* (d) */);

/* Phase 4: answers the server's unmask request (see Aborts above). */
gf_status gf_secagg_client_unmask(gf_secagg_client *c, const unsigned char *survived /* (n) */,
                                  const unsigned char *dropped /* (n) */,
                                  uint8_t *resp /* (k, GF_SECAGG_UNMASK_ROW_BYTES) */);

/* ---- server: one object per round; holds (n, k) ciphertexts and shares ---- */
typedef struct gf_secagg_server gf_secagg_server;

gf_status gf_secagg_server_new(const gf_secagg_params *p, gf_secagg_server **out);
void gf_secagg_server_free(gf_secagg_server *s);   /* wipes; NULL is fine */

/* The same for the server, while phase 1 is open. */
gf_status gf_secagg_server_set_seed(gf_secagg_server *s, const uint8_t seed[GF_SECAGG_SEED_BYTES]);

/* Phase 1: record client i's keys (rejects low-order points, c_pk == s_pk,
 * a second message from i, and a key equal to one another client sent). */
gf_status gf_secagg_server_add_keys(gf_secagg_server *s, int i, const uint8_t keys[GF_SECAGG_KEYS_BYTES]);
/* Closes phase 1: the key table to broadcast, zero rows for absent clients. */
gf_status gf_secagg_server_keys(gf_secagg_server *s, uint8_t *out /* (n, 64) */);

/* Phase 2: record client i's ciphertexts; sent must flag exactly the
 * neighbours that have keys. */
gf_status gf_secagg_server_add_shares(gf_secagg_server *s, int i, const uint8_t *cts /* (k, CT) */,
                                      const unsigned char *sent /* (k) */);
/* Closes phase 2: client j's inbox (j must have completed phase 2). */
gf_status gf_secagg_server_inbox(gf_secagg_server *s, int j, uint8_t *inbox /* (k, CT) */,
                                 unsigned char *received /* (k) */);

/* Phase 3: add client i's masked input (i must have completed phase 2). */
gf_status gf_secagg_server_add_masked(gf_secagg_server *s, int i, const uint32_t *y /* (d) */);
/* Closes phase 3: survivors U and dropped D; fails if |U| < t. */
gf_status gf_secagg_server_unmask_request(gf_secagg_server *s, unsigned char *survived /* (n) */,
                                          unsigned char *dropped /* (n) */);

/* Phase 4: record surviving client j's response (checked in full first). */
gf_status gf_secagg_server_add_unmask(gf_secagg_server *s, int j,
                                      const uint8_t *resp /* (k, GF_SECAGG_UNMASK_ROW_BYTES) */);

/* Phase 5: z = sum_{i in U} x_i mod 2^32, *nsummed = |U| (may be NULL).
 * On failure z is left untouched, and finish may be retried after more
 * responses arrive. */
gf_status gf_secagg_server_finish(gf_secagg_server *s, uint32_t *z /* (d) */, int *nsummed);

/* ---- quantisation ----
 * Fixed point with M = floor((2^31 - 1) / nclients) and scale = M / clip: a
 * value is clipped to [-clip, clip] and x * scale is rounded stochastically
 * to an integer in [-M, M] (up with probability its fraction, from a secret
 * stream, csprng.h: unbiased, where rounding to nearest is not), stored as
 * its two's complement mod 2^32. Any sum of up to nclients such values lies
 * in [-(2^31 - 1), 2^31 - 1] and so never wraps when read back as int32.
 * The dequantised sum is off by less than nclients / scale from the sum of
 * the clipped values, plus the float rounding of the result, and its
 * expectation is that sum. Every client and the
 * server must use the same clip and nclients (the most clients that can be
 * summed, e.g. n). */
double gf_secagg_quant_scale(float clip, int nclients);   /* 0 on bad arguments */
/* Rejects non-finite x (GF_ERR_NUMERIC, q untouched), clip not finite > 0,
 * nclients < 1, d < 0. */
gf_status gf_secagg_quantize(const float *x /* (d) */, int64_t d, float clip, int nclients,
                             uint32_t *q /* (d) */);
gf_status gf_secagg_dequantize(const uint32_t *z /* (d) */, int64_t d, float clip, int nclients,
                               float *out /* (d) */);

#endif
