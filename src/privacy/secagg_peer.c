/* A site's side of an authenticated secure aggregation round (see
 * secagg_peer.h): endorsement and advertisement checks (Ed25519), the
 * graph seed from the key table (BLAKE2b), and the consistency round; the
 * masking protocol itself is secagg.c's client. */
#include "privacy/secagg_peer.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define ENDORSE_LABEL "gf-site-signing-key-v1"   /* net/pki_signing.c signs it with its NUL */
#define ADV_LABEL     "gfsa-adv-v1"
#define SEED_LABEL    "gfsa-graph-seed-v1"
#define CONS_LABEL    "gfsa-consistency-v1"
#define ID_BYTES      (8 + 8 + GF_SECAGG_ATTEMPT_MAX + 1 + 4 + 4 + 4 + 8)
#define ADV_SIGNED    (GF_SECAGG_ADV_BYTES - GF_SECAGG_SIG_BYTES)   /* keys || nonce || endorsement */
#define NAMEB         GF_SECAGG_NAME_BYTES

enum { P_NEW, P_ADVERTISED, P_SHARED, P_MASKED, P_SIGNED, P_DONE, P_ABORTED };

struct gf_secagg_peer {
    gf_secagg_round_id id;
    int                index, phase, present;
    int                min_survivors;   /* under integer DP noise: the fewest survivors it holds for (0: t) */
    gf_secagg_identity me;
    uint8_t            adv[GF_SECAGG_ADV_BYTES];
    uint8_t            seed[GF_SECAGG_SEED_BYTES];
    char              *names;        /* (n, NAMEB + 1) names of the table's rows, "" for absent */
    uint8_t           *pks;          /* (n, 32) their signing keys */
    unsigned char     *signed_u, *signed_d;   /* (n) each, the lists it signed */
    uint8_t           *cons_msg;     /* the consistency message it signed */
    size_t             cons_len;
    gf_secagg_params   p;
    gf_secagg_client  *client;
};

static void put_u32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
}

static void id_bytes(const gf_secagg_round_id *id, uint8_t out[ID_BYTES])
{
    memset(out, 0, ID_BYTES);
    put_u64(out, (uint64_t)id->job);
    put_u64(out + 8, (uint64_t)id->round);
    memcpy(out + 16, id->attempt, strnlen(id->attempt, GF_SECAGG_ATTEMPT_MAX));
    uint8_t *q = out + 16 + GF_SECAGG_ATTEMPT_MAX + 1;
    put_u32(q, (uint32_t)id->n);
    put_u32(q + 4, (uint32_t)id->k);
    put_u32(q + 8, (uint32_t)id->t);
    put_u64(q + 12, (uint64_t)id->d);
}

gf_status gf_secagg_endorsement_check(const uint8_t ca_pk[GF_SECAGG_SIGN_PK_BYTES],
                                      const uint8_t e[GF_SECAGG_ENDORSE_BYTES], char name[NAMEB + 1],
                                      uint8_t pk[GF_SECAGG_SIGN_PK_BYTES])
{
    if (sodium_init() < 0) return gf_errorf(GF_ERR_ARG, "libsodium initialisation failed");
    uint8_t msg[sizeof ENDORSE_LABEL + NAMEB + GF_SECAGG_SIGN_PK_BYTES];
    memcpy(msg, ENDORSE_LABEL, sizeof ENDORSE_LABEL);
    memcpy(msg + sizeof ENDORSE_LABEL, e, NAMEB + GF_SECAGG_SIGN_PK_BYTES);
    if (crypto_sign_verify_detached(e + NAMEB + GF_SECAGG_SIGN_PK_BYTES, msg, sizeof msg, ca_pk) != 0)
        return gf_errorf(GF_ERR_MISMATCH, "the endorsement is not signed by this federation's CA");
    size_t len = strnlen((const char *)e, NAMEB);
    for (size_t i = len; i < NAMEB; i++)
        if (e[i]) return gf_errorf(GF_ERR_MISMATCH, "the endorsement's name is not NUL-padded");
    if (len == 0) return gf_errorf(GF_ERR_MISMATCH, "the endorsement names no site");
    if (name) {
        memcpy(name, e, len);
        name[len] = 0;
    }
    if (pk) memcpy(pk, e + NAMEB, GF_SECAGG_SIGN_PK_BYTES);
    return GF_OK;
}

/* The bytes an advertisement's signature covers. */
static void adv_message(const gf_secagg_round_id *id, int index, const uint8_t *adv,
                        uint8_t out[sizeof ADV_LABEL + ID_BYTES + 4 + ADV_SIGNED])
{
    memcpy(out, ADV_LABEL, sizeof ADV_LABEL);
    id_bytes(id, out + sizeof ADV_LABEL);
    put_u32(out + sizeof ADV_LABEL + ID_BYTES, (uint32_t)index);
    memcpy(out + sizeof ADV_LABEL + ID_BYTES + 4, adv, ADV_SIGNED);
}

gf_status gf_secagg_graph_seed(const gf_secagg_round_id *id, const uint8_t *table, uint8_t seed[GF_SECAGG_SEED_BYTES])
{
    if (!id || !table || !seed || id->n < 1) return gf_errorf(GF_ERR_ARG, "graph seed: bad arguments");
    if (sodium_init() < 0) return gf_errorf(GF_ERR_ARG, "libsodium initialisation failed");
    uint8_t idb[ID_BYTES];
    id_bytes(id, idb);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, GF_SECAGG_SEED_BYTES);
    crypto_generichash_update(&h, (const uint8_t *)SEED_LABEL, sizeof SEED_LABEL);
    crypto_generichash_update(&h, idb, sizeof idb);
    crypto_generichash_update(&h, table, (size_t)id->n * GF_SECAGG_ADV_BYTES);
    crypto_generichash_final(&h, seed, GF_SECAGG_SEED_BYTES);
    return GF_OK;
}

gf_status gf_secagg_peer_require_survivors(gf_secagg_peer *p, int m)
{
    if (!p || m < 1 || m > p->id.n) return gf_errorf(GF_ERR_ARG, "secagg peer: bad survivor minimum %d", m);
    if (p->phase != P_NEW && p->phase != P_ADVERTISED)
        return gf_errorf(GF_ERR_ARG, "secagg peer: the survivor minimum is set before sharing");
    p->min_survivors = m;
    return GF_OK;
}

int gf_secagg_consistency_quorum(int t, int present)
{
    int maj = present / 2 + 1;
    return t > maj ? t : maj;
}

void gf_secagg_peer_free(gf_secagg_peer *p)
{
    if (!p) return;
    gf_secagg_client_free(p->client);
    free(p->names);
    free(p->pks);
    free(p->signed_u);
    free(p->signed_d);
    free(p->cons_msg);
    sodium_memzero(p, sizeof *p);
    free(p);
}

static gf_status peer_abort(gf_secagg_peer *p, gf_status st)
{
    p->phase = P_ABORTED;
    sodium_memzero(p->me.sk, sizeof p->me.sk);
    gf_secagg_client_free(p->client);   /* wipes its secrets */
    p->client = NULL;
    return st;
}

gf_status gf_secagg_peer_new(const gf_secagg_round_id *id, int index, const gf_secagg_identity *me,
                             gf_secagg_peer **out)
{
    if (!out || !id || !me) return gf_errorf(GF_ERR_ARG, "secagg peer: NULL argument");
    *out = NULL;
    if (sodium_init() < 0) return gf_errorf(GF_ERR_ARG, "libsodium initialisation failed");
    gf_secagg_params p = { .n = id->n, .k = id->k, .t = id->t, .d = id->d };
    gf_status st = gf_secagg_params_check(&p);
    if (st) return st;
    if (strnlen(id->attempt, sizeof id->attempt) > GF_SECAGG_ATTEMPT_MAX)
        return gf_errorf(GF_ERR_ARG, "secagg peer: the attempt token is too long");
    uint8_t pk[GF_SECAGG_SIGN_PK_BYTES];
    if ((st = gf_secagg_endorsement_check(me->ca_pk, me->endorsement, NULL, pk)))
        return gf_errorf(st, "this site's own signing key: %s", gf_last_error());
    uint8_t mine[GF_SECAGG_SIGN_PK_BYTES];
    crypto_sign_ed25519_sk_to_pk(mine, me->sk);
    if (sodium_memcmp(mine, pk, sizeof pk) != 0)
        return gf_errorf(GF_ERR_MISMATCH, "this site's endorsement is of another signing key");
    gf_secagg_peer *q = calloc(1, sizeof *q);
    if (!q) return gf_errorf(GF_ERR_NOMEM, "secagg peer: out of memory");
    q->id = *id;
    q->index = index;
    q->me = *me;
    q->p = p;
    size_t n = (size_t)id->n;
    q->names = calloc(n, NAMEB + 1);
    q->pks = calloc(n, GF_SECAGG_SIGN_PK_BYTES);
    q->signed_u = calloc(n, 1);
    q->signed_d = calloc(n, 1);
    if (!q->names || !q->pks || !q->signed_u || !q->signed_d) st = gf_errorf(GF_ERR_NOMEM, "secagg peer: out of memory");
    if (!st) st = gf_secagg_client_new(&p, index, &q->client);
    if (st) { gf_secagg_peer_free(q); return st; }
    /* advertisement: keys || nonce || endorsement || signature */
    uint8_t *a = q->adv;
    if ((st = gf_secagg_client_advertise(q->client, a))) { gf_secagg_peer_free(q); return st; }
    randombytes_buf(a + GF_SECAGG_KEYS_BYTES, GF_SECAGG_NONCE_BYTES);
    memcpy(a + GF_SECAGG_KEYS_BYTES + GF_SECAGG_NONCE_BYTES, me->endorsement, GF_SECAGG_ENDORSE_BYTES);
    uint8_t msg[sizeof ADV_LABEL + ID_BYTES + 4 + ADV_SIGNED];
    adv_message(id, index, a, msg);
    crypto_sign_detached(a + ADV_SIGNED, NULL, msg, sizeof msg, me->sk);
    q->phase = P_ADVERTISED;
    *out = q;
    return GF_OK;
}

gf_status gf_secagg_peer_advertise(gf_secagg_peer *p, uint8_t adv[GF_SECAGG_ADV_BYTES])
{
    if (!p || !adv) return gf_errorf(GF_ERR_ARG, "secagg peer advertise: NULL argument");
    if (p->phase != P_ADVERTISED) return gf_errorf(GF_ERR_ARG, "secagg peer advertise: past phase 1");
    memcpy(adv, p->adv, GF_SECAGG_ADV_BYTES);
    return GF_OK;
}

gf_status gf_secagg_peer_share(gf_secagg_peer *p, const uint8_t *table, uint8_t *cts, unsigned char *sent)
{
    if (!p || !table || !cts || !sent) return gf_errorf(GF_ERR_ARG, "secagg peer share: NULL argument");
    if (p->phase != P_ADVERTISED) return gf_errorf(GF_ERR_ARG, "secagg peer share: not in phase 2");
    int n = p->id.n;
    const uint8_t *own = table + (size_t)p->index * GF_SECAGG_ADV_BYTES;
    if (sodium_memcmp(own, p->adv, GF_SECAGG_ADV_BYTES) != 0)
        return peer_abort(p, gf_errorf(GF_ERR_MISMATCH, "secure aggregation: row %d of the key table is not this "
                                       "site's advertisement; refusing the round", p->index));
    uint8_t *keys = calloc((size_t)n, GF_SECAGG_KEYS_BYTES);   /* (n, 64) */
    if (!keys) return gf_errorf(GF_ERR_NOMEM, "secagg peer share: out of memory");
    uint8_t msg[sizeof ADV_LABEL + ID_BYTES + 4 + ADV_SIGNED];
    gf_status st = GF_OK;
    p->present = 0;
    for (int i = 0; i < n && !st; i++) {
        const uint8_t *row = table + (size_t)i * GF_SECAGG_ADV_BYTES;
        char *name = p->names + (size_t)i * (NAMEB + 1);
        if (sodium_is_zero(row, GF_SECAGG_ADV_BYTES)) continue;
        uint8_t *pk = p->pks + (size_t)i * GF_SECAGG_SIGN_PK_BYTES;
        if ((st = gf_secagg_endorsement_check(p->me.ca_pk, row + GF_SECAGG_KEYS_BYTES + GF_SECAGG_NONCE_BYTES, name,
                                              pk))) {
            st = gf_errorf(st, "secure aggregation: row %d of the key table: %s; refusing the round", i,
                           gf_last_error());
            break;
        }
        adv_message(&p->id, i, row, msg);
        if (crypto_sign_verify_detached(row + ADV_SIGNED, msg, sizeof msg, pk) != 0) {
            st = gf_errorf(GF_ERR_MISMATCH, "secure aggregation: the keys in row %d of the key table are not signed "
                           "by site \"%s\" for this round and attempt; refusing the round", i, name);
            break;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(name, p->names + (size_t)j * (NAMEB + 1))) {
                st = gf_errorf(GF_ERR_MISMATCH, "secure aggregation: site \"%s\" is in rows %d and %d of the key "
                               "table; refusing the round", name, j, i);
                break;
            }
        memcpy(keys + (size_t)i * GF_SECAGG_KEYS_BYTES, row, GF_SECAGG_KEYS_BYTES);
        p->present++;
    }
    if (!st && p->present < p->id.t)
        st = gf_errorf(GF_ERR_MISMATCH, "secure aggregation: %d sites in the key table, fewer than t = %d",
                       p->present, p->id.t);
    if (!st) st = gf_secagg_graph_seed(&p->id, table, p->seed);
    if (!st) st = gf_secagg_client_set_seed(p->client, p->seed);
    if (!st) memcpy(p->p.seed, p->seed, sizeof p->seed);
    if (!st) st = gf_secagg_client_share(p->client, keys, cts, sent);
    free(keys);
    if (st) return peer_abort(p, st);
    p->phase = P_SHARED;
    return GF_OK;
}

gf_status gf_secagg_peer_mask(gf_secagg_peer *p, const uint32_t *x, const uint8_t *inbox,
                              const unsigned char *received, uint32_t *y)
{
    if (!p) return gf_errorf(GF_ERR_ARG, "secagg peer mask: NULL argument");
    if (p->phase != P_SHARED) return gf_errorf(GF_ERR_ARG, "secagg peer mask: not in phase 3");
    gf_status st = gf_secagg_client_mask(p->client, x, inbox, received, y);
    if (st) return peer_abort(p, st);
    p->phase = P_MASKED;
    return GF_OK;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* "U"/"D" || count || names sorted, each NAMEB bytes NUL-padded, into out
 * (advances *at); list (n) flags. */
static void put_names(const gf_secagg_peer *p, char tag, const unsigned char *list, char **tmp, uint8_t *out,
                      size_t *at)
{
    int c = 0;
    for (int i = 0; i < p->id.n; i++)
        if (list[i]) tmp[c++] = p->names + (size_t)i * (NAMEB + 1);
    qsort(tmp, (size_t)c, sizeof *tmp, cmp_name);
    out[(*at)++] = (uint8_t)tag;
    put_u32(out + *at, (uint32_t)c);
    *at += 4;
    for (int m = 0; m < c; m++) {
        memset(out + *at, 0, NAMEB);
        memcpy(out + *at, tmp[m], strlen(tmp[m]));
        *at += NAMEB;
    }
}

gf_status gf_secagg_peer_sign_survivors(gf_secagg_peer *p, const unsigned char *survived,
                                        const unsigned char *dropped, uint8_t sig[GF_SECAGG_SIG_BYTES])
{
    if (!p || !survived || !dropped || !sig) return gf_errorf(GF_ERR_ARG, "secagg peer sign: NULL argument");
    if (p->phase == P_SIGNED)
        return peer_abort(p, gf_errorf(GF_ERR_MISMATCH, "secure aggregation: shown a second survivor list; "
                                       "refusing the round"));
    if (p->phase != P_MASKED) return gf_errorf(GF_ERR_ARG, "secagg peer sign: not after the masked input");
    int n = p->id.n, nu = 0;
    for (int i = 0; i < n; i++) {
        const char *name = p->names + (size_t)i * (NAMEB + 1);
        if (survived[i] > 1 || dropped[i] > 1 || (survived[i] && dropped[i]) ||
            ((survived[i] || dropped[i]) && !name[0]))
            return peer_abort(p, gf_errorf(GF_ERR_FORMAT, "secure aggregation: the survivor list is malformed at "
                                           "%d (flags %d/%d); refusing the round", i, survived[i], dropped[i]));
        nu += survived[i];
    }
    if (!survived[p->index])
        return peer_abort(p, gf_errorf(GF_ERR_MISMATCH, "secure aggregation: the survivor list leaves this site "
                                       "out; refusing the round"));
    if (nu < p->id.t)
        return peer_abort(p, gf_errorf(GF_ERR_MISMATCH, "secure aggregation: %d survivors, fewer than t = %d", nu,
                                       p->id.t));
    if (nu < p->min_survivors)
        return peer_abort(p, gf_errorf(GF_ERR_MISMATCH, "secure aggregation: %d survivors, fewer than the %d this "
                                       "site's noise is calibrated to; refusing the round", nu, p->min_survivors));
    size_t cap = sizeof CONS_LABEL + ID_BYTES + GF_SECAGG_SEED_BYTES + 2 * 5 + (size_t)n * NAMEB;
    uint8_t *msg = malloc(cap);
    char **tmp = malloc(sizeof *tmp * (size_t)n);
    if (!msg || !tmp) { free(msg); free(tmp); return gf_errorf(GF_ERR_NOMEM, "secagg peer sign: out of memory"); }
    size_t at = 0;
    memcpy(msg, CONS_LABEL, sizeof CONS_LABEL);
    at += sizeof CONS_LABEL;
    id_bytes(&p->id, msg + at);
    at += ID_BYTES;
    memcpy(msg + at, p->seed, GF_SECAGG_SEED_BYTES);
    at += GF_SECAGG_SEED_BYTES;
    put_names(p, 'U', survived, tmp, msg, &at);
    put_names(p, 'D', dropped, tmp, msg, &at);
    free(tmp);
    crypto_sign_detached(sig, NULL, msg, at, p->me.sk);
    memcpy(p->signed_u, survived, (size_t)n);
    memcpy(p->signed_d, dropped, (size_t)n);
    p->cons_msg = msg;
    p->cons_len = at;
    p->phase = P_SIGNED;
    return GF_OK;
}

gf_status gf_secagg_peer_unmask(gf_secagg_peer *p, const unsigned char *survived, const unsigned char *dropped,
                                const uint8_t *sigs, uint8_t *resp)
{
    if (!p || !survived || !dropped || !sigs || !resp) return gf_errorf(GF_ERR_ARG, "secagg peer unmask: NULL argument");
    if (p->phase != P_SIGNED)
        return gf_errorf(GF_ERR_ARG, "secagg peer unmask: this site has not signed a survivor list");
    int n = p->id.n;
    if (memcmp(survived, p->signed_u, (size_t)n) || memcmp(dropped, p->signed_d, (size_t)n))
        return peer_abort(p, gf_errorf(GF_ERR_MISMATCH, "secure aggregation: the unmask request's survivors differ "
                                       "from the list this site signed; refusing to reveal shares"));
    int valid = 0;
    for (int j = 0; j < n; j++) {
        const uint8_t *s = sigs + (size_t)j * GF_SECAGG_SIG_BYTES;
        if (sodium_is_zero(s, GF_SECAGG_SIG_BYTES)) continue;
        const char *name = p->names + (size_t)j * (NAMEB + 1);
        if (!survived[j] || crypto_sign_verify_detached(s, p->cons_msg, p->cons_len,
                                                        p->pks + (size_t)j * GF_SECAGG_SIGN_PK_BYTES) != 0)
            return peer_abort(p, gf_errorf(GF_ERR_MISMATCH, "secure aggregation: the consistency signature of row %d "
                                           "(\"%s\") is not over the survivor list this site signed; refusing to "
                                           "reveal shares", j, name[0] ? name : "absent"));
        valid++;
    }
    int need = gf_secagg_consistency_quorum(p->id.t, p->present);
    if (valid < need)
        return peer_abort(p, gf_errorf(GF_ERR_MISMATCH, "secure aggregation: %d sites signed the survivor list this "
                                       "site signed, %d needed; refusing to reveal shares", valid, need));
    gf_status st = gf_secagg_client_unmask(p->client, survived, dropped, resp);
    if (st) return peer_abort(p, st);
    p->phase = P_DONE;
    return GF_OK;
}

const gf_secagg_params *gf_secagg_peer_params(const gf_secagg_peer *p) { return &p->p; }
