/* Cost of secure aggregation (privacy/secagg.h) against plain aggregation,
 * by in-process simulation: every site object and the server object live in
 * this one process and exchange the byte buffers secagg.h defines, one call
 * at a time on one thread, so each call's CPU time is clean. For each
 * configuration (n sites, vector length d, dropout fraction) it reports
 *   - per-site CPU (mean and max over sites) of each phase and in total,
 *   - the coordinator's CPU per phase, in total and for finish (unmasking),
 *   - bytes uploaded and downloaded per site, every protocol message,
 *   - a modelled round wall time: the sites run in parallel on their own
 *     machines, so each phase costs (max site CPU) + (server CPU) + (transfer
 *     at the stated link speeds) + one round-trip time,
 * and the same for plain aggregation in the same invocation: each site
 * encodes its float32 update as the sites do (gf_update_encode: safetensors),
 * the server checks it in place (gf_update_view_open: format, shape, finite
 * values) and adds it to FedAvg's running sum (gf_strategy_add), then
 * finish_round. Plain wall = max site encode + transfer + server
 * check+sum+finish + one round trip.
 *
 * What each phase counts (sites dropped after ShareKeys stop there and fetch
 * no inbox; sites dropped after upload stop after MaskedInput):
 *   keys    site: client_new (two X25519 key pairs) + advertise; up 64 bytes.
 *           server: add_keys for each + the key table; down (n, 64).
 *   share   site: client_share; up (k, CT) ciphertexts + (k) sent flags.
 *           server: add_shares for each + every inbox; down (k, CT) + (k).
 *   mask    site: gf_secagg_quantize + client_mask; up (d) uint32.
 *           server: add_masked for each + unmask request; down 2 (n) flags.
 *   unmask  site: client_unmask; up (k, ROW). server: add_unmask for each.
 *   finish  server: gf_secagg_server_finish; then "apply": dequantise the
 *           sum and divide by |U| (the counterpart of FedAvg's finish_round).
 * Transfer of one direction of a phase = max(largest message / site link,
 * all messages / coordinator link). The model download (the encoded global
 * vector, the same for plain and secagg) is left out of the main figures and
 * added in the "with model download" ones. The plain update is one F32
 * tensor "update" of shape (d) with a gf.samples metadata entry.
 *
 * The secure sum is checked bit for bit against the uint32 sum of the
 * survivors' quantised inputs (the run aborts otherwise), and its dequantised
 * mean against plain FedAvg's result.
 *
 *   build/bench/secagg_cost [--n 10,100,500] [--d 100000,1000000]
 *       [--drop 0,10,10u] [--site-gbps 1] [--coord-gbps 10] [--rtt-ms 0]
 *       [--coord-threads 1] [--k-mult K] [--seed 1] [--quiet]
 *
 * --drop: percentages of sites that drop out; "10" = after ShareKeys (phase
 * 2), before sending their masked input (the costly case: the server rebuilds
 * their mask keys and removes their pairwise masks); "10u" = after uploading
 * their masked input, before answering the unmask request.
 *
 * Neighbours k and threshold t: the coordinator's gf_secagg_default_params
 * (k = n - 1 for n = 10; 20 and 28 at n = 100 and 500; t = ceil(2k / 3));
 * --k-mult K takes the smallest even k >= K log2(n) instead. Sites run on
 * one thread each; the server's heavy calls (plain check + sum + finish,
 * secure finish) run with --coord-threads threads and are timed on the wall
 * clock (the masks' ChaCha20 pieces are independent, see secagg.c). */
#include <math.h>
#include <omp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/rng.h"
#include "core/timer.h"
#include "fed/strategy.h"
#include "fed/update.h"
#include "privacy/secagg.h"

#define MAX_LIST 8
#define NPHASE 6                  /* index 1..5 used: keys, share, mask, unmask, finish */
#define CLIP 1.0f                 /* quantisation clip; inputs are uniform in [-CLIP, CLIP) */

enum { P_KEYS = 1, P_SHARE = 2, P_MASK = 3, P_UNMASK = 4, P_FINISH = 5 };
static const char *phase_name[NPHASE] = { "", "keys", "share", "mask", "unmask", "finish" };

/* when a dropped site leaves */
enum { DROP_NONE = 0, DROP_AFTER_SHARE = 1, DROP_AFTER_UPLOAD = 2 };

typedef struct {
    int n[MAX_LIST], nn;
    int64_t d[MAX_LIST];
    int nd;
    int drop_pct[MAX_LIST], drop_when[MAX_LIST], ndrop;
    double site_gbps, coord_gbps, rtt_ms, k_mult;
    uint64_t seed;
    int quiet;
} bench_opts;

typedef struct {
    int n, k, t, ndropped, nsurv, drop_pct, drop_when;
    int64_t d;
    /* secagg, seconds */
    double site_mean[NPHASE], site_max[NPHASE];   /* per phase over the sites that ran it */
    double site_tot_mean, site_tot_max;           /* per site over all its phases */
    double srv[NPHASE], srv_apply, srv_total;     /* srv[P_FINISH] = gf_secagg_server_finish */
    int srv_streams;                               /* PRG streams of d words that finish expands */
    double phase_wall[NPHASE], wall, wall_model;
    /* bytes per surviving site */
    double up, down, model_bytes;
    /* plain */
    double p_site_mean, p_site_max, p_srv, p_wall, p_wall_model, p_up;
    double max_mean_diff;                          /* |secagg mean - FedAvg mean| */
    double elapsed;                                /* real seconds this configuration took */
} bench_result;

/* ------------------------------------------------------------------ helpers */

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "secagg_cost: %s: %s\n", what, gf_last_error());
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) { fprintf(stderr, "secagg_cost: out of memory (%zu x %zu bytes)\n", n, size); exit(1); }
    return p;
}

/* k and t for n sites: gf_secagg_default_params (what the coordinator
 * uses), or with --k-mult the smallest even k >= k_mult * log2(n) and
 * t = ceil(2k / 3). */
static void bench_params(int n, double k_mult, int *k, int *t)
{
    if (k_mult <= 0) {
        if (gf_secagg_default_params(n, k, t)) die("default params");
        return;
    }
    int kk = (int)ceil(k_mult * log2((double)n) - 1e-9);
    if (kk % 2) kk++;
    if (kk < 2) kk = 2;
    if (kk >= n - 1) kk = n - 1;
    *k = kk;
    *t = (2 * kk + 2) / 3;
}

/* The server's heavy calls (plain: check + sum + finish; secure: finish)
 * run with the coordinator's threads and are timed on the wall clock. */
static int coord_threads = 1;
static double server_begin(void) { omp_set_num_threads(coord_threads); return gf_now(); }
static double server_end(double t0) { double t = gf_now() - t0; omp_set_num_threads(1); return t; }

/* Site i's update x (d), uniform in [-CLIP, CLIP): the same values for the
 * plain and the secure pass. */
static void input_make(uint64_t seed, int i, int64_t d, float *x /* (d) */)
{
    gf_rng r;
    gf_rng_seed(&r, gf_hash64(seed, (uint64_t)i));
    for (int64_t w = 0; w < d; w++) x[w] = CLIP * (2.0f * gf_rng_uniform(&r) - 1.0f);
}

/* Time to move bytes: the larger of the slowest site link and the coordinator's link. */
static double xfer_s(double max_site_bytes, double total_bytes, const bench_opts *o)
{
    double a = max_site_bytes * 8 / (o->site_gbps * 1e9), b = total_bytes * 8 / (o->coord_gbps * 1e9);
    return a > b ? a : b;
}

/* Choose the dropped sites: ndrop of them at random (seeded), such that no
 * site has more than k - t dropped neighbours, so the round must succeed.
 * drop (n) gets `when` for the chosen ones. Returns how many were placed. */
static int dropouts_pick(const gf_secagg_params *p, int ndrop, int when, uint64_t seed, unsigned char *drop /* (n) */)
{
    int n = p->n, k = p->k, got = 0;
    int *nb = xcalloc((size_t)n * k, sizeof *nb);      /* (n, k) */
    int *cnt = xcalloc((size_t)n, sizeof *cnt);        /* (n) dropped neighbours */
    int *order = xcalloc((size_t)n, sizeof *order);    /* (n) */
    gf_rng r;
    gf_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        if (gf_secagg_neighbours(p, i, nb + (size_t)i * k)) die("neighbours");
        order[i] = i;
        drop[i] = DROP_NONE;
    }
    for (int i = n - 1; i > 0; i--) {
        int j = (int)gf_rng_below(&r, (uint64_t)i + 1), tmp = order[i];
        order[i] = order[j]; order[j] = tmp;
    }
    for (int o = 0; o < n && got < ndrop; o++) {
        int i = order[o], fits = 1;
        for (int m = 0; m < k; m++) fits &= cnt[nb[(size_t)i * k + m]] < k - p->t;
        if (!fits) continue;
        for (int m = 0; m < k; m++) cnt[nb[(size_t)i * k + m]]++;
        drop[i] = (unsigned char)when;
        got++;
    }
    free(nb); free(cnt); free(order);
    return got;
}

/* ---------------------------------------------------------------- plain pass */

/* Plain FedAvg of the same updates: sites encode, the server checks and sums.
 * sends (n): 1 for the sites that upload. global (d) receives the mean. */
static void plain_run(const bench_opts *o, int n, int64_t d, const unsigned char *sends, bench_result *res,
                      float *global /* (d) */)
{
    gf_manifest_entry e = { .name = "update", .ndim = 1, .shape = { d }, .offset = 0, .numel = d };
    gf_manifest man = { .n = 1, .e = &e, .d = d };
    gf_strategy_config cfg = gf_strategy_defaults(GF_STRAT_FEDAVG);
    gf_strategy *strat;
    if (gf_strategy_create(&cfg, d, n, &strat)) die("strategy create");
    float *x = xcalloc((size_t)d, sizeof *x);   /* (d) */
    const gf_st_meta meta[] = { { "gf.samples", "600" } };
    size_t max_len = sizeof(float) * (size_t)d + ((size_t)1 << 20);   /* as the coordinator's limit */
    double smax = 0, ssum = 0, srv = 0;
    int nsend = 0;
    size_t up = 0;
    for (int i = 0; i < n; i++) {
        if (!sends[i]) continue;
        input_make(o->seed, i, d, x);
        uint8_t *buf;
        size_t len;
        double t0 = cpu_now();
        if (gf_update_encode(&man, x, meta, 1, &buf, &len)) die("plain encode");
        double t1 = cpu_now(), ts = server_begin();
        gf_update_view v;
        if (gf_update_view_open(&man, buf, len, max_len, &v)) die("plain check");
        const char *samples = gf_st_meta_get(v.file, "gf.samples");
        double w = samples ? strtod(samples, NULL) : 1.0;
        if (gf_strategy_add(strat, v.vec, w, NULL)) die("plain add");
        gf_update_view_close(&v);
        srv += server_end(ts);
        free(buf);
        ssum += t1 - t0;
        smax = t1 - t0 > smax ? t1 - t0 : smax;
        up = len;
        nsend++;
    }
    memset(global, 0, (size_t)d * sizeof *global);
    double t0 = server_begin();
    if (gf_strategy_finish_round(strat, global)) die("plain finish");
    srv += server_end(t0);
    /* the model download: the encoded global, the same for plain and secagg */
    uint8_t *mb;
    size_t mlen;
    if (gf_update_encode(&man, global, NULL, 0, &mb, &mlen)) die("model encode");
    free(mb);
    res->model_bytes = (double)mlen;
    res->p_site_mean = ssum / nsend;
    res->p_site_max = smax;
    res->p_srv = srv;
    res->p_up = (double)up;
    double rtt = o->rtt_ms * 1e-3;
    res->p_wall = smax + xfer_s((double)up, (double)up * nsend, o) + srv + rtt;
    double model = xfer_s((double)mlen, (double)mlen * n, o) + rtt;
    res->p_wall_model = res->p_wall + model;
    gf_strategy_free(strat);
    free(x);
}

/* --------------------------------------------------------------- secure pass */

typedef struct {
    double *cpu;          /* (NPHASE, n) per-site CPU seconds of each phase, -1: did not run it */
} site_times;

static void site_add(site_times *st, int n, int phase, int i, double s)
{
    double *c = st->cpu + (size_t)phase * n + i;
    *c = (*c < 0 ? 0 : *c) + s;
}

/* One secure round. z_mean (d) receives the dequantised mean of the survivors. */
static void secagg_run(const bench_opts *o, const gf_secagg_params *p, const unsigned char *drop /* (n) */,
                       bench_result *res, float *z_mean /* (d) */)
{
    int n = p->n, k = p->k;
    int64_t d = p->d;
    const size_t CT = GF_SECAGG_CT_BYTES, ROW = GF_SECAGG_UNMASK_ROW_BYTES, KB = GF_SECAGG_KEYS_BYTES;
    site_times st = { xcalloc((size_t)NPHASE * n, sizeof(double)) };
    for (size_t q = 0; q < (size_t)NPHASE * n; q++) st.cpu[q] = -1;
    double srv[NPHASE] = { 0 }, srv_apply = 0;

    gf_secagg_server *s;
    gf_secagg_client **cl = xcalloc((size_t)n, sizeof *cl);   /* (n) */
    uint8_t *keys = xcalloc((size_t)n, KB);                    /* (n, 64) key table */
    uint8_t adv[GF_SECAGG_KEYS_BYTES];
    uint8_t *cts = xcalloc((size_t)k, CT);                     /* (k, CT) ciphertexts / inbox */
    unsigned char *flags = xcalloc((size_t)k, 1);              /* (k) sent / received */
    unsigned char *surv = xcalloc((size_t)n, 1), *dropped = xcalloc((size_t)n, 1);   /* (n) each */
    uint8_t *resp = xcalloc((size_t)k, ROW);                   /* (k, ROW) */
    float *x = xcalloc((size_t)d, sizeof *x);                  /* (d) one site's update */
    uint32_t *q = xcalloc((size_t)d, sizeof *q);               /* (d) quantised, then masked in place */
    uint32_t *ref = xcalloc((size_t)d, sizeof *ref);           /* (d) plain uint32 sum of survivors' q */
    uint32_t *z = xcalloc((size_t)d, sizeof *z);               /* (d) the server's result */

    double t0 = cpu_now();
    if (gf_secagg_server_new(p, &s)) die("server new");
    srv[P_KEYS] += cpu_now() - t0;

    /* 1 AdvertiseKeys: every site (nobody drops before phase 2 here) */
    for (int i = 0; i < n; i++) {
        t0 = cpu_now();
        if (gf_secagg_client_new(p, i, &cl[i]) || gf_secagg_client_advertise(cl[i], adv)) die("client keys");
        double t1 = cpu_now();
        if (gf_secagg_server_add_keys(s, i, adv)) die("server add_keys");
        double t2 = cpu_now();
        site_add(&st, n, P_KEYS, i, t1 - t0);
        srv[P_KEYS] += t2 - t1;
    }
    t0 = cpu_now();
    if (gf_secagg_server_keys(s, keys)) die("server keys");
    srv[P_KEYS] += cpu_now() - t0;

    /* 2 ShareKeys: every site */
    for (int i = 0; i < n; i++) {
        t0 = cpu_now();
        if (gf_secagg_client_share(cl[i], keys, cts, flags)) die("client share");
        double t1 = cpu_now();
        if (gf_secagg_server_add_shares(s, i, cts, flags)) die("server add_shares");
        double t2 = cpu_now();
        site_add(&st, n, P_SHARE, i, t1 - t0);
        srv[P_SHARE] += t2 - t1;
    }

    /* 3 MaskedInput: the sites that did not drop after ShareKeys fetch their
     * inbox (server CPU of phase 2), quantise and mask, and the server adds y
     * as it comes; only one masked vector exists at a time. */
    int nmask = 0;
    for (int i = 0; i < n; i++) {
        if (drop[i] == DROP_AFTER_SHARE) continue;
        t0 = cpu_now();
        if (gf_secagg_server_inbox(s, i, cts, flags)) die("server inbox");
        srv[P_SHARE] += cpu_now() - t0;
        input_make(o->seed, i, d, x);
        t0 = cpu_now();
        if (gf_secagg_quantize(x, d, CLIP, n, q)) die("quantize");
        double t1 = cpu_now();
        for (int64_t w = 0; w < d; w++) ref[w] += q[w];      /* untimed: the reference sum */
        double t2 = cpu_now();
        if (gf_secagg_client_mask(cl[i], q, cts, flags, q)) die("client mask");
        double t3 = cpu_now();
        if (gf_secagg_server_add_masked(s, i, q)) die("server add_masked");
        double t4 = cpu_now();
        site_add(&st, n, P_MASK, i, (t1 - t0) + (t3 - t2));
        srv[P_MASK] += t4 - t3;
        nmask++;
    }
    t0 = cpu_now();
    if (gf_secagg_server_unmask_request(s, surv, dropped)) die("server unmask_request");
    srv[P_MASK] += cpu_now() - t0;

    /* 4 Unmasking: the sites still there */
    int nfull = 0;
    for (int i = 0; i < n; i++) {
        if (drop[i] != DROP_NONE) continue;
        t0 = cpu_now();
        if (gf_secagg_client_unmask(cl[i], surv, dropped, resp)) die("client unmask");
        double t1 = cpu_now();
        if (gf_secagg_server_add_unmask(s, i, resp)) die("server add_unmask");
        double t2 = cpu_now();
        site_add(&st, n, P_UNMASK, i, t1 - t0);
        srv[P_UNMASK] += t2 - t1;
        nfull++;
    }

    /* 5 Finish, then the model update from the sum (dequantise, mean) */
    int nsummed = 0;
    t0 = server_begin();
    if (gf_secagg_server_finish(s, z, &nsummed)) die("server finish");
    double tf = server_end(t0), t1 = cpu_now();
    if (gf_secagg_dequantize(z, d, CLIP, n, z_mean)) die("dequantize");
    for (int64_t w = 0; w < d; w++) z_mean[w] /= (float)nsummed;
    srv_apply = cpu_now() - t1;
    srv[P_FINISH] = tf;
    if (nsummed != nmask || memcmp(z, ref, (size_t)d * sizeof *z) != 0) {
        fprintf(stderr, "secagg_cost: n=%d d=%lld: the secure sum differs from the plain uint32 sum of the %d "
                "survivors' quantised inputs (summed %d)\n", n, (long long)d, nmask, nsummed);
        exit(1);
    }

    /* per-phase and per-site statistics */
    double rtt = o->rtt_ms * 1e-3;
    res->site_tot_mean = res->site_tot_max = 0;
    int ntot = 0;
    for (int ph = P_KEYS; ph <= P_UNMASK; ph++) {
        double sum = 0, mx = 0;
        int c = 0;
        for (int i = 0; i < n; i++) {
            double v = st.cpu[(size_t)ph * n + i];
            if (v < 0) continue;
            sum += v; mx = v > mx ? v : mx; c++;
        }
        res->site_mean[ph] = c ? sum / c : 0;
        res->site_max[ph] = mx;
    }
    for (int i = 0; i < n; i++) {   /* totals over the sites that stayed to the end */
        if (drop[i] != DROP_NONE) continue;
        double tot = 0;
        for (int ph = P_KEYS; ph <= P_UNMASK; ph++) tot += st.cpu[(size_t)ph * n + i];
        res->site_tot_mean += tot;
        res->site_tot_max = tot > res->site_tot_max ? tot : res->site_tot_max;
        ntot++;
    }
    res->site_tot_mean /= ntot;
    memcpy(res->srv, srv, sizeof srv);
    res->srv_apply = srv_apply;
    res->srv_total = srv_apply;
    for (int ph = P_KEYS; ph <= P_FINISH; ph++) res->srv_total += srv[ph];

    /* bytes of each message: per surviving site, and through the coordinator */
    double up1 = KB, down1 = (double)n * KB;
    double up2 = (double)k * CT + k, down2 = (double)k * CT + k;   /* ciphertexts + sent / inbox + received */
    double up3 = (double)d * 4, down3 = 2.0 * n;                    /* y / survived + dropped flags */
    double up4 = (double)k * ROW;
    res->up = up1 + up2 + up3 + up4;
    res->down = down1 + down2 + down3;
    res->phase_wall[P_KEYS] = res->site_max[P_KEYS] + srv[P_KEYS] + xfer_s(up1, up1 * n, o) +
                              xfer_s(down1, down1 * n, o) + rtt;
    res->phase_wall[P_SHARE] = res->site_max[P_SHARE] + srv[P_SHARE] + xfer_s(up2, up2 * n, o) +
                               xfer_s(down2, down2 * nmask, o) + rtt;
    res->phase_wall[P_MASK] = res->site_max[P_MASK] + srv[P_MASK] + xfer_s(up3, up3 * nmask, o) +
                              xfer_s(down3, down3 * nfull, o) + rtt;
    res->phase_wall[P_UNMASK] = res->site_max[P_UNMASK] + srv[P_UNMASK] + xfer_s(up4, up4 * nfull, o) + rtt;
    res->phase_wall[P_FINISH] = srv[P_FINISH] + srv_apply;
    res->wall = 0;
    for (int ph = P_KEYS; ph <= P_FINISH; ph++) res->wall += res->phase_wall[ph];
    res->wall_model = res->wall + xfer_s(res->model_bytes, res->model_bytes * n, o) + rtt;
    res->nsurv = nsummed;

    for (int i = 0; i < n; i++) gf_secagg_client_free(cl[i]);
    gf_secagg_server_free(s);
    free(st.cpu); free(cl); free(keys); free(cts); free(flags); free(surv); free(dropped); free(resp);
    free(x); free(q); free(ref); free(z);
}

/* ------------------------------------------------------------------- report */

static void bench_run(const bench_opts *o, int n, int64_t d, int drop_pct, int drop_when, bench_result *res)
{
    double w0 = gf_now();
    memset(res, 0, sizeof *res);
    gf_secagg_params p = { .n = n, .d = d };
    bench_params(n, o->k_mult, &p.k, &p.t);
    gf_rng r;
    gf_rng_seed(&r, o->seed ^ 0x5eca99ull);
    for (int b = 0; b < GF_SECAGG_SEED_BYTES; b++) p.seed[b] = (uint8_t)gf_rng_next(&r);
    if (gf_secagg_params_check(&p)) die("params");
    unsigned char *drop = xcalloc((size_t)n, 1), *sends = xcalloc((size_t)n, 1);   /* (n) each */
    int want = (int)lround(n * drop_pct / 100.0);
    int got = want ? dropouts_pick(&p, want, drop_when, o->seed + (uint64_t)n, drop) : 0;
    if (got < want) {
        fprintf(stderr, "secagg_cost: n=%d: placed only %d of %d dropouts\n", n, got, want);
        exit(1);
    }
    for (int i = 0; i < n; i++) sends[i] = drop[i] != DROP_AFTER_SHARE;
    /* finish expands one self mask per survivor and, per site dropped after
     * ShareKeys, one pairwise mask per surviving neighbour */
    int *nb = xcalloc((size_t)p.k, sizeof *nb);   /* (k) */
    for (int i = 0; i < n; i++) {
        if (drop[i] != DROP_AFTER_SHARE) { res->srv_streams++; continue; }
        if (gf_secagg_neighbours(&p, i, nb)) die("neighbours");
        for (int m = 0; m < p.k; m++) res->srv_streams += drop[nb[m]] != DROP_AFTER_SHARE;
    }
    free(nb);
    res->n = n; res->d = d; res->k = p.k; res->t = p.t;
    res->ndropped = got; res->drop_pct = drop_pct; res->drop_when = drop_when;

    float *g_plain = xcalloc((size_t)d, sizeof *g_plain), *g_sec = xcalloc((size_t)d, sizeof *g_sec);   /* (d) */
    plain_run(o, n, d, sends, res, g_plain);
    secagg_run(o, &p, drop, res, g_sec);
    double md = 0;
    for (int64_t w = 0; w < d; w++) {
        double e = fabs((double)g_plain[w] - (double)g_sec[w]);
        md = e > md ? e : md;
    }
    res->max_mean_diff = md;
    /* quantisation: each value off by <= 0.5 / scale; plus float rounding of a mean of values <= CLIP */
    if (!(md <= 0.5 / gf_secagg_quant_scale(CLIP, n) + 1e-6)) {
        fprintf(stderr, "secagg_cost: n=%d d=%lld: secure and plain means differ by %g\n", n, (long long)d, md);
        exit(1);
    }
    free(drop); free(sends); free(g_plain); free(g_sec);
    res->elapsed = gf_now() - w0;
}

static const char *drop_label(const bench_result *r, char *buf, size_t len)
{
    if (!r->drop_pct) snprintf(buf, len, "0%%");
    else snprintf(buf, len, "%d%% %s", r->drop_pct, r->drop_when == DROP_AFTER_SHARE ? "after share" : "after upload");
    return buf;
}

/* "1e5" for powers of ten, else the number */
static const char *d_label(int64_t d, char *buf, size_t len)
{
    int e = 0;
    int64_t v = d;
    while (v >= 10 && v % 10 == 0) { v /= 10; e++; }
    if (v == 1 && e > 0) snprintf(buf, len, "1e%d", e);
    else snprintf(buf, len, "%lld", (long long)d);
    return buf;
}

static double traffic_plain(const bench_result *r, int model) { return r->p_up + (model ? r->model_bytes : 0); }
static double traffic_sec(const bench_result *r, int model) { return r->up + r->down + (model ? r->model_bytes : 0); }

static void report_text(const bench_opts *o, const bench_result *r)
{
    char dl[32];
    printf("n=%d d=%lld k=%d t=%d%s drop=%s (%d sites), summed %d   [%.1f s]\n", r->n, (long long)r->d, r->k, r->t,
           r->k == r->n - 1 ? " (full)" : "", drop_label(r, dl, sizeof dl), r->ndropped, r->nsurv, r->elapsed);
    printf("  site CPU ms, mean / max:");
    for (int ph = P_KEYS; ph <= P_UNMASK; ph++)
        printf("  %s %.2f / %.2f", phase_name[ph], 1e3 * r->site_mean[ph], 1e3 * r->site_max[ph]);
    printf("  total %.2f / %.2f\n", 1e3 * r->site_tot_mean, 1e3 * r->site_tot_max);
    printf("  server CPU ms:");
    for (int ph = P_KEYS; ph <= P_FINISH; ph++) printf("  %s %.2f", phase_name[ph], 1e3 * r->srv[ph]);
    printf("  apply %.2f  total %.2f\n", 1e3 * r->srv_apply, 1e3 * r->srv_total);
    printf("  PRG streams of d words: %d per site (mask), %d at the server (finish, %.2f ms each)\n", r->k + 1,
           r->srv_streams, 1e3 * r->srv[P_FINISH] / r->srv_streams);
    printf("  plain CPU ms: site encode %.2f / %.2f (mean / max)  server check+sum+finish %.2f\n",
           1e3 * r->p_site_mean, 1e3 * r->p_site_max, 1e3 * r->p_srv);
    printf("  bytes per site: secagg up %.0f down %.0f; plain up %.0f; model download %.0f\n", r->up, r->down,
           r->p_up, r->model_bytes);
    printf("  wall ms at %g / %g Gbit/s, rtt %g ms: secagg %.1f (", o->site_gbps, o->coord_gbps, o->rtt_ms,
           1e3 * r->wall);
    for (int ph = P_KEYS; ph <= P_FINISH; ph++)
        printf("%s%s %.1f", ph > P_KEYS ? ", " : "", phase_name[ph], 1e3 * r->phase_wall[ph]);
    printf(")  plain %.1f  ratio %.2f\n", 1e3 * r->p_wall, r->wall / r->p_wall);
    printf("  with the model download: secagg %.1f  plain %.1f  ratio %.2f\n", 1e3 * r->wall_model,
           1e3 * r->p_wall_model, r->wall_model / r->p_wall_model);
    printf("  traffic per site secagg / plain: %.4f (with the model download %.4f)\n",
           traffic_sec(r, 0) / traffic_plain(r, 0), traffic_sec(r, 1) / traffic_plain(r, 1));
    printf("  check: secure sum == uint32 sum of the %d survivors' quantised inputs; |mean - FedAvg mean| <= %.2g\n",
           r->nsurv, r->max_mean_diff);
    fflush(stdout);
}

static void report_markdown(const bench_opts *o, const bench_result *rs, int nr)
{
    char dl[32], dd[32];
    printf("\nCPU (ms, one core; site figures mean / max over sites)\n\n");
    printf("| n | d | k | t | dropout | site keys | site share | site mask | site unmask | site total | "
           "server total | server finish (PRG streams) | plain site encode | plain server |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nr; i++) {
        const bench_result *r = &rs[i];
        printf("| %d | %s | %d | %d | %s | %.2f / %.2f | %.2f / %.2f | %.1f / %.1f | %.2f / %.2f | %.1f / %.1f | "
               "%.1f | %.1f (%d) | %.2f / %.2f | %.1f |\n",
               r->n, d_label(r->d, dd, sizeof dd), r->k, r->t, drop_label(r, dl, sizeof dl),
               1e3 * r->site_mean[P_KEYS], 1e3 * r->site_max[P_KEYS], 1e3 * r->site_mean[P_SHARE],
               1e3 * r->site_max[P_SHARE], 1e3 * r->site_mean[P_MASK], 1e3 * r->site_max[P_MASK],
               1e3 * r->site_mean[P_UNMASK], 1e3 * r->site_max[P_UNMASK], 1e3 * r->site_tot_mean,
               1e3 * r->site_tot_max, 1e3 * r->srv_total, 1e3 * r->srv[P_FINISH], r->srv_streams,
               1e3 * r->p_site_mean, 1e3 * r->p_site_max, 1e3 * r->p_srv);
    }
    printf("\nRound wall time (model: %g Gbit/s per site link, %g Gbit/s at the coordinator, RTT %g ms) and "
           "traffic per site\n\n", o->site_gbps, o->coord_gbps, o->rtt_ms);
    printf("| n | d | dropout | secagg wall ms | plain wall ms | **wall ratio** | ratio with model download | "
           "secagg up / down bytes | plain up bytes | **traffic ratio** | traffic ratio with model download |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nr; i++) {
        const bench_result *r = &rs[i];
        printf("| %d | %s | %s | %.1f | %.1f | %.2f | %.2f | %.0f / %.0f | %.0f | %.4f | %.4f |\n", r->n,
               d_label(r->d, dd, sizeof dd), drop_label(r, dl, sizeof dl), 1e3 * r->wall, 1e3 * r->p_wall,
               r->wall / r->p_wall, r->wall_model / r->p_wall_model, r->up, r->down, r->p_up,
               traffic_sec(r, 0) / traffic_plain(r, 0),
               traffic_sec(r, 1) / traffic_plain(r, 1));
    }
}

/* ---------------------------------------------------------------- arguments */

static int parse_list_int(const char *s, int *out, int max)
{
    int c = 0;
    char *end;
    while (*s && c < max) {
        long v = strtol(s, &end, 10);
        if (end == s) return -1;
        out[c++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return c;
}

static int parse_list_d(const char *s, int64_t *out, int max)
{
    int c = 0;
    char *end;
    while (*s && c < max) {
        double v = strtod(s, &end);   /* accepts 1e6 */
        if (end == s || v < 1) return -1;
        out[c++] = (int64_t)llround(v);
        if (*end && *end != ',') return -1;
        s = *end == ',' ? end + 1 : end;
    }
    return c;
}

/* "0,10,10u" */
static int parse_list_drop(const char *s, int *pct, int *when, int max)
{
    int c = 0;
    char *end;
    while (*s && c < max) {
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v >= 100) return -1;
        pct[c] = (int)v;
        when[c] = v == 0 ? DROP_NONE : DROP_AFTER_SHARE;
        if (*end == 'u') { when[c] = v ? DROP_AFTER_UPLOAD : DROP_NONE; end++; }
        if (*end && *end != ',') return -1;
        c++;
        s = *end == ',' ? end + 1 : end;
    }
    return c;
}

static void usage(void)
{
    fprintf(stderr, "usage: secagg_cost [--n 10,100,500] [--d 1e5,1e6] [--drop 0,10[,10u]] [--site-gbps 1] "
            "[--coord-gbps 10] [--rtt-ms 0] [--coord-threads 1] [--k-mult K] [--seed 1] [--quiet]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    bench_opts o = { .n = { 10, 100, 500 }, .nn = 3, .d = { 100000, 1000000 }, .nd = 2,
                     .drop_pct = { 0, 10 }, .drop_when = { DROP_NONE, DROP_AFTER_SHARE }, .ndrop = 2,
                     .site_gbps = 1, .coord_gbps = 10, .rtt_ms = 0, .k_mult = 0, .seed = 1 };
    for (int a = 1; a < argc; a++) {
        const char *v = a + 1 < argc ? argv[a + 1] : NULL;
        if (!strcmp(argv[a], "--quiet")) { o.quiet = 1; continue; }
        if (!v) usage();
        if (!strcmp(argv[a], "--n")) { if ((o.nn = parse_list_int(v, o.n, MAX_LIST)) < 1) usage(); }
        else if (!strcmp(argv[a], "--d")) { if ((o.nd = parse_list_d(v, o.d, MAX_LIST)) < 1) usage(); }
        else if (!strcmp(argv[a], "--drop")) {
            if ((o.ndrop = parse_list_drop(v, o.drop_pct, o.drop_when, MAX_LIST)) < 1) usage();
        }
        else if (!strcmp(argv[a], "--site-gbps")) o.site_gbps = atof(v);
        else if (!strcmp(argv[a], "--coord-gbps")) o.coord_gbps = atof(v);
        else if (!strcmp(argv[a], "--rtt-ms")) o.rtt_ms = atof(v);
        else if (!strcmp(argv[a], "--k-mult")) o.k_mult = atof(v);
        else if (!strcmp(argv[a], "--coord-threads")) coord_threads = atoi(v);
        else if (!strcmp(argv[a], "--seed")) o.seed = strtoull(v, NULL, 10);
        else usage();
        a++;
    }
    if (!(o.site_gbps > 0) || !(o.coord_gbps > 0) || o.rtt_ms < 0 || o.k_mult < 0 || coord_threads < 1) usage();
    for (int i = 0; i < o.nn; i++)
        if (o.n[i] < 2 || o.n[i] > GF_SECAGG_MAX_CLIENTS) usage();
    omp_set_num_threads(1);
    if (sodium_init() < 0) { fprintf(stderr, "secagg_cost: libsodium initialisation failed\n"); return 1; }

    int nr = o.nn * o.nd * o.ndrop;
    bench_result *rs = xcalloc((size_t)nr, sizeof *rs);
    int c = 0;
    for (int a = 0; a < o.nn; a++)
        for (int b = 0; b < o.nd; b++)
            for (int e = 0; e < o.ndrop; e++) {
                bench_run(&o, o.n[a], o.d[b], o.drop_pct[e], o.drop_when[e], &rs[c]);
                if (!o.quiet) report_text(&o, &rs[c]);
                c++;
            }
    report_markdown(&o, rs, nr);
    free(rs);
    return 0;
}
