/* The coordinator's HTTP routes, version 1 (docs/api.md): routing, the job
 * routes and the site routes. Every request is authenticated (auth.c): an
 * operator (certificate or token) reaches every job; a tenant member's token
 * only its tenant's jobs (another tenant's job is a 404, as a missing one);
 * a site's certificate only the site routes of the rounds it was chosen
 * for. Every refusal of a site's message is answered with a JSON error and
 * written to the audit log; the round goes on. The facility's routes
 * (tenants, tokens, queue, usage, logs, dashboard) are in api_facility.c. */
#include "service/coordinator_internal.h"
#include "service/preprocess_job.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "core/timer.h"
#include "net/pki.h"
#include "privacy/dp.h"
#include "service/datasets.h"
#include "fed/site_records.h"
#include "fed/evalreport.h"
#include "jobspec/fedcaps.h"
#include "service/ledger.h"
#include "jobspec/jobspec_program.h"
#include "service/program.h"
#include "service/scheduler.h"
#include "service/tenants.h"
#include "train/metrics_file.h"

#define POLL_DEFAULT_S 25
#define POLL_MAX_S     60
#define CENTRAL_METRICS_MAX ((int64_t)64 << 20)   /* bytes of a central job's metrics file read */

gf_status co_reply(gf_http_response *resp, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (!text) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    resp->status = status;
    resp->body = text;
    resp->len = strlen(text);
    resp->free_body = free;
    return GF_OK;
}

/* An error answer: status + {"error": message}. */
gf_status co_refuse(gf_http_response *resp, int status, gf_status st, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp->status = status;
    return gf_errorf(st, "%s", msg);
}

static json_t *num_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

/* ---- operator routes --------------------------------------------------------- */

/* A central job's dataset and a federated job's eval set name registered
 * datasets the job's tenant may read (datasets.h). */
static gf_status check_datasets(gf_coordinator *c, const gf_jobspec *spec, int64_t tenant_id)
{
    char resolved[GF_DATASET_SPEC_MAX], name[GF_STORE_NAME_MAX + 1], msg[512];
    int train;
    gf_status st = GF_OK;
    if (spec->kind == GF_JOB_CENTRAL && (st = gf_datasets_resolve(c->store, spec->dataset, tenant_id, resolved,
                                                                  sizeof resolved))) {
        snprintf(msg, sizeof msg, "%s", gf_last_error());
        return gf_errorf(st, "dataset: %s", msg);
    }
    if (spec->kind == GF_JOB_FEDERATED && spec->eval[0] &&
        ((st = gf_dataset_eval_split(spec->eval, name, &train)) ||
         (st = gf_datasets_resolve(c->store, name, tenant_id, resolved, sizeof resolved)))) {
        snprintf(msg, sizeof msg, "%s", gf_last_error());
        return gf_errorf(st, "eval: %s", msg);
    }
    /* a CSV registered without a test file, or a reader of plink..imagedir without test= or
     * test_fraction= in its options, has no test split */
    int no_test = 0;
    if (spec->kind == GF_JOB_FEDERATED && spec->eval[0] && !train)
        no_test = !strncmp(resolved, "csv:", 4) ? !strstr(resolved, ",test=")
                : strncmp(resolved, "idx:", 4) && strncmp(resolved, "npz:", 4) && strcmp(resolved, GF_DATASET_BUILTIN) &&
                  !strstr(resolved, ",test=") && !strstr(resolved, ",test_fraction=");
    if (no_test)
        return gf_errorf(GF_ERR_ARG, "eval: dataset \"%s\" has no test split (it was registered without a test "
                         "file or test_fraction=): name %s:train, or register the dataset with one", name, name);
    gf_program_data *pd = NULL;
    if (spec->kind == GF_JOB_PROGRAM && (st = gf_program_datasets(c->store, spec, tenant_id, &pd))) return st;
    free(pd);
    return GF_OK;
}

gf_status co_submit_spec(gf_coordinator *c, const char *body, size_t len, const char *bundle_dir,
                         const co_principal *who, gf_http_response *resp)
{
    gf_jobspec spec;
    gf_status st = gf_jobspec_parse(body, len, &spec);
    if (st) {                  /* the parser names the field; some of its messages already say "job spec" */
        const char *msg = gf_last_error();
        return co_refuse(resp, 400, st, "%s%s", strncmp(msg, "job spec:", 9) ? "job spec: " : "", msg);
    }
    gf_store_tenant tenant = {0};
    if (who->role == CO_MEMBER) {
        if (spec.tenant[0] && strcmp(spec.tenant, who->tenant)) {
            gf_jobspec_free(&spec);
            return co_refuse(resp, 403, GF_ERR_ARG, "tenant: your token belongs to tenant \"%s\", not \"%s\"",
                             who->tenant, spec.tenant);
        }
        snprintf(spec.tenant, sizeof spec.tenant, "%s", who->tenant);
    } else if (!spec.tenant[0] && who->tenant[0]) {
        snprintf(spec.tenant, sizeof spec.tenant, "%s", who->tenant);
    }
    if (spec.tenant[0] && gf_store_tenant_get(c->store, spec.tenant, &tenant)) {
        gf_jobspec_free(&spec);
        return co_refuse(resp, 400, GF_ERR_ARG, "tenant: no tenant \"%s\"", spec.tenant);
    }
    if (bundle_dir && spec.kind != GF_JOB_PROGRAM) {
        gf_jobspec_free(&spec);
        return co_refuse(resp, 400, GF_ERR_ARG, "bundle: only program jobs (\"kind\": \"program\") take files");
    }
    if (gf_job_kind_scheduled(spec.kind)) {
        if (!tenant.id) {
            gf_jobspec_free(&spec);
            return co_refuse(resp, 400, GF_ERR_ARG, "tenant: a %s job needs a tenant to charge (\"tenant\": NAME)",
                             spec.kind == GF_JOB_PROGRAM ? "program" : "central");
        }
        if (!c->cfg.executor || strcmp(c->cfg.executor, "slurm")) {
            const char *what = NULL;
            int want = 0, have = 0;
            if (spec.resources.cores > c->cfg.cores) what = "cores", want = spec.resources.cores, have = c->cfg.cores;
            else if (spec.resources.gpus > c->gpus.n) what = "gpus", want = spec.resources.gpus, have = c->gpus.n;
            if (what) {
                gf_jobspec_free(&spec);
                return co_refuse(resp, 400, GF_ERR_ARG, "resources.%s: %d is more than the local executor has (%d%s): "
                                 "the job could never start", what, want, have,
                                 !strcmp(what, "gpus") ? " GPU device files, gf coordinator --gpu-devices" : "");
            }
            if (spec.resources.memory_mb > c->cfg.memory_mb) {
                long long want_mb = (long long)spec.resources.memory_mb;
                gf_jobspec_free(&spec);
                return co_refuse(resp, 400, GF_ERR_ARG, "resources.memory_mb: %lld MiB is more than the local executor "
                                 "has (%lld MiB): the job could never start", want_mb, (long long)c->cfg.memory_mb);
            }
        }
    }
    if ((st = check_datasets(c, &spec, tenant.id))) {   /* what the job reads: registered, and its tenant's */
        gf_jobspec_free(&spec);
        return co_refuse(resp, 400, st, "%s", gf_last_error());
    }
    char *prep = NULL;                                    /* its statistics job: there, done, and fitting */
    if ((st = gf_preprocess_job_resolve(c->store, c->data_dir, &spec, tenant.id, &prep))) {
        gf_jobspec_free(&spec);
        return co_refuse(resp, 400, st, "%s", gf_last_error());
    }
    free(prep);
    if ((st = co_sites_check_job(c, &spec, tenant.id, tenant.name, resp))) {   /* the sites: granted to its tenant */
        gf_jobspec_free(&spec);
        return st;
    }
    /* a federated job's runtime lives in this process: its model is capped
     * (fedcaps.h), and so is the number of a member's tenant's jobs */
    if (!gf_job_kind_scheduled(spec.kind) && (st = gf_fedcaps_check(&spec, c->sites_total, c->cfg.max_model_params))) {
        gf_jobspec_free(&spec);
        return co_refuse(resp, 400, st, "%s", gf_last_error());
    }
    int max_active = !gf_job_kind_scheduled(spec.kind) && who->role != CO_OPERATOR ? c->cfg.max_fed_jobs_per_tenant : 0;
    char *canon = NULL;
    int64_t id = 0;
    const char *kind = spec.kind == GF_JOB_CENTRAL ? "central" : spec.kind == GF_JOB_STATISTICS ? "statistics"
                     : spec.kind == GF_JOB_PROGRAM ? "program" : "federated";
    st = gf_jobspec_to_json(&spec, &canon);
    if (!st) st = gf_store_job_create_capped(c->store, tenant.id, spec.name, kind, canon, max_active, &id);
    free(canon);
    if (st == GF_ERR_MISMATCH && max_active) {
        gf_status r = co_refuse(resp, 400, GF_ERR_ARG, "tenant: \"%s\" already has %d queued or running federated "
                                "jobs, the most this coordinator allows (gf coordinator --max-fed-jobs-per-tenant); "
                                "wait for one to finish or cancel one", spec.tenant, max_active);
        gf_jobspec_free(&spec);
        return r;
    }
    if (st) { gf_jobspec_free(&spec); return st; }
    /* a program job's work folder (its bundle's files, or empty): the
     * scheduler starts no program job before it is in place */
    if (spec.kind == GF_JOB_PROGRAM) {
        char dir[PATH_MAX + 96], work[PATH_MAX + 128];
        co_job_dir(c, id, dir, sizeof dir);
        snprintf(work, sizeof work, "%s/%s", dir, GF_PROGRAM_WORK);
        char jobs[PATH_MAX + 16];                 /* a fresh coordinator's first job, without files */
        snprintf(jobs, sizeof jobs, "%.*s/jobs", PATH_MAX - 1, c->data_dir);
        mkdir(jobs, 0700);
        if ((mkdir(dir, 0700) && errno != EEXIST) || (bundle_dir ? rename(bundle_dir, work) : mkdir(work, 0700))) {
            char why[GF_STORE_REASON_MAX + 1];
            snprintf(why, sizeof why, "its files could not be put into its folder: %s", strerror(errno));
            gf_store_job_finish(c->store, id, GF_STORE_JOB_FAILED, why, NULL);
        }
    }
    co_audit(c, who->actor, "job.submitted", json_pack("{s:I,s:s,s:s,s:s}", "job", (json_int_t)id, "name", spec.name,
                                                       "kind", kind, "tenant", spec.tenant));
    json_t *out = json_pack("{s:I,s:s,s:s,s:s,s:s}", "id", (json_int_t)id, "name", spec.name, "kind", kind,
                            "tenant", spec.tenant, "state", "queued");
    int central = gf_job_kind_scheduled(spec.kind);
    gf_jobspec_free(&spec);
    if (central) {                     /* the scheduler's, on its own thread (central and program jobs) */
        co_sched_wake(c);
    } else {                           /* the round driver's */
        pthread_mutex_lock(&c->lock);
        c->look_for_queued = 1;
        co_wake(c);
        pthread_mutex_unlock(&c->lock);
    }
    return co_reply(resp, 201, out);
}

static gf_status submit(gf_coordinator *c, const gf_http_request *req, const co_principal *who,
                        gf_http_response *resp)
{
    return co_submit_spec(c, (const char *)req->body, req->body_len, NULL, who, resp);
}

static int spec_int(const char *spec_json, const char *key)
{
    json_t *j = json_loads(spec_json, 0, NULL);
    int n = (int)json_integer_value(json_object_get(j, key));
    json_decref(j);
    return n;
}

static int epoch_one(json_t *e, int64_t end, void *arr) { return json_array_append(arr, e), 0; }

/* Epochs a central job has finished: the objects of its metrics file (its
 * first CENTRAL_METRICS_MAX bytes). */
static json_t *central_epochs(gf_coordinator *c, int64_t id)
{
    char path[PATH_MAX + 96];
    co_job_dir(c, id, path, sizeof path);
    strcat(path, "/metrics.jsonl");
    json_t *arr = json_array();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return arr;
    gf_metrics_cursor cur = { 0, CENTRAL_METRICS_MAX, INT64_MAX };
    gf_metrics_file_read(fd, &cur, epoch_one, arr);     /* a failed read: the epochs read so far */
    close(fd);
    return arr;
}

static json_t *job_summary(gf_coordinator *c, const gf_store_job *job)
{
    int central = !strcmp(job->kind, "central");
    int epochs = 0;
    if (central && job->state != GF_STORE_JOB_QUEUED) {
        json_t *e = central_epochs(c, job->id);
        epochs = (int)json_array_size(e);
        json_decref(e);
    }
    json_t *out = json_pack("{s:I,s:s,s:s,s:o,s:s,s:s,s:I,s:i,s:i,s:i,s:s,s:s}", "id", (json_int_t)job->id, "name", job->name,
                     "kind", job->kind, "tenant", job->tenant[0] ? json_string(job->tenant) : json_null(),
                     "state", gf_store_job_state_name(job->state), "reason", job->reason,
                     "round", (json_int_t)job->round,
                     "rounds_total", central ? 0 : !strcmp(job->kind, "statistics") ? 1 : spec_int(job->spec_json, "rounds"),
                     "epoch", epochs, "epochs_total", central ? spec_int(job->spec_json, "epochs") : 0,
                     "created_at", job->created_at, "updated_at", job->updated_at);
    if (!strcmp(job->kind, "program"))      /* its progress: the last step its metrics lines name */
        json_object_set_new(out, "step", co_program_last_step(c, job));
    return out;
}

typedef struct { gf_coordinator *c; const co_principal *who; json_t *list; } list_ctx;

static int list_one(const gf_store_job *job, void *ctx)
{
    list_ctx *l = ctx;
    if (co_job_visible(l->who, job)) json_array_append_new(l->list, job_summary(l->c, job));
    return 0;
}

/* The rounds a status answer lists: those after `from`. */
typedef struct { json_t *out; int64_t from; } round_window;

static int site_name_one(const gf_store_result *r, void *ctx)
{
    round_window *w = ctx;
    if (r->round <= w->from) return 0;
    ctx = w->out;
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)r->round);
    json_t *names = json_object_get(ctx, key);
    if (!names) json_object_set_new(ctx, key, names = json_array());
    json_array_append_new(names, json_string(r->site));
    return 0;
}

static int round_one(const gf_store_round *r, void *ctx)
{
    round_window *w = ctx;
    if (r->state != GF_STORE_ROUND_COMPLETED || r->round <= w->from) return 0;
    json_array_append_new(w->out, json_pack("{s:I,s:i,s:f,s:o,s:o,s:s,s:s}", "round", (json_int_t)r->round,
                                         "sites", r->sites, "duration_s", r->duration_s,
                                         "train_loss", num_or_null(r->train_loss),
                                         "accuracy", num_or_null(r->accuracy), "started_at", r->started_at,
                                         "closed_at", r->closed_at));
    return 0;
}

static int log_one(const gf_store_log_entry *e, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s,s:o,s:s,s:s}", "at", e->at,
                                         "from", e->has_from ? json_string(gf_store_job_state_name(e->from)) : json_null(),
                                         "to", gf_store_job_state_name(e->to), "reason", e->reason));
    return 0;
}

static int usage_one(const gf_store_usage *u, void *ctx)
{
    json_t **out = ctx;
    if (u->site[0] || *out) return 0;
    *out = json_pack("{s:f,s:f,s:f,s:f,s:f,s:s}", "core_s", u->core_s, "cpu_s", u->cpu_s, "gpu_s", u->gpu_s,
                     "peak_mem_mb", (double)u->peak_mem_kb / 1024.0, "wall_s", u->wall_s, "executor", u->executor);
    return 0;
}

typedef struct { int64_t job; json_t *usage; } job_usage_ctx;

static int job_usage_one(const gf_store_usage *u, void *ctx)
{
    job_usage_ctx *j = ctx;
    return u->job_id == j->job ? usage_one(u, &j->usage) : 0;
}

/* ?NAME=N as an integer in [lo, hi] (def when absent); -1 when malformed. */
static int64_t query_int(const gf_http_request *req, const char *name, int64_t lo, int64_t hi, int64_t def)
{
    const char *v = gf_https_query(req, name);
    if (!v) return def;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    return errno || end == v || *end || n < lo || n > hi ? -1 : n;
}

#define STATUS_ROUNDS_DEFAULT 1000     /* rounds in a status answer unless ?rounds_limit= says otherwise */

static gf_status job_status(gf_coordinator *c, const co_principal *who, int64_t id, const gf_http_request *req,
                            gf_http_response *resp)
{
    int64_t after = query_int(req, "rounds_after", 0, INT64_MAX, 0);
    int64_t limit = query_int(req, "rounds_limit", 1, 1000000000, STATUS_ROUNDS_DEFAULT);
    if (after < 0 || limit < 0)
        return co_refuse(resp, 400, GF_ERR_ARG, "rounds_after must be an integer >= 0 and rounds_limit one >= 1");
    int64_t metrics_after = query_int(req, "metrics_after", 0, INT64_MAX, -1);   /* a byte offset; -1: none */
    if (metrics_after == -1 && gf_https_query(req, "metrics_after"))
        return co_refuse(resp, 400, GF_ERR_ARG, "metrics_after must be an integer >= 0 (a metrics_next)");
    gf_store_job job;
    gf_status st = co_job_for(c, who, id, &job, resp);
    if (st) return st;
    json_t *out = job_summary(c, &job), *rounds = json_array(), *log = json_array();
    /* completed rounds are 1..job.round: the last `limit` of those after `after` */
    round_window w = { rounds, after > job.round - limit ? after : job.round - limit };
    st = gf_store_rounds_after(c->store, id, w.from, round_one, &w);
    json_t *by_round = json_object();               /* "R" -> [site, ...], from one query */
    round_window wn = { by_round, w.from };
    if (!st && json_array_size(rounds)) st = gf_store_results_after(c->store, id, w.from, site_name_one, &wn);
    for (size_t i = 0; i < json_array_size(rounds); i++) {
        json_t *r = json_array_get(rounds, i);
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(r, "round")));
        json_t *names = json_object_get(by_round, key);
        json_object_set_new(r, "site_names", names ? json_incref(names) : json_array());
    }
    json_decref(by_round);
    if (!st) st = gf_store_job_log(c->store, id, log_one, log);
    json_object_set_new(out, "rounds", rounds);
    json_object_set_new(out, "rounds_from", json_integer(w.from + 1));   /* the first round listed could be */
    json_object_set_new(out, "state_log", log);
    json_object_set_new(out, "spec", json_loads(job.spec_json, 0, NULL));
    if (!strcmp(job.kind, "statistics")) {   /* the result, once its round completed */
        char path[PATH_MAX + 96];
        json_t *res = gf_fedjob_stats_path(c->data_dir, id, path, sizeof path) ? NULL : json_load_file(path, 0, NULL);
        json_object_set_new(out, "statistics", res ? res : json_null());
    }
    if (!strcmp(job.kind, "central")) {
        json_t *spec = json_object_get(out, "spec");
        json_object_set(out, "resources", json_object_get(spec, "resources"));
        json_object_set_new(out, "epochs", job.state == GF_STORE_JOB_QUEUED ? json_array() : central_epochs(c, id));
        job_usage_ctx ju = { id, NULL };
        if (!st && job.state != GF_STORE_JOB_QUEUED && job.state != GF_STORE_JOB_RUNNING)
            st = gf_store_ledger(c->store, job.tenant_id ? job.tenant_id : -1, NULL, job_usage_one, &ju);
        json_object_set_new(out, "usage", ju.usage ? ju.usage : json_null());
    } else {                        /* each site's last decline of this job, with its reason */
        json_object_set_new(out, "declines", gf_site_declines_json(c->data_dir, id));
        /* each site's own record-level DP-SGD epsilon (local.dp_sgd), its latest report */
        json_object_set_new(out, "site_dp", gf_site_dp_json(c->data_dir, id));
        /* the sites' evaluations of the global model, per round: the rounds'
         * window and the round before it (its sites report during the next) */
        json_object_set_new(out, "site_eval", gf_site_evals_json(c->data_dir, id, w.from > 0 ? w.from - 1 : 0, limit + 1));
    }
    if (!strcmp(job.kind, "program")) {
        json_t *spec = json_object_get(out, "spec");
        json_object_set(out, "resources", json_object_get(spec, "resources"));
        co_program_status(c, &job, metrics_after, out);
        job_usage_ctx ju = { id, NULL };
        if (!st && job.state != GF_STORE_JOB_QUEUED && job.state != GF_STORE_JOB_RUNNING)
            st = gf_store_ledger(c->store, job.tenant_id ? job.tenant_id : -1, NULL, job_usage_one, &ju);
        json_object_set_new(out, "usage", ju.usage ? ju.usage : json_null());
    }
    gf_jobspec spec;
    if (!gf_jobspec_parse(job.spec_json, strlen(job.spec_json), &spec)) {
        if (spec.dp.enabled) {      /* what the completed rounds spent */
            double eps = 0, order = NAN;
            gf_dp_spent(&spec.dp, job.round, &eps, &order);
            json_t *dp = json_pack("{s:f,s:f,s:f,s:f,s:s,s:o,s:o}", "clip", spec.dp.clip, "noise", spec.dp.noise,
                                   "delta", spec.dp.delta, "sample_rate", GF_DP_CLIENT_SAMPLE_RATE,
                                   /* central noise: the coordinator adds it after seeing each update */
                                   "against", spec.secagg.enabled ? "coordinator and operator"
                                              : "users of the model, not the coordinator (central noise: it sees every update)",
                                   "epsilon", isfinite(eps) ? json_real(eps) : json_null(),
                                   "budget", spec.dp.epsilon > 0 ? json_real(spec.dp.epsilon) : json_null());
            if (!isnan(order)) json_object_set_new(dp, "order", json_real(order));
            json_object_set_new(out, "dp", dp);
        }
        gf_jobspec_free(&spec);
    }
    gf_store_job_free(&job);
    pthread_mutex_lock(&c->lock);
    co_job *cj = co_job_find(c, id);
    json_t *dpj = json_object_get(out, "dp");
    if (cj && dpj && cj->fj->spec.dp.adaptive)       /* the clip adaptive clipping has reached */
        json_object_set_new(dpj, "clip_current", json_real(cj->fj->dp_clip));
    char waiting[256] = "";
    if (cj) co_job_waiting(c, cj, waiting, sizeof waiting);
    if (waiting[0]) json_object_set_new(out, "waiting", json_string(waiting));
    if (cj && cj->fj->round) {
        gf_fedjob *j = cj->fj;
        json_t *sites = json_array();
        for (int i = 0; i < j->nparts; i++) {
            const gf_fedjob_part *p = &j->parts[i];
            json_t *o = json_pack("{s:s,s:b,s:b}", "site", p->name, "sent", p->sent, "declined", p->declined);
            char why[GF_SITE_DECLINE_REASON_MAX + 4];
            gf_site_decline_clean(why, sizeof why, p->decline_reason);
            if (p->declined) json_object_set_new(o, "reason", json_string(why));
            if (gf_fedjob_round_evaluates(j)) json_object_set_new(o, "evaluated", json_boolean(p->evaluated));
            json_array_append_new(sites, o);
        }
        json_t *cur = json_pack("{s:I,s:i,s:o,s:f}", "round", (json_int_t)j->round, "received", j->received,
                                "sites", sites, "deadline_in_s", j->deadline - gf_now());
        if (cur && j->eval_round) json_object_set_new(cur, "evaluates_final_model", json_true());
        json_object_set_new(out, "current", cur);
    }
    pthread_mutex_unlock(&c->lock);
    if (st) { json_decref(out); return st; }
    return co_reply(resp, 200, out);
}

static gf_status cancel(gf_coordinator *c, const co_principal *who, int64_t id, gf_http_response *resp)
{
    gf_store_job job;
    gf_status st = co_job_for(c, who, id, &job, resp);
    if (st) return st;
    gf_store_job_state was = job.state;
    int central = co_kind_scheduled(job.kind);
    gf_store_job_free(&job);
    char reason[200];
    if (who->role == CO_OPERATOR) snprintf(reason, sizeof reason, "cancelled by the operator (%s)", who->actor);
    else snprintf(reason, sizeof reason, "cancelled by tenant %s (%s)", who->tenant, who->actor);
    /* a job an executor has (running, or waiting in Slurm's queue): the
     * scheduler stops it and records the end */
    int requested = central && (was == GF_STORE_JOB_RUNNING || was == GF_STORE_JOB_QUEUED) && !co_sched_cancel(c, id);
    if (!requested && central && was == GF_STORE_JOB_RUNNING)   /* not (or no longer) followed: ending or starting */
        return co_refuse(resp, 409, GF_ERR_MISMATCH, "job %lld is changing state; look again", (long long)id);
    /* a queued scheduled job goes to cancelled only while still queued: the
     * scheduler may start it meanwhile, and a running job marked cancelled
     * would run on with its end (and usage) never recorded */
    if (!requested && (central && was == GF_STORE_JOB_QUEUED
                           ? gf_store_job_cancel_queued(c->store, id, reason)
                           : gf_store_job_finish(c->store, id, GF_STORE_JOB_CANCELLED, reason, NULL))) {
        if (!(central && was == GF_STORE_JOB_QUEUED))
            return co_refuse(resp, 409, GF_ERR_MISMATCH, "job %lld is %s and cannot be cancelled", (long long)id,
                             gf_store_job_state_name(was));
        requested = !co_sched_cancel(c, id);            /* started meanwhile: stopped as a running job */
        if (!requested)
            return co_refuse(resp, 409, GF_ERR_MISMATCH, "job %lld is changing state; look again", (long long)id);
    }
    if (requested) {
        co_audit(c, who->actor, "job.cancel-requested", json_pack("{s:I}", "job", (json_int_t)id));
        return co_reply(resp, 202, json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "state",
                                             gf_store_job_state_name(was),
                                             "reason", "cancel requested; its processes are being stopped"));
    }
    co_audit(c, who->actor, "job.cancelled", json_pack("{s:I}", "job", (json_int_t)id));
    pthread_mutex_lock(&c->lock);
    co_job *cj = co_job_find(c, id);
    if (cj) cj->cancelled = 1;
    co_wake(c);
    pthread_mutex_unlock(&c->lock);
    return co_reply(resp, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "state", "cancelled"));
}

static gf_status download(gf_coordinator *c, const co_principal *who, int64_t id, gf_http_response *resp)
{
    gf_store_job job;
    gf_status st = co_job_for(c, who, id, &job, resp);
    if (st) return st;
    int64_t round = job.round;
    int central = !strcmp(job.kind, "central"), statistics = !strcmp(job.kind, "statistics"),
        program = !strcmp(job.kind, "program");
    gf_store_job_free(&job);
    if (program)
        return co_refuse(resp, 409, GF_ERR_MISMATCH, "job %lld is a program job: its files are its outputs "
                         "(GET /v1/jobs/%lld/outputs; gf download %lld --out DIR)", (long long)id, (long long)id,
                         (long long)id);
    char path[PATH_MAX + 96];
    if (statistics) {                  /* the result JSON (fed/fedstats.h) */
        if ((st = gf_fedjob_stats_path(c->data_dir, id, path, sizeof path))) return st;
        if (access(path, R_OK))
            return co_refuse(resp, 409, GF_ERR_MISMATCH, "job %lld has no statistics yet (its round has not "
                             "completed)", (long long)id);
        return co_send_file(path, 0, LONG_MAX, 0, "application/json", resp);
    }
    if (central) {
        co_job_dir(c, id, path, sizeof path);
        strcat(path, "/model.safetensors");
        if (access(path, R_OK))
            return co_refuse(resp, 409, GF_ERR_MISMATCH, "job %lld has no model yet (none is saved before its first "
                             "epoch ends)", (long long)id);
    } else {
        if (round == 0) return co_refuse(resp, 409, GF_ERR_MISMATCH, "job %lld has no completed round yet", (long long)id);
        if ((st = gf_fedjob_artifact_path(c->data_dir, id, round, path, sizeof path))) return st;
    }
    return co_send_file(path, 0, LONG_MAX, 0, "application/octet-stream", resp);
}

static gf_status jobs_list(gf_coordinator *c, const co_principal *who, gf_http_response *resp)
{
    list_ctx l = { c, who, json_array() };
    gf_status st = gf_store_job_list(c->store, list_one, &l);
    if (st) { json_decref(l.list); return st; }
    return co_reply(resp, 200, json_pack("{s:o}", "jobs", l.list));
}

/* ---- site routes ------------------------------------------------------------- */

/* The oldest running job that waits for this site's update (lock held). */
static gf_fedjob *task_for(gf_coordinator *c, const char *site)
{
    gf_fedjob *best = NULL;
    for (int i = 0; i < c->njobs; i++) {
        gf_fedjob *j = c->jobs[i].fj;
        if (c->jobs[i].cancelled || !j->round || j->closing) continue;
        gf_fedjob_part *p = gf_fedjob_part_of(j, site);
        if (p && !p->sent && !p->declined && !(j->eval_round && p->evaluated) && (!best || j->id < best->id))
            best = j;
    }
    return best;
}

long co_poll_wait(const gf_http_request *req, const char *key)
{
    const char *w = gf_https_query(req, key);
    if (!w) return POLL_DEFAULT_S;
    char *end;
    errno = 0;
    long wait = strtol(w, &end, 10);
    return errno || end == w || *end || wait < 0 || wait > POLL_MAX_S ? -1 : wait;
}

void co_wait_until(gf_coordinator *c, pthread_cond_t *cv, double until)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double left = until - gf_now();
    if (left <= 0) return;
    ts.tv_sec += (time_t)left;
    ts.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    pthread_cond_timedwait(cv, &c->lock, &ts);
}

/* The answer to a task poll: the task, then the round's model when given
 * (task.h; sent without a copy), or 204 without a task. Takes model. */
static gf_status task_answer(const gf_fed_task *task, gf_blob *model, gf_http_response *resp)
{
    if (!task) { resp->status = 204; return GF_OK; }
    char *body = NULL;
    gf_status st = gf_fed_task_encode_answer(task, model != NULL, &body, &resp->len);
    if (st) { gf_blob_unref(model); return st; }
    resp->status = 200;
    resp->body = body;
    resp->free_body = free;
    if (model) {
        resp->content_type = "application/octet-stream";
        resp->tail = gf_blob_data(model), resp->tail_len = gf_blob_len(model), resp->free_tail = gf_blob_unref_data;
    }
    return GF_OK;
}

/* A parked task poll: the driver's pass gives it the task (borrowed from
 * the job, which only the driver removes); the timer's answers 204. */
typedef struct {
    co_poll      base;
    int          with_model;   /* the round's model after the task (task.h) */
    gf_fed_task  task;         /* its task once looked up (job 0: none) */
    gf_blob     *model;
} task_poll;

static int task_look(gf_coordinator *c, co_poll *base, double now, int driver)
{
    task_poll *p = (task_poll *)base;
    gf_fedjob *j = driver ? task_for(c, base->site) : NULL;
    if (!j) return 0;
    gf_fedjob_task(j, base->site, now, &p->task);
    p->model = p->with_model ? gf_fedjob_task_model(j) : NULL;
    return 1;
}

static gf_status task_poll_answer(gf_coordinator *c, co_poll *base, gf_http_response *resp)
{
    task_poll *p = (task_poll *)base;
    return task_answer(p->task.job ? &p->task : NULL, p->model, resp);
}

static const co_poll_kind task_kind = { task_look, task_poll_answer };

/* A task for site now (1: *task and *model filled in), or its poll parked
 * for up to `wait` seconds (0: resp->status is CO_DEFERRED), or nothing
 * (-1). Lock held. */
static int task_or_park(gf_coordinator *c, const gf_http_request *req, long wait, int with_model, gf_fed_task *task,
                        gf_blob **model, gf_http_response *resp)
{
    double now = gf_now();
    co_site *s = co_site_seen(c, req->peer, now);
    gf_fedjob *j = task_for(c, req->peer);
    if (j) {
        gf_fedjob_task(j, req->peer, now, task);
        *model = with_model ? gf_fedjob_task_model(j) : NULL;
        return 1;
    }
    task_poll *p = wait > 0 && s && !c->stopping ? calloc(1, sizeof *p) : NULL;
    if (!p) return -1;
    p->with_model = with_model;
    co_poll_park(c, CO_POLL_TASK, &p->base, &task_kind, req, s, now + (double)wait, resp);
    return 0;
}

static gf_status poll_task(gf_coordinator *c, const gf_http_request *req, gf_http_response *resp)
{
    long wait = co_poll_wait(req, "wait");
    if (wait < 0) return co_refuse(resp, 400, GF_ERR_ARG, "wait must be an integer number of seconds in [0, %d]", POLL_MAX_S);
    const char *with = gf_https_query(req, "model");
    if (with && strcmp(with, "0") && strcmp(with, "1")) return co_refuse(resp, 400, GF_ERR_ARG, "model must be 0 or 1");
    gf_fed_task task;
    gf_blob *model = NULL;
    pthread_mutex_lock(&c->lock);
    int got = task_or_park(c, req, wait, with && !strcmp(with, "1"), &task, &model, resp);
    pthread_mutex_unlock(&c->lock);
    return got ? task_answer(got > 0 ? &task : NULL, model, resp) : GF_OK;
}

void co_audit_rejected(gf_coordinator *c, const char *site, int64_t job, int64_t round, int status,
                       const char *why)
{
    co_audit(c, site, "update.rejected", json_pack("{s:I,s:I,s:i,s:s}", "job", (json_int_t)job,
                                                   "round", (json_int_t)round, "status", status, "reason", why));
    co_log(c, "refused %s's message for job %lld round %lld: %d %s", site, (long long)job, (long long)round,
           status, why);
}

static gf_status round_model(gf_coordinator *c, const gf_http_request *req, int64_t id, int64_t round,
                             gf_http_response *resp)
{
    pthread_mutex_lock(&c->lock);
    co_job *cj = co_job_find(c, id);
    gf_fedjob *j = cj && !cj->cancelled ? cj->fj : NULL;
    gf_blob *b = NULL;
    int status = 404;
    char why[256] = "";
    if (!j) snprintf(why, sizeof why, "no running job %lld", (long long)id);
    else if (j->round != round || j->closing)
        status = 409, snprintf(why, sizeof why, "round %lld of job %lld is not open", (long long)round, (long long)id);
    else if (!gf_fedjob_part_of(j, req->peer))
        status = 403, snprintf(why, sizeof why, "site \"%s\" was not chosen for round %lld", req->peer, (long long)round);
    else b = gf_blob_ref(j->global);
    co_site_seen(c, req->peer, gf_now());
    pthread_mutex_unlock(&c->lock);
    if (!b) {
        co_audit_rejected(c, req->peer, id, round, status, why);
        return co_refuse(resp, status, GF_ERR_MISMATCH, "%s", why);
    }
    resp->status = 200;
    resp->content_type = "application/octet-stream";
    resp->body = gf_blob_data(b);
    resp->len = gf_blob_len(b);
    resp->free_body = gf_blob_unref_data;
    return GF_OK;
}

/* A plain update. The lock is held twice, briefly: to check the site may
 * answer the round and copy the job's wire manifest, then to add the update;
 * decoding and checking the model-sized body (format, dtypes, shapes,
 * finiteness, metadata, its norm) happen in between, unlocked, so a big
 * upload never stalls the other routes or the round driver. The second
 * lock re-checks the answer: the round may have closed or the job gone.
 * With ?next=S the accepted update is answered as a task poll of S seconds
 * (model=0|1 as there): the site's next task, or 204, saves the site a
 * request per round and the round the time of its round trip. */
static gf_status upload(gf_coordinator *c, const gf_http_request *req, int64_t id, int64_t round,
                        gf_http_response *resp)
{
    const char *with = gf_https_query(req, "model");
    long next = gf_https_query(req, "next") ? co_poll_wait(req, "next") : -2;   /* -2: {"accepted": true} */
    if (next == -1) return co_refuse(resp, 400, GF_ERR_ARG, "next must be an integer number of seconds in [0, %d]", POLL_MAX_S);
    if (with && strcmp(with, "0") && strcmp(with, "1")) return co_refuse(resp, 400, GF_ERR_ARG, "model must be 0 or 1");
    int status = 404;
    char why[512] = "";
    gf_manifest wire = { 0 };
    int64_t norm_d = 0;
    size_t max_len = 0;
    pthread_mutex_lock(&c->lock);
    co_site_seen(c, req->peer, gf_now());
    co_job *cj = co_job_find(c, id);
    gf_fedjob *j = cj && !cj->cancelled ? cj->fj : NULL;
    gf_status st = j ? gf_fedjob_check_answer(j, req->peer, round, &status) : GF_ERR_ARG;
    if (!j) snprintf(why, sizeof why, "no running job %lld", (long long)id);
    else if (!st && (st = gf_manifest_copy(&j->wire, &wire))) status = 500;
    if (j && !st) norm_d = gf_fedjob_norm_d(j), max_len = gf_fedjob_upload_max(j);
    if (j && st) snprintf(why, sizeof why, "%s", gf_last_error());
    pthread_mutex_unlock(&c->lock);

    gf_fedjob_upload up;
    if (!st) {
        st = gf_fedjob_decode_upload(&wire, norm_d, req->body, req->body_len, max_len, &up, &status);
        if (st) snprintf(why, sizeof why, "%s", gf_last_error());
        else if (c->upload_decoded_hook) c->upload_decoded_hook(c->upload_hook_arg);
    }
    gf_manifest_free(&wire);

    double dp_delta = 0;            /* > 0: the site reported its DP-SGD epsilon, at this delta */
    int wake = 0;
    if (!st) {
        pthread_mutex_lock(&c->lock);
        cj = co_job_find(c, id);
        j = cj && !cj->cancelled ? cj->fj : NULL;
        if (!j) {
            gf_update_view_close(&up.view);
            st = GF_ERR_ARG, status = 404;
            snprintf(why, sizeof why, "no running job %lld", (long long)id);
        } else if ((st = gf_fedjob_add_upload(j, req->peer, round, &up, (int64_t)req->body_len, &status))) {
            snprintf(why, sizeof why, "%s", gf_last_error());
        } else {
            if (j->spec.local.dpsgd.enabled && !isnan(up.dpsgd_epsilon)) dp_delta = j->spec.local.dpsgd.delta;
            if (j->received + j->declined >= j->nparts) {   /* every chosen site answered */
                if (dp_delta > 0) wake = 1;    /* after the epsilon is kept: the round may end the job */
                else co_wake(c);
            }
        }
        pthread_mutex_unlock(&c->lock);
    }
    if (st) {
        co_audit_rejected(c, req->peer, id, round, status, why);
        return co_refuse(resp, status, st, "%s", why);
    }
    if (dp_delta > 0) {             /* the site's own DP-SGD epsilon, kept for the status */
        char at[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (gf_site_dp_record(c->data_dir, id, req->peer, round, up.dpsgd_epsilon, dp_delta, at))
            co_log(c, "job %lld: the DP-SGD epsilon of %s is not kept: %s", (long long)id, req->peer, gf_last_error());
    }
    if (!wake && next < 0) return co_reply(resp, 200, json_pack("{s:b}", "accepted", 1));
    gf_fed_task task;
    gf_blob *model = NULL;
    int got = -1;
    pthread_mutex_lock(&c->lock);
    if (wake) co_wake(c);
    if (next >= 0) got = task_or_park(c, req, next, with && !strcmp(with, "1"), &task, &model, resp);
    pthread_mutex_unlock(&c->lock);
    if (next < 0) return co_reply(resp, 200, json_pack("{s:b}", "accepted", 1));
    return got ? task_answer(got > 0 ? &task : NULL, model, resp) : GF_OK;
}

/* A chosen site cannot train this round: body {"error": "why"} (optional). */
static gf_status decline(gf_coordinator *c, const gf_http_request *req, int64_t id, int64_t round,
                         gf_http_response *resp)
{
    char why[512] = "", reason[301] = "";
    json_t *b = req->body_len && req->body_len <= 4096 ? json_loadb((const char *)req->body, req->body_len, 0, NULL)
                                                         : NULL;
    snprintf(reason, sizeof reason, "%s", json_string_value(json_object_get(b, "error")) ?
             json_string_value(json_object_get(b, "error")) : "(no reason given)");
    json_decref(b);
    int status = 404;
    gf_status st = GF_ERR_ARG;
    pthread_mutex_lock(&c->lock);
    co_site_seen(c, req->peer, gf_now());
    co_job *cj = co_job_find(c, id);
    gf_fedjob *j = cj && !cj->cancelled ? cj->fj : NULL;
    if (!j) snprintf(why, sizeof why, "no running job %lld", (long long)id);
    else if ((st = gf_fedjob_decline(j, req->peer, round, reason, &status))) snprintf(why, sizeof why, "%s", gf_last_error());
    else co_wake(c);
    pthread_mutex_unlock(&c->lock);
    if (st) {
        co_audit_rejected(c, req->peer, id, round, status, why);
        return co_refuse(resp, status, st, "%s", why);
    }
    co_audit(c, req->peer, "site.declined",
             json_pack("{s:I,s:I,s:s}", "job", (json_int_t)id, "round", (json_int_t)round, "reason", reason));
    co_log(c, "%s declined job %lld round %lld: %s", req->peer, (long long)id, (long long)round, reason);
    char at[32];                    /* kept for gf status and the API after the job has ended */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (gf_site_declines_record(c->data_dir, id, req->peer, round, reason, at))
        co_log(c, "job %lld: the decline of %s is not kept: %s", (long long)id, req->peer, gf_last_error());
    return co_reply(resp, 200, json_pack("{s:b}", "declined", 1));
}

/* A chosen site's evaluation report on the model it downloaded for this
 * round (the global model after round - 1): decoded, checked under the
 * lock, appended to the job's results, then counted (so a round that
 * closes on it finds it written; a report that arrives as the round
 * closes is kept and not counted). */
static gf_status eval_report(gf_coordinator *c, const gf_http_request *req, int64_t id, int64_t round,
                             gf_http_response *resp)
{
    gf_eval_report r;
    char why[512] = "";
    int status = 400;
    gf_status st = gf_eval_report_decode((const char *)req->body, req->body_len, &r);
    if (st) snprintf(why, sizeof why, "%s", gf_last_error());
    if (!st) {
        pthread_mutex_lock(&c->lock);
        co_site_seen(c, req->peer, gf_now());
        co_job *cj = co_job_find(c, id);
        gf_fedjob *j = cj && !cj->cancelled ? cj->fj : NULL;
        if (!j) status = 404, st = GF_ERR_ARG, snprintf(why, sizeof why, "no running job %lld", (long long)id);
        else if ((st = gf_fedjob_check_eval(j, req->peer, round, &status))) snprintf(why, sizeof why, "%s", gf_last_error());
        pthread_mutex_unlock(&c->lock);
    }
    if (!st && (st = gf_site_evals_add(c->data_dir, id, round - 1, req->peer, &r))) {
        status = 500;
        snprintf(why, sizeof why, "cannot keep the report: %s", gf_last_error());
    }
    if (!st) {
        int late;
        pthread_mutex_lock(&c->lock);
        co_job *cj = co_job_find(c, id);
        if (cj && !cj->cancelled && !gf_fedjob_add_eval(cj->fj, req->peer, round, &late)) co_wake(c);
        pthread_mutex_unlock(&c->lock);
    }
    if (st) {
        co_audit_rejected(c, req->peer, id, round, status, why);
        return co_refuse(resp, status, st, "%s", why);
    }
    json_t *a = json_pack("{s:I,s:I,s:I,s:f}", "job", (json_int_t)id, "model_round", (json_int_t)(round - 1),
                          "samples", (json_int_t)r.samples, "accuracy", r.accuracy);
    co_audit(c, req->peer, "site.evaluated", a);
    co_log(c, "%s evaluated job %lld's model of round %lld: %lld samples, loss %.4f, accuracy %.4f", req->peer,
           (long long)id, (long long)(round - 1), (long long)r.samples, r.loss, r.accuracy);
    return co_reply(resp, 200, json_pack("{s:b}", "accepted", 1));
}

/* Whether job id runs secure aggregation (its uploads are masked). */
static int secure_job(gf_coordinator *c, int64_t id)
{
    pthread_mutex_lock(&c->lock);
    co_job *cj = co_job_find(c, id);
    int yes = cj && cj->fj->spec.secagg.enabled;
    pthread_mutex_unlock(&c->lock);
    return yes;
}

/* ---- routing -------------------------------------------------------------------- */

/* "/v1/jobs/12/rounds/3/update" -> id 12, round 3, rest "update" */
static int parse_path(const char *path, int64_t *id, int64_t *round, const char **rest)
{
    const char *p = path + strlen("/v1/jobs/");
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || end == p || v <= 0 || *p == '+' || *p == '-') return -1;
    *id = v;
    *round = 0;
    if (!*end) { *rest = ""; return 0; }
    if (*end != '/') return -1;
    p = end + 1;
    if (strncmp(p, "rounds/", 7)) { *rest = p; return 0; }
    p += 7;
    errno = 0;
    v = strtoll(p, &end, 10);
    if (errno || end == p || v <= 0 || *p == '+' || *p == '-' || *end != '/') return -1;
    *round = v;
    *rest = end + 1;
    return 0;
}

static gf_status route(gf_coordinator *c, const gf_http_request *req, gf_http_response *resp);

/* Every request: routed, then counted for /metrics. */
gf_status co_handle(void *ctx, const gf_http_request *req, gf_http_response *resp)
{
    gf_coordinator *c = ctx;
    double t0 = gf_now();
    co_thread_setup(c);
    gf_status st = route(c, req, resp);
    /* long-polls: the task poll and the secure-aggregation GETs */
    int long_poll = !strcmp(req->method, "GET") && (!strcmp(req->path, "/v1/site/task") || strstr(req->path, "/secagg/"));
    int status = st && resp->status < 400 ? 500 : resp->status == CO_DEFERRED ? 0 : resp->status;
    co_metrics_request(c, long_poll || resp->status == CO_DEFERRED, gf_now() - t0, req->body_len,
                       st ? 0 : resp->len, status);
    return st;
}

static gf_status route(gf_coordinator *c, const gf_http_request *req, gf_http_response *resp)
{
    const char *m = req->method, *path = req->path;
    int get = !strcmp(m, "GET"), post = !strcmp(m, "POST");
    if (!strcmp(path, "/v1/health") && get) return co_reply(resp, 200, json_pack("{s:s}", "status", "ok"));
    co_principal who;
    int handled = 0;
    if (get && (!strcmp(path, "/") || !strncmp(path, "/static/", 8))) {   /* the dashboard: no data in it */
        memset(&who, 0, sizeof who);
        return co_facility_route(c, req, &who, resp, &handled);
    }
    gf_status st = co_authenticate(c, req, &who, resp);
    if (st) return st;
    int op = who.role == CO_OPERATOR, site = who.role == CO_SITE;
    if (!strcmp(path, "/metrics") && get) {
        if (!op) return co_refuse(resp, 403, GF_ERR_ARG, "only an operator may read the metrics");
        return co_metrics_reply(c, resp);
    }
    if (!strcmp(path, "/v1/site/task")) {
        if (!get) return co_refuse(resp, 405, GF_ERR_ARG, "%s %s: use GET", m, path);
        if (!site) return co_refuse(resp, 403, GF_ERR_ARG, "site routes need a site's certificate");
        return poll_task(c, req, resp);
    }
    int64_t id = 0, round = 0;
    const char *rest = "";
    int job_path = !strncmp(path, "/v1/jobs/", 9) && !parse_path(path, &id, &round, &rest);
    if (job_path && round) {
        if (!site) return co_refuse(resp, 403, GF_ERR_ARG, "round routes are for sites");
        if (!strcmp(rest, "model") && get) return round_model(c, req, id, round, resp);
        if (!strcmp(rest, "update") && post && !secure_job(c, id)) return upload(c, req, id, round, resp);
        if (!strcmp(rest, "decline") && post) return decline(c, req, id, round, resp);
        if (!strcmp(rest, "eval") && post) return eval_report(c, req, id, round, resp);
        if (!strncmp(rest, "secagg/", 7) || (!strcmp(rest, "update") && post))
            return co_secagg_route(c, req, id, round, rest, resp);
        return co_refuse(resp, 404, GF_ERR_ARG, "no route %s %s", m, path);
    }
    if (site) return co_refuse(resp, 403, GF_ERR_ARG, "a site's certificate reaches only the site routes");
    if (!strcmp(path, "/v1/jobs")) {
        if (post) return submit(c, req, &who, resp);
        if (get) return jobs_list(c, &who, resp);
        return co_refuse(resp, 405, GF_ERR_ARG, "%s %s: use GET or POST", m, path);
    }
    if (!strcmp(path, "/v1/jobs/bundle")) {
        if (!post) return co_refuse(resp, 405, GF_ERR_ARG, "%s %s: use POST", m, path);
        return co_program_submit_bundle(c, req, &who, resp);
    }
    if (job_path) {
        if (!*rest && get) return job_status(c, &who, id, req, resp);
        if ((!strcmp(rest, "outputs") || !strncmp(rest, "outputs/", 8)) && get)
            return co_program_outputs(c, &who, id, rest, resp);
        if (!strcmp(rest, "cancel") && post) return cancel(c, &who, id, resp);
        if (!strcmp(rest, "model") && get) return download(c, &who, id, resp);
    }
    st = co_sites_route(c, req, &who, resp, &handled);
    if (handled) return st;
    st = co_facility_route(c, req, &who, resp, &handled);
    if (handled) return st;
    return co_refuse(resp, 404, GF_ERR_ARG, "no route %s %s", m, path);
}
