/* The recorder: writes the closed rounds of federated jobs down on a thread
 * of its own, so that the round driver never waits for the disk. A round's
 * record is its checkpoint (file and folder flushed), then in one store
 * transaction its results, its completion and the next round's opening,
 * then both events in the audit log. Rounds of a job closed while its last
 * record was being written are written together (group commit): one
 * checkpoint, the latest model's (it supersedes the others), one store
 * transaction and one audit append for all of them. On storage whose
 * flushes take longer than a round, rounds then go on at the network's
 * pace instead of at four flushes a round.
 *
 * The driver waits for a round's record (co_record_wait) where the record
 * must come first or needs the live job: under DP (the budget counts a
 * release once it is on disk), with the coordinator's own evaluation, and
 * for strategies that keep server state (written from the live strategy).
 * A job is removed only when nothing of it is being written. */
#include "service/coordinator_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "core/grow.h"
#include "core/timer.h"
#include "facility/fedeval.h"

/* The least time between the starts of two records of a job, so that
 * short rounds share one (a checkpoint costs a core about as long as a
 * small model's round takes); not when something waits for them
 * (co_record_wait), the driver has ended, or RECORD_BATCH rounds wait. A
 * crash loses at most this much of rounds (they run again). */
#define RECORD_WINDOW_S 0.05
#define RECORD_BATCH    32

struct co_pending {
    co_closed *r;          /* (n) closed rounds, oldest first */
    int        n, cap;
    gf_blob   *model;      /* the newest one's global (a reference) */
};

void co_closed_free(co_closed *cr)
{
    free(cr->results);
    json_decref(cr->opened);
    *cr = (co_closed){ 0 };
}

void co_pending_free(co_pending *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) co_closed_free(&p->r[i]);
    free(p->r);
    gf_blob_unref(p->model);
    free(p);
}

int co_record_waits(const gf_fedjob *j)
{
    return j->spec.dp.enabled || j->eval_data[0] || j->stats_acc || gf_strategy_state_count(j->strategy) > 0;
}

gf_status co_record_queue(gf_coordinator *c, co_job *cj, co_closed *cr, gf_blob *model)
{
    co_pending *p = cj->pending;
    if (!p && !(p = cj->pending = calloc(1, sizeof *p))) goto nomem;
    co_closed *r = gf_grow(p->r, p->n, &p->cap, sizeof *r);
    if (!r) goto nomem;
    p->r = r;
    p->r[p->n++] = *cr;
    *cr = (co_closed){ 0 };
    gf_blob_unref(p->model);
    p->model = model;
    if (p->n == 1 || p->n == RECORD_BATCH) pthread_cond_signal(&c->record_wake);   /* once a window */
    return GF_OK;
nomem:
    co_closed_free(cr);
    gf_blob_unref(model);
    return gf_errorf(GF_ERR_NOMEM, "out of memory");
}

void co_record_wait(gf_coordinator *c, int64_t job)
{
    c->record_waiters++;
    for (;;) {
        co_job *cj = co_job_find(c, job);
        if (!cj || (!cj->pending && !cj->recording) || !c->recorder_started) break;
        pthread_cond_signal(&c->record_wake);    /* written now, not at the window's end */
        pthread_cond_wait(&c->recorded, &c->lock);
    }
    c->record_waiters--;
}

/* The round's checkpoint on the job's eval set, in a child process
 * (fedeval.h). A failure is logged and audited in our own words, and the
 * job's evaluation stops; the rounds go on. */
static void evaluate(gf_coordinator *c, gf_fedjob *j, int64_t round, double *acc)
{
    char model[PATH_MAX], out[PATH_MAX + 32];
    if (gf_fedjob_artifact_path(c->data_dir, j->id, round, model, sizeof model) ||
        gf_fedjob_artifact_path(c->data_dir, j->id, 0, out, sizeof out - 32))
        return;
    strcat(out, "/eval.out");
    gf_fedeval_request r = { .gf_path = c->cfg.gf_path, .model_file = model, .data_spec = j->eval_data,
                             .train_split = j->eval_train, .out_path = out, .threads = c->cfg.eval_threads,
                             .memory_mb = c->cfg.eval_memory_mb, .time_limit_s = c->cfg.eval_time_limit_s };
    if (!gf_fedeval_run(&r, acc)) return;
    j->eval_failed = 1;
    char why[GF_STORE_REASON_MAX + 1];
    snprintf(why, sizeof why, "%s", gf_last_error());
    co_log(c, "job %lld round %lld: evaluation stopped: %s", (long long)j->id, (long long)round, why);
    co_audit(c, "coordinator", "eval.failed", json_pack("{s:I,s:I,s:s}", "job", (json_int_t)j->id,
                                                        "round", (json_int_t)round, "reason", why));
}

/* Writes p down (lock NOT held): 0 on success. The audit details of the
 * openings are taken over. */
static int write_rounds(gf_coordinator *c, gf_fedjob *j, co_pending *p)
{
    co_closed *last = &p->r[p->n - 1];
    double acc = NAN;
    gf_status st = gf_fedjob_checkpoint(j, c->data_dir, last->round, NAN, p->model);
    if (!st && j->eval_data[0] && !j->eval_failed) evaluate(c, j, last->round, &acc);
    gf_store_round_done *done = st ? NULL : calloc((size_t)p->n, sizeof *done);   /* (n) */
    if (!st && !done) st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    for (int k = 0; !st && k < p->n; k++)
        done[k] = (gf_store_round_done){ .round = p->r[k].round, .results = p->r[k].results, .n = p->r[k].n,
                                         .duration_s = p->r[k].duration_s, .train_loss = p->r[k].train_loss,
                                         .accuracy = k == p->n - 1 ? acc : NAN, .closed_at = p->r[k].closed_wall,
                                         .next_opened_at = p->r[k].closed_wall };   /* the next opens as it closes */
    if (!st) st = gf_store_rounds_finish(c->store, j->id, done, p->n, last->next > 0);
    free(done);
    if (st) {
        co_log(c, "job %lld round %lld: %s", (long long)j->id, (long long)last->round, gf_last_error());
        return -1;
    }
    /* the audit log: each round's completion and the next one's opening, as few appends as fit */
    const char *events[GF_AUDIT_BATCH_MAX];
    json_t *details[GF_AUDIT_BATCH_MAX];
    int n = 0;
    for (int k = 0; k < p->n; k++) {
        co_closed *r = &p->r[k];
        json_t *d = json_pack("{s:I,s:I,s:i,s:f}", "job", (json_int_t)j->id, "round", (json_int_t)r->round,
                              "sites", r->n, "duration_s", r->duration_s);
        if (!isnan(r->train_loss)) json_object_set_new(d, "train_loss", json_real(r->train_loss));
        if (k == p->n - 1 && !isnan(acc)) json_object_set_new(d, "accuracy", json_real(acc));
        events[n] = "round.completed", details[n++] = d;
        if (r->opened) events[n] = "round.opened", details[n++] = r->opened, r->opened = NULL;
        if (n > GF_AUDIT_BATCH_MAX - 2 || k == p->n - 1) {
            co_audit_many(c, "coordinator", n, events, details);
            n = 0;
        }
        co_log(c, "job %lld round %lld/%d: %d sites, loss %.4f, accuracy %.4f, %.3f s", (long long)j->id,
               (long long)r->round, j->spec.rounds, r->n, r->train_loss, k == p->n - 1 ? acc : NAN, r->duration_s);
    }
    return 0;
}

/* The next job whose rounds are due to be written, in turn (lock held): its
 * index, or -1 with *due when one will be (INFINITY: none is pending). */
static int next_pending(gf_coordinator *c, double now, double *due)
{
    int now_all = c->record_waiters || c->driver_done || c->stopping;
    *due = INFINITY;
    for (int k = 0; k < c->njobs; k++) {
        int i = (c->record_turn + k) % c->njobs;
        co_job *cj = &c->jobs[i];
        if (!cj->pending || cj->recording) continue;
        double at = cj->recorded_at + RECORD_WINDOW_S;
        if (now_all || now >= at || cj->pending->n >= RECORD_BATCH) {
            c->record_turn = i + 1;
            return i;
        }
        if (at < *due) *due = at;
    }
    return -1;
}

void *co_recorder_main(void *arg)
{
    gf_coordinator *c = arg;
    co_thread_setup(c);
    pthread_mutex_lock(&c->lock);
    for (;;) {
        double due;
        int i = next_pending(c, gf_now(), &due);
        if (i < 0) {
            if (c->driver_done) break;           /* after the last closed round is written */
            if (isinf(due)) pthread_cond_wait(&c->record_wake, &c->lock);
            else co_wait_until(c, &c->record_wake, due);
            continue;
        }
        co_job *cj = &c->jobs[i];
        co_pending *p = cj->pending;
        cj->pending = NULL;
        if (cj->record_failed[0]) {              /* closed after a record failed: the job ends unrecorded */
            co_pending_free(p);
            pthread_cond_broadcast(&c->recorded);
            co_wake(c);
            continue;
        }
        cj->recording = 1;
        cj->recorded_at = gf_now();
        gf_fedjob *j = cj->fj;
        int64_t id = j->id, round = p->r[p->n - 1].round;
        void (*hook)(void *) = c->record_hook;
        void *hook_arg = c->record_hook_arg;
        pthread_mutex_unlock(&c->lock);
        if (hook) hook(hook_arg);
        char why[GF_STORE_REASON_MAX + 1] = "";
        if (write_rounds(c, j, p)) snprintf(why, sizeof why, "could not record round %lld: %s", (long long)round,
                                           gf_last_error());
        pthread_mutex_lock(&c->lock);
        cj = co_job_find(c, id);                 /* still there: a job is not removed while written */
        if (cj) {
            cj->recording = 0;
            if (why[0] && !cj->record_failed[0]) {   /* the driver ends the job; nothing more of it is written */
                snprintf(cj->record_failed, sizeof cj->record_failed, "%s", why);
                co_pending_free(cj->pending);
                cj->pending = NULL;
            }
        }
        co_pending_free(p);
        pthread_cond_broadcast(&c->recorded);
        co_wake(c);                              /* the driver may open, finish or drop the job now */
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int co_record_backlog(const co_job *cj)
{
    return cj->pending ? cj->pending->n : 0;
}
