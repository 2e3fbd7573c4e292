/* The coordinator's /metrics in Prometheus text format (version 0.0.4):
 * jobs by state, the open rounds, sites online, completed rounds and their
 * durations, and the API's request counts, bytes and latency (long-polls
 * are counted but kept out of the latency histogram: they wait on purpose).
 * Counters live in memory and restart at zero with the process, as
 * Prometheus expects of counters. */
#include "service/coordinator_internal.h"
#include "service/scheduler.h"
#include <jansson.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/timer.h"

static const double latency_le[CO_LATENCY_BUCKETS] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };

void co_metrics_request(gf_coordinator *c, int long_poll, double seconds, size_t bytes_in, size_t bytes_out,
                        int status)
{
    co_metrics *m = &c->metrics;
    pthread_mutex_lock(&m->lock);
    m->requests++;
    m->errors += status >= 400;
    m->bytes_in += bytes_in;
    m->bytes_out += bytes_out;
    if (!long_poll) {
        for (int b = 0; b < CO_LATENCY_BUCKETS; b++) m->bucket[b] += seconds <= latency_le[b];
        m->latency_count++;
        m->latency_sum += seconds;
    }
    pthread_mutex_unlock(&m->lock);
}

void co_metrics_answer(gf_coordinator *c, size_t bytes_out, int status)
{
    pthread_mutex_lock(&c->metrics.lock);
    c->metrics.errors += status >= 400;
    c->metrics.bytes_out += bytes_out;
    pthread_mutex_unlock(&c->metrics.lock);
}

typedef struct { char *buf; size_t len, cap; int oom; } text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    if (t->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) { t->oom = 1; return; }
        if ((size_t)n < t->cap - t->len) { t->len += (size_t)n; return; }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *p = realloc(t->buf, cap);
        if (!p) { t->oom = 1; return; }
        t->buf = p;
        t->cap = cap;
    }
}

typedef struct { int64_t by_state[GF_STORE_JOB_TIMED_OUT + 1]; int64_t ids[4096]; int nids; } job_tally;

static int tally_job(const gf_store_job *job, void *ctx)
{
    job_tally *t = ctx;
    if ((int)job->state >= 0 && job->state <= GF_STORE_JOB_TIMED_OUT) t->by_state[job->state]++;
    if (job->round > 0 && t->nids < 4096) t->ids[t->nids++] = job->id;
    return 0;
}

typedef struct { int64_t completed; double duration_sum; } round_tally;

static int tally_round(const gf_store_round *r, void *ctx)
{
    round_tally *t = ctx;
    if (r->state == GF_STORE_ROUND_COMPLETED) { t->completed++; t->duration_sum += r->duration_s; }
    return 0;
}

gf_status co_metrics_reply(gf_coordinator *c, gf_http_response *resp)
{
    job_tally *jt = calloc(1, sizeof *jt);
    if (!jt) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    gf_status st = gf_store_job_list(c->store, tally_job, jt);
    round_tally rt = { 0, 0 };
    for (int i = 0; !st && i < jt->nids; i++) st = gf_store_rounds(c->store, jt->ids[i], tally_round, &rt);
    if (st) { free(jt); return st; }
    text t = { 0 };
    put(&t, "# HELP gf_jobs Jobs in the store by state.\n# TYPE gf_jobs gauge\n");
    for (int s = 0; s <= GF_STORE_JOB_TIMED_OUT; s++)
        put(&t, "gf_jobs{state=\"%s\"} %lld\n", gf_store_job_state_name((gf_store_job_state)s),
            (long long)jt->by_state[s]);
    free(jt);
    put(&t, "# HELP gf_rounds_completed_total Federated rounds completed (all jobs).\n"
            "# TYPE gf_rounds_completed_total counter\ngf_rounds_completed_total %lld\n", (long long)rt.completed);
    put(&t, "# HELP gf_round_duration_seconds_total Seconds the completed rounds took, summed.\n"
            "# TYPE gf_round_duration_seconds_total counter\ngf_round_duration_seconds_total %.6f\n", rt.duration_sum);

    pthread_mutex_lock(&c->lock);
    double now = gf_now();
    int online = 0, open_rounds = 0, running = c->njobs;
    for (int i = 0; i < c->nsites; i++)
        online += c->sites[i].polling > 0 || now - c->sites[i].last_seen < c->cfg.site_timeout_s;
    for (int i = 0; i < c->njobs; i++) open_rounds += c->jobs[i].fj->round > 0;
    int parked_tasks = co_polls_count(c, CO_POLL_TASK), parked_secagg = co_polls_count(c, CO_POLL_SECAGG);
    pthread_mutex_unlock(&c->lock);
    put(&t, "# HELP gf_sites_online Sites that polled within the site timeout.\n# TYPE gf_sites_online gauge\n"
            "gf_sites_online %d\n", online);
    put(&t, "# HELP gf_federated_jobs_active Federated jobs the driver is running.\n"
            "# TYPE gf_federated_jobs_active gauge\ngf_federated_jobs_active %d\n", running);
    put(&t, "# HELP gf_rounds_open Rounds open now.\n# TYPE gf_rounds_open gauge\ngf_rounds_open %d\n", open_rounds);
    put(&t, "# HELP gf_api_parked_polls Sites' long-polls waiting for their answer, with no thread held.\n"
            "# TYPE gf_api_parked_polls gauge\ngf_api_parked_polls{kind=\"task\"} %d\n"
            "gf_api_parked_polls{kind=\"secagg\"} %d\n", parked_tasks, parked_secagg);
    int queued = 0;
    json_decref(co_sched_queue(c, &queued));
    put(&t, "# HELP gf_central_queue_length Central jobs waiting (held ones included), at the scheduler's last pass.\n"
            "# TYPE gf_central_queue_length gauge\ngf_central_queue_length %d\n", queued);
    put(&t, "# HELP gf_central_jobs_running Central jobs running on the executor.\n"
            "# TYPE gf_central_jobs_running gauge\ngf_central_jobs_running %d\n", co_sched_running(c));

    co_metrics m;
    pthread_mutex_lock(&c->metrics.lock);
    m = c->metrics;
    pthread_mutex_unlock(&c->metrics.lock);
    put(&t, "# HELP gf_api_requests_total API requests answered.\n# TYPE gf_api_requests_total counter\n"
            "gf_api_requests_total %llu\n", (unsigned long long)m.requests);
    put(&t, "# HELP gf_api_errors_total API requests answered with status >= 400.\n"
            "# TYPE gf_api_errors_total counter\ngf_api_errors_total %llu\n", (unsigned long long)m.errors);
    put(&t, "# HELP gf_api_received_bytes_total Request body bytes received.\n"
            "# TYPE gf_api_received_bytes_total counter\ngf_api_received_bytes_total %llu\n",
        (unsigned long long)m.bytes_in);
    put(&t, "# HELP gf_api_sent_bytes_total Response body bytes sent.\n"
            "# TYPE gf_api_sent_bytes_total counter\ngf_api_sent_bytes_total %llu\n", (unsigned long long)m.bytes_out);
    put(&t, "# HELP gf_api_request_duration_seconds Handling time of API requests other than long-polls.\n"
            "# TYPE gf_api_request_duration_seconds histogram\n");
    for (int b = 0; b < CO_LATENCY_BUCKETS; b++)
        put(&t, "gf_api_request_duration_seconds_bucket{le=\"%g\"} %llu\n", latency_le[b],
            (unsigned long long)m.bucket[b]);
    put(&t, "gf_api_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)m.latency_count);
    put(&t, "gf_api_request_duration_seconds_sum %.6f\ngf_api_request_duration_seconds_count %llu\n", m.latency_sum,
        (unsigned long long)m.latency_count);
    if (t.oom) { free(t.buf); return gf_errorf(GF_ERR_NOMEM, "out of memory"); }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4";
    resp->body = t.buf;
    resp->len = t.len;
    resp->free_body = free;
    return GF_OK;
}
