/* The coordinator's lifecycle, site registry and round driver (see
 * coordinator.h). The driver thread is the only one that starts federated
 * jobs, opens, closes and aborts rounds; the API threads read state, record
 * uploads and wake it. Central jobs are the scheduler's, on its own thread
 * (scheduler.h): the driver never waits on an executor. */
#include "service/coordinator_internal.h"
#include "service/preprocess_job.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <omp.h>
#include <sodium.h>
#include "core/fsutil.h"
#include "core/grow.h"
#include "core/timer.h"
#include "fed/round.h"
#include "net/pki.h"
#include "privacy/dp.h"
#include "service/datasets.h"
#include "jobspec/fedcaps.h"
#include "service/ledger.h"
#include "service/scheduler.h"
#include "service/tenants.h"

/* The driver sleeps until something happens (co_wake: an upload, a
 * decline, a new or returning site, a cancel, a submission) or a deadline
 * falls due (a round's, a secure phase's, the refusals summary). This is
 * only a safety net, not a tick: nothing waits on it. */
#define DRIVER_WATCHDOG_S 1.0
#define MAX_FAILED_ROUNDS 3     /* a job whose sites decline the same round this often fails */

void co_log(gf_coordinator *c, const char *fmt, ...)
{
    if (!c->cfg.log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->cfg.log(line);
}

/* Entries that belong together, in one append (audit.h). Takes the details. */
void co_audit_many(gf_coordinator *c, const char *actor, int n, const char *const *events, json_t **details)
{
    gf_audit_entry e[GF_AUDIT_BATCH_MAX] = { { 0 } };
    char *text[GF_AUDIT_BATCH_MAX];
    if (n < 1 || n > GF_AUDIT_BATCH_MAX) {
        co_log(c, "audit log: %d entries at once (event %s)", n, n > 0 ? events[0] : "none");
        for (int i = 0; i < n; i++) json_decref(details[i]);
        return;
    }
    for (int i = 0; i < n; i++) {
        text[i] = details[i] ? json_dumps(details[i], JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(details[i]);
        e[i] = (gf_audit_entry){ actor, events[i], text[i] };
    }
    if (gf_audit_append_many(c->audit, e, n, NULL))
        co_log(c, "audit log: %s (event %s)", gf_last_error(), events[0]);
    for (int i = 0; i < n; i++) free(text[i]);
}

void co_audit(gf_coordinator *c, const char *actor, const char *event, json_t *detail)
{
    co_audit_many(c, actor, 1, &event, &detail);
}

/* OpenMP's thread count is a per-thread setting, and threads the program
 * creates start from the process default (every core, with workers that
 * spin after each parallel loop): each thread that runs the coordinator's
 * loops sets its own first. */
void co_thread_setup(const gf_coordinator *c) { omp_set_num_threads(c->cfg.aggregation_threads); }

void co_wake(gf_coordinator *c)
{
    c->kicked = 1;
    pthread_cond_broadcast(&c->changed);
    if (c->polls[CO_POLL_SECAGG]) {     /* their answers may be ready now */
        c->sa_kicked = 1;
        pthread_cond_signal(&c->polls_wake);
    }
}

co_site *co_site_seen(gf_coordinator *c, const char *name, double now)
{
    for (int i = 0; i < c->nsites; i++)
        if (!strcmp(c->sites[i].name, name)) {
            co_site *s = &c->sites[i];
            if (!s->polling && now - s->last_seen >= c->cfg.site_timeout_s) co_wake(c);   /* back online */
            s->last_seen = now;
            return s;
        }
    if (c->nsites == c->capsites) {
        int cap = c->capsites ? c->capsites * 2 : 16;
        co_site *p = realloc(c->sites, sizeof *p * (size_t)cap);
        if (!p) return NULL;
        c->sites = p;
        c->capsites = cap;
    }
    co_site *s = &c->sites[c->nsites++];
    *s = (co_site){ .last_seen = now };
    snprintf(s->name, sizeof s->name, "%s", name);
    co_wake(c);       /* a new site may let a round start */
    return s;
}

co_job *co_job_find(gf_coordinator *c, int64_t id)
{
    for (int i = 0; i < c->njobs; i++)
        if (c->jobs[i].fj->id == id) return &c->jobs[i];
    return NULL;
}

/* This machine's memory in MiB (MemTotal of /proc/meminfo); 1 TiB when unreadable. */
static int64_t co_machine_memory_mb(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    long long kb = 0;
    char line[128];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %lld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb > 0 ? (int64_t)(kb / 1024) : (int64_t)1 << 20;
}

/* Removes job i (lock held; released meanwhile while the recorder still
 * writes rounds of it: they are written first). Only the driver (and stop)
 * adds or removes jobs, so i stays job i. */
static void job_remove(gf_coordinator *c, int i)
{
    co_record_wait(c, c->jobs[i].fj->id);
    co_pending_free(c->jobs[i].pending);
    gf_fedjob_free(c->jobs[i].fj);
    c->jobs[i] = c->jobs[--c->njobs];
}

/* Number of kits issued to sites, from the provisioning state (SCAFFOLD's N
 * when a job takes "all" sites). */
static int count_sites(const char *tls_dir)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/%s", tls_dir, GF_PKI_STATE);
    json_t *st = json_load_file(p, 0, NULL);
    int n = 0;
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(st, "issued"), name, v)
        if (strcmp(name, GF_PKI_COORDINATOR) && strcmp(name, GF_PKI_OPERATOR)) n++;
    json_decref(st);
    return n;
}

/* ---- starting jobs ----------------------------------------------------------- */

/* Job ids collected from a store listing (grown as needed; a failed growth
 * leaves the rest for the next look). */
typedef struct { int64_t *id; int n, cap; } id_list;

static int id_list_add(id_list *l, int64_t id)
{
    int64_t *p = gf_grow(l->id, l->n, &l->cap, sizeof *p);
    if (!p) return 1;
    l->id = p;
    l->id[l->n++] = id;
    return 0;
}

/* The kinds the round driver runs: federated training and federated statistics. */
int co_kind_is_round(const char *kind)
{
    return !strcmp(kind, "federated") || !strcmp(kind, "statistics");
}

static int collect_job(const gf_store_job *job, void *ctx)
{
    id_list *l = ctx;
    return job->state == GF_STORE_JOB_QUEUED && co_kind_is_round(job->kind) ? id_list_add(l, job->id) : 0;
}

/* Builds the runtime of a running job; a job that cannot run is failed. */
static void job_bring_up(gf_coordinator *c, int64_t id)
{
    gf_store_job job;
    if (gf_store_job_get(c->store, id, &job)) return;
    gf_fedjob *fj = NULL;
    gf_jobspec spec;                           /* the caps, again: they may have been lowered since */
    gf_fedspec fs = {0};
    gf_status st = gf_jobspec_parse(job.spec_json, strlen(job.spec_json), &spec);
    if (!st) st = gf_fedcaps_check(&spec, c->sites_total, c->cfg.max_model_params);
    if (!st) st = gf_jobspec_fedspec(&spec, &fs);
    if (!st) st = gf_preprocess_job_resolve(c->store, c->data_dir, &spec, job.tenant_id, &fs.preprocess);
    gf_jobspec_free(&spec);
    /* SCAFFOLD's N with "all": the sites the job may use */
    pthread_mutex_lock(&c->lock);
    int total = job.tenant_id ? co_sites_granted(c, job.tenant_id) : c->sites_total;
    void (*built_hook)(void *, int64_t) = c->bringup_built_hook;   /* tests only */
    void *hook_arg = c->bringup_hook_arg;
    pthread_mutex_unlock(&c->lock);
    if (!st) st = gf_fedjob_start(c->data_dir, id, &fs, job.round, total > 0 ? total : 1, &fj);
    gf_fedspec_free(&fs);
    if (!st && fj->spec.eval[0]) {             /* the eval set, resolved again: the registry may have changed */
        char name[GF_STORE_NAME_MAX + 1], msg[600];
        if ((st = gf_dataset_eval_split(fj->spec.eval, name, &fj->eval_train)) ||
            (st = gf_datasets_resolve(c->store, name, job.tenant_id, fj->eval_data, sizeof fj->eval_data))) {
            snprintf(msg, sizeof msg, "%s", gf_last_error());
            st = gf_errorf(st, "eval: %s", msg);
            gf_fedjob_free(fj);
            fj = NULL;
        }
    }
    if (!st) {
        /* a round left open by a crash: its updates were only in memory */
        gf_store_round r;
        if (!gf_store_round_get(c->store, id, job.round + 1, &r) && r.state == GF_STORE_ROUND_OPEN) {
            gf_store_round_abort(c->store, id, job.round + 1, "coordinator restarted mid-round");
            co_audit(c, "coordinator", "round.aborted",
                     json_pack("{s:I,s:I,s:s}", "job", (json_int_t)id, "round", (json_int_t)(job.round + 1),
                               "reason", "coordinator restarted mid-round"));
        }
        if (built_hook) built_hook(hook_arg, id);
        pthread_mutex_lock(&c->lock);
        if (c->njobs == c->capjobs) {
            int cap = c->capjobs ? c->capjobs * 2 : 8;
            co_job *p = realloc(c->jobs, sizeof *p * (size_t)cap);
            if (p) { c->jobs = p; c->capjobs = cap; }
        }
        /* a cancel during the bring-up has changed the store first and looks
         * for the job under the lock afterwards: checked here, under the
         * lock, one of the two sees the other */
        gf_store_job now;
        int got = !gf_store_job_get(c->store, id, &now);
        int still = got && now.state == GF_STORE_JOB_RUNNING;
        if (got) gf_store_job_free(&now);
        if (!still) {
            gf_fedjob_free(fj);
            pthread_mutex_unlock(&c->lock);
            co_log(c, "job %lld stopped while it was being brought up", (long long)id);
            gf_store_job_free(&job);
            return;
        }
        if (c->njobs < c->capjobs) c->jobs[c->njobs++] = (co_job){ .fj = fj, .tenant_id = job.tenant_id };
        else { gf_fedjob_free(fj); st = gf_errorf(GF_ERR_NOMEM, "out of memory"); }
        pthread_mutex_unlock(&c->lock);
    }
    if (st) {
        char reason[GF_STORE_REASON_MAX + 1];
        snprintf(reason, sizeof reason, "cannot run: %s", gf_last_error());
        gf_store_job_finish(c->store, id, GF_STORE_JOB_FAILED, reason, NULL);
        co_audit(c, "coordinator", "job.failed", json_pack("{s:I,s:s}", "job", (json_int_t)id, "reason", reason));
        co_log(c, "job %lld failed: %s", (long long)id, reason);
    } else {
        co_log(c, "job %lld \"%s\" running from round %lld", (long long)id, job.name, (long long)job.round + 1);
    }
    gf_store_job_free(&job);
}

static void start_queued(gf_coordinator *c)
{
    id_list l = { 0 };
    gf_store_job_list(c->store, collect_job, &l);
    for (int i = 0; i < l.n; i++) {
        if (gf_store_job_set_state(c->store, l.id[i], GF_STORE_JOB_RUNNING, "started")) continue;
        co_audit(c, "coordinator", "job.started", json_pack("{s:I}", "job", (json_int_t)l.id[i]));
        job_bring_up(c, l.id[i]);
    }
    free(l.id);
}

static int collect_running(const gf_store_job *job, void *ctx)
{
    id_list *l = ctx;
    return job->state == GF_STORE_JOB_RUNNING && co_kind_is_round(job->kind) ? id_list_add(l, job->id) : 0;
}

/* ---- rounds ------------------------------------------------------------------- */

static int site_online(const gf_coordinator *c, const co_site *s, double now)
{
    return s->polling > 0 || now - s->last_seen < c->cfg.site_timeout_s;
}

/* A site a round of job cj may choose: one its spec names (or any with
 * "all") and, for a tenant's job, one granted to the tenant now. */
static int site_allowed(const gf_coordinator *c, const co_job *cj, const char *name)
{
    const gf_fedjob *j = cj->fj;
    if (!co_site_granted(c, cj->tenant_id, name)) return 0;
    if (!j->spec.sites) return 1;
    for (int i = 0; i < j->spec.nsites; i++)
        if (!strcmp(j->spec.sites[i], name)) return 1;
    return 0;
}

/* Epsilon after `round` rounds when the job has a DP budget it would pass
 * (then > 0), else 0. */
static double over_budget(const gf_fedjob *j, int64_t round)
{
    const gf_dp_config *dp = &j->spec.dp;
    double eps;
    if (!dp->enabled || dp->epsilon <= 0 || gf_dp_spent(dp, round, &eps, NULL)) return 0;
    return eps > dp->epsilon ? eps : 0;
}

/* Opens the next round in memory if enough eligible sites are online and the
 * privacy budget allows it (lock held): 1 when opened, 0 when not yet, -1
 * when it cannot open (gf_last_error says why). The caller records it in
 * the store. */
static int open_in_memory(gf_coordinator *c, const co_job *cj, double now)
{
    gf_fedjob *j = cj->fj;
    if (over_budget(j, j->completed + 1) > 0) return 0;
    const char **names = calloc((size_t)c->nsites + 1, sizeof *names);
    unsigned char *chosen = malloc((size_t)c->nsites + 1);
    const char **parts = malloc(sizeof *parts * (size_t)(c->nsites + 1));
    int n = 0, k = 0, opened = 0;
    if (!names || !chosen || !parts) goto out;
    for (int i = 0; i < c->nsites; i++)
        if (site_online(c, &c->sites[i], now) && site_allowed(c, cj, c->sites[i].name)) names[n++] = c->sites[i].name;
    if (n < j->spec.min_sites) goto out;
    int64_t round = j->completed + 1;
    gf_round_sample(names, n, j->spec.fraction, j->spec.min_sites, j->spec.seed, round, chosen);
    for (int i = 0; i < n; i++)
        if (chosen[i]) parts[k++] = names[i];
    opened = gf_fedjob_open(j, round, parts, k, now) == GF_OK ? 1 : -1;
out:
    free(names);
    free(chosen);
    free(parts);
    return opened;
}

void co_job_waiting(const gf_coordinator *c, const co_job *cj, char *out, size_t cap)
{
    const gf_fedjob *j = cj->fj;
    *out = 0;
    if (j->round || j->completed >= j->spec.rounds) return;
    double now = gf_now();
    int n = 0;
    for (int i = 0; i < c->nsites; i++) n += site_online(c, &c->sites[i], now) && site_allowed(c, cj, c->sites[i].name);
    if (n >= j->spec.min_sites) return;          /* it opens at the driver's next look */
    int len = snprintf(out, cap, "waiting for sites: %d online that the job may use, min_sites %d", n, j->spec.min_sites);
    if (cj->tenant_id && len >= 0 && (size_t)len < cap) {
        int g = co_sites_granted(c, cj->tenant_id);
        snprintf(out + len, cap - (size_t)len, " (tenant \"%s\" is granted %d site%s)", j->spec.tenant, g, g == 1 ? "" : "s");
    }
}

/* Opens the evaluation round of the final model (per-site evaluation) for
 * every online site the job may use (lock held): 1 when opened, 0 when no
 * site is online (the job then ends without it). In memory only: a
 * restart holds it again. */
static int open_eval(gf_coordinator *c, const co_job *cj, double now)
{
    gf_fedjob *j = cj->fj;
    const char **names = calloc((size_t)c->nsites + 1, sizeof *names);
    int n = 0, opened = 0;
    if (!names) return 0;
    for (int i = 0; i < c->nsites; i++)
        if (site_online(c, &c->sites[i], now) && site_allowed(c, cj, c->sites[i].name)) names[n++] = c->sites[i].name;
    if (n > 0 && !gf_fedjob_open_eval(j, names, n, now)) {
        opened = 1;
        json_t *list = json_array();
        for (int i = 0; i < n; i++) json_array_append_new(list, json_string(names[i]));
        co_audit(c, "coordinator", "eval.opened", json_pack("{s:I,s:I,s:o}", "job", (json_int_t)j->id,
                                                            "round", (json_int_t)j->round, "sites", list));
        co_log(c, "job %lld: %d sites evaluate the final model (round %lld)", (long long)j->id, n, (long long)j->round);
        co_wake(c);
    } else {
        co_log(c, "job %lld: no site online to evaluate the final model", (long long)j->id);
    }
    free(names);
    return opened;
}

/* The audit detail of a round's opening: its sites (lock held). */
static json_t *opened_detail(const gf_fedjob *j)
{
    json_t *list = json_array();
    for (int i = 0; i < j->nparts; i++) json_array_append_new(list, json_string(j->parts[i].name));
    return json_pack("{s:I,s:I,s:o}", "job", (json_int_t)j->id, "round", (json_int_t)j->round, "sites", list);
}

/* Opens the next round and records it (lock held): -1 when the round
 * cannot open with these sites (gf_last_error says why). */
static int try_open(gf_coordinator *c, const co_job *cj, double now)
{
    gf_fedjob *j = cj->fj;
    int opened = open_in_memory(c, cj, now);
    if (opened <= 0) return opened;
    if (gf_store_round_open(c->store, j->id, j->round)) {
        co_log(c, "job %lld: cannot open round %lld: %s", (long long)j->id, (long long)j->round, gf_last_error());
        gf_fedjob_end_round(j, 0);
        return 0;
    }
    co_audit(c, "coordinator", "round.opened", opened_detail(j));
    co_wake(c);
    return 1;
}

static void abort_round(gf_coordinator *c, gf_fedjob *j, const char *reason)
{
    co_record_wait(c, j->id);                   /* the store opens this round with the last one's record */
    gf_store_round_abort(c->store, j->id, j->round, reason);
    co_audit(c, "coordinator", "round.aborted",
             json_pack("{s:I,s:I,s:s}", "job", (json_int_t)j->id, "round", (json_int_t)j->round, "reason", reason));
    co_log(c, "job %lld round %lld aborted: %s", (long long)j->id, (long long)j->round, reason);
    gf_fedjob_end_round(j, 0);
    co_wake(c);                                 /* the job may open its next attempt at once */
}

static void finish_job(gf_coordinator *c, int i, gf_store_job_state to, const char *reason)
{
    gf_fedjob *j = c->jobs[i].fj;
    co_record_wait(c, j->id);                   /* its closed rounds written first */
    if (!gf_store_job_finish(c->store, j->id, to, reason, NULL)) {
        co_audit(c, "coordinator", to == GF_STORE_JOB_SUCCEEDED ? "job.succeeded" : "job.failed",
                 json_pack("{s:I,s:s}", "job", (json_int_t)j->id, "reason", reason));
        co_log(c, "job %lld %s: %s", (long long)j->id, gf_store_job_state_name(to), reason);
    }
    job_remove(c, i);
}

/* What the store needs of a closed round, taken while the lock is held. */
static int close_snapshot(gf_fedjob *j, double train_loss, double closed, co_closed *cr)
{
    double dur = closed - j->opened_at;
    *cr = (co_closed){ .round = j->round, .train_loss = train_loss, .duration_s = dur > 0 ? dur : 0 };
    if (!(cr->results = calloc((size_t)j->received + 1, sizeof *cr->results))) return -1;
    for (int i = 0; i < j->nparts; i++) {
        const gf_fedjob_part *p = &j->parts[i];
        if (!p->sent) continue;
        gf_store_result *r = &cr->results[cr->n++];
        snprintf(r->site, sizeof r->site, "%s", p->name);
        r->samples = p->samples;
        r->loss = p->train_loss;
        r->accuracy = p->val_accuracy;
        r->bytes_up = p->bytes_up;
        r->bytes_down = (int64_t)gf_blob_len(j->global);
    }
    return 0;
}

/* Job i whose rounds could not be written (lock held): failed if the
 * store still has it running (the disk failed), else (cancelled meanwhile)
 * dropped. */
static void record_failed(gf_coordinator *c, int i)
{
    char why[GF_STORE_REASON_MAX + 1];
    snprintf(why, sizeof why, "%s", c->jobs[i].record_failed);
    gf_store_job job;
    int running = !gf_store_job_get(c->store, c->jobs[i].fj->id, &job) && job.state == GF_STORE_JOB_RUNNING;
    gf_store_job_free(&job);
    if (running) finish_job(c, i, GF_STORE_JOB_FAILED, why);
    else job_remove(c, i);
}

/* Rounds a job may run ahead of their records (storage slower than the
 * rounds): past this many closed and unwritten, the next opens after them. */
#define RECORD_LAG_MAX 64

static void fail_released(gf_coordinator *c, int i, const char *phase, const char *why);

/* Closes the open round of job i (lock held on entry and exit; released
 * while a record is awaited) and hands it to the recorder. */
static void close_round(gf_coordinator *c, int i, double now)
{
    gf_fedjob *j = c->jobs[i].fj;
    double loss;
    co_closed cr;
    if (gf_fedjob_aggregate(j, &loss)) {
        char why[GF_STORE_REASON_MAX + 1];
        snprintf(why, sizeof why, "aggregation refused: %s", gf_last_error());
        if (j->sec) fail_released(c, i, "done", why);   /* the sum was unmasked: never again */
        else abort_round(c, j, why);
        return;
    }
    double closed = gf_now();              /* the next round opens at this instant: durations tile the job */
    if (close_snapshot(j, loss, closed, &cr)) { abort_round(c, j, "out of memory"); return; }
    gf_fedjob_end_round(j, 1);
    /* The next round starts now, in memory: its downloads overlap the
     * writes. Not under DP: there the new model is a release that the
     * budget counts once the round is on disk; handed out before, a crash
     * in between would run the round again and release twice, counted
     * once. Such a job's next round opens after the writes (drive). */
    int early = !j->spec.dp.enabled && co_record_backlog(&c->jobs[i]) < RECORD_LAG_MAX;
    int64_t next = early && j->completed < j->spec.rounds && open_in_memory(c, &c->jobs[i], closed) > 0 ? j->round : 0;
    cr.closed_wall = gf_wall_now();
    if (next) {
        cr.next = next, cr.opened = opened_detail(j);
        co_wake(c);
        co_polls_serve(c, CO_POLL_TASK, now, 1);   /* its sites' parked polls first: the round goes on meanwhile */
    }
    int64_t id = j->id, round = cr.round;
    if (co_record_queue(c, &c->jobs[i], &cr, j->global ? gf_blob_ref(j->global) : NULL))
        snprintf(c->jobs[i].record_failed, sizeof c->jobs[i].record_failed, "could not record round %lld: %s",
                 (long long)round, gf_last_error());
    if (!co_record_waits(j)) return;    /* written by the recorder while the rounds go on */
    co_record_wait(c, id);
    if (!next) co_wake(c);               /* drive opens the next round, or ends the job */
}

/* A secure round that fails once unmasking began (shares were revealed, or
 * the sum was): it is never retried, since a second sum over nearly the
 * same inputs and another survivor set could be differenced into one
 * site's update. The release goes to the audit log with the epsilon that
 * counts it (client-level DP), the round is recorded as aborted, and the
 * job fails with `why` (lock held). */
static void fail_released(gf_coordinator *c, int i, const char *phase, const char *why)
{
    gf_fedjob *j = c->jobs[i].fj;
    int survivors = 0;
    for (int p = 0; p < j->nparts; p++) survivors += j->sec && gf_secround_masked(j->sec, p);
    json_t *d = json_pack("{s:I,s:I,s:s,s:i}", "job", (json_int_t)j->id, "round", (json_int_t)j->round, "phase", phase,
                          "survivors", survivors);
    double eps = NAN;
    if (j->spec.dp.enabled && !gf_dp_spent(&j->spec.dp, j->completed + 1, &eps, NULL) && isfinite(eps))
        json_object_set_new(d, "epsilon_with_release", json_real(eps));
    co_audit(c, "coordinator", "secagg.released", d);
    char reason[GF_STORE_REASON_MAX + 1];
    snprintf(reason, sizeof reason, "round %lld failed after unmasking began (%s): not retried, a second sum over the "
             "same inputs could isolate one site's update%s", (long long)j->round, why,
             isfinite(eps) ? "; the release is counted in the audit log's epsilon" : "");
    abort_round(c, j, reason);
    finish_job(c, i, GF_STORE_JOB_FAILED, reason);
}

/* Moves a securely aggregated round on (lock held): 1 when its sum is
 * unmasked and the round can close; -1 when it failed after unmasking
 * began (the caller fails the job: fail_released). An abort is recorded here. Unmasking
 * runs with the lock released (API threads go on; messages for the round
 * are refused by its phase meanwhile, and only this thread removes jobs). */
static int secure_step(gf_coordinator *c, int i, double now)
{
    gf_fedjob *j = c->jobs[i].fj;
    gf_secround_phase before = gf_secround_phase_of(j->sec);
    gf_status st = gf_secround_advance(j->sec, now, j->spec.round_deadline_s, j->spec.min_sites);
    if (!st && gf_secround_phase_of(j->sec) == GF_SECROUND_FINISHING) {
        pthread_mutex_unlock(&c->lock);
        st = gf_secround_finish(j->sec);
        pthread_mutex_lock(&c->lock);
        if (!st) st = gf_secround_advance(j->sec, now, j->spec.round_deadline_s, j->spec.min_sites);   /* DONE */
    }
    if (st) {
        char why[GF_STORE_REASON_MAX + 1];
        snprintf(why, sizeof why, "%s", gf_last_error());
        gf_secround_phase at = gf_secround_phase_of(j->sec);
        if (at >= GF_SECROUND_UNMASK) {
            fail_released(c, i, gf_secround_phase_name(at), why);
            return -1;
        }
        /* a site declined (e.g. its training failed, or it already sent a
         * masked input for this round before a crash: sites never send a
         * second one, so a retry with the same sites cannot succeed either):
         * a round aborted with a decline MAX_FAILED_ROUNDS times in a row ends
         * the job, instead of being re-opened without end */
        int declined_any = j->nparts > 0 && j->declined > 0;
        char declined[GF_FEDJOB_DECLINE_MAX + GF_JOBSPEC_NAME_MAX + 16] = "";
        for (int k = 0; declined_any && k < j->nparts; k++)
            if (j->parts[k].declined) {
                snprintf(declined, sizeof declined, "; %s declined: %s", j->parts[k].name, j->parts[k].decline_reason);
                break;
            }
        int64_t r = j->round;
        j->failed_rounds = declined_any ? j->failed_rounds + 1 : 0;
        abort_round(c, j, why);
        if (j->failed_rounds >= MAX_FAILED_ROUNDS) {
            snprintf(why, sizeof why, "round %lld failed %d times in a row: the sites declined it "
                     "(their reasons are in the audit log)%s", (long long)r, j->failed_rounds, declined);
            finish_job(c, i, GF_STORE_JOB_FAILED, why);
            return -1;
        }
        return 0;
    }
    gf_secround_phase ph = gf_secround_phase_of(j->sec);
    j->deadline = gf_secround_deadline(j->sec);
    if (ph != before) {
        co_audit(c, "coordinator", "secagg.phase", json_pack("{s:I,s:I,s:s}", "job", (json_int_t)j->id, "round",
                                                             (json_int_t)j->round, "phase", gf_secround_phase_name(ph)));
        co_wake(c);
    }
    return ph == GF_SECROUND_DONE;
}

/* When the driver must look again without being woken: the earliest
 * deadline still ahead of an open round or phase (lock held). */
static double next_due(const gf_coordinator *c, double now)
{
    double due = now + DRIVER_WATCHDOG_S;
    for (int i = 0; i < c->njobs; i++) {
        const gf_fedjob *j = c->jobs[i].fj;
        /* one already past was seen by drive() just now: what it waits for is an event */
        if (j->round && j->deadline > now && j->deadline < due) due = j->deadline;
    }
    return due;
}

/* One pass over the running jobs (lock held on entry and exit). */
static void drive(gf_coordinator *c)
{
    double now = gf_now();
    for (int i = 0; i < c->njobs; i++) {
        co_job *cj = &c->jobs[i];
        gf_fedjob *j = cj->fj;
        if (cj->record_failed[0]) {          /* its rounds could not be written */
            if (!cj->recording) record_failed(c, i--);
            continue;
        }
        if (cj->cancelled) {                 /* dropped once nothing of it is being written */
            if (!cj->recording && !cj->pending) job_remove(c, i--);
            continue;
        }
        if (j->round == 0) {
            if (cj->pending || cj->recording) continue;   /* the store opens the next round with the last one's record */
            if (j->completed >= j->spec.rounds) {
                if (j->spec.eval_every > 0 && !j->final_evaluated && open_eval(c, cj, now) > 0) continue;
                finish_job(c, i--, GF_STORE_JOB_SUCCEEDED, "all rounds done");
                continue;
            }
            double eps = over_budget(j, j->completed + 1);
            if (eps > 0) {
                char why[GF_STORE_REASON_MAX + 1];
                snprintf(why, sizeof why, "privacy budget: round %lld would bring epsilon to %.4g > %.4g "
                         "(delta %g); stopped after round %lld", (long long)j->completed + 1, eps,
                         j->spec.dp.epsilon, j->spec.dp.delta, (long long)j->completed);
                finish_job(c, i--, GF_STORE_JOB_SUCCEEDED, why);
                continue;
            }
            if (try_open(c, cj, now) < 0) {
                char why[GF_STORE_REASON_MAX + 1];
                snprintf(why, sizeof why, "cannot open round %lld: %s", (long long)j->completed + 1, gf_last_error());
                finish_job(c, i--, GF_STORE_JOB_FAILED, why);
            }
            continue;
        }
        if (j->eval_round) {       /* the final model's evaluation: every chosen site answered, or time is up */
            if (j->evaluated + j->declined >= j->nparts || now >= j->deadline) {
                co_log(c, "job %lld: %d of %d sites evaluated the final model (%d declined)", (long long)j->id,
                       j->evaluated, j->nparts, j->declined);
                co_audit(c, "coordinator", "eval.closed", json_pack("{s:I,s:I,s:i,s:i,s:i}", "job", (json_int_t)j->id,
                                                                   "round", (json_int_t)j->round, "sites", j->nparts,
                                                                   "evaluated", j->evaluated, "declined", j->declined));
                gf_fedjob_end_eval(j);
                co_wake(c);
            }
            continue;
        }
        if (j->sec) {              /* secure aggregation: the phases decide */
            int step = secure_step(c, i, now);
            if (step < 0) { i--; continue; }   /* failed after unmasking: the job is gone */
            if (step) {
                j->failed_rounds = 0;
                int before = c->njobs;
                close_round(c, i, now);
                if (c->njobs < before) i--;
            }
            continue;
        }
        gf_round_verdict v = gf_round_verdict_at(j->received, j->received + j->declined, j->nparts,
                                                 j->spec.min_sites, now, j->deadline);
        if (v == GF_ROUND_RETRY) {
            char why[GF_STORE_REASON_MAX + 1], declined[GF_FEDJOB_DECLINE_MAX + GF_JOBSPEC_NAME_MAX + 16] = "";
            for (int k = 0; k < j->nparts; k++)          /* the first decline's reason, for the record */
                if (j->parts[k].declined) {
                    snprintf(declined, sizeof declined, "; %s declined: %s", j->parts[k].name,
                             j->parts[k].decline_reason);
                    break;
                }
            int all_answered = j->received + j->declined >= j->nparts;
            snprintf(why, sizeof why, "%s with %d of the %d updates needed (%d sites declined)%s",
                     all_answered ? "every site answered" : "deadline passed", j->received, j->spec.min_sites,
                     j->declined, declined);
            int64_t r = j->round;
            j->failed_rounds = all_answered && j->declined > 0 ? j->failed_rounds + 1 : 0;
            abort_round(c, j, why);
            if (j->failed_rounds >= MAX_FAILED_ROUNDS) {
                snprintf(why, sizeof why, "round %lld failed %d times in a row: the sites declined it "
                         "(their reasons are in the audit log)%s", (long long)r, j->failed_rounds, declined);
                finish_job(c, i--, GF_STORE_JOB_FAILED, why);
            }
        } else if (v == GF_ROUND_CLOSE) {
            j->failed_rounds = 0;
            int before = c->njobs;
            close_round(c, i, now);
            if (c->njobs < before) i--;        /* removed: job i is now another one */
        }
    }
}

static void *driver_main(void *arg)
{
    gf_coordinator *c = arg;
    co_thread_setup(c);
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        if (c->look_for_queued) {
            c->look_for_queued = 0;
            pthread_mutex_unlock(&c->lock);
            start_queued(c);
            pthread_mutex_lock(&c->lock);
        }
        c->kicked = 0;
        pthread_mutex_unlock(&c->lock);
        co_refusals_flush(c, 0);
        pthread_mutex_lock(&c->lock);
        drive(c);
        co_polls_serve(c, CO_POLL_TASK, gf_now(), 1);   /* parked polls that have a task now */
        if (c->kicked) continue;             /* woken while writing: look again at once */
        double due = next_due(c, gf_now()), summary = co_refusals_due(c);
        co_wait_until(c, &c->changed, summary < due ? summary : due);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------- */

void co_token_used(gf_coordinator *c, int64_t token_id)
{
    int64_t want = token_id;
    if (!token_id || !__atomic_compare_exchange_n(&c->first_token_id, &want, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        return;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/operator.token", c->data_dir);
    if (!unlink(path)) {
        co_audit(c, "coordinator", "token.file-removed", json_pack("{s:I,s:s}", "token", (json_int_t)token_id,
                                                                   "file", "operator.token"));
        co_log(c, "first operator token used: %s removed (the token stays valid)", path);
    }
}

/* The token in DATA/operator.token, if that file is still there (a restart
 * before its first use): its id, so that the first use removes it. */
static void find_first_token(gf_coordinator *c)
{
    char path[PATH_MAX + 32], buf[GF_TOKEN_LEN + 2] = "";
    snprintf(path, sizeof path, "%s/operator.token", c->data_dir);
    FILE *f = fopen(path, "re");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
    gf_store_principal sp;
    if (!gf_store_token_check(c->store, buf, &sp) && sp.role == GF_ROLE_OPERATOR) c->first_token_id = sp.token_id;
    sodium_memzero(buf, sizeof buf);
}

/* A fresh coordinator (no live operator token) makes one and writes it to
 * DATA/operator.token, readable by its owner only; the file is removed when
 * the token is first used (co_token_used). */
static gf_status first_operator_token(gf_coordinator *c)
{
    int64_t n = 0, id = 0;
    gf_status st = gf_store_operator_tokens(c->store, &n);
    if (st) return st;
    if (n > 0) { find_first_token(c); return GF_OK; }
    char token[GF_TOKEN_LEN + 2], path[PATH_MAX + 32];
    if ((st = gf_store_token_create(c->store, 0, GF_ROLE_OPERATOR, 0, token, &id))) return st;
    size_t len = strlen(token);
    token[len] = '\n';
    snprintf(path, sizeof path, "%s/operator.token", c->data_dir);
    gf_fs_part part = { token, len + 1 };
    st = gf_fs_write_atomic(path, &part, 1, 0600);
    sodium_memzero(token, sizeof token);
    if (st) { gf_store_token_revoke(c->store, id); return st; }
    c->first_token_id = id;
    co_audit(c, "coordinator", "token.created", json_pack("{s:I,s:s,s:s}", "token", (json_int_t)id, "role", "operator",
                                                          "file", "operator.token"));
    co_log(c, "first operator token written to %s", path);
    return GF_OK;
}

/* The server's own refusals and errors: anyone can cause them, so they are
 * counted and summarised (refusals.c), not written one by one. */
static void http_log(void *ctx, const char *line)
{
    co_refused(ctx, CO_REFUSED_EDGE, line);
}

gf_status gf_coordinator_start(const gf_coordinator_config *cfg, gf_coordinator **out)
{
    *out = NULL;
    if (!cfg->data_dir || !cfg->tls_dir) return gf_errorf(GF_ERR_ARG, "coordinator: data and TLS folders are required");
    gf_coordinator *c = calloc(1, sizeof *c);
    if (!c) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    c->cfg = *cfg;
    if (c->cfg.site_timeout_s <= 0) c->cfg.site_timeout_s = 60;
    if (c->cfg.eval_threads <= 0) c->cfg.eval_threads = 1;
    if (c->cfg.aggregation_threads <= 0) c->cfg.aggregation_threads = 1;
#if defined(__SANITIZE_ADDRESS__)
    if (c->cfg.eval_memory_mb <= 0) c->cfg.eval_memory_mb = 0;
#else
    if (c->cfg.eval_memory_mb <= 0) c->cfg.eval_memory_mb = 8192;
#endif
    if (!(c->cfg.eval_time_limit_s > 0)) c->cfg.eval_time_limit_s = 600;
    if (c->cfg.max_model_params <= 0) c->cfg.max_model_params = GF_FEDCAPS_DEFAULT_PARAMS;
    if (c->cfg.max_fed_jobs_per_tenant <= 0) c->cfg.max_fed_jobs_per_tenant = GF_FEDCAPS_DEFAULT_JOBS;
    if (c->cfg.body_slots <= 0) c->cfg.body_slots = 1;
    if (!c->cfg.max_body) c->cfg.max_body = (size_t)256 << 20;
    if (c->cfg.cores <= 0) c->cfg.cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (c->cfg.cores <= 0) c->cfg.cores = 1;
    if (c->cfg.memory_mb <= 0) c->cfg.memory_mb = co_machine_memory_mb();
    if (!c->cfg.executor || strcmp(c->cfg.executor, "slurm")) {
        gf_status gst = gf_gpus_parse(c->cfg.gpu_devices, &c->gpus);
        if (!gst && c->cfg.gpus > 0 && c->cfg.gpus != c->gpus.n)
            gst = gf_errorf(GF_ERR_ARG, "--gpus %d: the GPU device files (--gpu-devices) are %d", c->cfg.gpus, c->gpus.n);
        if (gst) { free(c); return gst; }
        c->cfg.gpus = c->gpus.n;
    }
    if (c->cfg.max_job_folder_mb <= 0) c->cfg.max_job_folder_mb = 10240;
    if (!c->cfg.gf_path) {
        ssize_t n = readlink("/proc/self/exe", c->gf_path, sizeof c->gf_path - 1);
        c->gf_path[n > 0 ? n : 0] = 0;
        c->cfg.gf_path = c->gf_path;
    }
    snprintf(c->data_dir, sizeof c->data_dir, "%s", cfg->data_dir);
    snprintf(c->tls_dir, sizeof c->tls_dir, "%s", cfg->tls_dir);
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->metrics.lock, NULL);
    co_refusals_init(c);
    pthread_cond_init(&c->changed, NULL);
    pthread_cond_init(&c->polls_wake, NULL);
    pthread_cond_init(&c->record_wake, NULL);
    pthread_cond_init(&c->recorded, NULL);
    c->sites_total = count_sites(c->tls_dir);

    char p[PATH_MAX + 32];
    /* the TLS identity first: a bad --tls must not leave a fresh data folder behind */
    snprintf(p, sizeof p, "%s/%s", c->tls_dir, GF_PKI_COORD_KEY);
    if (access(p, R_OK)) {
        gf_status e = gf_errorf(GF_ERR_IO, "cannot read %s: %s", p, strerror(errno));
        gf_coordinator_stop(c);
        return e;
    }
    gf_status st = gf_store_open(c->data_dir, &c->store);
    char real[PATH_MAX];
    if (!st && realpath(cfg->data_dir, real)) snprintf(c->data_dir, sizeof c->data_dir, "%s", real);  /* jobs run elsewhere */
    if (!st) {
        snprintf(p, sizeof p, "%s/audit.log", c->data_dir);
        st = gf_audit_open(p, &c->audit);
    }
    if (!st) {
        pthread_mutex_lock(&c->lock);
        st = co_grants_load(c);
        pthread_mutex_unlock(&c->lock);
    }
    if (st) { gf_coordinator_stop(c); return st; }
    co_audit(c, "coordinator", "coordinator.started", NULL);
    if ((st = first_operator_token(c)) || (st = co_sched_create(c, &c->sched))) { gf_coordinator_stop(c); return st; }
    co_sched_recover(c);

    id_list running = { 0 };
    gf_store_job_list(c->store, collect_running, &running);
    for (int i = 0; i < running.n; i++) job_bring_up(c, running.id[i]);
    free(running.id);
    c->look_for_queued = 1;

    char crl_floor[PATH_MAX];
    if (snprintf(crl_floor, sizeof crl_floor, "%s/crl.number", c->data_dir) >= (int)sizeof crl_floor) {
        gf_coordinator_stop(c);
        return gf_errorf(GF_ERR_ARG, "coordinator: the data folder's path is too long");
    }
    gf_https_config hc = { .pki_dir = c->tls_dir, .crl_floor_file = crl_floor, .listen_host = cfg->listen_host, .port = cfg->port,
                           .max_body = c->cfg.max_body, .body_slots = c->cfg.body_slots,
                           .body_timeout_s = c->cfg.body_timeout_s, .admit = co_admit,
                           .header_timeout_s = c->cfg.header_timeout_s,
                           .per_ip_connections = c->cfg.per_ip_connections, .max_connections = 1024,
                           .handler = co_handle, .ctx = c, .log = http_log };
    if (pthread_create(&c->poll_timer, NULL, co_poll_timer_main, c)) {
        gf_coordinator_stop(c);
        return gf_errorf(GF_ERR_NOMEM, "cannot start the task polls' timer");
    }
    c->poll_timer_started = 1;
    if (pthread_create(&c->recorder, NULL, co_recorder_main, c)) {
        gf_coordinator_stop(c);
        return gf_errorf(GF_ERR_NOMEM, "cannot start the round recorder");
    }
    c->recorder_started = 1;
    if ((st = gf_https_start(&hc, &c->http))) { gf_coordinator_stop(c); return st; }
    if (pthread_create(&c->driver, NULL, driver_main, c)) {
        gf_coordinator_stop(c);
        return gf_errorf(GF_ERR_NOMEM, "cannot start the round driver");
    }
    if ((st = co_sched_start(c))) { gf_coordinator_stop(c); return st; }
    *out = c;
    return GF_OK;
}

int gf_coordinator_port(const gf_coordinator *c) { return gf_https_port(c->http); }

void gf_coordinator_stop(gf_coordinator *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_broadcast(&c->changed);
    pthread_cond_broadcast(&c->polls_wake);
    pthread_mutex_unlock(&c->lock);
    if (c->driver) pthread_join(c->driver, NULL);
    if (c->recorder_started) {         /* after the closed rounds left are written */
        pthread_mutex_lock(&c->lock);
        c->driver_done = 1;            /* (the driver may queue rounds until it ends) */
        pthread_cond_broadcast(&c->record_wake);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->recorder, NULL);
        c->recorder_started = 0;
    }
    if (c->poll_timer_started) pthread_join(c->poll_timer, NULL);
    pthread_mutex_lock(&c->lock);
    for (int list = 0; list < CO_POLL_LISTS; list++)
        co_polls_serve(c, list, gf_now(), 0);   /* stopping: every parked poll answered (204) */
    pthread_mutex_unlock(&c->lock);
    co_sched_stop(c);                  /* after its current pass (an executor command in flight) */
    gf_https_stop(c->http);
    if (c->audit) co_refusals_flush(c, 1);
    co_sched_free(c);
    while (c->njobs) job_remove(c, 0);
    free(c->jobs);
    free(c->sites);
    free(c->grants);
    gf_audit_close(c->audit);
    gf_store_close(c->store);
    pthread_cond_destroy(&c->changed);
    pthread_cond_destroy(&c->polls_wake);
    pthread_cond_destroy(&c->record_wake);
    pthread_cond_destroy(&c->recorded);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->metrics.lock);
    pthread_mutex_destroy(&c->refusals.lock);
    free(c);
}
