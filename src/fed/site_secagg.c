/* A site's part of a securely aggregated round (see site_secagg.h). */
#include "fed/site_secagg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "core/fsutil.h"
#include "privacy/ddg.h"
#include "privacy/dgauss.h"
#include "privacy/dp.h"
#include "privacy/secagg.h"
#include "privacy/secagg_peer.h"
#include "privacy/secagg_policy.h"

#define PHASE_POLL_S 25

struct site_secagg {
    gf_https_client   *http;
    volatile sig_atomic_t *stop;
    gf_secagg_params   p;          /* d = model d + 1 (the seed is the peer's) */
    int                index;
    double             clip, max_weight, dp_clip, dp_noise_std, dp_count_noise_std;
    int                dp_count;       /* adaptive clipping: send the count bit */
    char               path[128];  /* .../rounds/R/secagg */
    char               attempt[24];   /* the round attempt's token, sent as ?attempt= */
    gf_secagg_peer    *peer;
    uint8_t           *inbox;      /* (k, GF_SECAGG_CT_BYTES) then (k) received flags */
};

void site_secagg_free(site_secagg *s)
{
    if (!s) return;
    gf_secagg_peer_free(s->peer);
    free(s->inbox);
    free(s);
}

static gf_status post(site_secagg *s, const char *path, const void *body, size_t len, const char *what)
{
    int status = 0;
    char *resp = NULL, full[256];
    size_t rlen;
    snprintf(full, sizeof full, "%s?attempt=%s", path, s->attempt);
    gf_status st = gf_https_request(s->http, "POST", full, body, len, &status, &resp, &rlen);
    if (!st && status != 200)
        st = gf_errorf(status == 409 ? GF_ERR_MISMATCH : GF_ERR_ARG, "secure aggregation: %s refused: HTTP %d: %.300s",
                       what, status, resp ? resp : "");
    free(resp);
    return st;
}

/* Long-polls GET path until the phase's message is there; it must be want bytes. */
static gf_status fetch(site_secagg *s, const char *suffix, size_t want, uint8_t **out)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s?wait=%d&attempt=%s", s->path, suffix, PHASE_POLL_S, s->attempt);
    for (;;) {
        if (s->stop && *s->stop) return gf_errorf(GF_ERR_ARG, "secure aggregation: stopped");
        int status = 0;
        char *body = NULL;
        size_t len = 0;
        gf_status st = gf_https_request(s->http, "GET", path, NULL, 0, &status, &body, &len);
        if (st) return st;
        if (status == 204) { free(body); continue; }
        if (status != 200 || len != want) {
            st = gf_errorf(GF_ERR_MISMATCH, "secure aggregation: %s: HTTP %d, %zu bytes (want %zu): %.300s", suffix,
                           status, len, want, status == 200 ? "" : body ? body : "");
            free(body);
            return st;
        }
        *out = (uint8_t *)body;
        return GF_OK;
    }
}

gf_status site_secagg_begin(gf_https_client *http, const gf_fed_task_secagg *sa, int64_t d, int64_t job, int64_t round,
                            const gf_secagg_policy *policy, const gf_secagg_identity *me,
                            volatile sig_atomic_t *stop, site_secagg **out)
{
    *out = NULL;
    if (!me)
        return gf_errorf(GF_ERR_ARG, "this site's kit has no signing key (signing.key, signing.crt, ca_signing.pub "
                         "from gf provision): it cannot take part in secure aggregation");
    const char *path = sa->path, *attempt = sa->attempt;
    site_secagg *s = calloc(1, sizeof *s);
    if (!s) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    s->http = http;
    s->stop = stop;
    s->index = sa->index;
    s->p = (gf_secagg_params){ .n = sa->pub.p.n, .k = sa->pub.p.k, .t = sa->pub.p.t, .d = sa->pub.p.d };
    s->clip = sa->pub.clip;
    s->max_weight = sa->pub.max_weight;
    s->dp_clip = sa->pub.dp_clip;
    s->dp_noise_std = sa->pub.dp_noise_std;
    s->dp_count = sa->pub.dp_count;
    s->dp_count_noise_std = sa->pub.dp_count_noise_std;
    gf_status st = GF_OK;
    if (!path || strlen(path) >= sizeof s->path || !attempt || !*attempt || strlen(attempt) >= sizeof s->attempt ||
        strlen(attempt) > GF_SECAGG_ATTEMPT_MAX || strspn(attempt, "0123456789abcdef") != strlen(attempt) ||
        s->p.d != d + 1 + s->dp_count || s->index < 0 || s->index >= s->p.n)
        st = gf_errorf(GF_ERR_FORMAT, "secure aggregation: the task's parameters are malformed or do not fit "
                       "the model (d = %lld)", (long long)d);
    gf_secagg_offer offer = { .n = s->p.n, .k = s->p.k, .t = s->p.t, .d = s->p.d, .clip = s->clip,
                              .max_weight = s->max_weight, .dp_clip = s->dp_clip, .dp_noise_std = s->dp_noise_std,
                              .dp_count = s->dp_count, .dp_count_noise_std = s->dp_count_noise_std };
    if (!st) st = gf_secagg_policy_check(policy, &offer);
    if (!st) {
        snprintf(s->path, sizeof s->path, "%s", path);
        snprintf(s->attempt, sizeof s->attempt, "%s", attempt);
        gf_secagg_round_id id = { .job = job, .round = round, .n = s->p.n, .k = s->p.k, .t = s->p.t, .d = s->p.d };
        snprintf(id.attempt, sizeof id.attempt, "%s", attempt);
        st = gf_secagg_peer_new(&id, s->index, me, &s->peer);
        /* the noise holds for the fewest survivors it was calibrated to: reveal nothing for fewer */
        if (!st && s->dp_clip > 0 && s->dp_noise_std > 0)
            st = gf_secagg_peer_require_survivors(s->peer, gf_ddg_min_survivors(s->p.n, s->p.t));
    }
    uint8_t adv[GF_SECAGG_ADV_BYTES], *table = NULL;
    size_t k = (size_t)s->p.k, ctb = k * GF_SECAGG_CT_BYTES;
    uint8_t *shares = NULL;
    char p[192];
    if (!st) st = gf_secagg_peer_advertise(s->peer, adv);
    if (!st) {
        snprintf(p, sizeof p, "%s/keys", s->path);
        st = post(s, p, adv, sizeof adv, "signed keys");
    }
    if (!st) st = fetch(s, "keys", (size_t)s->p.n * GF_SECAGG_ADV_BYTES, &table);
    if (!st && !(shares = malloc(ctb + k))) st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    if (!st) st = gf_secagg_peer_share(s->peer, table, shares, shares + ctb);
    if (!st) {
        snprintf(p, sizeof p, "%s/shares", s->path);
        st = post(s, p, shares, ctb + k, "shares");
    }
    if (!st) st = fetch(s, "inbox", ctb + k, &s->inbox);
    free(table);
    free(shares);
    if (st) { site_secagg_free(s); return st; }
    *out = s;
    return GF_OK;
}

/* x (d + 1 [+ 1]): the site's contribution before quantisation: under DP
 * the clipped update, weight 1 and the count report, whose noise is added
 * after quantisation, in the integer domain (noise_integer). */
static gf_status contribution(const site_secagg *s, const float *update, int64_t samples, float *x)
{
    int64_t d = s->p.d - 1 - s->dp_count;
    if (s->dp_clip > 0) {                 /* clipped to S, weight 1 */
        double scale = gf_dp_clip_scale(update, d, s->dp_clip);
        if (s->dp_count) x[d + 1] = (float)gf_dp_count_report(scale);   /* adaptive clipping: +-1/2 */
        for (int64_t i = 0; i < d; i++) x[i] = scale > 0 ? (float)(update[i] * scale) : 0.0f;   /* 0: not finite */
        x[d] = 1.0f;
        return GF_OK;
    }
    double w = (samples < s->max_weight ? (double)samples : s->max_weight) / s->max_weight;
    for (int64_t i = 0; i < d; i++) x[i] = (float)(w * update[i]);
    x[d] = (float)w;
    return GF_OK;
}

/* q (d + 1 [+ 1]) quantised += this site's discrete Gaussian noise modulo
 * 2^32 (privacy/dgauss.h, ddg.h): the released sum is exactly the sum of
 * the rounded updates plus the sum of the survivors' integer noise. */
static gf_status noise_integer(const site_secagg *s, uint32_t *q)
{
    int64_t d = s->p.d - 1 - s->dp_count;
    double scale = gf_secagg_quant_scale((float)s->clip, s->p.n);
    uint64_t su = gf_ddg_site_sigma2(s->dp_noise_std, scale), sb = gf_ddg_site_sigma2(s->dp_count_noise_std, scale);
    if (su == UINT64_MAX || sb == UINT64_MAX)
        return gf_errorf(GF_ERR_ARG, "secure aggregation: the task's noise (std %g, count %g) does not fit the ring "
                         "at scale %g", s->dp_noise_std, s->dp_count_noise_std, scale);
    gf_status st = gf_dgauss_add_mod32(q, d, su);
    if (!st && s->dp_count) st = gf_dgauss_add_mod32(q + d + 1, 1, sb);
    return st;
}

static gf_status record(const char *dir, int64_t job, int64_t round, const uint32_t *q, int64_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/job-%lld-round-%lld.u32", dir, (long long)job, (long long)round);
    gf_fs_part part = { q, sizeof *q * (size_t)n };
    return gf_fs_write_atomic(path, &part, 1, 0600);
}

gf_status site_secagg_send(site_secagg *s, const float *update, int64_t samples, const char *update_path,
                           const char *record_dir, int64_t job, int64_t round)
{
    int64_t n = s->p.d;
    float *x = malloc(sizeof *x * (size_t)n);        /* (d + 1) */
    uint32_t *q = malloc(sizeof *q * (size_t)n);     /* (d + 1) quantised, then masked in place */
    gf_status st = x && q ? GF_OK : gf_errorf(GF_ERR_NOMEM, "out of memory");
    if (!st) st = contribution(s, update, samples, x);
    if (!st) st = gf_secagg_quantize(x, n, (float)s->clip, s->p.n, q);
    if (!st && s->dp_clip > 0) st = noise_integer(s, q);
    if (!st && record_dir) st = record(record_dir, job, round, q, n);
    size_t k = (size_t)s->p.k;
    if (!st) st = gf_secagg_peer_mask(s->peer, q, s->inbox, s->inbox + k * GF_SECAGG_CT_BYTES, q);
    if (!st) st = post(s, update_path, q, sizeof *q * (size_t)n, "masked update");
    if (x) sodium_memzero(x, sizeof *x * (size_t)n);
    free(x);
    free(q);
    return st;
}

gf_status site_secagg_finish(site_secagg *s)
{
    int n = s->p.n;
    size_t rows = (size_t)s->p.k * GF_SECAGG_UNMASK_ROW_BYTES;
    uint8_t *lists = NULL, *req = NULL, *resp = malloc(rows), sig[GF_SECAGG_SIG_BYTES];
    char p[192];
    /* consistency: sign the survivor list shown, then reveal only if a quorum signed the same one */
    gf_status st = resp ? fetch(s, "survivors", 2 * (size_t)n, &lists) : gf_errorf(GF_ERR_NOMEM, "out of memory");
    if (!st) st = gf_secagg_peer_sign_survivors(s->peer, lists, lists + n, sig);
    if (!st) {
        snprintf(p, sizeof p, "%s/consistency", s->path);
        st = post(s, p, sig, sizeof sig, "consistency signature");
    }
    if (!st) st = fetch(s, "unmask", 2 * (size_t)n + (size_t)n * GF_SECAGG_SIG_BYTES, &req);
    if (!st) st = gf_secagg_peer_unmask(s->peer, req, req + n, req + 2 * n, resp);
    if (!st) {
        snprintf(p, sizeof p, "%s/unmask", s->path);
        st = post(s, p, resp, rows, "unmask shares");
    }
    free(lists);
    if (resp) sodium_memzero(resp, rows);
    free(req);
    free(resp);
    return st;
}
