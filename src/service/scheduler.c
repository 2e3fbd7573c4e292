/* The scheduler of central jobs (see scheduler.h). */
#include "service/scheduler.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <jansson.h>
#include "core/grow.h"
#include "core/timer.h"
#include "service/datasets.h"
#include "facility/fairshare.h"
#include "service/coordinator_internal.h"
#include "service/executor.h"
#include "service/ledger.h"
#include "service/program.h"
#include "service/tenants.h"

#define TICK_S 0.25

typedef struct {
    int64_t       job_id, tenant_id;
    char          tenant[GF_STORE_NAME_MAX + 1];
    gf_jobspec    spec;
    gf_store_exec exec;
    int           cancel_sent;
    int           orphan;       /* cancelled while the executor started it: stopped and reaped, not recorded */
    int           pending;      /* in the executor's own queue (Slurm), still queued in the store */
    char          wait[GF_STORE_REASON_MAX + 1];   /* then why it waits */
} sched_run;

/* A tenant's usage: decayed core-seconds as of `at`, and all-time totals. */
typedef struct {
    int64_t tenant_id;
    double  decayed, at;
    double  core_s, gpu_s;
} sched_usage;

/* Everything above `lock` belongs to the scheduler's thread (and to the
 * coordinator's start and stop, when that thread does not run); everything
 * below it is shared with the API threads and guarded by it. The lock is
 * never held across an executor call or a store call. */
struct co_sched {
    gf_executor    *exec;
    double          half_life_s;
    sched_run      *runs;       /* (nruns) */
    int             nruns, cap;
    sched_usage    *usage;      /* (nusage) */
    int             nusage, capusage;
    pthread_t       thread;
    int             started;    /* thread runs (set and read by the coordinator's start and stop) */
    pthread_mutex_t lock;       /* what follows */
    pthread_cond_t  wake;       /* signalled by co_sched_wake, co_sched_cancel and co_sched_stop */
    int             woken;      /* a wake since the last pass began */
    int             stopping;
    int64_t        *cancels;    /* (ncancels) job ids to cancel */
    int             ncancels, capcancels;
    int64_t        *running;    /* (nrunning) ids of the jobs an executor has (cancellable) */
    int             nrunning;
    int             nactive;    /* of them, running (not waiting in Slurm's queue) */
    json_t         *queue, *fairshare;
    int             queued;     /* queue length for /metrics */
};

/* ---- usage ------------------------------------------------------------------------ */

static sched_usage *usage_of(co_sched *s, int64_t tenant)
{
    for (int i = 0; i < s->nusage; i++)
        if (s->usage[i].tenant_id == tenant) return &s->usage[i];
    sched_usage *p = gf_grow(s->usage, s->nusage, &s->capusage, sizeof *p);
    if (!p) return NULL;
    s->usage = p;
    sched_usage *u = &s->usage[s->nusage++];
    *u = (sched_usage){ .tenant_id = tenant, .at = gf_wall_now() };
    return u;
}

/* Adds a finished job's usage (ended at `end`) to its tenant's figures. */
static void usage_add(co_sched *s, int64_t tenant, double core_s, double gpu_s, double end)
{
    sched_usage *u = usage_of(s, tenant);
    if (!u) return;
    double now = gf_wall_now();
    u->decayed = gf_fs_decay(u->decayed, now - u->at, s->half_life_s) + gf_fs_decay(core_s, now - end, s->half_life_s);
    u->at = now;
    u->core_s += core_s;
    u->gpu_s += gpu_s;
}

static int load_usage(const gf_store_usage *row, void *ctx)
{
    if (!row->site[0]) usage_add(ctx, row->tenant_id, row->core_s, row->gpu_s, row->ended_unix);
    return 0;
}

/* ---- runs ---------------------------------------------------------------------- */

static sched_run *run_add(co_sched *s)
{
    sched_run *p = gf_grow(s->runs, s->nruns, &s->cap, sizeof *p);
    if (!p) return NULL;
    s->runs = p;
    sched_run *r = &s->runs[s->nruns++];
    memset(r, 0, sizeof *r);
    return r;
}

static void publish_running(co_sched *s)
{
    pthread_mutex_lock(&s->lock);
    int64_t *p = realloc(s->running, sizeof *p * (size_t)(s->nruns + 1));
    if (p) {
        s->running = p;
        s->nactive = 0;
        for (int i = 0; i < s->nruns; i++) {
            p[i] = s->runs[i].job_id;
            s->nactive += !s->runs[i].pending;
        }
        s->nrunning = s->nruns;
    }
    pthread_mutex_unlock(&s->lock);
}

static void run_remove(co_sched *s, int i)
{
    gf_jobspec_free(&s->runs[i].spec);
    s->runs[i] = s->runs[--s->nruns];
    publish_running(s);
}

static const char *event_of(gf_store_job_state st)
{
    switch (st) {
    case GF_STORE_JOB_SUCCEEDED: return "job.succeeded";
    case GF_STORE_JOB_CANCELLED: return "job.cancelled";
    case GF_STORE_JOB_TIMED_OUT: return "job.timed-out";
    default:                     return "job.failed";
    }
}

/* The end of a run: final state + ledger row (one transaction), audit, usage. */
static void run_finish(gf_coordinator *c, int i, gf_exec_status *es)
{
    co_sched *s = c->sched;
    sched_run *r = &s->runs[i];
    gf_status st = gf_store_job_finish(c->store, r->job_id, es->state, es->reason, &es->usage);
    if (st) {
        co_log(c, "job %lld: cannot record its end: %s", (long long)r->job_id, gf_last_error());
    } else {
        usage_add(s, r->tenant_id, es->usage.core_s, es->usage.gpu_s,
                  es->usage.ended_unix > 0 ? es->usage.ended_unix : gf_wall_now());
        co_audit(c, "coordinator", event_of(es->state),
                 json_pack("{s:I,s:s,s:f,s:f}", "job", (json_int_t)r->job_id, "reason", es->reason,
                           "core_s", es->usage.core_s, "wall_s", es->usage.wall_s));
        co_log(c, "job %lld %s: %s", (long long)r->job_id, gf_store_job_state_name(es->state), es->reason);
    }
    run_remove(s, i);
}

/* Loads a running job's record into a new run (NULL on failure, logged). */
static sched_run *run_load(gf_coordinator *c, int64_t id)
{
    gf_store_job job;
    if (gf_store_job_get(c->store, id, &job)) return NULL;
    sched_run *r = run_add(c->sched);
    if (!r) { gf_store_job_free(&job); return NULL; }
    r->job_id = id;
    r->tenant_id = job.tenant_id;
    snprintf(r->tenant, sizeof r->tenant, "%s", job.tenant);
    gf_status st = gf_jobspec_parse(job.spec_json, strlen(job.spec_json), &r->spec);
    if (!st) st = gf_store_job_exec_get(c->store, id, &r->exec);
    gf_store_job_free(&job);
    if (st) {
        co_log(c, "job %lld: cannot follow it: %s", (long long)id, gf_last_error());
        c->sched->nruns--;
        return NULL;
    }
    return r;
}

/* ---- starting jobs ------------------------------------------------------------- */

typedef struct {
    int64_t    id, tenant_id;
    char       tenant[GF_STORE_NAME_MAX + 1];
    char       name[GF_STORE_NAME_MAX + 1];
    char       reason[GF_STORE_REASON_MAX + 1];
    char       created_at[GF_STORE_TIME_LEN + 1];
    double     submit_unix;
    gf_jobspec spec;
    int        ok;                /* spec parsed */
} queued_job;

typedef struct { queued_job *q; int n, cap; co_sched *s; gf_coordinator *c; } queue_list;

static double iso_to_unix(const char *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0;
    if (sscanf(t, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
               &ms) < 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) + ms / 1000.0;
}

static int collect_queued(const gf_store_job *job, void *ctx)
{
    queue_list *l = ctx;
    if (job->state != GF_STORE_JOB_QUEUED || !co_kind_scheduled(job->kind)) return 0;
    if (!strcmp(job->kind, "program")) {           /* its files still on their way in (facility/program.h) */
        char dir[PATH_MAX + 64];
        co_job_dir(l->c, job->id, dir, sizeof dir);
        if (!gf_program_ready(dir)) return 0;
    }
    for (int i = 0; i < l->s->nruns; i++)
        if (l->s->runs[i].job_id == job->id) return 0;      /* in the executor's own queue (Slurm) */
    queued_job *p = gf_grow(l->q, l->n, &l->cap, sizeof *p);
    if (!p) return 1;
    l->q = p;
    queued_job *q = &l->q[l->n++];
    memset(q, 0, sizeof *q);
    q->id = job->id;
    q->tenant_id = job->tenant_id;
    snprintf(q->tenant, sizeof q->tenant, "%s", job->tenant);
    snprintf(q->name, sizeof q->name, "%s", job->name);
    snprintf(q->reason, sizeof q->reason, "%s", job->reason);
    snprintf(q->created_at, sizeof q->created_at, "%s", job->created_at);
    q->submit_unix = iso_to_unix(job->created_at);
    q->ok = !gf_jobspec_parse(job->spec_json, strlen(job->spec_json), &q->spec);
    return 0;
}

static void queue_free(queue_list *l)
{
    for (int i = 0; i < l->n; i++) gf_jobspec_free(&l->q[i].spec);
    free(l->q);
}

static void set_reason(gf_coordinator *c, queued_job *q, const char *reason)
{
    if (!strcmp(q->reason, reason)) return;
    if (!gf_store_job_set_reason(c->store, q->id, reason)) snprintf(q->reason, sizeof q->reason, "%s", reason);
}

/* Starts q through the executor, then records it running. A job cancelled
 * meanwhile is stopped again and kept as an orphan run, which poll_runs
 * reaps (its resources stay counted until then; this thread never waits
 * for it). 0 when the executor holds it, running or being stopped. */
static int start_job(gf_coordinator *c, queued_job *q)
{
    co_sched *s = c->sched;
    char dir[PATH_MAX + 64], handle[GF_EXEC_HANDLE_MAX + 1] = "";
    co_job_dir(c, q->id, dir, sizeof dir);
    char jobs[PATH_MAX + 16];
    snprintf(jobs, sizeof jobs, "%.*s/jobs", PATH_MAX - 1, c->data_dir);
    mkdir(jobs, 0700);
    if (mkdir(dir, 0700) && errno != EEXIST) {
        char why[GF_STORE_REASON_MAX + 1];
        snprintf(why, sizeof why, "cannot create its folder: %s", strerror(errno));
        gf_store_job_finish(c->store, q->id, GF_STORE_JOB_FAILED, why, NULL);
        return -1;
    }
    char data[GF_DATASET_SPEC_MAX] = "";           /* resolved again: the registry may have changed */
    gf_program_data *pd = NULL;
    if (q->spec.kind == GF_JOB_PROGRAM ? gf_program_datasets(c->store, &q->spec, q->tenant_id, &pd)
                                       : gf_datasets_resolve(c->store, q->spec.dataset, q->tenant_id, data, sizeof data)) {
        char why[GF_STORE_REASON_MAX + 1];
        snprintf(why, sizeof why, "%s%s", q->spec.kind == GF_JOB_PROGRAM ? "" : "dataset: ", gf_last_error());
        gf_store_job_finish(c->store, q->id, GF_STORE_JOB_FAILED, why, NULL);
        co_log(c, "job %lld failed: %s", (long long)q->id, why);
        return -1;
    }
    gf_store_tenant t;
    gf_exec_request rq = { .job_id = q->id, .spec = &q->spec, .tenant = q->tenant, .job_dir = dir,
                           .gf_path = c->cfg.gf_path, .dataset = data, .tenant_id = q->tenant_id,
                           .data = pd ? pd->d : NULL, .ndata = pd ? pd->n : 0,
                           .tenant_shares = gf_store_tenant_get_id(c->store, q->tenant_id, &t) ? 1 : t.shares };
    char granted[GF_STORE_REASON_MAX / 2] = "";
    rq.granted = granted;
    rq.granted_cap = sizeof granted;
    double t0 = gf_wall_now();
    gf_status st = s->exec->start(s->exec, &rq, handle);
    free(pd);
    if (!st && c->sched_started_hook) c->sched_started_hook(c->sched_hook_arg, q->id, handle);
    if (st) {
        char why[GF_STORE_REASON_MAX + 1];
        snprintf(why, sizeof why, "the %s executor could not start it: %s", s->exec->name, gf_last_error());
        gf_store_job_finish(c->store, q->id, GF_STORE_JOB_FAILED, why, NULL);
        co_audit(c, "coordinator", "job.failed", json_pack("{s:I,s:s}", "job", (json_int_t)q->id, "reason", why));
        co_log(c, "job %lld failed: %s", (long long)q->id, why);
        return -1;
    }
    gf_store_exec x = { .job_id = q->id, .started_unix = t0, .cores = q->spec.resources.cores,
                        .gpus = q->spec.resources.gpus };
    snprintf(x.executor, sizeof x.executor, "%s", s->exec->name);
    snprintf(x.handle, sizeof x.handle, "%s", handle);
    char why[GF_STORE_REASON_MAX + 1];
    if (s->exec->queues_itself)
        snprintf(why, sizeof why, "submitted to Slurm as job %s (tenant %s)", handle, q->tenant);
    else
        snprintf(why, sizeof why, "started by the local executor (process %s)%s%s", handle,
                 granted[0] ? "; GPUs " : "", granted);
    int orphan = gf_store_job_start(c->store, q->id, &x, !s->exec->queues_itself, why) != GF_OK;
    if (orphan) {                                    /* cancelled meanwhile */
        x.cancel_requested = 1;
        if (s->exec->cancel(s->exec, &x))
            co_log(c, "job %lld: cancel after its start: %s", (long long)q->id, gf_last_error());
    } else {
        gf_store_job_exec_get(c->store, q->id, &x);  /* the stored start time */
    }
    sched_run *r = run_add(s);
    if (!r) return -1;
    r->job_id = q->id;
    r->tenant_id = q->tenant_id;
    snprintf(r->tenant, sizeof r->tenant, "%s", q->tenant);
    r->spec = q->spec;
    memset(&q->spec, 0, sizeof q->spec);            /* moved */
    q->ok = 0;
    r->exec = x;
    r->pending = !orphan && s->exec->queues_itself;
    r->orphan = r->cancel_sent = orphan;
    publish_running(s);
    if (orphan) return 0;
    co_audit(c, "coordinator", "job.started", json_pack("{s:I,s:s,s:s}", "job", (json_int_t)r->job_id,
                                                        "executor", s->exec->name, "handle", handle));
    co_log(c, "job %lld started: %s", (long long)r->job_id, why);
    return 0;
}

/* ---- the pass ------------------------------------------------------------------ */

typedef struct { gf_store_tenant *t; int n, cap; } tenant_list;

static int collect_tenant(const gf_store_tenant *t, void *ctx)
{
    tenant_list *l = ctx;
    gf_store_tenant *p = gf_grow(l->t, l->n, &l->cap, sizeof *p);
    if (!p) return 1;
    l->t = p;
    l->t[l->n++] = *t;
    return 0;
}

/* Polls every run; finishes the ended ones; sends asked-for cancels. */
static void poll_runs(gf_coordinator *c)
{
    co_sched *s = c->sched;
    pthread_mutex_lock(&s->lock);
    int64_t *cancels = s->cancels;
    int ncancels = s->ncancels;
    s->cancels = NULL;
    s->ncancels = s->capcancels = 0;
    pthread_mutex_unlock(&s->lock);
    for (int k = 0; k < ncancels; k++)
        for (int i = 0; i < s->nruns; i++)
            if (s->runs[i].job_id == cancels[k] && !s->runs[i].cancel_sent) {
                s->runs[i].exec.cancel_requested = 1;
                s->runs[i].cancel_sent = 1;
                if (s->exec->cancel(s->exec, &s->runs[i].exec))
                    co_log(c, "job %lld: cancel: %s", (long long)s->runs[i].job_id, gf_last_error());
            }
    free(cancels);
    for (int i = 0; i < s->nruns; i++) {
        gf_exec_status es;
        if (s->exec->poll(s->exec, &s->runs[i].exec, &s->runs[i].spec, &es)) {
            co_log(c, "job %lld: %s", (long long)s->runs[i].job_id, gf_last_error());
            continue;
        }
        sched_run *r = &s->runs[i];
        if (!es.ended && !es.reason[0] && r->pending) {   /* the executor's queue started it */
            char why[GF_STORE_REASON_MAX + 1];
            snprintf(why, sizeof why, "started by %s as job %s", s->exec->name, r->exec.handle);
            if (!gf_store_job_set_state(c->store, r->job_id, GF_STORE_JOB_RUNNING, why)) r->pending = 0;
            r->wait[0] = 0;
            publish_running(s);
        }
        if (es.ended && r->orphan) {                  /* its store record was final before it started */
            co_log(c, "job %lld: its %s run, cancelled as it started, has ended", (long long)r->job_id, s->exec->name);
            run_remove(s, i--);
            continue;
        }
        if (es.ended) {
            if (r->pending && es.state != GF_STORE_JOB_CANCELLED && es.state != GF_STORE_JOB_FAILED)
                gf_store_job_set_state(c->store, r->job_id, GF_STORE_JOB_RUNNING, "started and ended between two looks");
            run_finish(c, i--, &es);
            continue;
        }
        if (r->pending && strcmp(r->wait, es.reason)) {   /* Slurm's pending reason */
            snprintf(r->wait, sizeof r->wait, "%s", es.reason);
            char why[GF_STORE_REASON_MAX + 1];
            snprintf(why, sizeof why, "%s job %s pending: %.300s", s->exec->name, r->exec.handle, es.reason);
            gf_store_job_set_reason(c->store, r->job_id, why);
        }
    }
}

/* Quota check: why q must wait ("" when it may run). */
static void quota_hold(co_sched *s, const gf_store_tenant *t, const queued_job *q, char *why, size_t cap)
{
    why[0] = 0;
    if (!t) return;
    double reserved_cpu = 0, reserved_gpu = 0;      /* running jobs may use up to their time limit */
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i].tenant_id == t->id) {
            double tl = (double)s->runs[i].spec.resources.time_limit_s;
            reserved_cpu += tl * s->runs[i].exec.cores;
            reserved_gpu += tl * s->runs[i].exec.gpus;
        }
    sched_usage *u = usage_of(s, t->id);
    double used_cpu = (u ? u->core_s : 0) + reserved_cpu, used_gpu = (u ? u->gpu_s : 0) + reserved_gpu;
    double tl = (double)q->spec.resources.time_limit_s;
    double need_cpu = tl * q->spec.resources.cores, need_gpu = tl * q->spec.resources.gpus;
    if (!isnan(t->quota_cpu_s) && used_cpu + need_cpu > t->quota_cpu_s)
        snprintf(why, cap, "held: tenant %s's quota of %.2f cpu-hours has %.2f left (after running jobs' limits); "
                 "this job may use up to %.2f (%d cores x %lld s)", t->name, t->quota_cpu_s / 3600,
                 fmax(0, t->quota_cpu_s - used_cpu) / 3600, need_cpu / 3600, q->spec.resources.cores,
                 (long long)q->spec.resources.time_limit_s);
    else if (!isnan(t->quota_gpu_s) && need_gpu > 0 && used_gpu + need_gpu > t->quota_gpu_s)
        snprintf(why, cap, "held: tenant %s's quota of %.2f gpu-hours has %.2f left (after running jobs' limits); "
                 "this job may use up to %.2f (%d GPUs x %lld s)", t->name, t->quota_gpu_s / 3600,
                 fmax(0, t->quota_gpu_s - used_gpu) / 3600, need_gpu / 3600, q->spec.resources.gpus,
                 (long long)q->spec.resources.time_limit_s);
}

static const gf_store_tenant *tenant_by_id(const tenant_list *tl, int64_t id)
{
    for (int i = 0; i < tl->n; i++)
        if (tl->t[i].id == id) return &tl->t[i];
    return NULL;
}

/* The fair-share tree: root -> one user association per tenant. usage[i]
 * is tenant i's decayed usage plus what its running jobs used so far. */
static gf_status build_tree(co_sched *s, const tenant_list *tl, double now, gf_fs_tree **out, int *node)
{
    gf_fs_tree *t;
    gf_status st = gf_fs_tree_create(&t);
    for (int i = 0; !st && i < tl->n; i++) {
        st = gf_fs_node_add(t, GF_FS_ROOT, tl->t[i].name, GF_FS_USER, (double)tl->t[i].shares, &node[i]);
        sched_usage *u = usage_of(s, tl->t[i].id);
        double use = u ? gf_fs_decay(u->decayed, now - u->at, s->half_life_s) : 0;
        for (int k = 0; k < s->nruns; k++)
            if (s->runs[k].tenant_id == tl->t[i].id && !s->runs[k].pending)
                use += s->runs[k].exec.cores * fmax(0, now - s->runs[k].exec.started_unix);
        if (!st) st = gf_fs_node_set_usage(t, node[i], use);
    }
    if (st) { gf_fs_tree_free(t); return st; }
    *out = t;
    return GF_OK;
}

static json_t *fairshare_json(co_sched *s, const gf_fs_tree *t, const gf_fs_result *res, const tenant_list *tl,
                              const int *node)
{
    json_t *arr = json_array();
    for (int i = 0; i < tl->n; i++) {
        const gf_fs_result *r = &res[node[i]];
        json_array_append_new(arr, json_pack("{s:s,s:I,s:f,s:f,s:f,s:o,s:f,s:i}", "tenant", tl->t[i].name,
                                             "shares", (json_int_t)tl->t[i].shares, "norm_shares", r->shares_norm,
                                             "usage_core_s", r->usage_raw, "norm_usage", r->usage_efctv,
                                             "level_fs", isfinite(r->level_fs) ? json_real(r->level_fs) : json_null(),
                                             "fairshare", r->fs_factor, "rank", r->rank));
    }
    (void)t;
    return json_pack("{s:f,s:s,s:o}", "half_life_s", s->half_life_s, "algorithm", "fair_tree", "tenants", arr);
}

/* Orders the queue, holds, starts; publishes the queue and the tree. */
static void schedule(gf_coordinator *c)
{
    co_sched *s = c->sched;
    queue_list ql = { .s = s, .c = c };
    tenant_list tl = {0};
    if (gf_store_job_list(c->store, collect_queued, &ql) || gf_store_tenants(c->store, collect_tenant, &tl)) {
        queue_free(&ql);
        free(tl.t);
        return;
    }
    double now = gf_wall_now();
    int *node = calloc((size_t)tl.n + 1, sizeof *node);
    gf_fs_tree *tree = NULL;
    gf_fs_result *res = NULL;
    gf_fs_job *jobs = calloc((size_t)ql.n + 1, sizeof *jobs);
    gf_fs_job_priority *order = calloc((size_t)ql.n + 1, sizeof *order);
    int njobs = 0;
    if (!node || !jobs || !order || build_tree(s, &tl, now, &tree, node) ||
        !(res = calloc((size_t)gf_fs_tree_size(tree), sizeof *res)) || gf_fs_fair_tree(tree, res))
        goto out;
    for (int i = 0; i < ql.n; i++) {
        queued_job *q = &ql.q[i];
        int k = -1;
        for (int t = 0; t < tl.n && k < 0; t++)
            if (tl.t[t].id == q->tenant_id) k = t;
        if (!q->ok || k < 0) {
            gf_store_job_finish(c->store, q->id, GF_STORE_JOB_FAILED,
                                !q->ok ? "its stored spec no longer parses" : "it has no tenant to charge", NULL);
            continue;
        }
        jobs[njobs++] = (gf_fs_job){ .job_id = q->id, .user = node[k], .submit_time = q->submit_unix };
    }
    gf_fs_weights w = { .w_age = CO_SCHED_W_AGE, .w_fairshare = CO_SCHED_W_FAIRSHARE, .max_age_s = CO_SCHED_MAX_AGE_S };
    if (gf_fs_jobs_order(tree, res, &w, jobs, njobs, now, order)) goto out;

    int cores_used = 0, gpus_used = 0;
    int64_t mem_used = 0;               /* MiB held by running jobs (their memory_mb) */
    for (int i = 0; i < s->nruns; i++) {
        cores_used += s->runs[i].exec.cores;
        gpus_used += s->runs[i].exec.gpus;
        mem_used += s->runs[i].spec.resources.memory_mb;
    }
    int blocked = 0;                    /* a higher-priority job waits for slots: the rest wait behind it */
    json_t *qjson = json_array();
    for (int i = 0; i < njobs; i++) {
        queued_job *q = NULL;
        for (int k = 0; k < ql.n && !q; k++)
            if (ql.q[k].id == order[i].job_id) q = &ql.q[k];
        const gf_store_tenant *t = tenant_by_id(&tl, q->tenant_id);
        char why[GF_STORE_REASON_MAX + 1];
        quota_hold(s, t, q, why, sizeof why);
        int started = 0;
        if (!why[0]) {
            int cores = q->spec.resources.cores, gpus = q->spec.resources.gpus;
            int64_t mem = q->spec.resources.memory_mb;
            if (s->exec->queues_itself) {
                started = !start_job(c, q);
            } else if (blocked) {
                snprintf(why, sizeof why, "waiting behind higher-priority jobs (priority %.0f)", order[i].priority);
            } else if (cores_used + cores > s->exec->cores || gpus_used + gpus > s->exec->gpus) {
                snprintf(why, sizeof why, "waiting for resources: needs %d cores and %d GPUs, %d and %d of %d and %d "
                         "are free", cores, gpus, s->exec->cores - cores_used, s->exec->gpus - gpus_used,
                         s->exec->cores, s->exec->gpus);
                blocked = 1;
            } else if (s->exec->memory_mb > 0 && mem_used + mem > s->exec->memory_mb) {
                snprintf(why, sizeof why, "waiting for resources: needs %lld MiB of memory, %lld of %lld MiB are free",
                         (long long)mem, (long long)(s->exec->memory_mb - mem_used), (long long)s->exec->memory_mb);
                blocked = 1;
            } else if (!start_job(c, q)) {
                started = 1;
                cores_used += cores;
                gpus_used += gpus;
                mem_used += mem;
            }
        }
        if (started) continue;
        if (why[0]) set_reason(c, q, why);
        json_array_append_new(qjson, json_pack("{s:I,s:s,s:s,s:s,s:s,s:f,s:{s:f,s:f},s:{s:i,s:i,s:I,s:I},s:s}",
            "id", (json_int_t)q->id, "name", q->name, "tenant", q->tenant, "state", "queued", "reason", q->reason,
            "priority", order[i].priority, "factors", "age", order[i].age_factor, "fairshare", order[i].fs_factor,
            "resources", "cores", q->spec.resources.cores, "gpus", q->spec.resources.gpus,
            "memory_mb", (json_int_t)q->spec.resources.memory_mb,
            "time_limit_s", (json_int_t)q->spec.resources.time_limit_s, "submitted_at", q->created_at));
    }
    json_t *fs = fairshare_json(s, tree, res, &tl, node);
    pthread_mutex_lock(&s->lock);
    json_decref(s->queue);
    json_decref(s->fairshare);
    s->queue = qjson;
    s->fairshare = fs;
    s->queued = (int)json_array_size(qjson);
    pthread_mutex_unlock(&s->lock);
out:
    gf_fs_tree_free(tree);
    free(res);
    free(node);
    free(jobs);
    free(order);
    queue_free(&ql);
    free(tl.t);
}

/* The scheduler's thread: a pass every TICK_S, and at once after a wake. */
static void *sched_main(void *arg)
{
    gf_coordinator *c = arg;
    co_sched *s = c->sched;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        s->woken = 0;
        pthread_mutex_unlock(&s->lock);
        poll_runs(c);                       /* executors and the store, without the lock */
        schedule(c);
        pthread_mutex_lock(&s->lock);
        if (s->stopping || s->woken) continue;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)(TICK_S * 1e9);
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

gf_status co_sched_start(gf_coordinator *c)
{
    co_sched *s = c->sched;
    if (pthread_create(&s->thread, NULL, sched_main, c)) return gf_errorf(GF_ERR_NOMEM, "cannot start the scheduler");
    s->started = 1;
    return GF_OK;
}

void co_sched_stop(gf_coordinator *c)
{
    co_sched *s = c->sched;
    if (!s || !s->started) return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    s->started = 0;
}

void co_sched_wake(gf_coordinator *c)
{
    co_sched *s = c->sched;
    pthread_mutex_lock(&s->lock);
    s->woken = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

/* ---- lifecycle ------------------------------------------------------------------ */

gf_status co_sched_create(gf_coordinator *c, co_sched **out)
{
    *out = NULL;
    co_sched *s = calloc(1, sizeof *s);
    if (!s) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    s->half_life_s = c->cfg.fairshare_half_life_s > 0 ? c->cfg.fairshare_half_life_s : 7 * 86400.0;
    gf_status st;
    if (c->cfg.executor && !strcmp(c->cfg.executor, "slurm")) st = gf_executor_slurm(c->cfg.slurm_conf, c->cfg.gpu_devices, &s->exec);
    else if (!(st = gf_executor_local(c->cfg.cores, &c->gpus, &s->exec))) {
        s->exec->memory_mb = c->cfg.memory_mb;
        s->exec->max_job_folder_mb = c->cfg.max_job_folder_mb;
    }
    if (!st) st = gf_store_ledger(c->store, 0, NULL, load_usage, s);
    if (st) { c->sched = s; co_sched_free(c); return st; }
    *out = s;
    return GF_OK;
}

typedef struct { int64_t *id; int n, cap; } id_vec;

/* Running central jobs, and queued ones that may sit in an executor's queue. */
static int collect_running_central(const gf_store_job *job, void *ctx)
{
    id_vec *v = ctx;
    if ((job->state != GF_STORE_JOB_RUNNING && job->state != GF_STORE_JOB_QUEUED) || !co_kind_scheduled(job->kind))
        return 0;
    int64_t *p = gf_grow(v->id, v->n, &v->cap, sizeof *p);
    if (!p) return 1;
    v->id = p;
    v->id[v->n++] = job->id;
    return 0;
}

void co_sched_recover(gf_coordinator *c)
{
    co_sched *s = c->sched;
    id_vec v = {0};
    gf_store_job_list(c->store, collect_running_central, &v);
    for (int i = 0; i < v.n; i++) {
        gf_store_job job;
        int queued = !gf_store_job_get(c->store, v.id[i], &job) && job.state == GF_STORE_JOB_QUEUED;
        gf_store_job_free(&job);
        gf_store_exec x;
        if (queued && gf_store_job_exec_get(c->store, v.id[i], &x)) continue;   /* plainly queued */
        sched_run *r = run_load(c, v.id[i]);
        if (r) r->pending = queued;
        if (!r) {
            gf_store_job_finish(c->store, v.id[i], GF_STORE_JOB_FAILED,
                                "the coordinator restarted and cannot follow the job (no execution record)", NULL);
            continue;
        }
        char dir[PATH_MAX + 64];
        co_job_dir(c, r->job_id, dir, sizeof dir);
        int attached = 0;
        gf_exec_status es;
        memset(&es, 0, sizeof es);
        gf_status st = strcmp(r->exec.executor, s->exec->name)
            ? gf_errorf(GF_ERR_MISMATCH, "it ran on the %s executor; this coordinator uses %s", r->exec.executor,
                        s->exec->name)
            : s->exec->adopt(s->exec, &r->exec, &r->spec, dir, &attached, &es);
        if (st) {
            es.ended = 1;
            es.state = GF_STORE_JOB_FAILED;
            snprintf(es.reason, sizeof es.reason, "the coordinator restarted and cannot follow the job: %.400s",
                     gf_last_error());
            es.usage.wall_s = fmax(0, gf_wall_now() - r->exec.started_unix);
            es.usage.core_s = es.usage.wall_s * r->exec.cores;
            es.usage.gpu_s = es.usage.wall_s * r->exec.gpus;
            snprintf(es.usage.executor, sizeof es.usage.executor, "%s", r->exec.executor);
            snprintf(es.usage.started_at, sizeof es.usage.started_at, "%s", r->exec.started_at);
        }
        if (attached) {
            co_log(c, "job %lld: followed on (%s job %s)", (long long)r->job_id, r->exec.executor, r->exec.handle);
            co_audit(c, "coordinator", "job.reattached", json_pack("{s:I,s:s}", "job", (json_int_t)r->job_id,
                                                                   "handle", r->exec.handle));
            continue;
        }
        run_finish(c, s->nruns - 1, &es);
    }
    free(v.id);
    publish_running(s);
}

void co_sched_free(gf_coordinator *c)
{
    co_sched *s = c->sched;
    if (!s) return;
    co_sched_stop(c);
    /* local jobs are this process's children: stop them and say so */
    while (s->nruns > 0 && !s->exec->queues_itself) {
        sched_run *r = &s->runs[s->nruns - 1];
        s->exec->cancel(s->exec, &r->exec);
        gf_exec_status es;
        memset(&es, 0, sizeof es);
        for (int i = 0; i < 400; i++) {
            if (s->exec->poll(s->exec, &r->exec, &r->spec, &es) || es.ended) break;
            struct timespec ts = {0, 25 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (!es.ended) { run_remove(s, s->nruns - 1); continue; }
        if (!r->exec.cancel_requested) {
            es.state = GF_STORE_JOB_FAILED;
            snprintf(es.reason, sizeof es.reason, "the coordinator stopped while the job ran; its processes were stopped");
        }
        run_finish(c, s->nruns - 1, &es);
    }
    while (s->nruns > 0) run_remove(s, s->nruns - 1);
    if (s->exec) s->exec->free(s->exec);
    free(s->runs);
    free(s->usage);
    free(s->cancels);
    free(s->running);
    json_decref(s->queue);
    json_decref(s->fairshare);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
    c->sched = NULL;
}

gf_status co_sched_cancel(gf_coordinator *c, int64_t job_id)
{
    co_sched *s = c->sched;
    pthread_mutex_lock(&s->lock);
    int found = 0;
    for (int i = 0; i < s->nrunning && !found; i++) found = s->running[i] == job_id;
    gf_status st = GF_OK;
    if (!found) {
        st = gf_errorf(GF_ERR_ARG, "job %lld is not running", (long long)job_id);
    } else {
        int64_t *p = gf_grow(s->cancels, s->ncancels, &s->capcancels, sizeof *p);
        if (!p) st = gf_errorf(GF_ERR_NOMEM, "out of memory");
        else s->cancels = p;
    }
    if (!st) {
        s->cancels[s->ncancels++] = job_id;
        s->woken = 1;                       /* the scheduler's thread sends it on its next pass */
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
    if (!st) st = gf_store_job_exec_cancel(c->store, job_id);
    return st;
}

json_t *co_sched_queue(gf_coordinator *c, int *queued)
{
    co_sched *s = c->sched;
    pthread_mutex_lock(&s->lock);
    json_t *q = s->queue ? json_deep_copy(s->queue) : json_array();
    if (queued) *queued = s->queued;
    pthread_mutex_unlock(&s->lock);
    return q;
}

json_t *co_sched_fairshare(gf_coordinator *c)
{
    co_sched *s = c->sched;
    pthread_mutex_lock(&s->lock);
    json_t *f = s->fairshare ? json_deep_copy(s->fairshare) : json_pack("{s:f,s:[]}", "half_life_s", s->half_life_s, "tenants");
    pthread_mutex_unlock(&s->lock);
    return f;
}

int co_sched_running(gf_coordinator *c)
{
    co_sched *s = c->sched;
    pthread_mutex_lock(&s->lock);
    int n = s->nactive;
    pthread_mutex_unlock(&s->lock);
    return n;
}
