/* The coordinator's side of one securely aggregated round (see secround.h). */
#include "fed/secround.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "privacy/ddg.h"
#include "privacy/secagg_peer.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the masked-input wire format is little-endian uint32; this host needs a byte swap"
#endif

struct gf_secround {
    gf_secround_public pub;
    gf_secagg_server  *srv;
    gf_secround_phase  phase;
    double             deadline, phase_timeout_s;
    gf_secagg_round_id id;            /* what the sites' signatures are bound to */
    unsigned char     *keyed, *shared, *masked, *signed_, *answered, *left;   /* (n) each */
    unsigned char     *survived, *dropped;                          /* (n) each, from CONSISTENCY on */
    uint8_t           *table;                                       /* (n, ADV) the signed advertisements */
    uint8_t           *sigs;                                        /* (n, 64) consistency signatures */
    uint32_t          *z;                                           /* (d) the unmasked sum, at DONE */
    char               attempt[17];
    int                finished;      /* gf_secround_finish succeeded: advance moves to DONE */
    int                nsummed;
    int                min_survivors; /* integer DP noise: the fewest survivors it is calibrated to (0: none) */
};

static const char *const phase_names[] = { "keys", "shares", "masked", "consistency", "unmask", "finishing", "done" };

const char *gf_secround_phase_name(gf_secround_phase ph) { return phase_names[ph]; }
const gf_secround_public *gf_secround_public_params(const gf_secround *r) { return &r->pub; }
gf_secround_phase gf_secround_phase_of(const gf_secround *r) { return r->phase; }
double gf_secround_deadline(const gf_secround *r) { return r->deadline; }
const char *gf_secround_attempt(const gf_secround *r) { return r->attempt; }
int gf_secround_masked(const gf_secround *r, int i) { return i >= 0 && i < r->pub.p.n && r->masked[i]; }

void gf_secround_free(gf_secround *r)
{
    if (!r) return;
    gf_secagg_server_free(r->srv);
    free(r->keyed);
    free(r->shared);
    free(r->masked);
    free(r->signed_);
    free(r->sigs);
    free(r->answered);
    free(r->left);
    free(r->survived);
    free(r->dropped);
    free(r->table);
    free(r->z);
    free(r);
}

gf_status gf_secround_new(const gf_secagg_config *cfg, const gf_dp_config *dp, double dp_clip, int64_t job,
                          int64_t round, int n, int64_t d, double now, gf_secround **out)
{
    *out = NULL;
    int k, t;
    gf_status st = gf_secagg_default_params(n, &k, &t);
    if (st) return st;
    if (cfg->k) {                       /* a configured k at or past n - 1 means full SecAgg */
        k = cfg->k >= n - 1 ? n - 1 : cfg->k;
        if (!cfg->t) t = (2 * k + 2) / 3;
    }
    if (cfg->t) t = cfg->t;
    if (!(2 * t > k && t <= k))
        return gf_errorf(GF_ERR_ARG, "secure aggregation: threshold t = %d does not fit k = %d neighbours among "
                         "%d sites (k/2 < t <= k)", t, k, n);
    gf_secround *r = calloc(1, sizeof *r);
    if (!r) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    gf_secround_public *pub = &r->pub;
    int adaptive = dp && dp->enabled && dp->adaptive;
    pub->p = (gf_secagg_params){ .n = n, .k = k, .t = t, .d = d + 1 + adaptive };
    uint8_t token[8];                       /* the seed is drawn later, from every site's advertisement */
    randombytes_buf(token, sizeof token);
    sodium_bin2hex(r->attempt, sizeof r->attempt, token, sizeof token);
    r->id = (gf_secagg_round_id){ .job = job, .round = round, .n = n, .k = k, .t = t, .d = pub->p.d };
    snprintf(r->id.attempt, sizeof r->id.attempt, "%s", r->attempt);
    pub->max_weight = cfg->max_weight > 0 ? cfg->max_weight : 1e5;
    /* room for the weight (<= 1) and, under DP, the clipped update */
    pub->clip = cfg->clip > 0 ? cfg->clip : 8.0;
    if (dp && dp->enabled) {                /* integer noise from the sites, for any m survivors (privacy/ddg.h) */
        double z, sb;
        if (gf_dp_round_noise(dp, n, &z, &sb)) { free(r); return GF_ERR_ARG; }
        pub->dp_clip = dp_clip;
        pub->dp_count = adaptive;
        pub->max_weight = 1;
        if (z > 0) {                         /* the plan sets the ring's scale: cfg->clip does not apply */
            gf_ddg_plan plan;
            if ((st = gf_ddg_plan_round(n, t, d, dp_clip, z, sb, &plan))) { free(r); return st; }
            pub->clip = plan.range;
            pub->dp_noise_std = plan.noise_std;
            pub->dp_count_noise_std = plan.count_std;
            r->min_survivors = plan.min_survivors;
        } else {
            pub->clip = cfg->clip > 0 ? cfg->clip : fmax(1.0, dp_clip);
        }
    }
    r->phase_timeout_s = cfg->phase_timeout_s > 0 ? cfg->phase_timeout_s : 60;
    r->deadline = now + r->phase_timeout_s;
    r->phase = GF_SECROUND_KEYS;
    size_t nn = (size_t)n;
    if (!(r->keyed = calloc(nn, 1)) || !(r->shared = calloc(nn, 1)) || !(r->masked = calloc(nn, 1)) ||
        !(r->answered = calloc(nn, 1)) || !(r->signed_ = calloc(nn, 1)) ||
        !(r->sigs = calloc(nn, GF_SECAGG_SIG_BYTES)) || !(r->table = calloc(nn, GF_SECAGG_ADV_BYTES)) || !(r->left = calloc(nn, 1)) || !(r->survived = calloc(nn, 1)) ||
        !(r->dropped = calloc(nn, 1)))
        st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    if (!st) st = gf_secagg_params_check(&pub->p);
    if (!st) st = gf_secagg_server_new(&pub->p, &r->srv);
    if (st) { gf_secround_free(r); return st; }
    *out = r;
    return GF_OK;
}

/* The phase a message belongs to, the site's previous step done, and not
 * this one yet: else why, with *http. */
static gf_status expect(const gf_secround *r, int i, gf_secround_phase ph, const unsigned char *prev,
                        const unsigned char *done, const char *what, int *http)
{
    *http = 409;
    if (i < 0 || i >= r->pub.p.n) return gf_errorf(GF_ERR_ARG, "secure aggregation: no participant %d", i);
    if (r->left[i]) return gf_errorf(GF_ERR_MISMATCH, "secure aggregation: this site left the round");
    if (r->phase != ph)
        return gf_errorf(GF_ERR_MISMATCH, "secure aggregation: %s belong to phase \"%s\", the round is in \"%s\"",
                         what, phase_names[ph], phase_names[r->phase]);
    if (prev && !prev[i])
        return gf_errorf(GF_ERR_MISMATCH, "secure aggregation: this site missed the phase before \"%s\"",
                         phase_names[ph]);
    if (done[i]) return gf_errorf(GF_ERR_MISMATCH, "secure aggregation: %s already received from this site", what);
    return GF_OK;
}

static gf_status want_len(size_t len, size_t want, const char *what, int *http)
{
    if (len == want) return GF_OK;
    *http = 400;
    return gf_errorf(GF_ERR_FORMAT, "secure aggregation: %s must be %zu bytes, got %zu", what, want, len);
}

/* The server refused a message that had the right size, in the right
 * phase, for the first time: its content is bad (400), or (409) it
 * conflicts with another site's (a public key sent twice). */
static gf_status refused(gf_status st, int *http)
{
    *http = st == GF_ERR_MISMATCH ? 409 : 400;
    return st;
}

static gf_status malformed(gf_status st, int *http)
{
    *http = 400;
    return st;
}

gf_status gf_secround_add_keys(gf_secround *r, int i, const uint8_t *body, size_t len, int *http)
{
    gf_status st = expect(r, i, GF_SECROUND_KEYS, NULL, r->keyed, "public keys", http);
    if (!st) st = want_len(len, GF_SECAGG_ADV_BYTES, "the signed key advertisement", http);
    if (!st && (st = gf_secagg_server_add_keys(r->srv, i, body))) return refused(st, http);
    if (st) return st;
    r->keyed[i] = 1;
    memcpy(r->table + (size_t)i * GF_SECAGG_ADV_BYTES, body, GF_SECAGG_ADV_BYTES);   /* relayed as signed */
    return GF_OK;
}

gf_status gf_secround_add_shares(gf_secround *r, int i, const uint8_t *body, size_t len, int *http)
{
    int k = r->pub.p.k;
    gf_status st = expect(r, i, GF_SECROUND_SHARES, r->keyed, r->shared, "encrypted shares", http);
    if (!st) st = want_len(len, (size_t)k * (GF_SECAGG_CT_BYTES + 1), "encrypted shares (k ciphertexts + k flags)", http);
    if (st) return st;
    const unsigned char *sent = body + (size_t)k * GF_SECAGG_CT_BYTES;
    for (int m = 0; m < k; m++)
        if (sent[m] > 1) {
            *http = 400;
            return gf_errorf(GF_ERR_FORMAT, "secure aggregation: sent flag %d is %d, not 0 or 1", m, sent[m]);
        }
    if ((st = gf_secagg_server_add_shares(r->srv, i, body, sent))) return malformed(st, http);
    r->shared[i] = 1;
    return GF_OK;
}

gf_status gf_secround_add_masked(gf_secround *r, int i, const uint8_t *body, size_t len, int *http)
{
    int64_t d = r->pub.p.d;
    gf_status st = expect(r, i, GF_SECROUND_MASKED, r->shared, r->masked, "masked inputs", http);
    if (!st) st = want_len(len, (size_t)d * 4, "the masked input ((model parameters + 1) x 4)", http);
    if (st) return st;
    uint32_t *copy = NULL;
    const uint32_t *y = (const uint32_t *)(const void *)body;
    if ((uintptr_t)body % _Alignof(uint32_t)) {
        if (!(copy = malloc(len))) { *http = 500; return gf_errorf(GF_ERR_NOMEM, "out of memory"); }
        memcpy(copy, body, len);
        y = copy;
    }
    st = gf_secagg_server_add_masked(r->srv, i, y);
    free(copy);
    if (st) return refused(st, http);
    r->masked[i] = 1;
    return GF_OK;
}

gf_status gf_secround_add_consistency(gf_secround *r, int i, const uint8_t *body, size_t len, int *http)
{
    gf_status st = expect(r, i, GF_SECROUND_CONSIST, r->masked, r->signed_, "consistency signatures", http);
    if (!st) st = want_len(len, GF_SECAGG_SIG_BYTES, "the consistency signature", http);
    if (st) return st;
    if (sodium_is_zero(body, GF_SECAGG_SIG_BYTES)) {
        *http = 400;
        return gf_errorf(GF_ERR_FORMAT, "secure aggregation: the consistency signature is all zeros");
    }
    memcpy(r->sigs + (size_t)i * GF_SECAGG_SIG_BYTES, body, GF_SECAGG_SIG_BYTES);
    r->signed_[i] = 1;
    return GF_OK;
}

gf_status gf_secround_add_unmask(gf_secround *r, int i, const uint8_t *body, size_t len, int *http)
{
    gf_status st = expect(r, i, GF_SECROUND_UNMASK, r->signed_, r->answered, "unmask shares", http);
    if (!st) st = want_len(len, (size_t)r->pub.p.k * GF_SECAGG_UNMASK_ROW_BYTES, "unmask shares", http);
    if (!st && (st = gf_secagg_server_add_unmask(r->srv, i, body))) return malformed(st, http);
    if (!st) r->answered[i] = 1;
    return st;
}

void gf_secround_leave(gf_secround *r, int i)
{
    if (i >= 0 && i < r->pub.p.n) r->left[i] = 1;
}

/* Whether this site's outbound message of phase ph exists: not yet (GF_OK,
 * *ready 0), yes (*ready 1), or never (an error). */
static gf_status outbound(const gf_secround *r, int i, gf_secround_phase ph, const unsigned char *took_part,
                          int *ready, int *http)
{
    *ready = 0;
    *http = 409;
    if (i < 0 || i >= r->pub.p.n) return gf_errorf(GF_ERR_ARG, "secure aggregation: no participant %d", i);
    if (r->phase < ph) return GF_OK;
    if (r->phase > ph && ph != GF_SECROUND_UNMASK)
        return gf_errorf(GF_ERR_MISMATCH, "secure aggregation: phase \"%s\" is over", phase_names[ph]);
    if (!took_part[i])
        return gf_errorf(GF_ERR_MISMATCH, "secure aggregation: this site missed the phase before \"%s\"",
                         phase_names[ph]);
    *ready = 1;
    return GF_OK;
}

static gf_status copy_out(const void *src, size_t len, uint8_t **body, size_t *out_len)
{
    if (!(*body = malloc(len))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    memcpy(*body, src, len);
    *out_len = len;
    return GF_OK;
}

gf_status gf_secround_key_table(gf_secround *r, int i, uint8_t **body, size_t *len, int *http)
{
    int ready;
    *body = NULL;
    gf_status st = outbound(r, i, GF_SECROUND_SHARES, r->keyed, &ready, http);
    if (st || !ready) return st;
    return copy_out(r->table, (size_t)r->pub.p.n * GF_SECAGG_ADV_BYTES, body, len);
}

gf_status gf_secround_inbox(gf_secround *r, int i, uint8_t **body, size_t *len, int *http)
{
    int ready, k = r->pub.p.k;
    *body = NULL;
    gf_status st = outbound(r, i, GF_SECROUND_MASKED, r->shared, &ready, http);
    if (st || !ready) return st;
    size_t n = (size_t)k * (GF_SECAGG_CT_BYTES + 1);
    if (!(*body = malloc(n))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    if ((st = gf_secagg_server_inbox(r->srv, i, *body, *body + (size_t)k * GF_SECAGG_CT_BYTES))) {
        free(*body);
        *body = NULL;
        return st;
    }
    *len = n;
    return GF_OK;
}

gf_status gf_secround_survivors(gf_secround *r, int i, uint8_t **body, size_t *len, int *http)
{
    int ready, n = r->pub.p.n;
    *body = NULL;
    gf_status st = outbound(r, i, GF_SECROUND_CONSIST, r->masked, &ready, http);
    if (st || !ready) return st;
    if (!(*body = malloc(2 * (size_t)n))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    memcpy(*body, r->survived, (size_t)n);
    memcpy(*body + n, r->dropped, (size_t)n);
    *len = 2 * (size_t)n;
    return GF_OK;
}

gf_status gf_secround_unmask_request(gf_secround *r, int i, uint8_t **body, size_t *len, int *http)
{
    int ready, n = r->pub.p.n;
    *body = NULL;
    gf_status st = outbound(r, i, GF_SECROUND_UNMASK, r->signed_, &ready, http);
    if (st || !ready) return st;
    if (r->phase >= GF_SECROUND_FINISHING || r->answered[i])
        return gf_errorf(GF_ERR_MISMATCH, "secure aggregation: this site's unmask shares are in");
    size_t sz = 2 * (size_t)n + (size_t)n * GF_SECAGG_SIG_BYTES;
    if (!(*body = malloc(sz))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    memcpy(*body, r->survived, (size_t)n);
    memcpy(*body + n, r->dropped, (size_t)n);
    memcpy(*body + 2 * n, r->sigs, (size_t)n * GF_SECAGG_SIG_BYTES);
    *len = sz;
    return GF_OK;
}

/* Sites still expected in the current phase: took part in the previous
 * one, have not left, and have not answered this one. */
static int waiting_for(const gf_secround *r, const unsigned char *prev, const unsigned char *done)
{
    int w = 0;
    for (int i = 0; i < r->pub.p.n; i++) w += (!prev || prev[i]) && !r->left[i] && !done[i];
    return w;
}

static int count(const unsigned char *f, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++) c += f[i] != 0;
    return c;
}

gf_status gf_secround_advance(gf_secround *r, double now, double masked_timeout_s, int min_updates)
{
    const gf_secagg_params *p = &r->pub.p;
    int need = min_updates > p->t ? min_updates : p->t;
    if (r->min_survivors > need) need = r->min_survivors;   /* the noise holds for no fewer */
    gf_status st = GF_OK;
    switch (r->phase) {
    case GF_SECROUND_KEYS:
        if (waiting_for(r, NULL, r->keyed) && now < r->deadline) return GF_OK;
        if (count(r->keyed, p->n) < need)
            return gf_errorf(GF_ERR_MISMATCH, "secure aggregation: %d of %d sites sent keys, %d needed",
                             count(r->keyed, p->n), p->n, need);
        {   /* the graph seed from every advertisement in the table, as each site draws it */
            uint8_t seed[GF_SECAGG_SEED_BYTES], *keys = malloc((size_t)p->n * GF_SECAGG_KEYS_BYTES);
            if (!keys) return gf_errorf(GF_ERR_NOMEM, "out of memory");
            if (!(st = gf_secagg_graph_seed(&r->id, r->table, seed)) &&
                !(st = gf_secagg_server_set_seed(r->srv, seed)))
                st = gf_secagg_server_keys(r->srv, keys);
            free(keys);
            if (st) return st;
            memcpy(r->pub.p.seed, seed, sizeof seed);
        }
        r->phase = GF_SECROUND_SHARES;
        r->deadline = now + r->phase_timeout_s;
        return GF_OK;
    case GF_SECROUND_SHARES:
        if (waiting_for(r, r->keyed, r->shared) && now < r->deadline) return GF_OK;
        if (count(r->shared, p->n) < need)
            return gf_errorf(GF_ERR_MISMATCH, "secure aggregation: %d of %d sites shared their keys, %d needed",
                             count(r->shared, p->n), p->n, need);
        for (int i = 0; i < p->n; i++)      /* the first inbox closes the server's phase 2 */
            if (r->shared[i]) {
                uint8_t *box = malloc((size_t)p->k * (GF_SECAGG_CT_BYTES + 1));
                if (!box) return gf_errorf(GF_ERR_NOMEM, "out of memory");
                st = gf_secagg_server_inbox(r->srv, i, box, box + (size_t)p->k * GF_SECAGG_CT_BYTES);
                free(box);
                if (st) return st;
                break;
            }
        r->phase = GF_SECROUND_MASKED;
        r->deadline = now + masked_timeout_s;
        return GF_OK;
    case GF_SECROUND_MASKED:
        if (waiting_for(r, r->shared, r->masked) && now < r->deadline) return GF_OK;
        if (count(r->masked, p->n) < need)
            return gf_errorf(GF_ERR_MISMATCH, "secure aggregation: %d of %d sites sent masked updates, %d needed; "
                             "nothing was unmasked", count(r->masked, p->n), p->n, need);
        if ((st = gf_secagg_server_unmask_request(r->srv, r->survived, r->dropped))) return st;
        r->phase = GF_SECROUND_CONSIST;
        r->deadline = now + r->phase_timeout_s;
        return GF_OK;
    case GF_SECROUND_CONSIST: {
        if (waiting_for(r, r->masked, r->signed_) && now < r->deadline) return GF_OK;
        int quorum = gf_secagg_consistency_quorum(p->t, count(r->keyed, p->n));
        if (count(r->signed_, p->n) < quorum)
            return gf_errorf(GF_ERR_MISMATCH, "secure aggregation: %d of %d survivors signed the survivor list, %d "
                             "needed; nothing was unmasked", count(r->signed_, p->n), count(r->masked, p->n), quorum);
        r->phase = GF_SECROUND_UNMASK;
        r->deadline = now + r->phase_timeout_s;
        return GF_OK;
    }
    case GF_SECROUND_UNMASK:
        if (waiting_for(r, r->signed_, r->answered) && now < r->deadline) return GF_OK;
        r->phase = GF_SECROUND_FINISHING;
        return GF_OK;
    case GF_SECROUND_FINISHING:
        if (r->finished) r->phase = GF_SECROUND_DONE;
        return GF_OK;
    case GF_SECROUND_DONE:
        return GF_OK;
    }
    return GF_OK;
}

gf_status gf_secround_finish(gf_secround *r)
{
    const gf_secagg_params *p = &r->pub.p;
    if (r->phase != GF_SECROUND_FINISHING || r->finished)
        return gf_errorf(GF_ERR_ARG, "secure aggregation: finish needs the unmask phase closed, once");
    if (!(r->z = malloc(sizeof *r->z * (size_t)p->d))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    gf_status st = gf_secagg_server_finish(r->srv, r->z, &r->nsummed);
    if (st)
        return gf_errorf(st, "secure aggregation: unmasking failed with %d of %d survivors answering (%s); "
                         "nothing was unmasked", count(r->answered, p->n), count(r->masked, p->n), gf_last_error());
    r->finished = 1;              /* the phase moves under the caller's lock, in advance */
    return GF_OK;
}

gf_status gf_secround_result(const gf_secround *r, float *sum /* (d) */, double *weight, int *nsummed,
                             double *count)
{
    if (r->phase != GF_SECROUND_DONE) return gf_errorf(GF_ERR_ARG, "secure aggregation: the sum is not unmasked yet");
    const gf_secround_public *pub = &r->pub;
    int64_t d = pub->p.d - 1 - pub->dp_count;
    float tail[2] = { 0, 0 };    /* the weight, the count */
    gf_status st = gf_secagg_dequantize(r->z, d, (float)pub->clip, pub->p.n, sum);
    if (!st) st = gf_secagg_dequantize(r->z + d, 1 + pub->dp_count, (float)pub->clip, pub->p.n, tail);
    if (st) return st;
    *weight = tail[0];
    *count = tail[1];
    *nsummed = r->nsummed;
    return GF_OK;
}
