/* The coordinator over real TLS, in-process: a job's round driven by hand
 * through the site API, and every kind of bad inbound message refused with
 * the right HTTP status, a clear message and an audit line, while the round
 * goes on and completes with the good updates (the aggregate checked against
 * a plain re-computation of FedAvg). Also the clients the TLS layer must
 * refuse: no certificate, a certificate from another CA, a revoked one.
 * And two races held open by test hooks: an upload between its decode and
 * its add, a cancel during a job's bring-up. */
#include <ftw.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>
#include "check.h"
#include "core/timer.h"
#include "site_client.h"
#include "curl_get.h"
#include "engine/model.h"
#include "fed/task.h"
#include "fed/update.h"
#include "io/safetensors.h"
#include "net/https_client.h"
#include "net/pki.h"
#include "io/audit.h"
#include "service/coordinator.h"
#include "service/coordinator_internal.h"
#include "service/tenants.h"

static char base[64], pki[128], other[128], data[128], url[128];

static gf_https_client *client(const char *kit)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/%s", pki, kit);
    gf_https_client *c = NULL;
    CHECK_MSG(gf_https_client_open(dir, url, &c) == GF_OK, "%s", gf_last_error());
    return c;
}

static int req_json(gf_https_client *c, const char *method, const char *path, const void *body, size_t len,
                    json_t **j)
{
    char *raw = NULL;
    size_t n;
    int st = req(c, method, path, body, len, &raw, &n);
    *j = raw ? json_loads(raw, 0, NULL) : NULL;
    free(raw);
    return st;
}

static const char *err_of(json_t *j)
{
    const char *s = json_string_value(json_object_get(j, "error"));
    return s ? s : "";
}

/* POST body as site c to round r's update; checks status and that the
 * message contains `words`. */
static void expect_refusal(const char *what, gf_https_client *c, int64_t job, int64_t round, const void *body,
                           size_t len, int want, const char *words)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/%lld/update", (long long)job, (long long)round);
    json_t *j = NULL;
    int st = req_json(c, "POST", path, body, len, &j);
    CHECK_MSG(st == want && strstr(err_of(j), words), "%s: HTTP %d (want %d): %s", what, st, want, err_of(j));
    json_decref(j);
}

static gf_manifest man;

/* vec (d) as an update body with the given sample count (NULL: no metadata). */
/* A coordinator of its own in base/NAME (dir), default settings; url is
 * its address. NULL (a failed check) when it does not start. */
static gf_coordinator *start_plain(const char *name, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/%s", base, name);
    gf_coordinator_config cfg = { .data_dir = dir, .tls_dir = pki, .listen_host = "127.0.0.1", .port = 0 };
    gf_coordinator *co = NULL;
    CHECK_MSG(gf_coordinator_start(&cfg, &co) == GF_OK, "%s", gf_last_error());
    if (co) snprintf(url, sizeof url, "https://127.0.0.1:%d/", gf_coordinator_port(co));
    return co;
}

static uint8_t *encode(const float *vec, const char *samples, size_t *len)
{
    gf_st_meta meta[] = { { "gf.samples", samples ? samples : "" }, { "gf.steps", "1" },
                          { "gf.train_loss", "0.5" }, { "gf.val_accuracy", "0.75" } };
    uint8_t *buf = NULL;
    CHECK(gf_update_encode(&man, vec, samples ? meta : meta + 1, samples ? 4 : 3, &buf, len) == GF_OK);
    return buf;
}

/* vec (d) as an update body whose "gf.dpsgd_epsilon" is eps. */
static uint8_t *encode_eps(const float *vec, const char *eps, size_t *len)
{
    gf_st_meta meta[] = { { "gf.samples", "30" }, { "gf.steps", "1" }, { "gf.dpsgd_epsilon", eps } };
    uint8_t *buf = NULL;
    CHECK(gf_update_encode(&man, vec, meta, 3, &buf, len) == GF_OK);
    return buf;
}

/* The tensors of vec with one change: drop tensor `drop`, add an extra one,
 * or give tensor 0 a wrong shape. */
static uint8_t *encode_altered(const float *vec, int drop, int extra, int bad_shape, size_t *len)
{
    gf_st_tensor t[16];
    int n = 0;
    for (int k = 0; k < man.n; k++) {
        if (k == drop) continue;
        t[n] = (gf_st_tensor){ .name = man.e[k].name, .ndim = man.e[k].ndim, .data = vec + man.e[k].offset };
        memcpy(t[n].shape, man.e[k].shape, sizeof man.e[k].shape);
        if (bad_shape && k == 0) { t[n].shape[0] = man.e[k].shape[1]; t[n].shape[1] = man.e[k].shape[0]; }
        n++;
    }
    if (extra) t[n++] = (gf_st_tensor){ .name = "9.weight", .ndim = 1, .shape = {4}, .data = vec };
    gf_st_meta meta[] = { { "gf.samples", "10" }, { "gf.steps", "1" } };
    uint8_t *buf = NULL;
    CHECK(gf_st_encode(t, n, meta, 2, &buf, len) == GF_OK);
    return buf;
}

/* A GET with libcurl directly: any key/cert (or none), our CA. */
static long raw_get(const char *path, const char *key, const char *crt, char *body, size_t cap)
{
    char ca[256], u[256];
    snprintf(ca, sizeof ca, "%s/%s", pki, GF_PKI_COORD_CA);
    snprintf(u, sizeof u, "%s%s", url, path + 1);
    CURLcode rc;
    long code = curl_get(u, ca, key, crt, &rc, body, cap);
    return rc == CURLE_OK ? code : -1;
}

/* A task poll on a thread of its own: its status and round. */
typedef struct { gf_https_client *c; const char *path; int status; int64_t round; } poll_call;
static void *poll_thread(void *arg)
{
    poll_call *p = arg;
    json_t *j = NULL;
    p->status = req_json(p->c, "GET", p->path, NULL, 0, &j);
    p->round = json_integer_value(json_object_get(j, "round"));
    json_decref(j);
    return NULL;
}

static void test_tls_refusals(void)
{
    char out[1024], key[256], crt[256];
    long code = raw_get("/v1/site/task?wait=0", NULL, NULL, out, sizeof out);
    CHECK_MSG(code == 401 && strstr(out, "authentication required"), "no certificate, no token -> %ld %s", code, out);
    snprintf(key, sizeof key, "%s/sites/a/site.key", other);
    snprintf(crt, sizeof crt, "%s/sites/a/site.crt", other);
    code = raw_get("/v1/site/task?wait=0", key, crt, out, sizeof out);
    CHECK_MSG(code == 403 && strstr(out, "not trusted"), "other CA -> %ld %s", code, out);
    CHECK(gf_pki_revoke(pki, "c") == GF_OK);
    snprintf(key, sizeof key, "%s/sites/c/site.key", pki);
    snprintf(crt, sizeof crt, "%s/sites/c/site.crt", pki);
    code = raw_get("/v1/site/task?wait=0", key, crt, out, sizeof out);
    CHECK_MSG(code == 403 && strstr(out, "revoked"), "revoked -> %ld %s", code, out);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f) { return remove(p); }

/* POST body to path as client c; the status, and the answer's "id" or error text in *id / msg. */
static int post(gf_https_client *c, const char *path, const char *body, int64_t *id, char *msg, size_t cap)
{
    json_t *j = NULL;
    int st = req_json(c, "POST", path, body, strlen(body), &j);
    if (id) *id = json_integer_value(json_object_get(j, "id"));
    if (msg) snprintf(msg, cap, "%s", err_of(j));
    json_decref(j);
    return st;
}

/* A federated spec: model, strategy, sites ("all" or a list of n names). */
static void fed_spec(char *out, size_t cap, const char *name, const char *model, const char *strategy, int nsites)
{
    int n = snprintf(out, cap, "{\"name\": \"%s\", \"model\": \"%s\", \"dataset\": \"fashion-mnist\", "
                     "\"strategy\": {\"name\": \"%s\"}, \"rounds\": 2, \"sites\": ", name, model, strategy);
    if (!nsites) n += snprintf(out + n, cap - (size_t)n, "\"all\"");
    for (int i = 0; i < nsites; i++) n += snprintf(out + n, cap - (size_t)n, "%s\"s%d\"", i ? ", " : "[", i);
    snprintf(out + n, cap - (size_t)n, "%s}", nsites ? "]" : "");
}

/* Waits (bounded) until job id is in `state`; returns whether it got there, its reason in reason. */
static int wait_state(gf_https_client *c, int64_t id, const char *state, char *reason, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld", (long long)id);
    for (int i = 0; i < 600; i++) {     /* up to 60 s: generous on a loaded machine */
        json_t *j = NULL;
        int st = req_json(c, "GET", path, NULL, 0, &j);
        const char *s = json_string_value(json_object_get(j, "state"));
        int there = st == 200 && s && !strcmp(s, state);
        if (reason) snprintf(reason, cap, "%s", json_string_value(json_object_get(j, "reason")) ?
                                                json_string_value(json_object_get(j, "reason")) : "");
        json_decref(j);
        if (there) return 1;
        usleep(100 * 1000);
    }
    return 0;
}

/* The operator's caps on federated jobs: a model over --max-model-params
 * parameters, or whose runtime would hold more than 64 bytes per allowed
 * parameter on the coordinator (a robust strategy buffers one model per
 * site), is refused at submission with 400 naming the cap; a tenant's
 * queued + running federated jobs are capped (operators exempt, other
 * tenants unaffected, a cancelled job frees its slot); and a job admitted
 * under a higher cap fails at bring-up after a restart with a lower one. */
static void test_caps(void)
{
    char dir[160], spec[1024], msg[600];
    snprintf(dir, sizeof dir, "%s/caps", base);
    gf_coordinator_config cfg = { .data_dir = dir, .tls_dir = pki, .listen_host = "127.0.0.1", .port = 0,
                                  .max_model_params = 10000, .max_fed_jobs_per_tenant = 2 };
    gf_coordinator *co = NULL;
    CHECK_MSG(gf_coordinator_start(&cfg, &co) == GF_OK, "%s", gf_last_error());
    if (!co) return;
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", gf_coordinator_port(co));
    gf_https_client *op = client("operator");
    int64_t id = 0, a1 = 0, kept = 0;

    /* mlp:784-12-10 has 784*12+12 + 12*10+10 = 9550 parameters, mlp:784-13-10 10345 */
    fed_spec(spec, sizeof spec, "big", "mlp:784-13-10", "fedavg", 0);
    int st = post(op, "/v1/jobs", spec, &id, msg, sizeof msg);
    CHECK_MSG(st == 400 && strstr(msg, "10345 parameters") && strstr(msg, "limit of 10000") &&
              strstr(msg, "--max-model-params"), "model over the cap -> %d %s", st, msg);
    /* 9550 parameters but median over 12 sites: 12 models on the coordinator, over 64 x 10000 bytes */
    fed_spec(spec, sizeof spec, "wide", "mlp:784-12-10", "median", 12);
    st = post(op, "/v1/jobs", spec, &id, msg, sizeof msg);
    CHECK_MSG(st == 400 && strstr(msg, "MB") && strstr(msg, "median") && strstr(msg, "--max-model-params"),
              "robust strategy over the memory cap -> %d %s", st, msg);
    fed_spec(spec, sizeof spec, "wide", "mlp:784-12-10", "fedavg", 12);   /* the same as a sum: O(1) buffers */
    st = post(op, "/v1/jobs", spec, &kept, msg, sizeof msg);
    CHECK_MSG(st == 201, "fedavg over 12 sites at 9550 parameters -> %d %s", st, msg);
    /* a model whose one-sample build is huge while its parameters are few */
    fed_spec(spec, sizeof spec, "acts", "seq:1x10000x10000-conv1k1-maxpool1000-flatten-linear2", "fedavg", 0);
    st = post(op, "/v1/jobs", spec, &id, msg, sizeof msg);
    CHECK_MSG(st == 400 && strstr(msg, "MB"), "small model, huge activations -> %d %s", st, msg);

    /* tenants and their members */
    CHECK(post(op, "/v1/tenants", "{\"name\": \"acme\", \"shares\": 1}", NULL, NULL, 0) == 201);
    CHECK(post(op, "/v1/tenants", "{\"name\": \"beta\", \"shares\": 1}", NULL, NULL, 0) == 201);
    /* "sites": "all" of a tenant's job means its granted sites: one each */
    for (int t = 0; t < 2; t++) {
        char body[96];
        snprintf(body, sizeof body, "{\"site\": \"a\", \"tenant\": \"%s\"}", t ? "beta" : "acme");
        st = post(op, "/v1/site-grants", body, NULL, msg, sizeof msg);
        CHECK_MSG(st == 201, "grant a to tenant %d -> %d %s", t, st, msg);
    }
    char tok_a[128] = "", tok_b[128] = "", ca[200];
    const char *tenants[2] = { "acme", "beta" };
    char *toks[2] = { tok_a, tok_b };
    for (int t = 0; t < 2; t++) {
        char body[96];
        json_t *j = NULL;
        snprintf(body, sizeof body, "{\"tenant\": \"%s\"}", tenants[t]);
        CHECK(req_json(op, "POST", "/v1/tokens", body, strlen(body), &j) == 201);
        snprintf(toks[t], 128, "%s", json_string_value(json_object_get(j, "token")) ?
                                     json_string_value(json_object_get(j, "token")) : "");
        json_decref(j);
    }
    snprintf(ca, sizeof ca, "%s/coordinator/ca.crt", pki);
    gf_https_client *ma = NULL, *mb = NULL;
    CHECK(gf_https_client_open_token(ca, url, tok_a, &ma) == GF_OK);
    CHECK(gf_https_client_open_token(ca, url, tok_b, &mb) == GF_OK);
    if (!ma || !mb) { gf_https_client_close(op); gf_coordinator_stop(co); return; }
    fed_spec(spec, sizeof spec, "m1", "mlp:784-12-10", "fedavg", 0);
    st = post(ma, "/v1/jobs", spec, &a1, msg, sizeof msg);
    CHECK_MSG(st == 201, "acme's first job -> %d %s", st, msg);
    st = post(ma, "/v1/jobs", spec, &id, msg, sizeof msg);
    CHECK_MSG(st == 201, "acme's second job -> %d %s", st, msg);
    fed_spec(spec, sizeof spec, "m3", "mlp:784-12-10", "fedavg", 0);
    st = post(ma, "/v1/jobs", spec, &id, msg, sizeof msg);
    CHECK_MSG(st == 400 && strstr(msg, "acme") && strstr(msg, "already has 2") &&
              strstr(msg, "--max-fed-jobs-per-tenant"), "acme's third job -> %d %s", st, msg);
    st = post(mb, "/v1/jobs", spec, &id, msg, sizeof msg);
    CHECK_MSG(st == 201, "beta's first job -> %d %s", st, msg);
    fed_spec(spec, sizeof spec, "m3", "mlp:784-13-10", "fedavg", 0);   /* members get the model cap too */
    st = post(mb, "/v1/jobs", spec, &id, msg, sizeof msg);
    CHECK_MSG(st == 400 && strstr(msg, "--max-model-params"), "beta's big model -> %d %s", st, msg);
    fed_spec(spec, sizeof spec, "op-for-acme", "mlp:784-12-10", "fedavg", 0);
    snprintf(spec + strlen(spec) - 1, 64, ", \"tenant\": \"acme\"}");
    st = post(op, "/v1/jobs", spec, &id, msg, sizeof msg);
    CHECK_MSG(st == 201, "the operator's job for acme is not capped -> %d %s", st, msg);
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld/cancel", (long long)a1);
    CHECK(post(ma, path, "", NULL, NULL, 0) == 200);
    CHECK(wait_state(op, a1, "cancelled", NULL, 0));
    fed_spec(spec, sizeof spec, "m4", "mlp:784-12-10", "fedavg", 0);
    st = post(ma, "/v1/jobs", spec, &id, msg, sizeof msg);
    CHECK_MSG(st == 400 && strstr(msg, "already has 2"), "acme, its slot still taken by the operator's job -> %d %s",
              st, msg);
    gf_https_client_close(ma);
    gf_https_client_close(mb);
    CHECK(wait_state(op, kept, "running", msg, sizeof msg));
    gf_https_client_close(op);
    gf_coordinator_stop(co);

    /* restarted with a lower cap: the running 9550-parameter job fails at bring-up, saying why */
    cfg.max_model_params = 9000;
    co = NULL;
    CHECK_MSG(gf_coordinator_start(&cfg, &co) == GF_OK, "%s", gf_last_error());
    if (!co) return;
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", gf_coordinator_port(co));
    op = client("operator");
    int failed = wait_state(op, kept, "failed", msg, sizeof msg);
    CHECK_MSG(failed && strstr(msg, "9550 parameters") && strstr(msg, "--max-model-params"),
              "job %lld after the restart: %s", (long long)kept, msg);
    gf_https_client_close(op);
    gf_coordinator_stop(co);
}

/* Restart with more running federated jobs than the old fixed list of 64:
 * every one of them is brought back into memory (white-box: the
 * coordinator's job table). */
static void test_restart_many(void)
{
    char dir[160], spec[1024], msg[600];
    gf_coordinator *co = start_plain("many", dir, sizeof dir);
    if (!co) return;
    gf_https_client *op = client("operator");
    enum { NJOBS = 70 };
    int64_t last = 0;
    for (int i = 0; i < NJOBS; i++) {
        char name[32];
        snprintf(name, sizeof name, "many-%d", i);
        fed_spec(spec, sizeof spec, name, "mlp:4-3", "fedavg", 0);
        int st = post(op, "/v1/jobs", spec, &last, msg, sizeof msg);
        CHECK_MSG(st == 201, "job %d -> %d %s", i, st, msg);
    }
    CHECK(wait_state(op, last, "running", msg, sizeof msg));
    gf_https_client_close(op);
    gf_coordinator_stop(co);

    if (!(co = start_plain("many", dir, sizeof dir))) return;   /* the same folder, restarted */
    pthread_mutex_lock(&co->lock);
    int n = co->njobs;
    pthread_mutex_unlock(&co->lock);
    CHECK_MSG(n == NJOBS, "after the restart %d of %d running federated jobs are in memory", n, NJOBS);
    gf_coordinator_stop(co);
}

/* The upload route holds the coordinator's lock only to check the site may
 * answer and to add the checked update: while one upload is held between
 * its decode and the add (the test hook), the same site's decline and an
 * operator's status request (both take the lock) complete; then the held
 * upload re-checks under the lock and is refused, the site having declined
 * meanwhile. With the lock held across the decode, the decline would wait
 * for the hook and the hook gives up after 30 s: the checks below fail. */
/* A test hook's gate: the hook says it got there and waits (30 s at most)
 * for the test to let it go. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             reached, go, gave_up;
} hook_gate;

static void gate_hook(void *arg)
{
    hook_gate *g = arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&g->mu);
    g->reached = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->go && pthread_cond_timedwait(&g->cv, &g->mu, &until) == 0) {}
    g->gave_up = !g->go;
    pthread_mutex_unlock(&g->mu);
}

/* Waits (30 s at most) until the hook got there; whether it did. */
static int gate_wait_reached(hook_gate *g)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&g->mu);
    while (!g->reached && pthread_cond_timedwait(&g->cv, &g->mu, &until) == 0) {}
    int reached = g->reached;
    pthread_mutex_unlock(&g->mu);
    return reached;
}

typedef struct {
    const char *path;
    const uint8_t *body;
    size_t len;
    int status;
    char msg[512];
} upload_call;

static void *upload_thread(void *arg)
{
    upload_call *u = arg;
    gf_https_client *a = client("sites/a");
    json_t *j = NULL;
    u->status = req_json(a, "POST", u->path, u->body, u->len, &j);
    snprintf(u->msg, sizeof u->msg, "%s", err_of(j));
    json_decref(j);
    gf_https_client_close(a);
    return NULL;
}

static void test_upload_unlocked(void)
{
    char dir[160], msg[600], path[96];
    gf_coordinator *co = start_plain("unlocked", dir, sizeof dir);
    if (!co) return;
    gf_https_client *op = client("operator"), *a = client("sites/a"), *b = client("sites/b");
    const char *spec = "{\"name\": \"u\", \"model\": \"mlp:784-8-10\", \"dataset\": \"fashion-mnist\","
                       " \"strategy\": {\"name\": \"fedavg\"}, \"rounds\": 1, \"sites\": [\"a\", \"b\"],"
                       " \"min_sites\": 2, \"round_deadline_s\": 120, \"seed\": 3}";
    int64_t job = 0;
    int st = post(op, "/v1/jobs", spec, &job, msg, sizeof msg);
    CHECK_MSG(st == 201, "submit -> %d %s", st, msg);
    CHECK(req(a, "GET", "/v1/site/task?wait=0", NULL, 0, NULL, NULL) == 204);
    CHECK(req(b, "GET", "/v1/site/task?wait=0", NULL, 0, NULL, NULL) == 204);
    CHECK(req(a, "GET", "/v1/site/task?wait=10", NULL, 0, NULL, NULL) == 200);   /* round 1 is open */

    hook_gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    pthread_mutex_lock(&co->lock);
    co->upload_hook_arg = &g;
    co->upload_decoded_hook = gate_hook;
    pthread_mutex_unlock(&co->lock);
    float *upd = calloc((size_t)man.d, sizeof(float));
    for (int64_t i = 0; i < man.d; i++) upd[i] = (float)(i % 3) * 1e-3f;
    size_t len;
    uint8_t *body = encode(upd, "20", &len);
    snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/1/update", (long long)job);
    upload_call u = { .path = path, .body = body, .len = len };
    pthread_t t;
    CHECK(pthread_create(&t, NULL, upload_thread, &u) == 0);
    int decoded = gate_wait_reached(&g);
    CHECK_MSG(decoded, "the upload never reached its decoded state");

    /* the upload is held after its decode: routes that take the lock still answer */
    char dpath[96], spath[64];
    snprintf(dpath, sizeof dpath, "/v1/jobs/%lld/rounds/1/decline", (long long)job);
    snprintf(spath, sizeof spath, "/v1/jobs/%lld", (long long)job);
    const char *why = "{\"error\": \"changed its mind\"}";
    int dst = req(a, "POST", dpath, why, strlen(why), NULL, NULL);
    int sst = req(op, "GET", spath, NULL, 0, NULL, NULL);
    pthread_mutex_lock(&g.mu);
    int still_held = !g.gave_up && g.reached;
    g.go = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    CHECK_MSG(dst == 200 && sst == 200 && still_held,
              "while an upload was between decode and add: decline -> %d, status -> %d, upload still held: %d",
              dst, sst, still_held);
    pthread_join(t, NULL);
    /* the held upload re-checked the round under the lock: its site declined meanwhile */
    CHECK_MSG(u.status == 409 && strstr(u.msg, "already declined"), "held upload -> %d %s", u.status, u.msg);

    pthread_mutex_lock(&co->lock);
    co->upload_decoded_hook = NULL;
    pthread_mutex_unlock(&co->lock);
    /* and an upload without the hook still goes through */
    CHECK(req(b, "POST", path, body, len, NULL, NULL) == 200);
    free(body);
    free(upd);
    gf_https_client_close(op);
    gf_https_client_close(a);
    gf_https_client_close(b);
    gf_coordinator_stop(co);
}

/* The coordinator's log lines (cfg.log takes no context: one buffer, for
 * the test below; a full buffer keeps its first lines). */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 16];
static size_t log_len;

static void log_keep(const char *line)
{
    size_t n = strlen(line);
    pthread_mutex_lock(&log_mu);
    if (log_len + n + 2 < sizeof log_text) {
        memcpy(log_text + log_len, line, n);
        log_len += n;
        log_text[log_len++] = '\n';
        log_text[log_len] = 0;
    }
    pthread_mutex_unlock(&log_mu);
}

static int log_has(const char *needle)
{
    pthread_mutex_lock(&log_mu);
    int has = strstr(log_text, needle) != NULL;
    pthread_mutex_unlock(&log_mu);
    return has;
}

typedef struct {
    hook_gate g;
    int64_t   job;     /* the job whose bring-up reached the hook */
} bringup_gate;

static void bringup_hook(void *arg, int64_t job)
{
    bringup_gate *b = arg;
    pthread_mutex_lock(&b->g.mu);
    b->job = job;
    pthread_mutex_unlock(&b->g.mu);
    gate_hook(&b->g);
}

/* A cancel while a federated job is being brought up: the store says
 * running, the runtime is being built without the lock (the test hook holds
 * the bring-up there). The cancel answers 200 "cancelled"; the bring-up,
 * re-checking the store under the lock, drops the runtime: the job is not
 * among the running ones, no round is tried for it, the sites get no task,
 * status says cancelled with no rounds, and the next job runs. Without the
 * re-check the job stays in memory, its round failing to open on every pass
 * of the driver ("cannot open round: ... is cancelled, not running"): the
 * checks below fail. */
static void test_cancel_during_bringup(void)
{
    char dir[160], msg[600], path[96], line[128];
    snprintf(dir, sizeof dir, "%s/bringup", base);
    gf_coordinator_config cfg = { .data_dir = dir, .tls_dir = pki, .listen_host = "127.0.0.1", .port = 0,
                                  .log = log_keep };
    gf_coordinator *co = NULL;
    CHECK_MSG(gf_coordinator_start(&cfg, &co) == GF_OK, "%s", gf_last_error());
    if (!co) return;
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", gf_coordinator_port(co));
    gf_https_client *op = client("operator"), *a = client("sites/a"), *b = client("sites/b");
    /* both sites online: a job in memory has its round 1 opened at once */
    CHECK(req(a, "GET", "/v1/site/task?wait=0", NULL, 0, NULL, NULL) == 204);
    CHECK(req(b, "GET", "/v1/site/task?wait=0", NULL, 0, NULL, NULL) == 204);

    bringup_gate bg = { { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 }, 0 };
    pthread_mutex_lock(&co->lock);
    co->bringup_hook_arg = &bg;
    co->bringup_built_hook = bringup_hook;
    pthread_mutex_unlock(&co->lock);
    const char *spec = "{\"name\": \"bu\", \"model\": \"mlp:784-8-10\", \"dataset\": \"fashion-mnist\","
                       " \"strategy\": {\"name\": \"fedavg\"}, \"rounds\": 1, \"sites\": [\"a\", \"b\"],"
                       " \"min_sites\": 2, \"round_deadline_s\": 120, \"seed\": 5}";
    int64_t job = 0;
    int st = post(op, "/v1/jobs", spec, &job, msg, sizeof msg);
    CHECK_MSG(st == 201, "submit -> %d %s", st, msg);
    int reached = gate_wait_reached(&bg.g);
    pthread_mutex_lock(&bg.g.mu);
    int64_t held = bg.job;
    pthread_mutex_unlock(&bg.g.mu);
    CHECK_MSG(reached && held == job, "the bring-up of job %lld never reached its hook (held: %lld)",
              (long long)job, (long long)held);

    /* held in the window: the store says running; the operator cancels */
    json_t *j = NULL;
    snprintf(path, sizeof path, "/v1/jobs/%lld", (long long)job);
    st = req_json(op, "GET", path, NULL, 0, &j);
    const char *s = json_string_value(json_object_get(j, "state"));
    CHECK_MSG(st == 200 && s && !strcmp(s, "running"), "held job's status -> %d %s", st, s ? s : "(none)");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/jobs/%lld/cancel", (long long)job);
    st = req_json(op, "POST", path, NULL, 0, &j);
    s = json_string_value(json_object_get(j, "state"));
    CHECK_MSG(st == 200 && s && !strcmp(s, "cancelled"), "cancel during the bring-up -> %d %s %s", st,
              s ? s : "", err_of(j));
    json_decref(j);
    pthread_mutex_lock(&bg.g.mu);
    int still_held = !bg.g.gave_up;
    bg.g.go = 1;
    pthread_cond_broadcast(&bg.g.cv);
    pthread_mutex_unlock(&bg.g.mu);
    CHECK_MSG(still_held, "the bring-up gave up waiting before the cancel answered");

    /* the bring-up ends with one of its two log lines */
    char stopped[96], ran[96];
    snprintf(stopped, sizeof stopped, "job %lld stopped while it was being brought up", (long long)job);
    snprintf(ran, sizeof ran, "job %lld \"bu\" running", (long long)job);
    for (int i = 0; i < 600 && !log_has(stopped) && !log_has(ran); i++) usleep(50 * 1000);
    CHECK_MSG(log_has(stopped) && !log_has(ran), "after the cancel, the bring-up logged: stopped %d, running %d",
              log_has(stopped), log_has(ran));
    pthread_mutex_lock(&co->lock);
    co->bringup_built_hook = NULL;
    int in_memory = co_job_find(co, job) != NULL;
    pthread_mutex_unlock(&co->lock);
    CHECK_MSG(!in_memory, "job %lld, cancelled during its bring-up, is among the coordinator's running jobs",
              (long long)job);
    /* no task for the sites (a's 1 s long-poll spans about 20 passes of the driver), no round tried */
    CHECK(req(a, "GET", "/v1/site/task?wait=1", NULL, 0, NULL, NULL) == 204);
    CHECK(req(b, "GET", "/v1/site/task?wait=0", NULL, 0, NULL, NULL) == 204);
    snprintf(line, sizeof line, "job %lld: cannot open round", (long long)job);
    CHECK_MSG(!log_has(line), "the driver tried to open a round of the cancelled job %lld", (long long)job);
    /* store and status: cancelled by the operator, no rounds, no current round */
    gf_store_job sj;
    CHECK(gf_store_job_get(co->store, job, &sj) == GF_OK);
    CHECK_MSG(sj.state == GF_STORE_JOB_CANCELLED && strstr(sj.reason, "cancelled by the operator"),
              "stored: %s (%s)", gf_store_job_state_name(sj.state), sj.reason);
    gf_store_job_free(&sj);
    snprintf(path, sizeof path, "/v1/jobs/%lld", (long long)job);
    st = req_json(op, "GET", path, NULL, 0, &j);
    s = json_string_value(json_object_get(j, "state"));
    CHECK_MSG(st == 200 && s && !strcmp(s, "cancelled") && json_array_size(json_object_get(j, "rounds")) == 0 &&
              !json_object_get(j, "current") && json_integer_value(json_object_get(j, "round")) == 0,
              "status after the cancel -> %d %s", st, s ? s : "(none)");
    json_decref(j);

    /* the next job runs: its round 1 goes to the sites */
    int64_t next = 0;
    st = post(op, "/v1/jobs", spec, &next, msg, sizeof msg);
    CHECK_MSG(st == 201, "next submit -> %d %s", st, msg);
    st = req_json(a, "GET", "/v1/site/task?wait=10", NULL, 0, &j);
    CHECK_MSG(st == 200 && json_integer_value(json_object_get(j, "job")) == next &&
              json_integer_value(json_object_get(j, "round")) == 1, "next job's task -> %d (job %lld)", st,
              (long long)json_integer_value(json_object_get(j, "job")));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/jobs/%lld/cancel", (long long)next);
    CHECK(req(op, "POST", path, NULL, 0, NULL, NULL) == 200);
    gf_https_client_close(op);
    gf_https_client_close(a);
    gf_https_client_close(b);
    gf_coordinator_stop(co);
}

/* The OpenMP threads that the driver thread (closing a round) and a request
 * thread (adding an upload) would use, seen from the test hooks there. */
typedef struct { hook_gate g; int driver, request; } gate_threads;
static void record_threads_hook(void *arg)
{
    gate_threads *t = arg;
    t->driver = omp_get_max_threads();
    gate_hook(&t->g);
}
static void upload_threads_hook(void *arg) { ((gate_threads *)arg)->request = omp_get_max_threads(); }

/* When a round's next model is handed out. Its writes (checkpoint, store,
 * audit) are held open by a test hook on the driver thread. A plain job's
 * next round is offered meanwhile (its downloads overlap the writes); a DP
 * job's is not: its new model is a release that the budget counts once the
 * round is on disk, so a site gets nothing until the writes are done. The
 * plain job's coordinator runs with --aggregation-threads 3: the threads
 * that aggregate use 3 (OpenMP's setting is per thread; not this machine's
 * default). */
static void release_case(const char *name, int dp)
{
    char dir[160], spec[512], msg[600], path[96];
    snprintf(dir, sizeof dir, "%s/release-%s", base, name);
    gf_coordinator_config cfg = { .data_dir = dir, .tls_dir = pki, .listen_host = "127.0.0.1", .port = 0,
                                  .aggregation_threads = dp ? 0 : 3 };
    gf_coordinator *co = NULL;
    CHECK_MSG(gf_coordinator_start(&cfg, &co) == GF_OK, "%s", gf_last_error());
    if (!co) return;
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", gf_coordinator_port(co));
    gf_https_client *op = client("operator"), *a = client("sites/a"), *b = client("sites/b");
    snprintf(spec, sizeof spec, "{\"name\": \"%s\", \"model\": \"mlp:784-8-10\", \"dataset\": \"fashion-mnist\","
             " \"strategy\": {\"name\": \"fedavg\"}, \"rounds\": 2, \"sites\": [\"a\", \"b\"],"
             " \"min_sites\": 2, \"round_deadline_s\": 120, \"seed\": 5%s}", name,
             dp ? ", \"dp\": {\"clip\": 1, \"noise\": 0.5}" : "");
    int64_t job = 0;
    int st = post(op, "/v1/jobs", spec, &job, msg, sizeof msg);
    CHECK_MSG(st == 201, "%s: submit -> %d %s", name, st, msg);
    CHECK(req(a, "GET", "/v1/site/task?wait=0", NULL, 0, NULL, NULL) == 204);
    CHECK(req(b, "GET", "/v1/site/task?wait=10", NULL, 0, NULL, NULL) == 200);   /* round 1 is open */
    CHECK(req(a, "GET", "/v1/site/task?wait=10", NULL, 0, NULL, NULL) == 200);

    gate_threads t = { { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 }, 0, 0 };
    hook_gate *gp = &t.g;
    pthread_mutex_lock(&co->lock);
    co->record_hook_arg = co->upload_hook_arg = &t;
    co->record_hook = record_threads_hook;
    co->upload_decoded_hook = upload_threads_hook;
    pthread_mutex_unlock(&co->lock);
    float *upd = calloc((size_t)man.d, sizeof(float));
    for (int64_t i = 0; i < man.d; i++) upd[i] = (float)(i % 5) * 1e-4f;
    size_t len;
    uint8_t *body = encode(upd, "20", &len);
    snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/1/update", (long long)job);
    CHECK(req(a, "POST", path, body, len, NULL, NULL) == 200);
    CHECK(req(b, "POST", path, body, len, NULL, NULL) == 200);
    int held = gate_wait_reached(gp);
    CHECK_MSG(held, "%s: round 1 closed but its writes never started", name);

    /* round 1's writes are held: is round 2 offered? */
    json_t *j = NULL;
    int during = req_json(a, "GET", "/v1/site/task?wait=2", NULL, 0, &j);
    int64_t round = json_integer_value(json_object_get(j, "round"));
    json_decref(j);
    pthread_mutex_lock(&gp->mu);
    int still_held = !gp->gave_up;
    gp->go = 1;
    pthread_cond_broadcast(&gp->cv);
    pthread_mutex_unlock(&gp->mu);
    CHECK_MSG(still_held, "%s: the hook gave up", name);
    if (dp) CHECK_MSG(during == 204, "DP job: round 2 offered (%d, round %lld) before round 1 was on disk", during,
                      (long long)round);
    else CHECK_MSG(during == 200 && round == 2, "plain job: round 2 not offered while round 1 is written: %d", during);
    /* once written, the DP job's round 2 opens too */
    j = NULL;
    if (dp) {
        st = req_json(a, "GET", "/v1/site/task?wait=10", NULL, 0, &j);
        CHECK_MSG(st == 200 && json_integer_value(json_object_get(j, "round")) == 2, "DP job after the writes: %d", st);
        json_decref(j);
    }
    pthread_mutex_lock(&co->lock);
    co->record_hook = NULL;
    co->upload_decoded_hook = NULL;
    pthread_mutex_unlock(&co->lock);
    if (!dp) CHECK_MSG(t.driver == 3 && t.request == 3, "--aggregation-threads 3: the driver uses %d threads, a "
                       "request thread %d", t.driver, t.request);
    free(body);
    free(upd);
    gf_https_client_close(op);
    gf_https_client_close(a);
    gf_https_client_close(b);
    gf_coordinator_stop(co);
}

static void test_release_after_record(void)
{
    release_case("plain", 0);
    release_case("dp", 1);
}

/* Storage slower than the rounds: round 1's record is held open (a test
 * hook on the recorder's thread) while rounds 2 and 3 run. The rounds go
 * on meanwhile; once released, rounds 2 and 3 are written together (group
 * commit): one checkpoint, round 3's, holding the very model the sites got
 * with round 4's task; the store has every round completed, with its sites
 * and its own opening and closing times in order; the audit log has each
 * round's completion and the next one's opening, in order, and verifies. */
static int round_state(gf_https_client *op, int64_t job, int64_t round, json_t **rounds)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld", (long long)job);
    json_t *j = NULL;
    int done = 0;
    if (req_json(op, "GET", path, NULL, 0, &j) == 200) {
        json_t *r = json_object_get(j, "rounds");
        done = (int)json_array_size(r) >= round;
        if (rounds) *rounds = json_incref(r);
    }
    json_decref(j);
    return done;
}

static void test_group_commit(void)
{
    char dir[160], spec[512], msg[600], path[128], file[256];
    gf_coordinator *co = start_plain("group", dir, sizeof dir);
    if (!co) return;
    gf_https_client *op = client("operator"), *a = client("sites/a"), *b = client("sites/b");
    snprintf(spec, sizeof spec, "{\"name\": \"group\", \"model\": \"mlp:784-8-10\", \"dataset\": \"fashion-mnist\","
             " \"strategy\": {\"name\": \"fedavg\"}, \"rounds\": 4, \"sites\": [\"a\", \"b\"],"
             " \"min_sites\": 2, \"round_deadline_s\": 120, \"seed\": 5}");
    int64_t job = 0;
    int st = post(op, "/v1/jobs", spec, &job, msg, sizeof msg);
    CHECK_MSG(st == 201, "group: submit -> %d %s", st, msg);
    CHECK(req(a, "GET", "/v1/site/task?wait=0", NULL, 0, NULL, NULL) == 204);   /* a is seen */
    CHECK(req(b, "GET", "/v1/site/task?wait=10", NULL, 0, NULL, NULL) == 200);  /* round 1 opens */
    CHECK(req(a, "GET", "/v1/site/task?wait=10", NULL, 0, NULL, NULL) == 200);

    hook_gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    pthread_mutex_lock(&co->lock);
    co->record_hook_arg = &g;
    co->record_hook = gate_hook;
    pthread_mutex_unlock(&co->lock);
    float *upd = calloc((size_t)man.d, sizeof(float));
    uint8_t *round4 = NULL;                 /* the model handed out with round 4 (round 3's) */
    size_t round4_len = 0;
    for (int r = 1; r <= 3; r++) {
        for (int64_t i = 0; i < man.d; i++) upd[i] = (float)((i + r) % 7) * 1e-3f * (float)r;
        size_t len;
        uint8_t *body = encode(upd, "10", &len);
        snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/%d/update", (long long)job, r);
        CHECK(req(a, "POST", path, body, len, NULL, NULL) == 200);
        CHECK(req(b, "POST", path, body, len, NULL, NULL) == 200);
        free(body);
        if (r == 1) CHECK_MSG(gate_wait_reached(&g), "group: round 1's record never started");
        /* the next round is offered while round 1's record is held */
        json_t *t = NULL;
        st = req_json(a, "GET", "/v1/site/task?wait=10", NULL, 0, &t);
        CHECK_MSG(st == 200 && json_integer_value(json_object_get(t, "round")) == r + 1,
                  "group: round %d offered while round 1's record is held -> %d", r + 1, st);
        if (r == 3) {
            snprintf(path, sizeof path, "%s", json_string_value(json_object_get(t, "model_path")));
            CHECK(req(a, "GET", path, NULL, 0, (char **)&round4, &round4_len) == 200);
        }
        json_decref(t);
        CHECK(req(b, "GET", "/v1/site/task?wait=10", NULL, 0, NULL, NULL) == 200);
    }
    CHECK_MSG(!round_state(op, job, 1, NULL), "group: round 1 is in the store before its record was released");
    usleep(50 * 1000);                      /* the release comes well after round 3's close */
    struct timespec rel;
    clock_gettime(CLOCK_REALTIME, &rel);
    double released = (double)rel.tv_sec + (double)rel.tv_nsec * 1e-9;   /* rounds 1-3 closed before this */
    pthread_mutex_lock(&g.mu);
    g.go = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    json_t *rounds = NULL;
    for (int k = 0; k < 200 && !round_state(op, job, 3, NULL); k++) usleep(50 * 1000);
    CHECK_MSG(round_state(op, job, 3, &rounds), "group: rounds 1-3 not in the store after the release");
    double prev_start = 0;
    for (size_t k = 0; k < json_array_size(rounds) && k < 3; k++) {
        json_t *r = json_array_get(rounds, k);
        const char *s0 = json_string_value(json_object_get(r, "started_at"));
        const char *s1 = json_string_value(json_object_get(r, "closed_at"));
        struct tm t0 = { 0 }, t1 = { 0 };
        double f0 = 0, f1 = 0;
        int ok = s0 && s1 && strptime(s0, "%Y-%m-%dT%H:%M:%S", &t0) && strptime(s1, "%Y-%m-%dT%H:%M:%S", &t1) &&
                 sscanf(s0 + 19, "%lf", &f0) == 1 && sscanf(s1 + 19, "%lf", &f1) == 1;
        double start = (double)timegm(&t0) + f0, close = (double)timegm(&t1) + f1;
        CHECK_MSG(ok && json_integer_value(json_object_get(r, "round")) == (json_int_t)k + 1 &&
                  json_integer_value(json_object_get(r, "sites")) == 2 && start >= prev_start && close >= start &&
                  close <= released + 0.001,      /* (stamps are in milliseconds: two may be equal) */
                  "group: round %zu: %s .. %s (its own times, in order, before the release at %.3f), %lld sites",
                  k + 1, s0 ? s0 : "?", s1 ? s1 : "?", released,
                  (long long)json_integer_value(json_object_get(r, "sites")));
        prev_start = start;
    }
    json_decref(rounds);
    /* one checkpoint for rounds 2 and 3: round 3's, the model round 4 got */
    snprintf(file, sizeof file, "%s/artifacts/job-%lld/round-000002.safetensors", dir, (long long)job);
    CHECK_MSG(access(file, F_OK) != 0, "group: rounds 2 and 3 were not written together (round 2 has a checkpoint)");
    snprintf(file, sizeof file, "%s/artifacts/job-%lld/round-000003.safetensors", dir, (long long)job);
    gf_st_file *f = NULL, *g4 = NULL;
    char tmp4[256];
    snprintf(tmp4, sizeof tmp4, "%s/round4-model.safetensors", dir);
    FILE *w = fopen(tmp4, "wb");
    if (w) { fwrite(round4, 1, round4_len, w); fclose(w); }
    float *x = calloc((size_t)man.d, sizeof(float)), *y = calloc((size_t)man.d, sizeof(float));
    int same = gf_st_open(file, &f) == GF_OK && gf_st_open(tmp4, &g4) == GF_OK;
    for (int k = 0; same && k < man.n; k++) {
        const gf_manifest_entry *e = &man.e[k];
        same = gf_st_read_f32(f, e->name, e->ndim, e->shape, x + e->offset) == GF_OK &&
               gf_st_read_f32(g4, e->name, e->ndim, e->shape, y + e->offset) == GF_OK;
    }
    CHECK_MSG(same && !memcmp(x, y, sizeof(float) * (size_t)man.d),
              "group: round 3's checkpoint is not the model handed out with round 4");
    gf_st_close(f);
    gf_st_close(g4);
    free(x);
    free(y);
    free(round4);

    /* the last round: the job ends once it is written; two checkpoints are left */
    size_t len;
    uint8_t *body = encode(upd, "10", &len);
    snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/4/update", (long long)job);
    CHECK(req(a, "POST", path, body, len, NULL, NULL) == 200);
    CHECK(req(b, "POST", path, body, len, NULL, NULL) == 200);
    free(body);
    free(upd);
    const char *state = "";
    json_t *j = NULL;
    for (int k = 0; k < 200; k++) {
        snprintf(path, sizeof path, "/v1/jobs/%lld", (long long)job);
        json_decref(j);
        j = NULL;
        req_json(op, "GET", path, NULL, 0, &j);
        state = json_string_value(json_object_get(j, "state"));
        if (state && !strcmp(state, "succeeded")) break;
        usleep(50 * 1000);
    }
    CHECK_MSG(state && !strcmp(state, "succeeded") && json_array_size(json_object_get(j, "rounds")) == 4,
              "group: job %s with %zu rounds", state ? state : "?", json_array_size(json_object_get(j, "rounds")));
    json_decref(j);
    snprintf(file, sizeof file, "%s/artifacts/job-%lld/round-000001.safetensors", dir, (long long)job);
    CHECK_MSG(access(file, F_OK) != 0, "group: round 1's checkpoint is still there after rounds 3 and 4");
    snprintf(file, sizeof file, "%s/artifacts/job-%lld/round-000004.safetensors", dir, (long long)job);
    CHECK(access(file, F_OK) == 0);
    gf_https_client_close(op);
    gf_https_client_close(a);
    gf_https_client_close(b);
    gf_coordinator_stop(co);

    /* the audit log: rounds 1-4 completed and rounds 2-4 opened, in order, and it verifies */
    char audit[256];
    snprintf(audit, sizeof audit, "%s/audit.log", dir);
    FILE *in = fopen(audit, "r");
    char line[8192], seq[128] = "";
    while (in && fgets(line, sizeof line, in)) {
        const char *ev = strstr(line, "\"round.completed\"") ? "C" : strstr(line, "\"round.opened\"") ? "O" : NULL;
        const char *r = strstr(line, "\"round\":");
        if (ev && r && strlen(seq) + 8 < sizeof seq) sprintf(seq + strlen(seq), "%s%d", ev, atoi(r + 8));
    }
    if (in) fclose(in);
    CHECK_MSG(!strcmp(seq, "O1C1O2C2O3C3O4C4"), "group: audit rounds in order %s, want O1C1O2C2O3C3O4C4", seq);
    gf_audit_summary sum;
    CHECK_MSG(gf_audit_verify(audit, &sum) == GF_OK, "%s", gf_last_error());
}

/* The recorder's window: the records of a job's rounds begin at least
 * 50 ms apart (recorder.c, RECORD_WINDOW_S), so rounds that close faster
 * share one; the last, which the job's end waits for, is not held back.
 * Every round still reaches the store with its sites. */
typedef struct {
    pthread_mutex_t mu;
    double          at[64];       /* gf_now() as each record began */
    int             n;
} record_times;

static void time_hook(void *arg)
{
    record_times *t = arg;
    pthread_mutex_lock(&t->mu);
    if (t->n < 64) t->at[t->n] = gf_now();
    t->n++;
    pthread_mutex_unlock(&t->mu);
}

static void test_record_window(void)
{
    enum { ROUNDS = 24 };
    char dir[160], spec[512], msg[600], path[128];
    gf_coordinator *co = start_plain("window", dir, sizeof dir);
    if (!co) return;
    gf_https_client *op = client("operator"), *a = client("sites/a"), *b = client("sites/b");
    record_times t = { PTHREAD_MUTEX_INITIALIZER, { 0 }, 0 };
    pthread_mutex_lock(&co->lock);
    co->record_hook_arg = &t;
    co->record_hook = time_hook;
    pthread_mutex_unlock(&co->lock);
    snprintf(spec, sizeof spec, "{\"name\": \"window\", \"model\": \"mlp:784-8-10\", \"dataset\": \"fashion-mnist\","
             " \"strategy\": {\"name\": \"fedavg\"}, \"rounds\": %d, \"sites\": [\"a\", \"b\"],"
             " \"min_sites\": 2, \"round_deadline_s\": 120, \"seed\": 5}", ROUNDS);
    int64_t job = 0;
    int st = post(op, "/v1/jobs", spec, &job, msg, sizeof msg);
    CHECK_MSG(st == 201, "window: submit -> %d %s", st, msg);
    CHECK(req(a, "GET", "/v1/site/task?wait=0", NULL, 0, NULL, NULL) == 204);   /* a is seen */
    float *upd = calloc((size_t)man.d, sizeof(float));
    size_t len;
    uint8_t *body = encode(upd, "10", &len);
    double began = gf_now();
    for (int r = 1; r <= ROUNDS; r++) {
        CHECK(req(b, "GET", "/v1/site/task?wait=10", NULL, 0, NULL, NULL) == 200);
        CHECK(req(a, "GET", "/v1/site/task?wait=10", NULL, 0, NULL, NULL) == 200);
        snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/%d/update", (long long)job, r);
        CHECK(req(a, "POST", path, body, len, NULL, NULL) == 200);
        CHECK(req(b, "POST", path, body, len, NULL, NULL) == 200);
        usleep(5000);                        /* rounds over ~150 ms: several windows */
    }
    double took = gf_now() - began;
    free(body);
    free(upd);
    json_t *j = NULL;
    const char *state = "";
    snprintf(path, sizeof path, "/v1/jobs/%lld", (long long)job);
    for (int k = 0; k < 200 && strcmp(state, "succeeded"); k++, usleep(50 * 1000)) {
        json_decref(j);
        j = NULL;
        req_json(op, "GET", path, NULL, 0, &j);
        state = json_string_value(json_object_get(j, "state")) ? json_string_value(json_object_get(j, "state")) : "";
    }
    json_t *rounds = json_object_get(j, "rounds");
    CHECK_MSG(!strcmp(state, "succeeded") && json_array_size(rounds) == ROUNDS, "window: job %s with %zu rounds",
              state, json_array_size(rounds));
    for (size_t k = 0; k < json_array_size(rounds); k++)
        CHECK(json_integer_value(json_object_get(json_array_get(rounds, k), "sites")) == 2);
    json_decref(j);
    gf_https_client_close(op);
    gf_https_client_close(a);
    gf_https_client_close(b);
    gf_coordinator_stop(co);
    pthread_mutex_lock(&t.mu);
    CHECK_MSG(t.n >= 1 && t.n <= ROUNDS, "window: %d records of %d rounds", t.n, ROUNDS);
    for (int k = 1; k < t.n - 1 && k < 64; k++)   /* the last one's gap aside */
        CHECK_MSG(t.at[k] - t.at[k - 1] >= 0.05 - 1e-3, "window: record %d began %.1f ms after the one before", k + 1,
                  1e3 * (t.at[k] - t.at[k - 1]));
    fprintf(stderr, "window: %d rounds in %.0f ms, %d records\n", ROUNDS, 1e3 * took, t.n);
    pthread_mutex_unlock(&t.mu);
}

/* The scheduler's side of a cancel that lands while a central job starts:
 * between the executor's start and the store's record of it (the test hook
 * there cancels the job, as the API would). The jobs' process is one that
 * ignores SIGTERM (the coordinator's gf_path is a script that ignores it,
 * then sleeps), so it lingers until the grace period's SIGKILL. The
 * scheduler keeps the cancelled job as a run to reap and goes on: a second
 * job starts while the first one's process is still there, the first stays
 * cancelled with its reason, and its process is reaped. (Waiting for it in
 * place held the scheduler's thread until the SIGKILL, and forgot a process
 * that outlived the wait, its cores still held.) */
typedef struct { gf_coordinator *co; int64_t first, second; pid_t pid; char state_then; } start_race;

static char proc_state(pid_t pid)      /* 'R', 'S', 'T', 'Z', ... from /proc/PID/stat; 0: gone */
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    const char *close = strrchr(buf, ')');
    return close && close[1] == ' ' ? close[2] : 0;
}

static void race_hook(void *arg, int64_t job, const char *handle)
{
    start_race *r = arg;
    if (!__atomic_load_n(&r->first, __ATOMIC_ACQUIRE)) {
        r->pid = (pid_t)atol(handle);
        char path[64], comm[32] = "";
        snprintf(path, sizeof path, "/proc/%d/comm", (int)r->pid);
        for (int i = 0; i < 1000 && strcmp(comm, "sleep\n"); i++) {   /* past its trap: SIGTERM now ignored */
            FILE *f = fopen(path, "r");
            if (!f || !fgets(comm, sizeof comm, f)) comm[0] = 0;
            if (f) fclose(f);
            if (strcmp(comm, "sleep\n")) usleep(10 * 1000);
        }
        gf_store_job_cancel_queued(r->co->store, job, "cancelled by the test as it started");
        __atomic_store_n(&r->first, job, __ATOMIC_RELEASE);
    } else if (!__atomic_load_n(&r->second, __ATOMIC_ACQUIRE)) {
        r->state_then = proc_state(r->pid);
        __atomic_store_n(&r->second, job, __ATOMIC_RELEASE);
    }
}

static void test_cancel_while_starting(void)
{
    char dir[160], prog[200], spec[600], msg[600], reason[512], path[64];
    snprintf(dir, sizeof dir, "%s/start-race", base);
    snprintf(prog, sizeof prog, "%s/ignores-term.sh", base);
    FILE *f = fopen(prog, "w");
    if (f) fputs("#!/bin/sh\ntrap '' TERM\nexec /bin/sleep 120\n", f);   /* an ignored signal stays ignored across exec */
    CHECK(f && fclose(f) == 0 && chmod(prog, 0755) == 0);
    gf_coordinator_config cfg = { .data_dir = dir, .tls_dir = pki, .listen_host = "127.0.0.1", .port = 0,
                                  .cores = 2, .gf_path = prog };
    gf_coordinator *co = NULL;
    CHECK_MSG(gf_coordinator_start(&cfg, &co) == GF_OK, "%s", gf_last_error());
    if (!co) return;
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", gf_coordinator_port(co));
    start_race race = { .co = co };
    co->sched_hook_arg = &race;
    co->sched_started_hook = race_hook;
    CHECK(gf_store_tenant_add(co->store, "racer", 1, NAN, NAN, NULL) == GF_OK);   /* no quotas */
    gf_https_client *op = client("operator");
    const char *fmt = "{\"kind\": \"central\", \"name\": \"%s\", \"tenant\": \"racer\", \"model\": \"mlp:784-32-10\","
                      " \"dataset\": \"fashion-mnist\", \"epochs\": 1, \"batch\": 64, \"optim\": {\"name\": \"sgd\", "
                      "\"lr\": 0.01}, \"seed\": 1, \"resources\": {\"cores\": 1, \"gpus\": 0, \"memory_mb\": 1024, "
                      "\"time_limit_s\": 600}}";
    int64_t j1 = 0, j2 = 0;
    snprintf(spec, sizeof spec, fmt, "first");
    CHECK_MSG(post(op, "/v1/jobs", spec, &j1, msg, sizeof msg) == 201, "first central job: %s", msg);
    for (int i = 0; i < 600 && !__atomic_load_n(&race.first, __ATOMIC_ACQUIRE); i++) usleep(50 * 1000);
    CHECK_MSG(__atomic_load_n(&race.first, __ATOMIC_ACQUIRE) == j1, "the first job never reached the executor");
    snprintf(spec, sizeof spec, fmt, "second");
    CHECK_MSG(post(op, "/v1/jobs", spec, &j2, msg, sizeof msg) == 201, "second central job: %s", msg);
    for (int i = 0; i < 600 && !__atomic_load_n(&race.second, __ATOMIC_ACQUIRE); i++) usleep(50 * 1000);
    char then = race.state_then;
    CHECK_MSG(__atomic_load_n(&race.second, __ATOMIC_ACQUIRE) == j2 && then && then != 'Z',
              "the second job started (%lld) with the first one's process %s", (long long)race.second,
              then == 'Z' ? "dead" : then ? "alive" : "gone: the scheduler waited for it");
    CHECK(wait_state(op, j2, "running", NULL, 0));
    snprintf(path, sizeof path, "/v1/jobs/%lld/cancel", (long long)j2);
    CHECK(req(op, "POST", path, NULL, 0, NULL, NULL) == 202);     /* requested: its process is being stopped */
    int gone = 0;
    for (int i = 0; i < 600 && !gone; i++) {     /* SIGKILL after the grace period, then reaped */
        gone = race.pid > 0 && kill(race.pid, 0) != 0;
        if (!gone) usleep(50 * 1000);
    }
    CHECK_MSG(gone, "the first job's process %d was never reaped (state %c)", (int)race.pid, proc_state(race.pid));
    CHECK_MSG(wait_state(op, j1, "cancelled", reason, sizeof reason) && strstr(reason, "as it started"),
              "first job: %s", reason);
    CHECK(wait_state(op, j2, "cancelled", NULL, 0));
    co->sched_started_hook = NULL;
    gf_https_client_close(op);
    gf_coordinator_stop(co);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(base, sizeof base, "/tmp/gf-coord-XXXXXX");
    if (!mkdtemp(base)) { perror("mkdtemp"); return 1; }
    snprintf(pki, sizeof pki, "%s/pki", base);
    snprintf(other, sizeof other, "%s/other", base);
    snprintf(data, sizeof data, "%s/data", base);
    const char *sites[] = { "a", "b", "c" };
    CHECK_MSG(gf_pki_create(pki, "127.0.0.1", sites, 3) == GF_OK, "%s", gf_last_error());
    CHECK(gf_pki_create(other, "127.0.0.1", sites, 1) == GF_OK);

    gf_coordinator_config cfg = { .data_dir = data, .tls_dir = pki, .listen_host = "127.0.0.1", .port = 0,
                                  .max_body = 4 << 20 };
    gf_coordinator *co = NULL;
    CHECK_MSG(gf_coordinator_start(&cfg, &co) == GF_OK, "%s", gf_last_error());
    if (!co) return check_summary();
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", gf_coordinator_port(co));

    gf_https_client *op = client("operator"), *a = client("sites/a"), *b = client("sites/b"), *c = client("sites/c");
    json_t *j;
    /* job submission: a bad spec is refused with its JSON path, a good one queued */
    const char *bad_spec = "{\"name\": \"x\", \"model\": \"mlp:784-8-10\", \"dataset\": \"d\", \"strategy\": {\"name\": \"fedavg\"}, \"rounds\": 0}";
    int st = req_json(op, "POST", "/v1/jobs", bad_spec, strlen(bad_spec), &j);
    CHECK_MSG(st == 400 && strstr(err_of(j), "rounds"), "bad spec -> %d %s", st, err_of(j));
    json_decref(j);
    const char *spec = "{\"name\": \"t\", \"model\": \"mlp:784-8-10\", \"dataset\": \"fashion-mnist\","
                       " \"strategy\": {\"name\": \"fedavg\"}, \"rounds\": 2, \"sites\": [\"a\", \"b\"],"
                       " \"min_sites\": 2, \"round_deadline_s\": 60, \"seed\": 7}";
    st = req_json(op, "POST", "/v1/jobs", spec, strlen(spec), &j);
    int64_t job = json_integer_value(json_object_get(j, "id"));
    CHECK_MSG(st == 201 && job == 1, "submit -> %d id %lld", st, (long long)job);
    json_decref(j);
    /* sites may not use the operator's routes, nor the operator the sites' */
    st = req_json(a, "GET", "/v1/jobs", NULL, 0, &j);
    CHECK(st == 403);
    json_decref(j);
    st = req_json(op, "GET", "/v1/site/task?wait=0", NULL, 0, &j);
    CHECK(st == 403);
    json_decref(j);

    /* both sites show up; then a's long-poll gets the task of round 1 */
    CHECK(req(a, "GET", "/v1/site/task?wait=0", NULL, 0, NULL, NULL) == 204);
    CHECK(req(b, "GET", "/v1/site/task?wait=0", NULL, 0, NULL, NULL) == 204);
    st = req_json(a, "GET", "/v1/site/task?wait=10", NULL, 0, &j);
    CHECK_MSG(st == 200 && json_integer_value(json_object_get(j, "round")) == 1 &&
              json_integer_value(json_object_get(j, "job")) == job &&
              !strcmp(json_string_value(json_object_get(j, "site")), "a"), "task -> %d", st);
    /* the task names its tenant: none, for the operator's own job */
    CHECK_MSG(json_is_null(json_object_get(j, "tenant")), "task's tenant: %s",
              json_object_get(j, "tenant") ? "not null" : "absent");
    json_decref(j);
    CHECK(req(c, "GET", "/v1/site/task?wait=1", NULL, 0, NULL, NULL) == 204);   /* c is not in the job */
    /* nor does it get the round's model by asking for it with a task */
    char *none = NULL;
    size_t none_len = 1;
    st = req(c, "GET", "/v1/site/task?wait=1&model=1", NULL, 0, &none, &none_len);
    CHECK_MSG(st == 204 && none_len == 0, "unchosen site with ?model=1 -> %d, %zu bytes", st, none_len);
    free(none);
    st = req_json(a, "GET", "/v1/site/task?wait=0&model=yes", NULL, 0, &j);
    CHECK_MSG(st == 400 && strstr(err_of(j), "model must be 0 or 1"), "model=yes -> %d %s", st, err_of(j));
    json_decref(j);
    st = req_json(a, "GET", "/v1/site/task?wait=99", NULL, 0, &j);
    CHECK_MSG(st == 400 && strstr(err_of(j), "wait"), "wait=99 -> %d %s", st, err_of(j));
    json_decref(j);

    /* the round's model: the job's initial model (seed 7) */
    CHECK(gf_manifest_from_spec("mlp:784-8-10", &man) == GF_OK);
    int64_t d = man.d;
    float *global = calloc((size_t)d, sizeof(float)), *upd = calloc((size_t)d, sizeof(float));
    char *raw = NULL;
    size_t raw_len = 0;
    char path[96];
    snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/1/model", (long long)job);
    CHECK(req(a, "GET", path, NULL, 0, &raw, &raw_len) == 200);
    CHECK(gf_update_decode(&man, (uint8_t *)raw, raw_len, raw_len, global) == GF_OK);
    free(raw);
    gf_model *m0;
    CHECK(gf_model_create("mlp:784-8-10", 1, 1, &m0) == GF_OK);
    gf_model_init(m0, 7);
    CHECK(!memcmp(m0->params, global, sizeof(float) * (size_t)d));
    gf_model_free(m0);
    CHECK(req(c, "GET", path, NULL, 0, NULL, NULL) == 403);

    /* every bad message, refused; the round stays open */
    for (int64_t i = 0; i < d; i++) upd[i] = (float)((i % 7) - 3) * 1e-3f;
    size_t len;
    uint8_t *good = encode(upd, "30", &len), *body;
    expect_refusal("unknown job", a, 99, 1, good, len, 404, "no running job 99");
    expect_refusal("wrong round", a, job, 2, good, len, 409, "not open");
    expect_refusal("not chosen", c, job, 1, good, len, 403, "not chosen");
    expect_refusal("not safetensors", a, job, 1, "hello, world", 12, 400, "header");
    body = encode_altered(upd, 1, 0, 0, &len);
    expect_refusal("missing tensor", a, job, 1, body, len, 400, "0.bias");
    free(body);
    body = encode_altered(upd, -1, 1, 0, &len);
    expect_refusal("extra tensor", a, job, 1, body, len, 400, "which the model does not");
    free(body);
    body = encode_altered(upd, -1, 0, 1, &len);
    expect_refusal("wrong shape", a, job, 1, body, len, 400, "shape");
    free(body);
    /* wrong dtype: the header of a good body with F32 -> I32 (same size) */
    body = encode(upd, "30", &len);
    char *f32 = memmem(body, len, "F32", 3);
    CHECK(f32 != NULL);
    if (f32) memcpy(f32, "I32", 3);
    expect_refusal("wrong dtype", a, job, 1, body, len, 400, "dtype");
    free(body);
    upd[5] = NAN;
    body = encode(upd, "30", &len);
    expect_refusal("NaN", a, job, 1, body, len, 400, "NaN");
    free(body);
    upd[5] = INFINITY;
    body = encode(upd, "30", &len);
    expect_refusal("infinity", a, job, 1, body, len, 400, "infinity");
    free(body);
    upd[5] = 0;
    body = encode(upd, NULL, &len);
    expect_refusal("no sample count", a, job, 1, body, len, 400, "gf.samples");
    free(body);
    body = encode(upd, "-4", &len);
    expect_refusal("negative samples", a, job, 1, body, len, 400, "gf.samples");
    free(body);
    static const char *const bad_eps[] = { "-0.5", "1e999", "-inf", "2.5x", "" };
    for (int k = 0; k < 5; k++) {   /* a site's DP-SGD epsilon: a number >= 0 or "inf" */
        body = encode_eps(upd, bad_eps[k], &len);
        expect_refusal("bad DP-SGD epsilon", a, job, 1, body, len, 400, "gf.dpsgd_epsilon");
        free(body);
    }
    size_t big = (size_t)5 << 20;                      /* over the server's 4 MiB limit */
    body = calloc(1, big);
    expect_refusal("too large for the server", a, job, 1, body, big, 413, "limit");
    big = sizeof(float) * (size_t)d + ((size_t)1 << 20) + 1;   /* over the job's size bound */
    expect_refusal("too large for the model", a, job, 1, body, big, 413, "over the limit");
    free(body);

    /* good updates from a (twice: refused) and b; the round completes */
    free(good);
    good = encode(upd, "30", &len);
    snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/1/update", (long long)job);
    CHECK(req(a, "POST", path, good, len, NULL, NULL) == 200);
    expect_refusal("twice", a, job, 1, good, len, 409, "already sent");
    float *upd_b = calloc((size_t)d, sizeof(float));
    for (int64_t i = 0; i < d; i++) upd_b[i] = (float)((i % 5) - 2) * 2e-3f;
    uint8_t *good_b = encode(upd_b, "10", &len);
    /* an update that asks for the next task (?next=S): bad values refused first */
    char npath[160];
    snprintf(npath, sizeof npath, "%s?next=abc&model=1", path);
    st = req_json(b, "POST", npath, good_b, len, &j);
    CHECK_MSG(st == 400 && strstr(err_of(j), "next must be"), "next=abc -> %d %s", st, err_of(j));
    json_decref(j);
    snprintf(npath, sizeof npath, "%s?next=61&model=1", path);     /* past the longest poll */
    st = req_json(b, "POST", npath, good_b, len, &j);
    CHECK_MSG(st == 400 && strstr(err_of(j), "next must be"), "next=61 -> %d %s", st, err_of(j));
    json_decref(j);
    snprintf(npath, sizeof npath, "%s?next=5&model=yes", path);
    st = req_json(b, "POST", npath, good_b, len, &j);
    CHECK_MSG(st == 400 && strstr(err_of(j), "model must be 0 or 1"), "next with model=yes -> %d %s", st, err_of(j));
    json_decref(j);
    /* a's poll, parked (no thread waits for it) before the round closes,
     * is answered by the next round's opening */
    poll_call pa = { .c = a, .path = "/v1/site/task?wait=10" };
    pthread_t pt;
    CHECK(pthread_create(&pt, NULL, poll_thread, &pa) == 0);
    usleep(300 * 1000);
    /* b's update closes round 1 and is answered with b's task of round 2,
     * the round's model after it, as a task poll with ?model=1 answers */
    snprintf(npath, sizeof npath, "%s?next=10&model=1", path);
    char *next_b = NULL;
    size_t next_b_len = 0;
    st = req(b, "POST", npath, good_b, len, &next_b, &next_b_len);
    size_t nb_task = 0, nb_model_len = 0;
    const uint8_t *nb_model = NULL;
    gf_fed_task nb;
    if (next_b) gf_fed_task_split(next_b, next_b_len, &nb_task, &nb_model, &nb_model_len);
    CHECK_MSG(st == 200 && next_b && gf_fed_task_decode(next_b, nb_task, &nb) == GF_OK && nb.round == 2 &&
              !strcmp(nb.site, "b") && nb_model && nb_model_len > 0,
              "update with ?next -> %d: %zu bytes, not b's task of round 2 with a model", st, next_b_len);
    if (next_b && nb_task) gf_fed_task_free(&nb);
    pthread_join(pt, NULL);
    CHECK_MSG(pa.status == 200 && pa.round == 2, "a's parked poll -> %d round %lld", pa.status, (long long)pa.round);
    /* round 2 opens: a late update for round 1 is refused as closed */
    st = req_json(a, "GET", "/v1/site/task?wait=10", NULL, 0, &j);
    CHECK_MSG(st == 200 && json_integer_value(json_object_get(j, "round")) == 2, "round 2 task -> %d", st);
    json_decref(j);
    expect_refusal("late", b, job, 1, good_b, len, 409, "closed");

    /* the new global is FedAvg of the two: global + (30 u_a + 10 u_b) / 40 */
    float *g2 = calloc((size_t)d, sizeof(float));
    snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/2/model", (long long)job);
    CHECK(req(a, "GET", path, NULL, 0, &raw, &raw_len) == 200);
    CHECK(gf_update_decode(&man, (uint8_t *)raw, raw_len, raw_len, g2) == GF_OK);
    free(raw);
    double worst = 0;
    for (int64_t i = 0; i < d; i++) {
        double want = global[i] + (30.0 * upd[i] + 10.0 * upd_b[i]) / 40.0;
        worst = fmax(worst, fabs(want - g2[i]));
    }
    CHECK_MSG(worst < 1e-7, "FedAvg aggregate off by %g", worst);

    /* the task with the round's model after it (?model=1): the task's JSON,
     * spaces to one byte short of a multiple of 8, a NUL, then the very
     * bytes GET model_path answers; without ?model=1 the JSON alone */
    char *model_raw = NULL;
    size_t model_len = 0, tlen = 0, mlen = 0;
    const uint8_t *mp = NULL;
    CHECK(req(b, "GET", path, NULL, 0, &model_raw, &model_len) == 200);
    st = req(b, "GET", "/v1/site/task?wait=10&model=1", NULL, 0, &raw, &raw_len);
    const char *nul = raw ? memchr(raw, 0, raw_len) : NULL;
    size_t head = nul ? (size_t)(nul - raw) + 1 : 0, json_end = head ? head - 1 : 0;
    while (json_end > 0 && raw[json_end - 1] == ' ') json_end--;
    json_t *tj = nul ? json_loadb(raw, json_end, 0, NULL) : NULL;
    CHECK_MSG(st == 200 && nul && head % 8 == 0 && head - 1 - json_end < 8 && raw_len == head + model_len &&
              !memcmp(raw + head, model_raw, model_len) && raw[json_end - 1] == '}',
              "task with model -> %d: %zu bytes, NUL at %zu, model %zu bytes", st, raw_len, head, model_len);
    CHECK_MSG(json_integer_value(json_object_get(tj, "round")) == 2 &&
              !strcmp(json_string_value(json_object_get(tj, "site")) ? json_string_value(json_object_get(tj, "site")) : "", "b"),
              "task with model: not round 2 for b");
    json_decref(tj);
    gf_fed_task_split(raw, raw_len, &tlen, &mp, &mlen);     /* the site's reading of it */
    CHECK(tlen == json_end && mp == (const uint8_t *)raw + head && mlen == model_len);
    CHECK_MSG(nb_model_len == model_len && !memcmp(nb_model, model_raw, model_len),
              "the model after b's next task is not round 2's model");
    free(next_b);
    free(raw);
    free(model_raw);
    st = req(b, "GET", "/v1/site/task?wait=10", NULL, 0, &raw, &raw_len);
    CHECK_MSG(st == 200 && raw && !memchr(raw, 0, raw_len) && raw_len > 0 && raw[raw_len - 1] == '}',
              "task without model -> %d, %zu bytes", st, raw_len);
    free(raw);

    /* status: round 1 completed with 2 sites and the weighted train loss (round 2
     * opens before round 1 is written down: wait for the record) */
    snprintf(path, sizeof path, "/v1/jobs/%lld", (long long)job);
    for (int tries = 0; tries < 200; tries++) {
        st = req_json(op, "GET", path, NULL, 0, &j);
        if (json_integer_value(json_object_get(j, "round")) == 1) break;
        json_decref(j);
        j = NULL;
        usleep(25000);
    }
    json_t *r1 = json_array_get(json_object_get(j, "rounds"), 0);
    CHECK_MSG(st == 200 && !strcmp(json_string_value(json_object_get(j, "state")), "running") &&
              json_integer_value(json_object_get(j, "round")) == 1 &&
              json_integer_value(json_object_get(r1, "sites")) == 2 &&
              fabs(json_number_value(json_object_get(r1, "train_loss")) - 0.5) < 1e-12 &&
              json_is_null(json_object_get(r1, "accuracy")), "status -> %d", st);
    json_decref(j);

    /* a site that cannot train declines: the round does not wait for its
     * deadline; with too few updates left it is aborted and opened again */
    snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/2/decline", (long long)job);
    const char *why = "{\"error\": \"training loss became nan\"}";
    CHECK(req(b, "POST", path, why, strlen(why), NULL, NULL) == 200);
    st = req_json(b, "POST", path, why, strlen(why), &j);
    CHECK_MSG(st == 409 && strstr(err_of(j), "already declined"), "decline twice -> %d %s", st, err_of(j));
    json_decref(j);
    CHECK(req(c, "POST", path, why, strlen(why), NULL, NULL) == 403);
    CHECK(req(b, "GET", "/v1/site/task?wait=0", NULL, 0, NULL, NULL) == 204);   /* no task for a decliner */
    snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/2/update", (long long)job);
    CHECK(req(a, "POST", path, good, len, NULL, NULL) == 200);
    st = req_json(b, "GET", "/v1/site/task?wait=10", NULL, 0, &j);     /* round 2 again, b chosen again */
    CHECK_MSG(st == 200 && json_integer_value(json_object_get(j, "round")) == 2, "round 2 rerun -> %d", st);
    json_decref(j);
    snprintf(path, sizeof path, "/v1/jobs/%lld", (long long)job);
    st = req_json(op, "GET", path, NULL, 0, &j);
    CHECK(st == 200 && json_integer_value(json_object_get(j, "round")) == 1);
    json_decref(j);

    /* the operator cancels; the sites get no more tasks; cancelling again is a conflict */
    snprintf(path, sizeof path, "/v1/jobs/%lld/cancel", (long long)job);
    CHECK(req(op, "POST", path, NULL, 0, NULL, NULL) == 200);
    CHECK(req(op, "POST", path, NULL, 0, NULL, NULL) == 409);
    CHECK(req(b, "GET", "/v1/site/task?wait=1", NULL, 0, NULL, NULL) == 204);
    snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/2/update", (long long)job);
    CHECK(req(b, "POST", path, good_b, len, NULL, NULL) == 404);
    /* the model of the last completed round stays downloadable */
    snprintf(path, sizeof path, "/v1/jobs/%lld/model", (long long)job);
    CHECK(req(op, "GET", path, NULL, 0, &raw, &raw_len) == 200);
    gf_st_file *sf = NULL;
    CHECK(gf_st_parse((uint8_t *)raw, raw_len, "model", &sf) == GF_OK);
    CHECK(sf && !strcmp(gf_st_meta_get(sf, "gf.round"), "1") && !strcmp(gf_st_meta_get(sf, "gf.format"), "gf-checkpoint-1"));
    gf_st_close(sf);
    free(raw);
    CHECK(req(op, "GET", "/v1/jobs/77", NULL, 0, NULL, NULL) == 404);
    CHECK(req(op, "GET", "/v1/nothing", NULL, 0, NULL, NULL) == 404);

    /* /metrics: Prometheus text for the operator only, consistent with what happened */
    CHECK(req(a, "GET", "/metrics", NULL, 0, NULL, NULL) == 403);
    CHECK(req(op, "GET", "/metrics", NULL, 0, &raw, &raw_len) == 200);
    long long completed = -1, requests = -1, errors = -1, hist_count = -1, inf = -1, cancelled = -1;
    for (char *line = raw ? strtok(raw, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        sscanf(line, "gf_rounds_completed_total %lld", &completed);
        sscanf(line, "gf_api_requests_total %lld", &requests);
        sscanf(line, "gf_api_errors_total %lld", &errors);
        sscanf(line, "gf_api_request_duration_seconds_count %lld", &hist_count);
        sscanf(line, "gf_api_request_duration_seconds_bucket{le=\"+Inf\"} %lld", &inf);
        sscanf(line, "gf_jobs{state=\"cancelled\"} %lld", &cancelled);
    }
    free(raw);
    CHECK_MSG(completed == 1 && cancelled == 1, "metrics: %lld rounds completed, %lld jobs cancelled", completed,
              cancelled);
    CHECK_MSG(requests > 40 && errors >= 20 && errors < requests, "metrics: %lld requests, %lld errors", requests,
              errors);
    CHECK_MSG(hist_count == inf && hist_count > 20 && hist_count < requests, "metrics: histogram count %lld, +Inf %lld",
              hist_count, inf);

    test_tls_refusals();
    test_caps();
    test_restart_many();
    test_upload_unlocked();
    test_cancel_during_bringup();
    test_release_after_record();
    test_group_commit();
    test_record_window();
    test_cancel_while_starting();

    gf_https_client_close(op);
    gf_https_client_close(a);
    gf_https_client_close(b);
    gf_https_client_close(c);
    gf_coordinator_stop(co);

    /* every refusal is in the audit log, and the log verifies */
    char audit[256];
    snprintf(audit, sizeof audit, "%s/audit.log", data);
    int rejected = count_lines(audit, "\"update.rejected\"");
    CHECK_MSG(rejected >= 17, "%d update.rejected lines", rejected);
    CHECK(count_lines(audit, "\"site.declined\"") == 1);
    CHECK(count_lines(audit, "sites declined") == 1);
    /* refusals anyone can cause are summarised in one line, not written each */
    CHECK_MSG(count_lines(audit, "\"requests.refused\"") == 1 && count_lines(audit, "\"no_credentials\":1,") == 1,
              "requests.refused lines: %d", count_lines(audit, "\"requests.refused\""));
    gf_audit_summary sum;
    CHECK_MSG(gf_audit_verify(audit, &sum) == GF_OK, "%s", gf_last_error());

    free(global);
    free(upd);
    free(upd_b);
    free(g2);
    free(good);
    free(good_b);
    gf_manifest_free(&man);
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    curl_global_cleanup();
    return check_summary();
}
