/* Secure aggregation through the coordinator over real TLS, in-process: the
 * test plays every site with privacy/secagg.h's client over the HTTP routes
 * and records every byte it sends. For n = 10 sites with dropouts before
 * keys, before shares, before the masked upload and before unmasking, and
 * n = 100 sites with 10 % dropping: the new global model equals, bit for
 * bit, FedAvg applied to the plain sum of the survivors' quantised inputs.
 * Fewer than t survivors: the round aborts and nothing is unmasked. A
 * site that declines every attempt while the others send masked inputs
 * ends the job after 3 aborts, with a reason naming the decline. A
 * round that fails once unmasking began is not retried: the job fails and
 * the release is audited. Bad
 * protocol messages (wrong length, wrong phase, replayed, a reused public
 * key, a share for the wrong recipient, a bad unmask row) are refused with
 * a clear error and an audit line. Secrecy, from the recorded traffic and
 * the coordinator's files: no site ever had both its secrets opened, a
 * masked upload is uniform, and no window of any plaintext input appears in
 * anything the coordinator stored. */
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <sodium.h>
#include "check.h"
#include "site_client.h"
#include "engine/model.h"
#include "fed/strategy.h"
#include "fed/update.h"
#include "io/safetensors.h"
#include "net/https_client.h"
#include "net/pki.h"
#include "privacy/secagg.h"
#include "privacy/secagg_peer.h"
#include "io/audit.h"
#include "service/coordinator.h"

#define MAXN 100
#define SPEC "mlp:784-8-10"

/* Sanitizer builds run several times slower: the phase deadlines, which
 * the live sites must beat, and the waits for them scale by SLOW. */
#if defined(__SANITIZE_THREAD__)
#define SLOW 6      /* the masked phase of bad_messages, 54 s, within a poll's 60 */
#elif defined(__SANITIZE_ADDRESS__)
#define SLOW 3
#else
#define SLOW 1
#endif

static char base[64], pki[128], data[128], url[128];
static gf_https_client *op, *site[MAXN];
static gf_secagg_identity ident[MAXN];   /* each site's signing identity, from its kit */
static int64_t d;                 /* model parameters; messages carry d + 1 */
static int64_t next_job = 1;

enum { DROP_NONE, DROP_BEFORE_KEYS, DROP_BEFORE_SHARES, DROP_BEFORE_MASKED, DROP_BEFORE_UNMASK };

/* POST and expect a refusal with `want` and `words` in the error. */
static void refused(const char *what, gf_https_client *c, const char *path, const void *body, size_t len, int want,
                    const char *words)
{
    char *raw = NULL;
    size_t n;
    int st = req(c, "POST", path, body, len, &raw, &n);
    json_t *j = raw ? json_loads(raw, 0, NULL) : NULL;
    const char *e = json_string_value(json_object_get(j, "error"));
    CHECK_MSG(st == want && e && strstr(e, words), "%s: HTTP %d (want %d): %s", what, st, want, e ? e : raw);
    json_decref(j);
    free(raw);
}

/* One site's view of the round. */
typedef struct {
    int               index;
    gf_secagg_peer   *cl;
    uint32_t         *x;            /* (d + 1) its quantised input */
    uint8_t           keys[GF_SECAGG_ADV_BYTES];   /* its signed advertisement */
    uint8_t          *shares;       /* (k, CT) + (k) flags as sent */
    uint8_t          *unmask;       /* (k, ROW) as sent, or NULL */
    uint32_t         *y;            /* (d + 1) masked, as sent */
    int               masked, aborted;
} player;

typedef struct {
    int n, k, t;
    gf_secagg_params p;
    double clip, max_weight;
    int64_t job;
    char path[96];                 /* /v1/jobs/J/rounds/1 */
    char attempt[24];
    player pl[MAXN];
} round_state;

/* A 1-round job for sites s0..s(n-1); phases of a round that waits for a
 * silent site close at their deadline: timeout_s (keys, shares, unmask) and
 * 1.5 timeout_s (the masked upload). */
static void submit(int n, int min_sites, double timeout_s)
{
    timeout_s *= SLOW;
    char spec[4096], *p = spec;
    p += sprintf(p, "{\"name\": \"sa%lld\", \"model\": \"" SPEC "\", \"dataset\": \"fashion-mnist\", "
                 "\"strategy\": {\"name\": \"fedavg\"}, \"rounds\": 1, \"min_sites\": %d, \"round_deadline_s\": %g, "
                 "\"seed\": 5, \"secure_aggregation\": {\"phase_timeout_s\": %g}, \"sites\": [", (long long)next_job,
                 min_sites, 1.5 * timeout_s, timeout_s);
    for (int i = 0; i < n; i++) p += sprintf(p, "%s\"s%d\"", i ? ", " : "", i);
    sprintf(p, "]}");
    char *raw = NULL;
    size_t len;
    int st = req(op, "POST", "/v1/jobs", spec, strlen(spec), &raw, &len);
    CHECK_MSG(st == 201, "submit -> %d %s", st, raw);
    free(raw);
}

/* Every site takes its task for job `job` (its open attempt) and learns the
 * round's parameters. */
static void take_tasks_of(round_state *r, int n, int64_t job)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    r->job = job;
    for (int i = 0; i < n; i++) {
        char *raw = NULL;
        size_t len;
        int st = req(site[i], "GET", "/v1/site/task?wait=20", NULL, 0, &raw, &len);
        json_t *t = raw ? json_loads(raw, 0, NULL) : NULL, *sa = json_object_get(t, "secure_aggregation");
        CHECK_MSG(st == 200 && sa && json_integer_value(json_object_get(t, "job")) == r->job, "task %d -> %d %s", i,
                  st, raw ? raw : "(none)");
        free(raw);
        if (!sa) { json_decref(t); continue; }
        player *pl = &r->pl[i];
        pl->index = (int)json_integer_value(json_object_get(sa, "index"));
        if (i == 0) {
            r->p = (gf_secagg_params){ .n = (int)json_integer_value(json_object_get(sa, "n")),
                                       .k = (int)json_integer_value(json_object_get(sa, "k")),
                                       .t = (int)json_integer_value(json_object_get(sa, "t")),
                                       .d = json_integer_value(json_object_get(sa, "d")) };
            CHECK_MSG(!json_object_get(sa, "seed"), "the coordinator still sends a graph seed");
            r->clip = json_number_value(json_object_get(sa, "clip"));
            snprintf(r->attempt, sizeof r->attempt, "%s", json_string_value(json_object_get(sa, "attempt")));
            r->max_weight = json_number_value(json_object_get(sa, "max_weight"));
        }
        json_decref(t);
    }
    r->k = r->p.k;
    r->t = r->p.t;
    CHECK_MSG(r->p.n == n && r->p.d == d + 1, "round n %d d %lld", r->p.n, (long long)r->p.d);
    snprintf(r->path, sizeof r->path, "/v1/jobs/%lld/rounds/1", (long long)r->job);
    for (int i = 0; i < n; i++) {
        player *pl = &r->pl[i];
        gf_secagg_round_id id = { .job = r->job, .round = 1, .n = r->p.n, .k = r->p.k, .t = r->p.t, .d = r->p.d };
        snprintf(id.attempt, sizeof id.attempt, "%s", r->attempt);
        CHECK_MSG(gf_secagg_peer_new(&id, pl->index, &ident[i], &pl->cl) == GF_OK, "%s", gf_last_error());
        /* its input: a weighted update [w u, w] quantised, as gf site makes it */
        float *x = malloc(sizeof(float) * (size_t)(d + 1));
        double w = (double)(100 + 37 * i) / r->max_weight;
        for (int64_t c = 0; c < d; c++) x[c] = (float)(w * sin(0.001 * (double)c * (i + 1)) * 0.05);
        x[d] = (float)w;
        pl->x = malloc(sizeof(uint32_t) * (size_t)(d + 1));
        CHECK(gf_secagg_quantize(x, d + 1, (float)r->clip, n, pl->x) == GF_OK);
        free(x);
    }
}

/* The next job's first attempt. */
static void take_tasks(round_state *r, int n) { take_tasks_of(r, n, next_job++); }

static void free_round(round_state *r)
{
    for (int i = 0; i < r->n; i++) {
        gf_secagg_peer_free(r->pl[i].cl);
        free(r->pl[i].x);
        free(r->pl[i].shares);
        free(r->pl[i].unmask);
        free(r->pl[i].y);
    }
}

static char *route(const round_state *r, const char *what, char *buf)
{
    sprintf(buf, "%s/%s?attempt=%s", r->path, what, r->attempt);
    return buf;
}

/* GET a phase message (long-poll); returns the HTTP status. */
static int fetch(const round_state *r, int i, const char *what, uint8_t **out, size_t *len)
{
    char p[160];
    snprintf(p, sizeof p, "%s/secagg/%s?wait=60&attempt=%s", r->path, what, r->attempt);   /* past any deadline here */
    return req(site[i], "GET", p, NULL, 0, (char **)out, len);
}

#define UNMASK_REQ(n) (2 * (size_t)(n) + (size_t)(n) * GF_SECAGG_SIG_BYTES)

/* The consistency round for site i: fetch the survivor lists, sign, post. */
static void consistency(const round_state *r, int i)
{
    uint8_t *q = NULL, sig[GF_SECAGG_SIG_BYTES];
    size_t len = 0;
    char p[160];
    CHECK(fetch(r, i, "survivors", &q, &len) == 200 && len == 2 * (size_t)r->n);
    CHECK_MSG(q && gf_secagg_peer_sign_survivors(r->pl[i].cl, q, q + r->n, sig) == GF_OK, "%s", gf_last_error());
    free(q);
    CHECK(req(site[i], "POST", route(r, "secagg/consistency", p), sig, sizeof sig, NULL, NULL) == 200);
}

/* Runs the round with the sites in `drop` leaving at phase `when`; the
 * sites in `bad_ct` send one neighbour a ciphertext meant for another. */
static void play(round_state *r, const unsigned char *drop, int when, int bad_ct_site, int until_masked, int declines)
{
    int n = r->n, k = r->k;
    char p[160];
    size_t ctb = (size_t)k * GF_SECAGG_CT_BYTES;
    if (declines && when < DROP_BEFORE_UNMASK)       /* the dropouts say so when their phase comes */
        for (int i = 0; i < n; i++)
            if (drop[i]) {
                if (when == DROP_BEFORE_KEYS)
                    CHECK(req(site[i], "POST", route(r, "decline", p), "{\"error\": \"gone\"}", 17, NULL, NULL) == 200);
            }
    for (int i = 0; i < n; i++) {
        player *pl = &r->pl[i];
        if (drop[i] && when == DROP_BEFORE_KEYS) continue;
        CHECK(gf_secagg_peer_advertise(pl->cl, pl->keys) == GF_OK);
        CHECK(req(site[i], "POST", route(r, "secagg/keys", p), pl->keys, sizeof pl->keys, NULL, NULL) == 200);
    }
    for (int i = 0; i < n; i++)
        if (drop[i] && declines && when == DROP_BEFORE_SHARES)
            CHECK(req(site[i], "POST", route(r, "decline", p), "{}", 2, NULL, NULL) == 200);
    for (int i = 0; i < n; i++) {
        player *pl = &r->pl[i];
        if (drop[i] && when <= DROP_BEFORE_SHARES) continue;
        uint8_t *table = NULL;
        size_t len = 0;
        int got = fetch(r, i, "keys", &table, &len) == 200 && len == (size_t)n * GF_SECAGG_ADV_BYTES;
        CHECK_MSG(got, "site %d: no key table", i);
        pl->shares = malloc(ctb + (size_t)k);
        if (!got) {                      /* a failure above; nothing to build on */
            free(table);
            pl->aborted = 1;
            continue;
        }
        CHECK_MSG(gf_secagg_peer_share(pl->cl, table, pl->shares, pl->shares + ctb) == GF_OK, "%s", gf_last_error());
        r->p = *gf_secagg_peer_params(pl->cl);     /* the graph seed drawn from the table */
        free(table);
        if (i == bad_ct_site) {          /* rows 0 and 1 swapped: each goes to the wrong recipient */
            uint8_t tmp[GF_SECAGG_CT_BYTES];
            memcpy(tmp, pl->shares, sizeof tmp);
            memcpy(pl->shares, pl->shares + GF_SECAGG_CT_BYTES, sizeof tmp);
            memcpy(pl->shares + GF_SECAGG_CT_BYTES, tmp, sizeof tmp);
        }
        CHECK(req(site[i], "POST", route(r, "secagg/shares", p), pl->shares, ctb + k, NULL, NULL) == 200);
    }
    for (int i = 0; i < n; i++)
        if (drop[i] && declines && when == DROP_BEFORE_MASKED)
            CHECK(req(site[i], "POST", route(r, "decline", p), "{}", 2, NULL, NULL) == 200);
    for (int i = 0; i < n; i++) {
        player *pl = &r->pl[i];
        if (drop[i] && when <= DROP_BEFORE_MASKED) continue;
        uint8_t *inbox = NULL;
        size_t len = 0;
        int got = fetch(r, i, "inbox", &inbox, &len) == 200 && len == ctb + (size_t)k;
        CHECK_MSG(got || pl->aborted, "site %d: no inbox", i);
        pl->y = malloc(sizeof(uint32_t) * (size_t)(d + 1));
        if (!got || gf_secagg_peer_mask(pl->cl, pl->x, inbox, inbox + ctb, pl->y)) {
            pl->aborted = 1;             /* a ciphertext that does not authenticate: this site drops */
            free(inbox);
            continue;
        }
        free(inbox);
        CHECK(req(site[i], "POST", route(r, "update", p), pl->y, sizeof(uint32_t) * (size_t)(d + 1), NULL, NULL) == 200);
        pl->masked = 1;
    }
    for (int i = 0; i < n && !until_masked; i++)
        if (r->pl[i].masked && !(drop[i] && when <= DROP_BEFORE_UNMASK)) consistency(r, i);
    for (int i = 0; i < n && !until_masked; i++) {
        player *pl = &r->pl[i];
        if (!pl->masked || (drop[i] && when <= DROP_BEFORE_UNMASK)) continue;
        uint8_t *q = NULL;
        size_t len = 0;
        int got = fetch(r, i, "unmask", &q, &len) == 200 && len == UNMASK_REQ(n);
        CHECK_MSG(got, "site %d: no unmask request", i);
        size_t rows = (size_t)k * GF_SECAGG_UNMASK_ROW_BYTES;
        pl->unmask = malloc(rows);
        if (!got) {
            free(q);
            continue;
        }
        CHECK_MSG(gf_secagg_peer_unmask(pl->cl, q, q + n, q + 2 * n, pl->unmask) == GF_OK, "%s", gf_last_error());
        free(q);
        CHECK(req(site[i], "POST", route(r, "secagg/unmask", p), pl->unmask, rows, NULL, NULL) == 200);
    }
}

static json_t *job_status(int64_t job, const char *want_state, double timeout_s)
{
    char p[64];
    snprintf(p, sizeof p, "/v1/jobs/%lld", (long long)job);
    json_t *j = NULL;
    for (int tries = 0; tries < (int)(timeout_s * SLOW * 20); tries++) {
        char *raw = NULL;
        size_t len;
        json_decref(j);
        req(op, "GET", p, NULL, 0, &raw, &len);
        j = raw ? json_loads(raw, 0, NULL) : NULL;
        free(raw);
        const char *s = json_string_value(json_object_get(j, "state"));
        if (s && !strcmp(s, want_state)) break;
        usleep(50000);
    }
    return j;
}

/* The job's final model equals FedAvg from the job's initial model with the
 * plain sum of the survivors' quantised inputs (bit for bit). */
static void check_aggregate(const round_state *r, const char *what)
{
    json_t *j = job_status(r->job, "succeeded", 30);
    CHECK_MSG(j && !strcmp(json_string_value(json_object_get(j, "state")), "succeeded"), "%s: job %lld is %s (%s)",
              what, (long long)r->job, json_string_value(json_object_get(j, "state")),
              json_string_value(json_object_get(j, "reason")));
    json_decref(j);
    int64_t D = d + 1;
    uint32_t *z = calloc((size_t)D, sizeof *z);
    int m = 0;
    for (int i = 0; i < r->n; i++)
        if (r->pl[i].masked) {
            m++;
            for (int64_t c = 0; c < D; c++) z[c] += r->pl[i].x[c];
        }
    float *sum = malloc(sizeof(float) * (size_t)D), *want = malloc(sizeof(float) * (size_t)d);
    CHECK(gf_secagg_dequantize(z, D, (float)r->clip, r->n, sum) == GF_OK);
    double div = sum[d];
    for (int64_t c = 0; c < d; c++) sum[c] = (float)((double)sum[c] / div);
    gf_model *m0;
    CHECK(gf_model_create(SPEC, 1, 1, &m0) == GF_OK);
    gf_model_init(m0, 5);
    memcpy(want, m0->params, sizeof(float) * (size_t)d);
    gf_model_free(m0);
    gf_strategy *s;
    gf_strategy_config sc = gf_strategy_defaults(GF_STRAT_FEDAVG);
    CHECK(gf_strategy_create(&sc, d, 1, &s) == GF_OK);
    CHECK(gf_strategy_add(s, sum, div, NULL) == GF_OK);
    CHECK(gf_strategy_finish_round(s, want) == GF_OK);
    gf_strategy_free(s);

    char p[64], *raw = NULL;
    size_t len = 0;
    snprintf(p, sizeof p, "/v1/jobs/%lld/model", (long long)r->job);
    CHECK(req(op, "GET", p, NULL, 0, &raw, &len) == 200);
    gf_manifest man;
    float *got = malloc(sizeof(float) * (size_t)d);
    CHECK(gf_manifest_from_spec(SPEC, &man) == GF_OK);
    gf_st_file *f = NULL;
    CHECK(gf_st_parse((uint8_t *)raw, len, "model", &f) == GF_OK);
    for (int e = 0; f && e < man.n; e++)
        CHECK(gf_st_read_f32(f, man.e[e].name, man.e[e].ndim, man.e[e].shape, got + man.e[e].offset) == GF_OK);
    gf_st_close(f);
    CHECK_MSG(!memcmp(got, want, sizeof(float) * (size_t)d), "%s: the aggregate differs from the plain quantised sum "
              "of the %d survivors", what, m);
    gf_manifest_free(&man);
    free(raw);
    free(got);
    free(want);
    free(sum);
    free(z);
}

/* Secrecy from what the coordinator received: for no site were both its
 * self-mask seed and its mask key opened (t or more shares of each). */
static void check_never_both(const round_state *r, const char *what)
{
    int n = r->n, k = r->k;
    int *self = calloc((size_t)n, sizeof *self), *key = calloc((size_t)n, sizeof *key);
    for (int j = 0; j < n; j++) {
        const player *pl = &r->pl[j];
        if (!pl->unmask) continue;
        int nb[MAXN];
        CHECK(gf_secagg_neighbours(&r->p, pl->index, nb) == GF_OK);
        for (int m = 0; m < k; m++) {
            uint8_t kind = pl->unmask[(size_t)m * GF_SECAGG_UNMASK_ROW_BYTES];
            if (kind == GF_SECAGG_SHARE_SELF) self[nb[m]]++;
            if (kind == GF_SECAGG_SHARE_KEY) key[nb[m]]++;
        }
    }
    for (int i = 0; i < n; i++)
        CHECK_MSG(!(self[i] && key[i]) && (r->pl[i].masked ? key[i] == 0 : self[i] == 0),
                  "%s: site %d had %d self-mask and %d key shares opened (masked: %d)", what, i, self[i], key[i],
                  r->pl[i].masked);
    free(self);
    free(key);
}

/* Chi-square of the top byte of each word over 256 bins. */
static double chi_square_top_byte(const uint32_t *v, int64_t n)
{
    double bins[256] = { 0 };
    for (int64_t i = 0; i < n; i++) bins[v[i] >> 24]++;
    double e = (double)n / 256, chi = 0;
    for (int b = 0; b < 256; b++) chi += (bins[b] - e) * (bins[b] - e) / e;
    return chi;
}

/* Whether any file under dir holds the 32 bytes at needle. */
static const uint8_t *scan_needle;
static int scan_found;
static int scan_file(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    if (flag != FTW_F) return 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    uint8_t *buf = malloc((size_t)sb->st_size + 1);
    size_t got = fread(buf, 1, (size_t)sb->st_size, fp);
    fclose(fp);
    if (memmem(buf, got, scan_needle, 32)) scan_found = 1;
    free(buf);
    return 0;
}
static int dir_contains(const char *dir, const void *needle)
{
    scan_needle = needle;
    scan_found = 0;
    nftw(dir, scan_file, 16, FTW_PHYS);
    return scan_found;
}

/* One job of n sites where `ndrop` sites (the last ones) leave at `when`,
 * silently (how 0: the phase waits for its deadline) or declining (1). */
static void scenario(int n, int ndrop, int when, int how, const char *what)
{
    round_state *r = malloc(sizeof *r);
    unsigned char drop[MAXN] = { 0 };
    for (int i = n - ndrop; i < n; i++) drop[i] = 1;
    submit(n, 2, how ? 30 : 4);
    take_tasks(r, n);
    play(r, drop, when, -1, 0, how);
    check_aggregate(r, what);
    check_never_both(r, what);
    free_round(r);
    free(r);
}

/* Bad messages in every phase, a share sent to the wrong recipient (its two
 * recipients drop out), and secrecy checks on the recorded traffic. */
static void bad_messages(void)
{
    int n = 10;
    round_state *r = malloc(sizeof *r);
    submit(n, 2, 6);
    take_tasks(r, n);
    char p[160], old[160];
    int k = r->k;
    size_t ctb = (size_t)k * GF_SECAGG_CT_BYTES;
    player *a = &r->pl[0], *b = &r->pl[1];
    uint8_t junk[GF_SECAGG_ADV_BYTES] = { 1 };
    const size_t AB = GF_SECAGG_ADV_BYTES;
    /* phase 1 */
    refused("keys of the wrong length", site[0], route(r, "secagg/keys", p), junk, 64, 400, "must be 320 bytes");
    refused("a masked input in the key phase", site[0], route(r, "update", p), junk, 64, 409, "phase");
    refused("shares in the key phase", site[0], route(r, "secagg/shares", p), junk, 64, 409, "phase");
    CHECK(gf_secagg_peer_advertise(a->cl, a->keys) == GF_OK);
    CHECK(req(site[0], "POST", route(r, "secagg/keys", p), a->keys, AB, NULL, NULL) == 200);
    refused("keys replayed", site[0], route(r, "secagg/keys", p), a->keys, AB, 409, "already");
    refused("another site's public key", site[1], route(r, "secagg/keys", p), a->keys, AB, 409, "reuses a public key");
    memset(junk, 0, sizeof junk);
    refused("a low-order point", site[1], route(r, "secagg/keys", p), junk, AB, 400, "low-order");
    snprintf(old, sizeof old, "/v1/jobs/%lld/rounds/2/secagg/keys?attempt=%s", (long long)r->job, r->attempt);
    refused("another round", site[1], old, a->keys, AB, 409, "not open");
    snprintf(old, sizeof old, "%s/secagg/keys?attempt=0123456789abcdef", r->path);
    refused("another attempt of the round", site[1], old, a->keys, AB, 409, "not the open one");
    snprintf(old, sizeof old, "%s/secagg/keys", r->path);
    refused("no attempt", site[1], old, a->keys, AB, 409, "not the open one");
    /* the rest of the keys, then phase 2 */
    for (int i = 1; i < n; i++) {
        CHECK(gf_secagg_peer_advertise(r->pl[i].cl, r->pl[i].keys) == GF_OK);
        CHECK(req(site[i], "POST", route(r, "secagg/keys", p), r->pl[i].keys, AB, NULL, NULL) == 200);
    }
    uint8_t *table = NULL;
    size_t len = 0;
    CHECK(fetch(r, 0, "keys", &table, &len) == 200);
    for (int i = 0; i < n; i++) {
        r->pl[i].shares = malloc(ctb + k);
        CHECK(gf_secagg_peer_share(r->pl[i].cl, table, r->pl[i].shares, r->pl[i].shares + ctb) == GF_OK);
    }
    r->p = *gf_secagg_peer_params(r->pl[0].cl);
    free(table);
    refused("keys after their phase", site[0], route(r, "secagg/keys", p), a->keys, AB, 409, "phase");
    refused("shares of the wrong length", site[0], route(r, "secagg/shares", p), a->shares, ctb, 400, "must be");
    uint8_t *bad = malloc(ctb + k);
    memcpy(bad, a->shares, ctb + k);
    bad[ctb] = 2;
    refused("a sent flag that is not 0/1", site[0], route(r, "secagg/shares", p), bad, ctb + k, 400, "not 0 or 1");
    bad[ctb] = 0;
    refused("a share missing for a neighbour with keys", site[0], route(r, "secagg/shares", p), bad, ctb + k, 400,
            "did not send");
    free(bad);
    /* site 1 sends neighbour 0 the ciphertext meant for neighbour 1 and vice versa */
    uint8_t tmp[GF_SECAGG_CT_BYTES];
    memcpy(tmp, b->shares, sizeof tmp);
    memcpy(b->shares, b->shares + GF_SECAGG_CT_BYTES, sizeof tmp);
    memcpy(b->shares + GF_SECAGG_CT_BYTES, tmp, sizeof tmp);
    for (int i = 0; i < n; i++)
        CHECK(req(site[i], "POST", route(r, "secagg/shares", p), r->pl[i].shares, ctb + k, NULL, NULL) == 200);
    refused("shares replayed", site[0], route(r, "secagg/shares", p), a->shares, ctb + k, 409, "phase");
    /* phase 3: the two wrongly served neighbours cannot decrypt and drop out */
    int nb[MAXN], wronged = 0, first = -1;
    CHECK(gf_secagg_neighbours(&r->p, b->index, nb) == GF_OK);
    for (int i = 0; i < n; i++) {
        player *pl = &r->pl[i];
        uint8_t *inbox = NULL;
        int got = fetch(r, i, "inbox", &inbox, &len) == 200 && len == ctb + (size_t)k;
        CHECK_MSG(got || pl->aborted, "site %d: no inbox", i);
        pl->y = malloc(sizeof(uint32_t) * (size_t)(d + 1));
        if (!got || gf_secagg_peer_mask(pl->cl, pl->x, inbox, inbox + ctb, pl->y)) {
            pl->aborted = 1;
            wronged += pl->index == nb[0] || pl->index == nb[1];
            free(inbox);
            continue;
        }
        free(inbox);
        if (first < 0) {
            first = i;
            refused("a masked input one word short", site[i], route(r, "update", p), pl->y, sizeof(uint32_t) * (size_t)d,
                    400, "must be");
            refused("a plain safetensors update", site[i], route(r, "update", p), "{\"x\":1}", 7, 400, "must be");
        }
        CHECK(req(site[i], "POST", route(r, "update", p), pl->y, sizeof(uint32_t) * (size_t)(d + 1), NULL, NULL) == 200);
        pl->masked = 1;
        if (i == first)
            refused("a masked input replayed", site[i], route(r, "update", p), pl->y, sizeof(uint32_t) * (size_t)(d + 1),
                    409, "already");
    }
    CHECK_MSG(wronged == 2, "%d of the 2 wrongly served neighbours dropped", wronged);
    /* phase 4 (the round waits for its deadline: the two dropouts never upload) */
    size_t rows = (size_t)k * GF_SECAGG_UNMASK_ROW_BYTES;
    for (int i = 0; i < n; i++)
        if (r->pl[i].masked) consistency(r, i);
    for (int i = 0; i < n; i++) {
        player *pl = &r->pl[i];
        if (!pl->masked) continue;
        uint8_t *q = NULL;
        int got = fetch(r, i, "unmask", &q, &len) == 200 && len == UNMASK_REQ(n);
        CHECK_MSG(got, "site %d: no unmask request", i);
        if (!got) {                      /* nothing to build on */
            free(q);
            continue;
        }
        pl->unmask = malloc(rows);
        CHECK(gf_secagg_peer_unmask(pl->cl, q, q + n, q + 2 * n, pl->unmask) == GF_OK);
        free(q);
        if (i == first) {
            refused("unmask rows of the wrong length", site[i], route(r, "secagg/unmask", p), pl->unmask, rows - 1, 400,
                    "must be");
            uint8_t *wrong = malloc(rows);
            memcpy(wrong, pl->unmask, rows);
            for (size_t m = 0; m < (size_t)k; m++)      /* ask for the other secret of a neighbour */
                if (wrong[m * GF_SECAGG_UNMASK_ROW_BYTES] == GF_SECAGG_SHARE_SELF) {
                    wrong[m * GF_SECAGG_UNMASK_ROW_BYTES] = GF_SECAGG_SHARE_KEY;
                    break;
                }
            refused("an unmask row of the wrong kind", site[i], route(r, "secagg/unmask", p), wrong, rows, 400, "kind");
            free(wrong);
        }
        CHECK(req(site[i], "POST", route(r, "secagg/unmask", p), pl->unmask, rows, NULL, NULL) == 200);
        if (i == first)
            refused("unmask rows replayed", site[i], route(r, "secagg/unmask", p), pl->unmask, rows, 409, "already");
    }
    check_aggregate(r, "bad messages");
    check_never_both(r, "bad messages");

    /* a masked upload is uniform (chi-square of the top byte, 255 degrees of
     * freedom: mean 255, sd 22.6); the plain input it hides is not */
    CHECK(first >= 0);
    player *f = &r->pl[first < 0 ? 0 : first];
    double chi_y = chi_square_top_byte(f->y, d + 1), chi_x = chi_square_top_byte(f->x, d + 1);
    CHECK_MSG(chi_y < 255 + 5 * 22.6, "masked upload chi-square %.1f", chi_y);
    CHECK_MSG(chi_x > 1000, "the plain input's chi-square %.1f (the test must be able to fail)", chi_x);
    /* nothing the coordinator stored holds a window of any plaintext input;
     * the same scan does find the model it stored */
    int leaks = 0;
    for (int i = 0; i < n; i++)
        for (int64_t at = 0; at + 8 <= d; at += d / 7) leaks += dir_contains(data, r->pl[i].x + at);
    CHECK_MSG(leaks == 0, "%d windows of plaintext inputs found in the coordinator's files", leaks);
    char *raw = NULL;
    snprintf(p, sizeof p, "/v1/jobs/%lld/model", (long long)r->job);
    CHECK(req(op, "GET", p, NULL, 0, &raw, &len) == 200 && len > 4096);
    CHECK_MSG(raw && dir_contains(data, raw + len - 64), "the scan does not find the stored model");
    free(raw);
    free_round(r);
    free(r);
}

/* Audit entries `event` of job `job` (with `words` in their reason when
 * words is not NULL). */
static int count_events(const char *event, int64_t job, const char *words)
{
    char audit[256], line[16384];
    snprintf(audit, sizeof audit, "%s/audit.log", data);
    FILE *f = fopen(audit, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        json_t *e = json_loads(line, 0, NULL), *dt = json_object_get(e, "detail");
        const char *ev = json_string_value(json_object_get(e, "event"));
        const char *why = json_string_value(json_object_get(dt, "reason"));
        n += ev && !strcmp(ev, event) && json_integer_value(json_object_get(dt, "job")) == job &&
             (!words || (why && strstr(why, words)));
        json_decref(e);
    }
    if (f) fclose(f);
    return n;
}

/* Waits (at most 30 s, SLOW times that in sanitizer builds) until job `job` has at least `want` audit entries
 * `event` (with `words` in their reason); returns how many it has. */
static int wait_events(const char *event, int64_t job, const char *words, int want)
{
    int n = 0;
    for (int tries = 0; tries < 600 * SLOW && (n = count_events(event, job, words)) < want; tries++) usleep(50000);
    return n;
}

/* Too few survivors: the round aborts with a clear reason, nothing unmasked. */
static void too_few(void)
{
    int n = 10;
    round_state *r = malloc(sizeof *r);
    unsigned char drop[MAXN] = { 0 };
    submit(n, 2, 3);
    take_tasks(r, n);
    for (int i = 0; i < n - r->t + 1; i++) drop[i] = 1;     /* t - 1 upload */
    play(r, drop, DROP_BEFORE_MASKED, -1, 1, 0);
    /* the masked phase closes at its deadline (4.5 s × SLOW): bounded, not timed */
    int aborted = wait_events("round.aborted", r->job, "sites sent masked updates", 1);
    CHECK_MSG(aborted == 1, "%d aborts with %d of t = %d uploads", aborted, r->t - 1, r->t);
    /* the survivors are never asked for shares of this round: its attempt
     * is refused once the round re-opened. The re-opening comes at the
     * driver's next look after the abort, and again each time a new
     * attempt's key phase passes with no keys: between two attempts the
     * round is not open at all (a refusal too, but not the one checked
     * here), so the request is asked again after the next opening */
    uint8_t *q = NULL;
    size_t len;
    int st = 0;
    for (int tries = 0, opened = 2; tries < 10; tries++, opened++) {
        CHECK_MSG(wait_events("round.opened", r->job, NULL, opened) >= opened, "round not re-opened after the abort");
        free(q);
        q = NULL;
        st = fetch(r, n - 1, "unmask", &q, &len);
        if (!(st == 409 && q && strstr((char *)q, "is not open"))) break;
    }
    CHECK_MSG(st == 409 && q && strstr((char *)q, "not the open one"), "unmask request after the abort -> %d %s", st,
              q ? (char *)q : "");
    free(q);
    char p[64];
    snprintf(p, sizeof p, "/v1/jobs/%lld/cancel", (long long)r->job);
    CHECK(req(op, "POST", p, NULL, 0, NULL, NULL) == 200);
    free_round(r);
    free(r);
}

/* One site sends keys and shares, then declines every attempt of the round
 * (its training diverged), while all the others send masked inputs; with
 * min_sites = n too few survive, and once the decline comes every site has
 * answered, so the round aborts at once and re-opens. Not every site
 * declined, yet each such abort counts: the job fails after
 * MAX_FAILED_ROUNDS (3) attempts with a reason naming the decline, instead
 * of re-opening the round without end. */
static void one_decliner(void)
{
    const int max_failed = 3;        /* MAX_FAILED_ROUNDS in service/coordinator.c */
    const char *nan = "{\"error\": \"local training diverged: the loss is NaN\"}";
    int n = 10, attempts = 0, failed = 0;
    round_state *r = malloc(sizeof *r);
    unsigned char drop[MAXN] = { 0 };
    drop[0] = 1;
    submit(n, n, 30);                  /* no phase closes at a deadline here */
    int64_t job = next_job++;
    char p[160];
    while (attempts < max_failed + 2 && !failed) {   /* bounded: the old rule re-opened it without end */
        take_tasks_of(r, n, job);
        play(r, drop, DROP_BEFORE_MASKED, -1, 1, 0);  /* s0: keys and shares; the others: masked inputs */
        CHECK(req(site[0], "POST", route(r, "decline", p), nan, strlen(nan), NULL, NULL) == 200);
        attempts++;
        int aborted = wait_events("round.aborted", job, "sent masked updates", attempts);
        CHECK_MSG(aborted == attempts, "attempt %d: %d aborts", attempts, aborted);
        for (int tries = 0; tries < 600 * SLOW; tries++, usleep(50000)) {    /* then the job fails or the round re-opens */
            if ((failed = count_events("job.failed", job, NULL) > 0)) break;
            if (count_events("round.opened", job, NULL) > attempts) break;
        }
        free_round(r);
    }
    json_t *j = job_status(job, "failed", 10);
    const char *state = json_string_value(json_object_get(j, "state"));
    const char *reason = json_string_value(json_object_get(j, "reason"));
    CHECK_MSG(failed && attempts == max_failed && state && !strcmp(state, "failed"),
              "one site declining every attempt: job %lld is %s after %d attempts (%d aborts, %d openings of its round)",
              (long long)job, state ? state : "?", attempts, count_events("round.aborted", job, NULL),
              count_events("round.opened", job, NULL));
    CHECK_MSG(reason && strstr(reason, "failed 3 times in a row") &&
              strstr(reason, "s0 declined: local training diverged: the loss is NaN"), "job %lld: reason %s",
              (long long)job, reason ? reason : "(none)");
    json_decref(j);
    CHECK_MSG(count_events("round.aborted", job, NULL) == max_failed && count_events("round.opened", job, NULL) == max_failed,
              "%d aborts and %d openings (want %d each)", count_events("round.aborted", job, NULL),
              count_events("round.opened", job, NULL), max_failed);
    char *raw = NULL;
    size_t len;
    int st = req(site[1], "GET", "/v1/site/task?wait=0", NULL, 0, &raw, &len);
    CHECK_MSG(st == 204, "a site got a task after the job failed: %d %s", st, raw ? raw : "");
    free(raw);
    if (!failed) {                     /* the rest of the test goes on without it */
        snprintf(p, sizeof p, "/v1/jobs/%lld/cancel", (long long)job);
        CHECK(req(op, "POST", p, NULL, 0, NULL, NULL) == 200);
    }
    free(r);
}

/* Unmasking began (every survivor signed the list) but only t - 1 answer:
 * the sum cannot be rebuilt, and the round is not retried with the same
 * sites (a second sum could be differenced against the first): the job
 * fails, the audit log records the release, and no site gets a new task. */
static void no_second_release(void)
{
    int n = 10;
    round_state *r = malloc(sizeof *r);
    unsigned char drop[MAXN] = { 0 };
    submit(n, 2, 3);
    take_tasks(r, n);
    play(r, drop, DROP_NONE, -1, 1, 0);          /* up to the masked uploads */
    for (int i = 0; i < n; i++) consistency(r, i);
    size_t rows = (size_t)r->k * GF_SECAGG_UNMASK_ROW_BYTES, len;
    char p[160];
    for (int i = 0; i < r->t - 1; i++) {
        uint8_t *q = NULL;
        int got = fetch(r, i, "unmask", &q, &len) == 200 && len == UNMASK_REQ(n);
        CHECK_MSG(got, "site %d: no unmask request", i);
        if (!got) {                      /* nothing to build on */
            free(q);
            continue;
        }
        r->pl[i].unmask = malloc(rows);
        CHECK_MSG(gf_secagg_peer_unmask(r->pl[i].cl, q, q + n, q + 2 * n, r->pl[i].unmask) == GF_OK, "%s", gf_last_error());
        free(q);
        CHECK(req(site[i], "POST", route(r, "secagg/unmask", p), r->pl[i].unmask, rows, NULL, NULL) == 200);
    }
    json_t *j = job_status(r->job, "failed", 30);
    const char *reason = json_string_value(json_object_get(j, "reason"));
    CHECK_MSG(reason && strstr(reason, "not retried"), "job %lld: %s (%s)", (long long)r->job,
              json_string_value(json_object_get(j, "state")), reason ? reason : "");
    json_decref(j);
    char audit[256];
    snprintf(audit, sizeof audit, "%s/audit.log", data);
    CHECK(count_lines(audit, "\"secagg.released\"") == 1);
    for (int i = 0; i < n; i++) {                 /* nobody is asked again */
        char *raw = NULL;
        int st = req(site[i], "GET", "/v1/site/task?wait=0", NULL, 0, &raw, &len);
        CHECK_MSG(st == 204, "site %d got a task after the failed release: %d %s", i, st, raw ? raw : "");
        free(raw);
    }
    free_round(r);
    free(r);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f) { return remove(p); }

int main(void)
{
    snprintf(base, sizeof base, "/tmp/gf-secround-XXXXXX");
    if (!mkdtemp(base)) { perror("mkdtemp"); return 1; }
    snprintf(pki, sizeof pki, "%s/pki", base);
    snprintf(data, sizeof data, "%s/data", base);
    char names[MAXN][16];
    const char *sites[MAXN];
    for (int i = 0; i < MAXN; i++) { snprintf(names[i], sizeof names[i], "s%d", i); sites[i] = names[i]; }
    CHECK_MSG(gf_pki_create(pki, "127.0.0.1", sites, MAXN) == GF_OK, "%s", gf_last_error());
    gf_coordinator_config cfg = { .data_dir = data, .tls_dir = pki, .listen_host = "127.0.0.1", .port = 0,
                                  .per_ip_connections = 4 * MAXN };   /* every site connects from 127.0.0.1 */
    gf_coordinator *co = NULL;
    CHECK_MSG(gf_coordinator_start(&cfg, &co) == GF_OK, "%s", gf_last_error());
    if (!co) return check_summary();
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", gf_coordinator_port(co));
    char dir[256];
    snprintf(dir, sizeof dir, "%s/operator", pki);
    CHECK(gf_https_client_open(dir, url, &op) == GF_OK);
    for (int i = 0; i < MAXN; i++) {
        snprintf(dir, sizeof dir, "%s/sites/s%d", pki, i);
        CHECK(gf_https_client_open(dir, url, &site[i]) == GF_OK);
        CHECK_MSG(gf_pki_signing_load(dir, ident[i].sk, ident[i].endorsement, ident[i].ca_pk) == GF_OK, "%s",
                  gf_last_error());
        CHECK(req(site[i], "GET", "/v1/site/task?wait=0", NULL, 0, NULL, NULL) == 204);   /* online */
    }
    gf_manifest man;
    CHECK(gf_manifest_from_spec(SPEC, &man) == GF_OK);
    d = man.d;
    gf_manifest_free(&man);

    /* a spec that cannot aggregate securely is refused up front */
    const char *krum = "{\"name\": \"k\", \"model\": \"" SPEC "\", \"dataset\": \"d\", \"strategy\": {\"name\": "
                       "\"krum\"}, \"rounds\": 1, \"min_sites\": 3, \"secure_aggregation\": {}}";
    char *raw = NULL;
    size_t len;
    CHECK(req(op, "POST", "/v1/jobs", krum, strlen(krum), &raw, &len) == 400 && strstr(raw, "masked sum"));
    free(raw);

    const char *only = getenv("GF_TEST_ONLY");      /* set: a short run (one_decliner, too_few: those alone) */
    int alone = only && (!strcmp(only, "one_decliner") || !strcmp(only, "too_few"));
    if (alone) {
        if (!strcmp(only, "one_decliner")) one_decliner();
        else too_few();
        goto out;
    }
    if (!getenv("GF_TEST_ONLY")) {
    scenario(10, 0, DROP_NONE, 0, "n = 10, no dropout");
    scenario(10, 2, DROP_BEFORE_KEYS, 0, "n = 10, 2 silent before keys");
    scenario(10, 2, DROP_BEFORE_SHARES, 1, "n = 10, 2 decline before shares");
    }
    scenario(10, 3, DROP_BEFORE_MASKED, 0, "n = 10, 3 silent before the masked upload");
    no_second_release();
    if (getenv("GF_TEST_ONLY")) goto out;
    scenario(10, 3, DROP_BEFORE_UNMASK, 0, "n = 10, 3 silent before unmasking");
    scenario(10, 3, DROP_BEFORE_MASKED, 1, "n = 10, 3 decline before the masked upload");
    scenario(100, 10, DROP_BEFORE_MASKED, 1, "n = 100, 10 decline before the masked upload");
    bad_messages();
    too_few();
    one_decliner();
out:

    for (int i = 0; i < MAXN; i++) gf_https_client_close(site[i]);
    gf_https_client_close(op);
    gf_coordinator_stop(co);
    char audit[256];
    snprintf(audit, sizeof audit, "%s/audit.log", data);
    int rejected = count_lines(audit, "\"update.rejected\"");
    CHECK_MSG(rejected >= 20 || alone, "%d update.rejected lines", rejected);
    gf_audit_summary sum;
    CHECK_MSG(gf_audit_verify(audit, &sum) == GF_OK, "%s", gf_last_error());
    if (!getenv("GF_TEST_KEEP")) nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_summary();
}
