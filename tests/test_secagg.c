/* Secure aggregation: Shamir sharing (exact from any t shares, garbage from
 * t - 1), the neighbour graph, bit-exact sums under every dropout pattern
 * for full SecAgg and SecAgg+, aborts with fewer than t survivors or shares,
 * uniformity of a single masked input, the never-both rule, tampered
 * ciphertexts, and the quantisation round trip. */
#include "check.h"
#include "privacy/secagg.h"
#include "privacy/shamir.h"

#include <float.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- shamir */

static void shuffle(int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)randombytes_uniform((uint32_t)i + 1), tmp = a[i];
        a[i] = a[j]; a[j] = tmp;
    }
}

static void test_shamir(void)
{
    static const int cases[][2] = { { 1, 1 }, { 1, 5 }, { 2, 2 }, { 3, 5 }, { 8, 14 }, { 20, 40 }, { 50, 60 } };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int t = cases[c][0], n = cases[c][1];
        uint8_t *sh = malloc((size_t)n * GF_SHAMIR_SHARE_BYTES);
        uint8_t *pick = malloc((size_t)n * GF_SHAMIR_SHARE_BYTES);
        int *idx = malloc((size_t)n * sizeof *idx);
        for (int rep = 0; rep < 5; rep++) {
            uint8_t secret[32], out[32];
            randombytes_buf(secret, sizeof secret);
            if (rep == 0) memset(secret, 0xff, sizeof secret);   /* the largest limbs */
            CHECK(gf_shamir_split(secret, t, n, sh) == GF_OK);
            for (int h = 0; h < n; h++) CHECK(sh[(size_t)h * GF_SHAMIR_SHARE_BYTES] == (uint8_t)(h + 1));
            for (int trial = 0; trial < 4; trial++) {
                for (int h = 0; h < n; h++) idx[h] = h;
                shuffle(idx, n);
                /* any t distinct shares, and any t + extra */
                for (int extra = 0; extra <= (n - t < 2 ? n - t : 2); extra++) {
                    for (int h = 0; h < t + extra; h++)
                        memcpy(pick + (size_t)h * GF_SHAMIR_SHARE_BYTES,
                               sh + (size_t)idx[h] * GF_SHAMIR_SHARE_BYTES, GF_SHAMIR_SHARE_BYTES);
                    memset(out, 0, sizeof out);
                    CHECK_MSG(gf_shamir_combine(pick, t + extra, out) == GF_OK && memcmp(out, secret, 32) == 0,
                              "t=%d n=%d count=%d: %s", t, n, t + extra, gf_last_error());
                }
                /* t - 1 shares: not the secret (combine usually notices) */
                if (t >= 2) {
                    gf_status st = gf_shamir_combine(pick, t - 1, out);
                    CHECK_MSG(st != GF_OK ? 1 : memcmp(out, secret, 32) != 0, "t=%d n=%d: t-1 shares", t, n);
                    if (st) CHECK(sodium_is_zero(out, 32));
                }
                /* more than t with one share replaced by random field elements: detected */
                if (n > t) {
                    uint8_t keep[GF_SHAMIR_SHARE_BYTES], *bad = pick + GF_SHAMIR_SHARE_BYTES;
                    memcpy(keep, bad, sizeof keep);
                    for (int l = 0; l < 16; l++) {
                        uint32_t v = randombytes_uniform(GF_SHAMIR_PRIME);
                        for (int b = 0; b < 4; b++) bad[2 + 4 * l + b] = (uint8_t)(v >> (8 * b));
                    }
                    gf_status st = gf_shamir_combine(pick, t + 1, out);
                    CHECK_MSG(st == GF_ERR_MISMATCH, "t=%d n=%d: corrupted share not noticed (%d)", t, n, st);
                    memcpy(bad, keep, sizeof keep);
                }
            }
        }
        free(sh); free(pick); free(idx);
    }
    /* malformed input */
    uint8_t secret[32] = { 1, 2, 3 }, sh[3 * GF_SHAMIR_SHARE_BYTES], out[32];
    CHECK(gf_shamir_split(secret, 0, 3, sh) == GF_ERR_ARG);
    CHECK(gf_shamir_split(secret, 4, 3, sh) == GF_ERR_ARG);
    CHECK(gf_shamir_split(secret, 2, 65536, sh) == GF_ERR_ARG);
    CHECK(gf_shamir_split(secret, 2, 3, sh) == GF_OK);
    CHECK(gf_shamir_combine(sh, 0, out) == GF_ERR_ARG);
    memcpy(sh + GF_SHAMIR_SHARE_BYTES, sh, GF_SHAMIR_SHARE_BYTES);   /* repeated x */
    CHECK(gf_shamir_combine(sh, 2, out) == GF_ERR_FORMAT);
    CHECK(gf_shamir_split(secret, 2, 3, sh) == GF_OK);
    sh[0] = sh[1] = 0;                                                 /* x = 0 */
    CHECK(gf_shamir_combine(sh, 2, out) == GF_ERR_FORMAT);
    CHECK(gf_shamir_split(secret, 2, 3, sh) == GF_OK);
    memset(sh + 2, 0xff, 4);                                           /* y >= p */
    CHECK(gf_shamir_combine(sh, 2, out) == GF_ERR_FORMAT);
}

/* ----------------------------------------------------------------- graph */

static gf_secagg_params make_params(int n, int k, int t, int64_t d)
{
    gf_secagg_params p = { .n = n, .k = k, .t = t, .d = d };
    randombytes_buf(p.seed, sizeof p.seed);
    return p;
}

static void test_graph(void)
{
    static const int cases[][2] = { { 10, 9 }, { 10, 4 }, { 100, 14 }, { 7, 6 }, { 7, 4 }, { 5, 2 } };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int n = cases[c][0], k = cases[c][1];
        gf_secagg_params p = make_params(n, k, k / 2 + 1, 1);
        int *nb = malloc((size_t)n * k * sizeof *nb), *again = malloc((size_t)k * sizeof *again);
        int ok = 1;
        for (int i = 0; i < n; i++) {
            CHECK(gf_secagg_neighbours(&p, i, nb + (size_t)i * k) == GF_OK);
            CHECK(gf_secagg_neighbours(&p, i, again) == GF_OK);
            ok &= memcmp(again, nb + (size_t)i * k, (size_t)k * sizeof *again) == 0;   /* deterministic */
        }
        for (int i = 0; i < n; i++)
            for (int m = 0; m < k; m++) {
                int j = nb[(size_t)i * k + m], back = 0;
                ok &= j >= 0 && j < n && j != i;
                if (m) ok &= nb[(size_t)i * k + m - 1] < j;   /* sorted, distinct */
                for (int q = 0; q < k; q++) back |= nb[(size_t)j * k + q] == i;
                ok &= back;                                    /* symmetric */
            }
        CHECK_MSG(ok, "graph n=%d k=%d", n, k);
        if (k < n - 1) {   /* another seed, another graph (some of 4 seeds: even n = 5, k = 2
                            * has 12 graphs, so one seed alone repeats the graph 1 time in 12) */
            gf_secagg_params p2 = p;
            int diff = 0;
            for (int s = 1; s <= 4 && !diff; s++) {
                p2.seed[0] = (uint8_t)(p.seed[0] ^ s);
                for (int i = 0; i < n && !diff; i++) {
                    CHECK(gf_secagg_neighbours(&p2, i, again) == GF_OK);
                    diff = memcmp(again, nb + (size_t)i * k, (size_t)k * sizeof *again) != 0;
                }
            }
            CHECK_MSG(diff, "graph n=%d k=%d does not depend on the seed", n, k);
        }
        free(nb); free(again);
    }
    gf_secagg_params p = make_params(10, 5, 3, 1);
    CHECK(gf_secagg_params_check(&p) == GF_ERR_ARG);   /* odd k < n - 1 */
    p = make_params(10, 4, 2, 1);
    CHECK(gf_secagg_params_check(&p) == GF_ERR_ARG);   /* 2t <= k */
    p = make_params(10, 4, 5, 1);
    CHECK(gf_secagg_params_check(&p) == GF_ERR_ARG);   /* t > k */
    p = make_params(10, 10, 6, 1);
    CHECK(gf_secagg_params_check(&p) == GF_ERR_ARG);   /* k >= n */
    p = make_params(10, 4, 3, 0);
    CHECK(gf_secagg_params_check(&p) == GF_ERR_ARG);   /* d = 0 */
    int out[4];
    p = make_params(10, 4, 3, 1);
    CHECK(gf_secagg_neighbours(&p, 10, out) == GF_ERR_ARG);
}

/* ------------------------------------------------------------ round driver */

/* When a client drops out: never, or before phase 1, 2, 3 or 4. */
enum { STAY = 0, DROP_ADV = 1, DROP_SHARE = 2, DROP_MASK = 3, DROP_UNMASK = 4 };

typedef struct {
    gf_secagg_params p;
    gf_secagg_server *srv;
    gf_secagg_client **cl;   /* (n) */
    uint8_t *keys;           /* (n, 64) */
    uint8_t *ct;             /* (k, CT) scratch */
    unsigned char *flags;    /* (k) scratch */
    uint32_t *y;             /* (n, d) masked inputs */
    unsigned char *surv, *drop;   /* (n) */
} round_t;

static int round_open(round_t *r, const gf_secagg_params *p)
{
    memset(r, 0, sizeof *r);
    r->p = *p;
    size_t n = (size_t)p->n, k = (size_t)p->k;
    r->cl = calloc(n, sizeof *r->cl);
    r->keys = calloc(n, GF_SECAGG_KEYS_BYTES);
    r->ct = calloc(k, GF_SECAGG_CT_BYTES);
    r->flags = calloc(k, 1);
    r->y = calloc(n * (size_t)p->d, sizeof *r->y);
    r->surv = calloc(n, 1);
    r->drop = calloc(n, 1);
    if (gf_secagg_server_new(p, &r->srv) != GF_OK) return 0;
    for (int i = 0; i < p->n; i++)
        if (gf_secagg_client_new(p, i, &r->cl[i]) != GF_OK) return 0;
    return 1;
}

static void round_close(round_t *r)
{
    for (int i = 0; r->cl && i < r->p.n; i++) gf_secagg_client_free(r->cl[i]);
    gf_secagg_server_free(r->srv);
    free(r->cl); free(r->keys); free(r->ct); free(r->flags); free(r->y); free(r->surv); free(r->drop);
}

/* Phases 1 and 2 for the clients that stay that long. */
static gf_status round_keys_and_shares(round_t *r, const int *stage)
{
    gf_status st;
    uint8_t adv[GF_SECAGG_KEYS_BYTES];
    for (int i = 0; i < r->p.n; i++) {
        if (stage[i] == DROP_ADV) continue;
        if ((st = gf_secagg_client_advertise(r->cl[i], adv)) || (st = gf_secagg_server_add_keys(r->srv, i, adv)))
            return st;
    }
    if ((st = gf_secagg_server_keys(r->srv, r->keys))) return st;
    for (int i = 0; i < r->p.n; i++) {
        if (stage[i] == DROP_ADV || stage[i] == DROP_SHARE) continue;
        if ((st = gf_secagg_client_share(r->cl[i], r->keys, r->ct, r->flags)) ||
            (st = gf_secagg_server_add_shares(r->srv, i, r->ct, r->flags)))
            return st;
    }
    return GF_OK;
}

/* Phase 3 for client i. */
static gf_status round_mask_one(round_t *r, int i, const uint32_t *x)
{
    gf_status st = gf_secagg_server_inbox(r->srv, i, r->ct, r->flags);
    if (!st) st = gf_secagg_client_mask(r->cl[i], x, r->ct, r->flags, r->y + (size_t)i * r->p.d);
    if (!st) st = gf_secagg_server_add_masked(r->srv, i, r->y + (size_t)i * r->p.d);
    return st;
}

/* A whole round; x (n, d); z receives the result. */
static gf_status run_round(const gf_secagg_params *p, const int *stage, const uint32_t *x, uint32_t *z,
                           int *nsummed)
{
    round_t r;
    gf_status st = GF_ERR_NOMEM;
    if (!round_open(&r, p)) goto done;
    if ((st = round_keys_and_shares(&r, stage))) goto done;
    for (int i = 0; i < p->n; i++)
        if (stage[i] == STAY || stage[i] == DROP_UNMASK)
            if ((st = round_mask_one(&r, i, x + (size_t)i * p->d))) goto done;
    if ((st = gf_secagg_server_unmask_request(r.srv, r.surv, r.drop))) goto done;
    uint8_t *resp = malloc((size_t)p->k * GF_SECAGG_UNMASK_ROW_BYTES);
    for (int i = 0; i < p->n && !st; i++)
        if (stage[i] == STAY) {
            st = gf_secagg_client_unmask(r.cl[i], r.surv, r.drop, resp);
            if (!st) st = gf_secagg_server_add_unmask(r.srv, i, resp);
        }
    free(resp);
    if (!st) st = gf_secagg_server_finish(r.srv, z, nsummed);
done:
    round_close(&r);
    return st;
}

/* Pick up to `want` dropouts at random such that no client has more than
 * k - t dropped neighbours (so the round must succeed), with stages drawn
 * from `stages`. */
static int pick_dropouts(const gf_secagg_params *p, int want, const int *stages, int nstages, int *stage)
{
    int n = p->n, k = p->k, got = 0;
    int *nb = malloc((size_t)n * k * sizeof *nb), *cnt = calloc((size_t)n, sizeof *cnt);
    int *order = malloc((size_t)n * sizeof *order);
    for (int i = 0; i < n; i++) {
        gf_secagg_neighbours(p, i, nb + (size_t)i * k);
        order[i] = i;
        stage[i] = STAY;
    }
    shuffle(order, n);
    for (int o = 0; o < n && got < want; o++) {
        int i = order[o], fits = 1;
        for (int m = 0; m < k; m++) fits &= cnt[nb[(size_t)i * k + m]] < k - p->t;
        if (!fits) continue;
        for (int m = 0; m < k; m++) cnt[nb[(size_t)i * k + m]]++;
        stage[i] = stages[got % nstages];
        got++;
    }
    free(nb); free(cnt); free(order);
    return got;
}

static void check_exact(int n, int k, int t, int64_t d, int want, const int *stages, int nstages,
                        const char *what)
{
    gf_secagg_params p = make_params(n, k, t, d);
    int *stage = malloc((size_t)n * sizeof *stage);
    uint32_t *x = malloc((size_t)n * d * sizeof *x), *z = malloc((size_t)d * sizeof *z);
    uint32_t *want_z = calloc((size_t)d, sizeof *want_z);
    int got = pick_dropouts(&p, want, stages, nstages, stage), nin = 0, nsummed = -1;
    randombytes_buf(x, (size_t)n * d * sizeof *x);
    for (int i = 0; i < n; i++)
        if (stage[i] == STAY || stage[i] == DROP_UNMASK) {
            nin++;
            for (int64_t w = 0; w < d; w++) want_z[w] += x[(size_t)i * d + w];
        }
    memset(z, 0, (size_t)d * sizeof *z);
    gf_status st = run_round(&p, stage, x, z, &nsummed);
    CHECK_MSG(st == GF_OK, "n=%d k=%d t=%d %s (%d dropouts): %s", n, k, t, what, got, gf_last_error());
    CHECK_MSG(memcmp(z, want_z, (size_t)d * sizeof *z) == 0, "n=%d k=%d t=%d %s: sum differs", n, k, t, what);
    CHECK_MSG(nsummed == nin, "n=%d k=%d %s: nsummed %d, want %d", n, k, what, nsummed, nin);
    CHECK_MSG(want == 0 || got > 0, "n=%d k=%d %s: no dropout could be placed", n, k, what);
    free(stage); free(x); free(z); free(want_z);
}

static void test_exact(void)
{
    static const int cfg[][4] = {   /* n, k, t, dropouts per scenario */
        { 10, 9, 5, 4 }, { 10, 4, 3, 2 }, { 100, 14, 8, 20 },
    };
    static const int adv[] = { DROP_ADV }, shr[] = { DROP_SHARE }, msk[] = { DROP_MASK }, unm[] = { DROP_UNMASK };
    static const int mix[] = { DROP_ADV, DROP_SHARE, DROP_MASK, DROP_UNMASK };
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        int n = cfg[c][0], k = cfg[c][1], t = cfg[c][2], w = cfg[c][3];
        check_exact(n, k, t, 1000, 0, NULL, 1, "no dropouts");
        check_exact(n, k, t, 1000, w, adv, 1, "dropouts before AdvertiseKeys");
        check_exact(n, k, t, 1000, w, shr, 1, "dropouts before ShareKeys");
        check_exact(n, k, t, 1000, w, msk, 1, "dropouts before MaskedInput");
        check_exact(n, k, t, 1000, w, unm, 1, "dropouts before Unmasking");
        check_exact(n, k, t, 1000, w < 4 ? 4 : w, mix, 4, "mixed dropouts");
    }
    check_exact(2, 1, 1, 7, 0, NULL, 1, "n=2");   /* the smallest round, odd d */
}

/* ------------------------------------------------ aborts below the threshold */

static void test_too_few(void)
{
    const int64_t d = 100;
    gf_secagg_params p = make_params(10, 9, 5, d);
    int stage[10];
    uint32_t *x = calloc(10 * d, sizeof *x), z[100];
    randombytes_buf(x, 10 * d * sizeof *x);

    /* 6 of 10 drop before MaskedInput: |U| = 4 < t = 5 */
    for (int i = 0; i < 10; i++) stage[i] = i < 6 ? DROP_MASK : STAY;
    memset(z, 0xab, sizeof z);
    gf_status st = run_round(&p, stage, x, z, NULL);
    CHECK_MSG(st == GF_ERR_MISMATCH, "|U| < t: %s", gf_last_error());
    int untouched = 1;
    for (int w = 0; w < d; w++) untouched &= z[w] == 0xabababab;
    CHECK(untouched);

    /* all send masked inputs, 6 vanish before Unmasking: 4 answers < t shares */
    for (int i = 0; i < 10; i++) stage[i] = i < 6 ? DROP_UNMASK : STAY;
    memset(z, 0xab, sizeof z);
    st = run_round(&p, stage, x, z, NULL);
    CHECK_MSG(st == GF_ERR_MISMATCH && strstr(gf_last_error(), "fewer than t"), "too few shares: %s",
              gf_last_error());
    untouched = 1;
    for (int w = 0; w < d; w++) untouched &= z[w] == 0xabababab;
    CHECK(untouched);

    /* SecAgg+: a dropped client whose key shares are short (k = 4, t = 3:
     * it drops before MaskedInput, two of its neighbours before Unmasking) */
    gf_secagg_params q = make_params(10, 4, 3, d);
    int nb[4];
    CHECK(gf_secagg_neighbours(&q, 0, nb) == GF_OK);
    for (int i = 0; i < 10; i++) stage[i] = STAY;
    stage[0] = DROP_MASK;
    stage[nb[0]] = stage[nb[1]] = DROP_UNMASK;
    memset(z, 0xab, sizeof z);
    st = run_round(&q, stage, x, z, NULL);
    CHECK_MSG(st == GF_ERR_MISMATCH && strstr(gf_last_error(), "fewer than t"), "short key shares: %s",
              gf_last_error());
    untouched = 1;
    for (int w = 0; w < d; w++) untouched &= z[w] == 0xabababab;
    CHECK(untouched);

    /* a client with fewer than t neighbours that have keys refuses ShareKeys */
    for (int i = 0; i < 10; i++) stage[i] = STAY;
    stage[nb[0]] = stage[nb[1]] = DROP_ADV;
    st = run_round(&q, stage, x, z, NULL);
    CHECK_MSG(st == GF_ERR_MISMATCH, "too few keys: %s", gf_last_error());
    free(x);
}

/* ------------------------------------------------------------- secrecy */

/* One masked input with x = 0: chi-square of its 256 byte values (df 255,
 * 0.1% critical value 330.52) and of 16 top-nibble buckets (df 15, 37.70),
 * and the share of positions left equal to x. 1 when all pass. */
static int secrecy_sample(double *chi, double *chi16, int64_t *same)
{
    const int64_t d = 100000;
    gf_secagg_params p = make_params(3, 2, 2, d);
    round_t r;
    int stage[3] = { STAY, STAY, STAY };
    uint32_t *x = calloc((size_t)d, sizeof *x);
    CHECK(round_open(&r, &p));
    CHECK(round_keys_and_shares(&r, stage) == GF_OK);
    CHECK(round_mask_one(&r, 0, x) == GF_OK);
    const uint32_t *y = r.y;
    double cnt[256] = { 0 }, top[16] = { 0 };
    *same = 0;
    for (int64_t w = 0; w < d; w++) {
        for (int b = 0; b < 4; b++) cnt[(y[w] >> (8 * b)) & 0xff]++;
        top[y[w] >> 28]++;
        *same += y[w] == x[w];
    }
    double e = 4.0 * d / 256, e16 = (double)d / 16;
    *chi = *chi16 = 0;
    for (int b = 0; b < 256; b++) *chi += (cnt[b] - e) * (cnt[b] - e) / e;
    for (int b = 0; b < 16; b++) *chi16 += (top[b] - e16) * (top[b] - e16) / e16;
    round_close(&r);
    free(x);
    return *chi < 330.52 && *chi16 < 37.70 && *same < d / 1000;
}

/* A uniform y fails one sample 1 time in about 500; a second, independent
 * round is drawn before calling it a failure (a biased y fails both). */
static void test_secrecy(void)
{
    double chi, chi16;
    int64_t same;
    int ok = secrecy_sample(&chi, &chi16, &same);
    if (!ok) ok = secrecy_sample(&chi, &chi16, &same);
    CHECK_MSG(ok, "masked input not uniform: byte chi-square %.1f, top-nibble %.1f, %lld of 100000 unmasked", chi,
              chi16, (long long)same);
}

/* ---------------------------------------------------------- never both */

static void test_never_both(void)
{
    const int64_t d = 16;
    gf_secagg_params p = make_params(10, 9, 5, d);
    round_t r;
    int stage[10] = { 0 };
    uint32_t x[16] = { 0 };
    CHECK(round_open(&r, &p));
    CHECK(round_keys_and_shares(&r, stage) == GF_OK);
    for (int i = 0; i < 10; i++) CHECK(round_mask_one(&r, i, x) == GF_OK);
    CHECK(gf_secagg_server_unmask_request(r.srv, r.surv, r.drop) == GF_OK);
    for (int i = 0; i < 10; i++) CHECK(r.surv[i] == 1 && r.drop[i] == 0);
    CHECK(gf_secagg_server_add_masked(r.srv, 0, x) == GF_ERR_ARG);   /* too late */

    uint8_t resp[9 * GF_SECAGG_UNMASK_ROW_BYTES];
    unsigned char surv[10], drop[10];
    int untouched;
    /* client 0 asked about 3 both as survivor and dropped */
    memcpy(surv, r.surv, 10); memcpy(drop, r.drop, 10);
    drop[3] = 1;
    memset(resp, 0x5a, sizeof resp);
    CHECK(gf_secagg_client_unmask(r.cl[0], surv, drop, resp) == GF_ERR_MISMATCH);
    untouched = 1;
    for (size_t b = 0; b < sizeof resp; b++) untouched &= resp[b] == 0x5a;
    CHECK(untouched);
    /* once it refused, it stays refused, even for a good request */
    CHECK(gf_secagg_client_unmask(r.cl[0], r.surv, r.drop, resp) != GF_OK);

    /* client 1 asked for s-key shares of 4, a survivor (listed dropped, not survived) */
    memcpy(surv, r.surv, 10); memcpy(drop, r.drop, 10);
    surv[4] = 0; drop[4] = 1;
    CHECK(gf_secagg_client_unmask(r.cl[1], surv, drop, resp) == GF_OK);   /* it cannot tell 4 survived... */
    /* ...but the server rejects a key share of a survivor, so it never gets both kinds */
    CHECK(gf_secagg_server_add_unmask(r.srv, 1, resp) == GF_ERR_FORMAT);

    /* client 2 listed as dropped itself */
    memcpy(surv, r.surv, 10); memcpy(drop, r.drop, 10);
    surv[2] = 0; drop[2] = 1;
    CHECK(gf_secagg_client_unmask(r.cl[2], surv, drop, resp) == GF_ERR_MISMATCH);

    /* client 5: fewer than t survivors in the request */
    memset(surv, 0, 10); memset(drop, 0, 10);
    surv[5] = surv[6] = 1;
    for (int i = 0; i < 10; i++) drop[i] = !surv[i];
    CHECK(gf_secagg_client_unmask(r.cl[5], surv, drop, resp) == GF_ERR_MISMATCH);

    /* client 6: a neighbour that shared keys is in neither set */
    memcpy(surv, r.surv, 10); memcpy(drop, r.drop, 10);
    surv[7] = 0;
    CHECK(gf_secagg_client_unmask(r.cl[6], surv, drop, resp) == GF_ERR_MISMATCH);

    /* client 7, a good request: exactly one kind per neighbour, all self-mask shares */
    CHECK(gf_secagg_client_unmask(r.cl[7], r.surv, r.drop, resp) == GF_OK);
    int kinds_ok = 1;
    for (int m = 0; m < 9; m++) kinds_ok &= resp[m * GF_SECAGG_UNMASK_ROW_BYTES] == GF_SECAGG_SHARE_SELF;
    CHECK(kinds_ok);
    CHECK(gf_secagg_server_add_unmask(r.srv, 7, resp) == GF_OK);
    CHECK(gf_secagg_server_add_unmask(r.srv, 7, resp) == GF_ERR_MISMATCH);   /* twice */
    CHECK(gf_secagg_client_unmask(r.cl[7], r.surv, r.drop, resp) == GF_ERR_ARG);   /* one request per round */
    round_close(&r);
}

/* ------------------------------------------------------------ tampering */

static void test_tamper(void)
{
    const int64_t d = 8;
    gf_secagg_params p = make_params(10, 9, 5, d);
    round_t r;
    int stage[10] = { 0 };
    uint32_t x[8] = { 0 }, y[8];
    CHECK(round_open(&r, &p));
    CHECK(round_keys_and_shares(&r, stage) == GF_OK);

    /* one flipped byte, at several places of the ciphertext */
    static const int where[] = { 0, 23, 24, 100, GF_SECAGG_CT_BYTES - 1 };
    for (int c = 0; c < 5; c++) {
        int j = c;
        CHECK(gf_secagg_server_inbox(r.srv, j, r.ct, r.flags) == GF_OK);
        r.ct[(size_t)3 * GF_SECAGG_CT_BYTES + where[c]] ^= 0x01;
        CHECK_MSG(gf_secagg_client_mask(r.cl[j], x, r.ct, r.flags, y) == GF_ERR_FORMAT, "byte %d", where[c]);
        CHECK(gf_secagg_client_mask(r.cl[j], x, r.ct, r.flags, y) == GF_ERR_ARG);   /* aborted */
    }
    /* a genuine ciphertext relabelled as coming from another neighbour */
    CHECK(gf_secagg_server_inbox(r.srv, 5, r.ct, r.flags) == GF_OK);
    memcpy(r.ct + (size_t)2 * GF_SECAGG_CT_BYTES, r.ct + (size_t)3 * GF_SECAGG_CT_BYTES, GF_SECAGG_CT_BYTES);
    CHECK(gf_secagg_client_mask(r.cl[5], x, r.ct, r.flags, y) == GF_ERR_FORMAT);
    /* a ciphertext for another recipient */
    uint8_t other[9 * GF_SECAGG_CT_BYTES];
    unsigned char oflags[9];
    CHECK(gf_secagg_server_inbox(r.srv, 7, other, oflags) == GF_OK);
    CHECK(gf_secagg_server_inbox(r.srv, 6, r.ct, r.flags) == GF_OK);
    memcpy(r.ct, other, GF_SECAGG_CT_BYTES);   /* both row 0 = client 0's message */
    CHECK(gf_secagg_client_mask(r.cl[6], x, r.ct, r.flags, y) == GF_ERR_FORMAT);
    /* the untouched inbox works */
    CHECK(gf_secagg_client_mask(r.cl[7], x, other, oflags, y) == GF_OK);
    /* a message reflected to its sender (same pair key: only the associated
     * data's direction tells): 8 -> 7, row 7 of 7's inbox, as 7 -> 8, row 7 of 8's */
    CHECK(gf_secagg_server_inbox(r.srv, 8, r.ct, r.flags) == GF_OK);
    memcpy(r.ct + (size_t)7 * GF_SECAGG_CT_BYTES, other + (size_t)7 * GF_SECAGG_CT_BYTES, GF_SECAGG_CT_BYTES);
    CHECK(gf_secagg_client_mask(r.cl[8], x, r.ct, r.flags, y) == GF_ERR_FORMAT);
    /* a key table that does not hold the client's own keys */
    round_t r2;
    CHECK(round_open(&r2, &p));
    uint8_t adv[64];
    for (int i = 0; i < 10; i++) {
        CHECK(gf_secagg_client_advertise(r2.cl[i], adv) == GF_OK);
        CHECK(gf_secagg_server_add_keys(r2.srv, i, adv) == GF_OK);
    }
    CHECK(gf_secagg_server_add_keys(r2.srv, 0, adv) == GF_ERR_MISMATCH);   /* twice */
    CHECK(gf_secagg_server_keys(r2.srv, r2.keys) == GF_OK);
    r2.keys[5] ^= 1;
    CHECK(gf_secagg_client_share(r2.cl[0], r2.keys, r2.ct, r2.flags) == GF_ERR_MISMATCH);
    /* a low-order public key is refused by the server */
    gf_secagg_server *s3;
    CHECK(gf_secagg_server_new(&p, &s3) == GF_OK);
    memset(adv, 0, sizeof adv);
    adv[32] = 1;   /* c = 0, s = 1: both low order */
    CHECK(gf_secagg_server_add_keys(s3, 0, adv) == GF_ERR_FORMAT);
    gf_secagg_server_free(s3);
    round_close(&r2);
    round_close(&r);
}

/* --------------------------------------------------------- quantisation */

static void test_quant(void)
{
    const int n = 100;
    const int64_t d = 1000;
    const float clip = 2.5f;
    float *x = malloc((size_t)n * d * sizeof *x), *out = malloc((size_t)d * sizeof *out);
    uint32_t *q = malloc((size_t)d * sizeof *q), *acc = calloc((size_t)d, sizeof *acc);
    double *sum = calloc((size_t)d, sizeof *sum);
    double scale = gf_secagg_quant_scale(clip, n);
    CHECK(scale > 0);
    for (int i = 0; i < n; i++) {
        for (int64_t w = 0; w < d; w++) {
            float v = ((float)randombytes_uniform(1u << 24) / (float)(1u << 24) * 2.0f - 1.0f) * clip;
            if (w == 0) v = clip;        /* the extremes: the sum must not wrap */
            if (w == 1) v = -clip;
            x[(size_t)i * d + w] = v;
            sum[w] += v;
        }
        CHECK(gf_secagg_quantize(x + (size_t)i * d, d, clip, n, q) == GF_OK);
        for (int64_t w = 0; w < d; w++) acc[w] += q[w];
    }
    CHECK(gf_secagg_dequantize(acc, d, clip, n, out) == GF_OK);
    int ok = 1;
    double worst = 0;
    for (int64_t w = 0; w < d; w++) {
        double err = fabs(out[w] - sum[w]), tol = n / scale + fabs(sum[w]) * FLT_EPSILON;
        ok &= err <= tol;
        if (err - tol > worst) worst = err - tol;
    }
    CHECK_MSG(ok, "quantisation round trip off by %g beyond tolerance", worst);
    CHECK_NEAR(out[0], n * clip, n / scale + n * clip * FLT_EPSILON);
    CHECK_NEAR(out[1], -n * clip, n / scale + n * clip * FLT_EPSILON);

    /* clipping */
    float big[3] = { 1e6f, -1e6f, 0.25f };
    uint32_t qb[3];
    float back[3];
    CHECK(gf_secagg_quantize(big, 3, 1.0f, 1, qb) == GF_OK);
    CHECK(gf_secagg_dequantize(qb, 3, 1.0f, 1, back) == GF_OK);
    CHECK_NEAR(back[0], 1.0, 1e-6);
    CHECK_NEAR(back[1], -1.0, 1e-6);
    CHECK_NEAR(back[2], 0.25, 1e-6);
    CHECK(qb[0] == 2147483647u && qb[1] == 2147483649u);   /* +-M in two's complement, M = 2^31 - 1 */
    /* bad input */
    big[2] = NAN;
    CHECK(gf_secagg_quantize(big, 3, 1.0f, 1, qb) == GF_ERR_NUMERIC);
    CHECK(gf_secagg_quantize(big, 2, 0.0f, 1, qb) == GF_ERR_ARG);
    CHECK(gf_secagg_quantize(big, 2, 1.0f, 0, qb) == GF_ERR_ARG);
    CHECK(gf_secagg_quant_scale(INFINITY, 3) == 0.0);

    /* end to end: quantise, aggregate securely with dropouts, dequantise */
    const int nc = 10;
    gf_secagg_params p = make_params(nc, 4, 3, d);
    int stage[10] = { 0 };
    static const int mix[] = { DROP_SHARE, DROP_MASK, DROP_UNMASK };
    pick_dropouts(&p, 3, mix, 3, stage);
    uint32_t *xq = malloc((size_t)nc * d * sizeof *xq), *z = malloc((size_t)d * sizeof *z);
    memset(sum, 0, (size_t)d * sizeof *sum);
    for (int i = 0; i < nc; i++) {
        CHECK(gf_secagg_quantize(x + (size_t)i * d, d, clip, nc, xq + (size_t)i * d) == GF_OK);
        if (stage[i] == STAY || stage[i] == DROP_UNMASK)
            for (int64_t w = 0; w < d; w++) sum[w] += x[(size_t)i * d + w];
    }
    int nsummed = 0;
    CHECK_MSG(run_round(&p, stage, xq, z, &nsummed) == GF_OK, "%s", gf_last_error());
    CHECK(gf_secagg_dequantize(z, d, clip, nc, out) == GF_OK);
    double s2 = gf_secagg_quant_scale(clip, nc);
    ok = 1;
    for (int64_t w = 0; w < d; w++) ok &= fabs(out[w] - sum[w]) <= nc / s2 + fabs(sum[w]) * FLT_EPSILON;
    CHECK(ok);
    free(x); free(out); free(q); free(acc); free(sum); free(xq); free(z);
}

int main(void)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "libsodium init failed\n");
        return 1;
    }
    test_shamir();
    test_graph();
    test_exact();
    test_too_few();
    test_secrecy();
    test_never_both();
    test_tamper();
    test_quant();
    return check_summary();
}
