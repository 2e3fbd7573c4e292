/* The site agent's loop (see site.h): poll, download, train, upload. */
#include "fed/site.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <jansson.h>
#include <sodium.h>
#include "core/rng.h"
#include "core/timer.h"
#include "data/preprocess.h"
#include "fed/fedstats.h"
#include "fed/local.h"
#include "engine/spec.h"
#include "fed/update.h"
#include "net/https_client.h"
#include "net/pki.h"
#include "privacy/accountant.h"
#include "fed/site_budget.h"
#include "fed/site_eval.h"
#include "fed/site_secagg.h"
#include "fed/task.h"

#define MAX_JOBS_WITH_STATE 16
#define MAX_MASKED_KEPT     256   /* the latest (job, round) pairs this site sent a masked input for */
/* A task's answer carries the model: the connection to the coordinator
 * starts with room for this much of it (a model of a million parameters);
 * a task with a larger model raises it for the connections after. */
#define SITE_ANSWER_START   ((size_t)4 << 20)

/* SCAFFOLD's client control variate c_i of each job this site worked on. */
typedef struct {
    int64_t job;
    int64_t d;
    float  *ci;   /* (d) */
} site_control;

typedef struct {
    const gf_site_config *cfg;
    gf_https_client      *http;
    /* the wire manifest of the last task's model (rebuilt when it changes) */
    char                  spec[GF_SPEC_MAX_LEN];
    int                   scaffold;
    gf_manifest           man, wire;
    site_control          ctl[MAX_JOBS_WITH_STATE];
    gf_site_budget        budget;         /* record-level DP spent on this site's data (durable) */
    char                  coord_id[GF_SITE_BUDGET_COORD_MAX + 1];   /* the federation: hash of the kit's CA */
    int                   tasks_done;
    int                   wait;           /* a task poll's wait, seconds */
    gf_secagg_identity    id;             /* the kit's signing key (has_id) */
    int64_t               sent_masked[MAX_MASKED_KEPT][2];   /* (job, round) with a masked input sent */
    int                   nsent_masked;
    int                   has_id;
} site_state;

static void site_log(const site_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void site_log(const site_state *s, const char *fmt, ...)
{
    if (!s->cfg->log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->cfg->log(line);
}

static int stopped(const site_state *s) { return s->cfg->stop && *s->cfg->stop; }

static void pause_s(double sec)
{
    struct timespec ts = { (time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9) };
    nanosleep(&ts, NULL);
}

static float *control_of(site_state *s, int64_t job, int64_t d)
{
    site_control *free_slot = NULL;
    for (int i = 0; i < MAX_JOBS_WITH_STATE; i++) {
        if (s->ctl[i].ci && s->ctl[i].job == job && s->ctl[i].d == d) return s->ctl[i].ci;
        if (!free_slot && !s->ctl[i].ci) free_slot = &s->ctl[i];
    }
    if (!free_slot) {                         /* forget the oldest job's state */
        free_slot = &s->ctl[0];
        free(free_slot->ci);
        memmove(&s->ctl[0], &s->ctl[1], sizeof s->ctl[0] * (MAX_JOBS_WITH_STATE - 1));
        free_slot = &s->ctl[MAX_JOBS_WITH_STATE - 1];
    }
    *free_slot = (site_control){ .job = job, .d = d, .ci = calloc((size_t)d, sizeof(float)) };
    return free_slot->ci;
}

/* The federation this site serves, as the ledger names it: a hash of the
 * kit's CA certificate (stable when the coordinator's address changes). */
static gf_status coordinator_id(const char *kit, char *out, size_t cap)
{
    char path[4096];
    if (sodium_init() < 0) return gf_errorf(GF_ERR_IO, "libsodium failed to initialise");
    snprintf(path, sizeof path, "%s/%s", kit, GF_PKI_SITE_CA);
    FILE *f = fopen(path, "rb");
    if (!f) return gf_errorf(GF_ERR_IO, "kit %s: cannot read %s", kit, GF_PKI_SITE_CA);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 16);
    unsigned char buf[4096], id[16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crypto_generichash_update(&h, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return gf_errorf(GF_ERR_IO, "kit %s: cannot read %s", kit, GF_PKI_SITE_CA);
    crypto_generichash_final(&h, id, sizeof id);
    if (cap < 2 * sizeof id + 1) return gf_errorf(GF_ERR_ARG, "coordinator id: no room");
    sodium_bin2hex(out, cap, id, sizeof id);
    return GF_OK;
}

/* One line: what the site's records have spent over all jobs (and its budget). */
static void log_budget(const site_state *s)
{
    const gf_site_config *cfg = s->cfg;
    double delta = cfg->budget_delta > 0 ? cfg->budget_delta : GF_DPSGD_DEFAULT_DELTA, eps = NAN;
    if (gf_site_budget_epsilon(&s->budget, NULL, 0, NULL, delta, &eps)) return;
    char limit[64] = "no budget set";
    if (cfg->max_epsilon > 0) snprintf(limit, sizeof limit, "budget %g", cfg->max_epsilon);
    site_log(s, "site budget: epsilon %.9g (delta %g) spent on this site's records over all its jobs, %lld DP-SGD "
             "steps (%s; ledger %s)", eps, delta, (long long)gf_site_budget_steps(&s->budget, NULL, 0), limit,
             s->budget.path ? s->budget.path : "in memory only");
}

/* The model's manifests, cached across rounds. */
static gf_status manifests_for(site_state *s, const char *model, int scaffold)
{
    if (s->man.e && s->scaffold == scaffold && !strcmp(s->spec, model)) return GF_OK;
    gf_manifest_free(&s->man);
    gf_manifest_free(&s->wire);
    s->spec[0] = 0;
    gf_status st = gf_manifest_from_spec(model, &s->man);
    if (!st) st = scaffold ? gf_manifest_with_control(&s->man, &s->wire) : gf_manifest_from_spec(model, &s->wire);
    if (st) { gf_manifest_free(&s->man); return st; }
    snprintf(s->spec, sizeof s->spec, "%s", model);
    s->scaffold = scaffold;
    return GF_OK;
}

/* Tells the coordinator this site cannot train the round (so the round
 * need not wait for its deadline). Best effort. */
static void decline(site_state *s, const char *path, const char *why)
{
    char *resp = NULL;
    size_t len;
    int status;
    json_t *b = json_pack("{s:s}", "error", why);
    char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (body) gf_https_request(s->http, "POST", path, body, strlen(body), &status, &resp, &len);
    free(body);
    free(resp);
}

/* The site's own policy (allow_tenants) on a task's "tenant": NULL when it
 * takes the task, else why not (into why). */
static const char *refusal(const gf_site_config *cfg, const gf_fed_task *task, char *why, size_t cap)
{
    if (!cfg->allow_tenants) return NULL;
    const char *name = task->tenant[0] ? task->tenant : GF_SITE_ALLOW_OPERATOR;
    for (int i = 0; i < cfg->nallow; i++)
        if (!strcasecmp(cfg->allow_tenants[i], name)) return NULL;
    if (!task->tenant[0])
        snprintf(why, cap, "site policy: this site does not take the operator's own jobs (no tenant; "
                 "gf site --allow-tenant does not list %s)", GF_SITE_ALLOW_OPERATOR);
    else
        snprintf(why, cap, "site policy: this site does not take tasks of tenant \"%.64s\" (gf site --allow-tenant "
                 "does not list it)", name);
    return why;
}

/* The site's own budget (cfg->max_epsilon) on a task about to train: NULL
 * when it fits, else why not (into why). The round's steps are known before
 * it runs: epochs x ceil(n / batch) Poisson-sampled steps at q = batch / n,
 * capped at local.steps. The budget covers this site's records over every
 * job and federation: the same records answer to all of them. */
static const char *over_budget(site_state *s, int64_t job, const gf_local_config *lc, char *why, size_t cap)
{
    const gf_site_config *cfg = s->cfg;
    if (!(cfg->max_epsilon > 0) || lc->steps == 0) return NULL;
    double delta = cfg->budget_delta > 0 ? cfg->budget_delta : GF_DPSGD_DEFAULT_DELTA, spent = NAN, after = NAN;
    if (gf_site_budget_epsilon(&s->budget, NULL, 0, NULL, delta, &spent)) {
        snprintf(why, cap, "site budget: %s", gf_last_error());
        return why;
    }
    if (!lc->dpsgd.enabled) {
        snprintf(why, cap, "site budget: the task trains without record-level DP (local.dp_sgd), so its epsilon is "
                 "unbounded; this site spends at most epsilon %g (delta %g; gf site --max-epsilon) on its records",
                 cfg->max_epsilon, delta);
        return why;
    }
    int64_t n = cfg->train->n;
    if (lc->batch < 1 || lc->epochs < 1 || n < 1) return NULL;   /* local training refuses it */
    gf_site_spend next = { .job = job, .noise = lc->dpsgd.noise, .q = gf_dpsgd_sample_rate(n, lc->batch),
                           .steps = (int64_t)lc->epochs * gf_dpsgd_steps_per_epoch(n, lc->batch) };
    if (lc->steps > 0 && lc->steps < next.steps) next.steps = lc->steps;
    snprintf(next.coordinator, sizeof next.coordinator, "%s", s->coord_id);
    if (gf_site_budget_epsilon(&s->budget, NULL, 0, &next, delta, &after)) {
        snprintf(why, cap, "site budget: %s", gf_last_error());
        return why;
    }
    if (after <= cfg->max_epsilon) return NULL;
    snprintf(why, cap, "site budget: this round's %lld DP-SGD steps would bring the epsilon spent on this site's "
             "records to %.6g, past its budget of %g (gf site --max-epsilon; delta %g; spent so far over all its "
             "jobs: %.6g; noise %g, sample rate %.6g)", (long long)next.steps, after, cfg->max_epsilon, delta, spent,
             next.noise, next.q);
    return why;
}

/* Scores the downloaded global model (vec, its first d values the model)
 * on this site's test split and sends the report. 0 when sent; else why,
 * logged (a failed report does not stop the round's training). */
static gf_status send_eval(site_state *s, const gf_fed_task *task, const float *vec, int64_t d)
{
    gf_eval_report r;
    char *json = NULL, *resp = NULL;
    size_t resp_len;
    int status = 0;
    gf_preprocess prep = {0};
    gf_dataset ptest = {0};
    const gf_dataset *test = s->cfg->test;
    gf_status st = GF_OK;
    if (task->preprocess && test && test->n > 0) {   /* the model saw preprocessed data: so is its test split */
        if (!(st = gf_preprocess_from_json(task->preprocess, strlen(task->preprocess), &prep)) &&
            !(st = gf_preprocess_apply(&prep, test, "local test data", &ptest)))
            test = &ptest;
    }
    if (!st) st = gf_site_evaluate(task->model, vec, d, test, s->cfg->threads, &r);
    gf_preprocess_free(&prep);
    gf_dataset_free(&ptest);
    if (!st) st = gf_eval_report_encode(&r, &json);
    if (!st) st = gf_https_request(s->http, "POST", task->evaluate.path, json, strlen(json), &status, &resp, &resp_len);
    if (!st && status != 200) st = gf_errorf(GF_ERR_MISMATCH, "evaluation report refused: HTTP %d: %.300s", status, resp);
    if (!st)
        site_log(s, "job %lld: the global model of round %lld on this site's %lld test samples: loss %.4f, "
                 "accuracy %.4f", (long long)task->job, (long long)task->round - 1, (long long)r.samples, r.loss,
                 r.accuracy);
    else
        site_log(s, "job %lld round %lld: no evaluation report: %s", (long long)task->job, (long long)task->round,
                 gf_last_error());
    free(json);
    free(resp);
    return st;
}

/* A statistics task: the statistics vector of this site's data (training
 * and validation split together; data/stats.h), sent as a plain update, or
 * under secure aggregation masked with weight 1 and without min/max. */
static gf_status run_stats(site_state *s, const gf_fed_task *task)
{
    const gf_site_config *cfg = s->cfg;
    int64_t job = task->job, round = task->round;
    const gf_fed_task_secagg *sa = task->secagg.enabled ? &task->secagg : NULL;
    gf_stats_plan plan;
    gf_fedstats_plan(&task->stats, &plan);
    gf_manifest man = {0};
    double *acc = NULL;
    float *vec = NULL;
    uint8_t *up = NULL;
    char *resp = NULL;
    size_t up_len = 0, resp_len = 0;
    int status = 0, uploading = 0;
    site_secagg *sec = NULL;
    gf_status st = gf_fedstats_manifest(&plan, &man);
    if (st) goto done;
    if (cfg->max_epsilon > 0) {
        st = gf_errorf(GF_ERR_ARG, "site budget: statistics are released without noise, so their epsilon is "
                       "unbounded; this site spends at most epsilon %g on its records (gf site --max-epsilon)",
                       cfg->max_epsilon);
        goto done;
    }
    if (!(acc = malloc(sizeof *acc * (size_t)man.d)) || !(vec = malloc(sizeof *vec * (size_t)man.d))) {
        st = gf_errorf(GF_ERR_NOMEM, "out of memory");
        goto done;
    }
    gf_stats_zero(&plan, acc);
    if ((st = gf_stats_add_dataset(&plan, cfg->train, acc))) goto done;
    if (cfg->val && cfg->val->n > 0 && (st = gf_stats_add_dataset(&plan, cfg->val, acc))) goto done;
    if (acc[0] < (double)task->stats.min_count) {   /* too few records to describe (FLARE's min_count, at the site) */
        st = gf_errorf(GF_ERR_ARG, "statistics: this site has %lld rows, fewer than the job's min_count %lld; it sends "
                       "no statistics of so few records", (long long)acc[0], (long long)task->stats.min_count);
        goto done;
    }
    for (int64_t i = 0; i < man.d; i++) vec[i] = (float)acc[i];
    if (sa) {
        for (int i = 0; i < s->nsent_masked && i < MAX_MASKED_KEPT; i++)
            if (s->sent_masked[i][0] == job && s->sent_masked[i][1] == round) {
                st = gf_errorf(GF_ERR_ARG, "this site refuses the round: it already sent a masked input for round "
                               "%lld of job %lld", (long long)round, (long long)job);
                goto done;
            }
        gf_stats_drop_minmax(&plan, vec);
        for (int64_t i = 0; i < man.d; i++)
            if (!(fabs(vec[i]) <= sa->pub.clip)) {
                st = gf_errorf(GF_ERR_ARG, "statistics: value %lld of this site's statistics is beyond the secure "
                               "aggregation range (clip %g); the job needs a larger secure_aggregation.clip",
                               (long long)i, sa->pub.clip);
                goto done;
            }
        if ((st = site_secagg_begin(s->http, sa, man.d, job, round, &cfg->secagg_policy, s->has_id ? &s->id : NULL,
                                    cfg->stop, &sec)))
            goto done;
        uploading = 1;
        int slot = s->nsent_masked++ % MAX_MASKED_KEPT;
        s->sent_masked[slot][0] = job;
        s->sent_masked[slot][1] = round;
        /* samples past max_weight: weight 1, so the masked sum is the plain sum */
        if ((st = site_secagg_send(sec, vec, INT64_MAX, task->update_path, cfg->secagg_record_dir, job, round)) ||
            (st = site_secagg_finish(sec)))
            goto done;
    } else {
        char srows[24];
        snprintf(srows, sizeof srows, "%lld", (long long)acc[0]);
        gf_st_meta meta[] = { { "gf.samples", srows }, { "gf.steps", "0" } };
        if ((st = gf_update_encode(&man, vec, meta, 2, &up, &up_len))) goto done;
        uploading = 1;
        if ((st = gf_https_request(s->http, "POST", task->update_path, up, up_len, &status, &resp, &resp_len))) goto done;
        if (status != 200) {
            st = gf_errorf(status == 409 ? GF_ERR_MISMATCH : GF_ERR_ARG, "statistics refused: HTTP %d: %.300s", status,
                           resp);
            goto done;
        }
    }
    s->tasks_done++;
    site_log(s, "job %lld round %lld (statistics%s): %lld rows, %lld columns", (long long)job, (long long)round,
             sa ? ", secure aggregation" : "", (long long)acc[0], (long long)plan.columns);
done:
    if (st && !uploading) {
        char path[128], why[300];
        snprintf(why, sizeof why, "%s", gf_last_error());
        snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/%lld/decline", (long long)job, (long long)round);
        decline(s, path, why);
        gf_errorf(st, "%s", why);
    }
    site_secagg_free(sec);
    gf_manifest_free(&man);
    free(acc);
    free(vec);
    free(up);
    free(resp);
    return st;
}

/* Runs one task (decoded and checked by gf_fed_task_decode): download
 * (unless the model came with the task: `global`, global_len bytes,
 * borrowed), train, upload. */
/* Whether an update's 200 answer is a plain receipt {"accepted": true}
 * (a coordinator that does not answer with the next task). */
static int is_receipt(const char *body, size_t len)
{
    if (len > 64) return 0;
    json_t *j = json_loadb(body, len, 0, NULL);
    int yes = json_is_object(j) && json_object_get(j, "accepted");
    json_decref(j);
    return yes;
}

/* Runs one task. A plain update is sent with ?next=WAIT&model=1: the
 * coordinator then answers it, once accepted, with this site's next task
 * as a task poll would (handed back in *next, *next_len; NULL after a 204
 * or from a coordinator that answers {"accepted": true}). */
static gf_status run_task(site_state *s, const gf_fed_task *task, const uint8_t *global, size_t global_len,
                          char **next, size_t *next_len)
{
    const gf_site_config *cfg = s->cfg;
    int64_t job = task->job, round = task->round;
    const char *model = task->model, *mpath = task->model_path, *upath = task->update_path;
    char refused[300];
    if (refusal(cfg, task, refused, sizeof refused)) {     /* not a tenant this site serves: declined first */
        char dpath[128];
        snprintf(dpath, sizeof dpath, "/v1/jobs/%lld/rounds/%lld/decline", (long long)job, (long long)round);
        decline(s, dpath, refused);
        return gf_errorf(GF_ERR_ARG, "job %lld round %lld declined: %s", (long long)job, (long long)round, refused);
    }
    if (task->stats.enabled) return run_stats(s, task);
    int scaffold = task->strategy == GF_STRAT_SCAFFOLD;

    gf_local_config lc = { .spec = model, .round = round, .threads = cfg->threads, .epochs = task->local.epochs,
                           .steps = task->local.steps, .batch = task->local.batch, .optim = task->local.optim,
                           .prox_mu = (float)task->mu, .dpsgd = task->local.dpsgd };
    /* this site's own stream of shuffles, from the job's seed and its name */
    uint64_t seed = task->seed;
    for (const char *p = task->site; *p; p++) seed = gf_hash64(seed, (unsigned char)*p);
    lc.seed = seed;
    gf_status st = GF_OK;
    if (!task->evaluate.only && over_budget(s, job, &lc, refused, sizeof refused)) {   /* past this site's own budget: nothing trains */
        char dpath[128];
        snprintf(dpath, sizeof dpath, "/v1/jobs/%lld/rounds/%lld/decline", (long long)job, (long long)round);
        decline(s, dpath, refused);
        return gf_errorf(GF_ERR_ARG, "job %lld round %lld declined: %s", (long long)job, (long long)round, refused);
    }

    const float *vec = NULL;          /* the global model: read in place in body (see view) */
    float *out = NULL;
    gf_update_view view = { 0 };
    uint8_t *body = NULL, *up = NULL;
    char *resp = NULL;
    size_t body_len = 0, up_len = 0, resp_len;
    int status = 0, uploading = 0;
    gf_local_result res;
    site_secagg *sec = NULL;
    gf_preprocess prep = {0};
    gf_dataset ptrain = {0}, pval = {0};
    const gf_fed_task_secagg *sa = task->secagg.enabled ? &task->secagg : NULL;
    if ((st = manifests_for(s, model, scaffold))) goto done;
    const gf_manifest *wire = &s->wire;
    int64_t d = s->man.d;
    /* secure aggregation: keys and shares first, so a site that cannot train is a clean dropout */
    for (int i = 0; sa && i < s->nsent_masked && i < MAX_MASKED_KEPT; i++)
        if (s->sent_masked[i][0] == job && s->sent_masked[i][1] == round) {
            /* one masked input per round: a second could be unmasked and differenced against the first */
            st = gf_errorf(GF_ERR_ARG, "this site refuses the round: it already sent a masked input for round %lld of "
                           "job %lld (an aborted attempt); a second one could be differenced against the first",
                           (long long)round, (long long)job);
            goto done;
        }
    if (sa && (st = site_secagg_begin(s->http, sa, d, job, round, &cfg->secagg_policy, s->has_id ? &s->id : NULL,
                                      cfg->stop, &sec)))
        goto done;
    if (!(out = malloc(sizeof(float) * (size_t)wire->d))) {
        st = gf_errorf(GF_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (!global) {
        if ((st = gf_https_request(s->http, "GET", mpath, NULL, 0, &status, (char **)&body, &body_len))) goto done;
        if (status != 200) {
            st = gf_errorf(GF_ERR_MISMATCH, "model download: HTTP %d: %.300s", status, (char *)body);
            goto done;
        }
        global = body, global_len = body_len;
    }
    if ((st = gf_update_view_open(wire, global, global_len, global_len, &view))) goto done;
    vec = view.vec;
    if (task->evaluate.enabled) {
        gf_status est = send_eval(s, task, vec, d);
        if (task->evaluate.only) {     /* the final model's evaluation: nothing to train */
            if (est) {
                char dpath[128], why[300];
                snprintf(why, sizeof why, "cannot evaluate: %s", gf_last_error());
                snprintf(dpath, sizeof dpath, "/v1/jobs/%lld/rounds/%lld/decline", (long long)job, (long long)round);
                decline(s, dpath, why);
            }
            uploading = 1;            /* answered (or declined): no second decline below */
            st = est;
            goto done;
        }
    }

    float *ci = scaffold ? control_of(s, job, d) : NULL;
    if (scaffold && !ci) { st = gf_errorf(GF_ERR_NOMEM, "out of memory"); goto done; }
    const gf_dataset *train = cfg->train, *val = cfg->val;
    if (task->preprocess) {             /* the job's preprocessing, the same at every site */
        if ((st = gf_preprocess_from_json(task->preprocess, strlen(task->preprocess), &prep)) ||
            (st = gf_preprocess_apply(&prep, cfg->train, "local training data", &ptrain)) ||
            (val && val->n > 0 && (st = gf_preprocess_apply(&prep, val, "local validation data", &pval))))
            goto done;
        train = &ptrain;
        if (val && val->n > 0) val = &pval;
    }
    st = gf_local_train(&lc, train, val, vec, d, scaffold ? vec + d : NULL, ci, out,
                        scaffold ? out + d : NULL, &res);
    if (st) goto done;
    double dp_eps = NAN;
    if (lc.dpsgd.enabled) {
        /* recorded durably before anything that spends it leaves: a crash can only over-count */
        if (res.dp_steps > 0 &&
            (st = gf_site_budget_add(&s->budget, s->coord_id, job, lc.dpsgd.noise, res.dp_sample_rate, res.dp_steps))) {
            st = gf_errorf(st, "this site cannot record the privacy the round spent, so it sends nothing: %s",
                           gf_last_error());
            goto done;
        }
        if ((st = gf_site_budget_epsilon(&s->budget, s->coord_id, job, NULL, lc.dpsgd.delta, &dp_eps))) goto done;
        site_log(s, "job %lld round %lld: DP-SGD %lld noisy steps at q = %.6g; this site's records: epsilon %.6g "
                 "(delta %g) over the job so far (%lld steps)", (long long)job, (long long)round,
                 (long long)res.dp_steps, res.dp_sample_rate, dp_eps, lc.dpsgd.delta,
                 (long long)gf_site_budget_steps(&s->budget, s->coord_id, job));
        log_budget(s);
    }

    if (sec) {
        uploading = 1;
        int slot = s->nsent_masked++ % MAX_MASKED_KEPT;   /* counted before sending: it may arrive */
        s->sent_masked[slot][0] = job;
        s->sent_masked[slot][1] = round;
        if ((st = site_secagg_send(sec, out, res.samples, upath, cfg->secagg_record_dir, job, round))) goto done;
        if ((st = site_secagg_finish(sec))) goto done;
        s->tasks_done++;
        site_log(s, "job %lld round %lld (secure aggregation): %lld samples, %lld steps, loss %.4f, val_acc %.4f, "
                 "%.2f s", (long long)job, (long long)round, (long long)res.samples, (long long)res.steps,
                 res.train_loss, res.val_accuracy, res.seconds);
        goto done;
    }
    char ssamples[24], ssteps[24], sloss[32], svl[32], sva[32], seps[32];
    snprintf(seps, sizeof seps, "%.9g", dp_eps);
    snprintf(ssamples, sizeof ssamples, "%lld", (long long)res.samples);
    snprintf(ssteps, sizeof ssteps, "%lld", (long long)res.steps);
    snprintf(sloss, sizeof sloss, "%.9g", res.train_loss);
    snprintf(svl, sizeof svl, "%.9g", res.val_loss);
    snprintf(sva, sizeof sva, "%.9g", res.val_accuracy);
    /* Under DP-SGD the loss and accuracy stay here: they are computed from
     * the raw records, and the epsilon this site states covers only what
     * its noised steps produced. */
    gf_st_meta meta[] = { { "gf.samples", ssamples }, { "gf.steps", ssteps }, { "gf.train_loss", sloss },
                          { "gf.val_loss", svl }, { "gf.val_accuracy", sva }, { "gf.dpsgd_epsilon", seps } };
    if (lc.dpsgd.enabled) meta[2] = meta[5];
    if ((st = gf_update_encode(wire, out, meta, lc.dpsgd.enabled ? 3 : 5, &up, &up_len))) goto done;
    uploading = 1;
    /* the round's result, logged as it is sent: the answer may wait for the
     * next task (a refusal is logged after it as the task's failure) */
    site_log(s, "job %lld round %lld: %lld samples, %lld steps, loss %.4f, val_acc %.4f, %.2f s", (long long)job,
             (long long)round, (long long)res.samples, (long long)res.steps, res.train_loss, res.val_accuracy,
             res.seconds);
    char upath_next[GF_FED_TASK_PATH_MAX + 32];
    int last = cfg->max_tasks > 0 && s->tasks_done + 1 >= cfg->max_tasks;   /* no task after this one */
    snprintf(upath_next, sizeof upath_next, last ? "%s" : "%s?next=%d&model=1", upath, s->wait);
    if ((st = gf_https_request(s->http, "POST", upath_next, up, up_len, &status, &resp, &resp_len))) goto done;
    if (status != 200 && status != 204) {
        st = gf_errorf(status == 409 ? GF_ERR_MISMATCH : GF_ERR_ARG, "update refused: HTTP %d: %.300s", status, resp);
        goto done;
    }
    if (status == 200 && !is_receipt(resp, resp_len)) {   /* the next task */
        *next = resp, *next_len = resp_len;
        resp = NULL;
    }
    s->tasks_done++;
done:
    if (st && !uploading && status != 409 && status != 403 && status != 404) {
        /* the task could not run here (bad data for the model, a diverged model): say so */
        char path[128], why[300];
        snprintf(why, sizeof why, "%s", gf_last_error());
        snprintf(path, sizeof path, "/v1/jobs/%lld/rounds/%lld/decline", (long long)job, (long long)round);
        decline(s, path, why);
        gf_errorf(st, "%s", why);
    }
    site_secagg_free(sec);
    gf_preprocess_free(&prep);
    gf_dataset_free(&ptrain);
    gf_dataset_free(&pval);
    gf_update_view_close(&view);
    free(out);
    free(body);
    free(up);
    free(resp);
    return st;
}

double gf_site_backoff_jitter(double backoff)
{
    /* libsodium's CSPRNG: its own per-process source (the kernel's), unlike
     * rand(), whose unseeded sequence is the same in every site process, so
     * that after a coordinator restart all sites would retry in lockstep */
    if (sodium_init() < 0) return backoff;
    return backoff * (0.5 + 0.5 * randombytes_uniform(1000001) / 1e6);
}

gf_status gf_site_run(const gf_site_config *cfg)
{
    site_state s = { .cfg = cfg };
    gf_status st = gf_https_client_open(cfg->kit_dir, cfg->url, &s.http);
    if (st) return st;
    if ((st = coordinator_id(cfg->kit_dir, s.coord_id, sizeof s.coord_id)) ||
        (st = gf_site_budget_open(cfg->state_dir, &s.budget))) {
        gf_https_client_close(s.http);
        return st;
    }
    log_budget(&s);
    s.has_id = !gf_pki_signing_load(cfg->kit_dir, s.id.sk, s.id.endorsement, s.id.ca_pk);
    if (!s.has_id) site_log(&s, "no signing key in the kit (%s): secure aggregation rounds will be declined",
                            gf_last_error());
    int wait = s.wait = cfg->poll_wait_s > 0 ? cfg->poll_wait_s : 25;
    double max_backoff = cfg->max_backoff_s > 0 ? cfg->max_backoff_s : 5, backoff = 0.1;
    gf_https_client_set_timeouts(s.http, 10, 600);
    gf_https_client_expect_response(s.http, SITE_ANSWER_START);
    char path[64];
    snprintf(path, sizeof path, "/v1/site/task?wait=%d&model=1", wait);   /* the model comes with a task */
    int connected = 0;
    char *next = NULL;                              /* the next task, answered to the last update */
    size_t next_len = 0;
    while (!stopped(&s) && (cfg->max_tasks <= 0 || s.tasks_done < cfg->max_tasks)) {
        int status = 200;
        char *body = next;
        size_t len = next_len;
        next = NULL;
        st = body ? GF_OK : gf_https_request(s.http, "GET", path, NULL, 0, &status, &body, &len);
        if (st) {                                   /* coordinator gone: try again later */
            if (connected) site_log(&s, "lost the coordinator: %s", gf_last_error());
            connected = 0;
            pause_s(gf_site_backoff_jitter(backoff));
            backoff = backoff * 2 > max_backoff ? max_backoff : backoff * 2;
            continue;
        }
        if (!connected) site_log(&s, "connected to the coordinator");
        connected = 1;
        backoff = 0.1;
        if (status == 204) { free(body); continue; }
        if (status == 403) {
            st = gf_errorf(GF_ERR_ARG, "the coordinator refuses this site: %.300s", body);
            free(body);
            break;
        }
        if (status != 200) {
            site_log(&s, "task poll: HTTP %d: %.300s", status, body);
            free(body);
            pause_s(1);
            continue;
        }
        gf_fed_task task;
        const uint8_t *model;
        size_t task_len, model_len;
        gf_fed_task_split(body, len, &task_len, &model, &model_len);
        gf_https_client_expect_response(s.http, len);   /* a reconnection starts with room for the next */
        st = gf_fed_task_decode(body, task_len, &task);
        if (st) {                                   /* the round goes on without this site (its deadline) */
            free(body);
            site_log(&s, "task poll: refused the coordinator's task: %s", gf_last_error());
            pause_s(1);
            st = GF_OK;
            continue;
        }
        if ((st = run_task(&s, &task, model, model_len, &next, &next_len)))
            site_log(&s, "task failed: %s", gf_last_error());
        gf_fed_task_free(&task);
        free(body);
        st = GF_OK;
    }
    free(next);
    for (int i = 0; i < MAX_JOBS_WITH_STATE; i++) free(s.ctl[i].ci);
    gf_manifest_free(&s.man);
    gf_manifest_free(&s.wire);
    gf_site_budget_free(&s.budget);
    gf_https_client_close(s.http);
    sodium_memzero(&s.id, sizeof s.id);
    return st;
}
