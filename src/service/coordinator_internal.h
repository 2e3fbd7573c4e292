/* What the coordinator's parts share: the process state, guarded by one
 * lock. coordinator.c owns the lifecycle, the site registry and the driver
 * thread that runs the rounds; api.c owns the HTTP routes; scheduler.c runs
 * the central jobs on its own thread, with its own lock (scheduler.h). */
#ifndef GF_SERVICE_COORDINATOR_INTERNAL_H
#define GF_SERVICE_COORDINATOR_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <stdint.h>
#include "facility/gpus.h"
#include "net/https_server.h"
#include "io/audit.h"
#include "service/coordinator.h"
#include "fed/fedjob.h"
#include "jobspec/jobspec.h"
#include "service/store.h"

typedef struct {
    char   name[GF_JOBSPEC_NAME_MAX + 1];
    double last_seen;           /* gf_now() of its last request */
    int    polling;             /* long-polls in progress */
} co_site;

/* A site's long-poll parked until its answer is ready or `until`, with no
 * thread (polls.c). Each kind's own struct begins with it. */
typedef struct co_poll co_poll;
typedef struct {
    /* lock held: 1 when p's answer is ready now (driver: the driver's pass) */
    int       (*look)(gf_coordinator *c, co_poll *p, double now, int driver);
    /* unlocked: p's answer (204 when none came), as a route answers */
    gf_status (*answer)(gf_coordinator *c, co_poll *p, gf_http_response *resp);
} co_poll_kind;
struct co_poll {
    co_poll            *next;
    const co_poll_kind *kind;
    gf_https_later     *later;
    char                site[GF_JOBSPEC_NAME_MAX + 1];
    double              until;      /* gf_now() by which it is answered, 204 if nothing came */
};
enum { CO_POLL_TASK, CO_POLL_SECAGG, CO_POLL_LISTS };   /* a list each */

/* A closed round, as the recorder writes it down (recorder.c). */
typedef struct {
    int64_t          round;
    int              n;
    gf_store_result *results;       /* (n) */
    double           duration_s, train_loss;
    double           closed_wall;   /* when it closed (wall clock, seconds since 1970) */
    int64_t          next;          /* the round opened as it closed (0: none) */
    struct json_t   *opened;        /* its audit detail (NULL: none) */
} co_closed;

typedef struct co_pending co_pending;   /* a job's closed rounds not yet written (recorder.c) */

typedef struct {
    gf_fedjob  *fj;
    int64_t     tenant_id;       /* 0: the operator's own job (every site); else only granted sites */
    int         cancelled;       /* the API cancelled it; the driver drops it */
    co_pending *pending;         /* closed rounds the recorder has yet to write (NULL: none) */
    int         recording;       /* the recorder writes its rounds now, unlocked: the job stays */
    double      recorded_at;     /* gf_now() when its last record began (recorder.c's window) */
    char        record_failed[GF_STORE_REASON_MAX + 1];   /* why its rounds could not be written ("": they could) */
} co_job;

/* A site granted to a tenant (site_grants.h), as the round driver sees it. */
typedef struct {
    int64_t tenant_id;
    char    site[GF_STORE_NAME_MAX + 1];
} co_grant;

#define CO_LATENCY_BUCKETS 11

/* The API's counters for /metrics (metrics.c), under their own lock. */
typedef struct {
    pthread_mutex_t lock;
    uint64_t requests, errors, bytes_in, bytes_out;
    uint64_t bucket[CO_LATENCY_BUCKETS];   /* cumulative: requests at most le[b] seconds */
    uint64_t latency_count;
    double   latency_sum;
} co_metrics;

/* Refusals of anonymous clients and events at the HTTP edge (refusals.c):
 * counted, and written to the audit log as one summary line per interval,
 * never one line per request (anyone can send them). */
typedef struct {
    pthread_mutex_t lock;
    uint64_t no_credentials;   /* requests without a certificate or token */
    uint64_t bad_token;        /* a token that is unknown, revoked, expired or malformed */
    uint64_t edge;             /* the server's own: refused certificates, body limits, TLS errors */
    uint64_t logged;           /* edge lines printed this interval (a few, then quiet) */
    double   since;            /* gf_now() of the interval's start */
    char     last[160];        /* the last refusal, cut short */
} co_refusals;

struct gf_coordinator {
    gf_coordinator_config cfg;
    int64_t          first_token_id;      /* the token in DATA/operator.token until its first use
                                             removes the file (0: none); atomic access */
    char             data_dir[PATH_MAX], tls_dir[PATH_MAX];
    char             gf_path[PATH_MAX];   /* /proc/self/exe unless cfg.gf_path */
    gf_gpu_list      gpus;                /* the local executor's GPUs (cfg.gpu_devices); cfg.gpus = gpus.n */
    gf_store        *store;
    gf_audit        *audit;
    gf_https_server *http;
    int              sites_total;     /* kits issued (for SCAFFOLD's N with "all") */

    pthread_mutex_t  lock;            /* everything below */
    pthread_cond_t   changed;         /* broadcast on any change sites or the driver wait for */
    int              stopping;
    int              look_for_queued; /* a federated job was submitted */
    int              kicked;          /* something changed since the driver last looked */
    co_job          *jobs;            /* (njobs) running federated jobs */
    int              njobs, capjobs;
    co_site         *sites;           /* (nsites) every site seen since start */
    int              nsites, capsites;
    co_grant        *grants;          /* (ngrants) the store's site grants (api_sites.c) */
    int              ngrants;
    pthread_t        driver;
    pthread_t        recorder;        /* writes closed rounds down (recorder.c) */
    int              recorder_started;
    int              driver_done;     /* stopping, and the driver has ended: nothing more to write comes */
    pthread_cond_t   record_wake;     /* wakes it: rounds to write, or stopping */
    pthread_cond_t   recorded;        /* broadcast when it wrote (or failed to write) a job's rounds */
    int              record_turn;     /* where it looks for the next job to write (in turn) */
    int              record_waiters;  /* in co_record_wait: what is pending is written at once */
    co_poll         *polls[CO_POLL_LISTS];   /* parked long-polls, newest first (polls.c) */
    int              sa_kicked;       /* a change since the timer last looked at the secure-aggregation ones */
    pthread_t        poll_timer;      /* answers the parked polls whose time is up (polls.c) */
    int              poll_timer_started;
    pthread_cond_t   polls_wake;      /* wakes it: an earlier deadline, or stopping */
    double           polls_due;       /* when it looks next */
    co_metrics       metrics;
    co_refusals      refusals;
    struct co_sched *sched;           /* central jobs (scheduler.c: its own thread and lock) */
    /* tests only (set before uploads arrive): called by a plain upload after
     * its body was decoded and checked, without the lock, before it takes
     * the lock to add it (NULL: none) */
    void           (*upload_decoded_hook)(void *arg);
    void            *upload_hook_arg;
    /* tests only (set under the lock): called on the driver thread by a
     * federated job's bring-up after its runtime was built, without the
     * lock, before it takes the lock to add the job to `jobs`; the job's
     * id is passed (NULL: none) */
    void           (*bringup_built_hook)(void *arg, int64_t job);
    void            *bringup_hook_arg;
    /* tests only (set under the lock): called on the recorder's thread,
     * without the lock, when it starts to write down closed rounds (NULL: none) */
    void           (*record_hook)(void *arg);
    void            *record_hook_arg;
    /* tests only (set before jobs are submitted): called on the scheduler's
     * thread when the executor has started a job, before the store records
     * it running, with the executor's handle (NULL: none) */
    void           (*sched_started_hook)(void *arg, int64_t job, const char *handle);
    void            *sched_hook_arg;
};

/* Who sent a request (auth.c): a site (its certificate), the operator (the
 * operator certificate or an operator token) or a tenant member (token). */
typedef enum { CO_SITE, CO_OPERATOR, CO_MEMBER } co_role;
typedef struct {
    co_role role;
    int64_t tenant_id;                      /* members: their tenant; operators: 0 or the token's */
    char    tenant[GF_STORE_NAME_MAX + 1];
    char    actor[96];                      /* for the audit log: "hospital-a", "operator", "token:12" */
} co_principal;

/* After a request authenticated with token id: the first operator token's
 * file is removed at its first use (the token itself stays valid). */
void      co_token_used(gf_coordinator *c, int64_t token_id);
/* Identifies the sender: GF_OK with *p filled in, or an error with
 * resp->status 401 and the reason (no credentials, bad token). */
gf_status co_authenticate(gf_coordinator *c, const gf_http_request *req, co_principal *p, gf_http_response *resp);
/* The tenant a listing with ?tenant=NAME covers for p: members their own
 * (another name is a 404, as a missing tenant), operators the named one or,
 * without a name, all (*tid = 0). */
gf_status co_tenant_filter(gf_coordinator *c, const co_principal *p, const char *tname, int64_t *tid,
                           gf_http_response *resp);
/* Whether p may see job (operators: all; members: their tenant's). */
int       co_job_visible(const co_principal *p, const gf_store_job *job);
/* Reads job id for p: GF_OK, or 404 (also for another tenant's job). */
gf_status co_job_for(gf_coordinator *c, const co_principal *p, int64_t id, gf_store_job *job, gf_http_response *resp);

/* auth.c: the HTTP server's admission (gf_http_admit): a request's body
 * limit from its route and its credentials, checked before its body is
 * read; anonymous and bad-token requests are refused (401) and counted. */
void      co_admit(void *ctx, const gf_http_request *req, gf_http_admission *a);
#define CO_JSON_BODY_MAX ((size_t)1 << 20)    /* a JSON route's body */
#define CO_SITE_MSG_MAX  ((size_t)16 << 20)   /* a site's non-update message (secure aggregation, decline) */

/* refusals.c */
typedef enum { CO_REFUSED_NO_CREDENTIALS, CO_REFUSED_BAD_TOKEN, CO_REFUSED_EDGE } co_refusal_kind;
void      co_refusals_init(gf_coordinator *c);
/* Counts one refusal; what (a path or a server line) is kept cut short. */
void      co_refused(gf_coordinator *c, co_refusal_kind kind, const char *what);
/* The summary line, when the interval has passed (or `force`) and anything was counted. */
void      co_refusals_flush(gf_coordinator *c, int force);
double    co_refusals_due(gf_coordinator *c);   /* when the next summary is due (gf_now clock) */
#define CO_PATH_AUDIT_MAX 128                 /* bytes of a path in an audit or log line */

/* api_facility.c: tenants, tokens, queue, fair share, usage, whoami, logs,
 * the dashboard's files. *handled = 0 when the path is none of these. */
gf_status co_facility_route(gf_coordinator *c, const gf_http_request *req, const co_principal *p,
                            gf_http_response *resp, int *handled);
/* A file's bytes as the response body: from offset, at most max (the last
 * max bytes when longer). A missing file is an empty 200 when missing_empty,
 * else an error naming it. */
gf_status co_send_file(const char *path, long offset, long max, int missing_empty, const char *type,
                       gf_http_response *resp);
/* The job folder of a central job. */
void      co_job_dir(const gf_coordinator *c, int64_t id, char *out, size_t cap);
/* Submits a job spec (POST /v1/jobs); bundle_dir: a program job's unpacked
 * files (facility/bundle.h), moved into its folder once the job exists. */
gf_status co_submit_spec(gf_coordinator *c, const char *body, size_t len, const char *bundle_dir,
                         const co_principal *who, gf_http_response *resp);
struct json_t;
/* api_program.c: POST /v1/jobs/bundle, GET /v1/jobs/ID/outputs[/NAME], and
 * a program job's metrics in its status. */
gf_status co_program_submit_bundle(gf_coordinator *c, const gf_http_request *req, const co_principal *who,
                                   gf_http_response *resp);
gf_status co_program_outputs(gf_coordinator *c, const co_principal *who, int64_t id, const char *rest,
                             gf_http_response *resp);
/* A program job's metrics lines into out: "metrics" (numbers only),
 * "metrics_lines", "metrics_from" and "metrics_next" (byte offsets). after:
 * -1 for the file's last lines, else a "metrics_next" of an earlier answer
 * for the lines appended since (one that no longer fits reads as -1). */
void      co_program_status(gf_coordinator *c, const gf_store_job *job, int64_t after, struct json_t *out);
/* The "step" of the last metrics line that has one (a number), or JSON null. */
struct json_t *co_program_last_step(gf_coordinator *c, const gf_store_job *job);
/* Kinds the facility scheduler runs through an executor (central, program). */
static inline int co_kind_scheduled(const char *kind) { return !strcmp(kind, "central") || !strcmp(kind, "program"); }

/* api_sites.c: the sites granted to tenants. The routes (POST/GET
 * /v1/site-grants, POST /v1/site-grants/revoke); *handled = 0 for other paths. */
gf_status co_sites_route(gf_coordinator *c, const gf_http_request *req, const co_principal *p,
                         gf_http_response *resp, int *handled);
/* Loads the grants from the store into c->grants (lock held). */
gf_status co_grants_load(gf_coordinator *c);
/* Whether a job of tenant_id may use site (lock held): operator jobs (0) any. */
int       co_site_granted(const gf_coordinator *c, int64_t tenant_id, const char *site);
/* Number of sites granted to tenant_id (lock held). */
int       co_sites_granted(const gf_coordinator *c, int64_t tenant_id);
/* At submission: a tenant's federated job names only granted sites, and
 * its tenant has at least min_sites of them. 400 with the reason if not. */
gf_status co_sites_check_job(gf_coordinator *c, const gf_jobspec *spec, int64_t tenant_id, const char *tenant,
                             gf_http_response *resp);

/* api.c */
gf_status co_handle(void *ctx, const gf_http_request *req, gf_http_response *resp);
struct json_t;
/* A JSON answer (takes the reference to body). */
gf_status co_reply(gf_http_response *resp, int status, struct json_t *body);
/* An error answer: status, and the message as the error {"error": ...}. */
gf_status co_refuse(gf_http_response *resp, int status, gf_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Audit line and log line for a refused message of a site. */
void      co_audit_rejected(gf_coordinator *c, const char *site, int64_t job, int64_t round, int status,
                            const char *why);
/* A long-poll's wait from ?KEY=S (absent: 25; at most 60): -1 when malformed. */
long      co_poll_wait(const gf_http_request *req, const char *key);
/* The request's answer comes later (gf_https_defer): a route's resp->status. */
#define CO_DEFERRED (-1)

/* polls.c, lock held: parked long-polls */
/* Parks p (calloc'd, its kind's struct) on `list` until `until`, for req
 * of site s: resp->status becomes CO_DEFERRED. */
void      co_poll_park(gf_coordinator *c, int list, co_poll *p, const co_poll_kind *kind, const gf_http_request *req,
                       co_site *s, double until, gf_http_response *resp);
/* Answers, unlocked, the polls of `list` whose answer is ready or whose
 * time is up (all of them when stopping). Returns the earliest deadline
 * left (INFINITY: none). Lock held on entry and exit. */
double    co_polls_serve(gf_coordinator *c, int list, double now, int driver);
int       co_polls_count(const gf_coordinator *c, int list);
/* The thread that answers parked polls at their deadline, so that a driver
 * busy writing a round or running an evaluation never holds them up, and
 * the parked secure-aggregation polls as soon as a change (co_wake) makes
 * their answer ready. */
void     *co_poll_timer_main(void *arg);
/* Waits on cv (with c->lock held) until `until` (gf_now() seconds) or a wake. */
void      co_wait_until(gf_coordinator *c, pthread_cond_t *cv, double until);

/* recorder.c: the closed rounds written down on a thread of their own */
void      co_closed_free(co_closed *cr);
void      co_pending_free(co_pending *p);
/* Whether the driver waits for each round of j to be written before it
 * goes on: under DP, with the coordinator's evaluation, or when the
 * strategy keeps server state (its checkpoint is the live strategy's). */
int       co_record_waits(const gf_fedjob *j);
/* Queues a closed round of cj for the recorder (lock held), taking cr's
 * contents and the reference `model` (the round's global) over, also on
 * failure (out of memory). */
gf_status co_record_queue(gf_coordinator *c, co_job *cj, co_closed *cr, gf_blob *model);
/* Waits (lock held, released meanwhile) until nothing of job is queued or
 * being written. */
void      co_record_wait(gf_coordinator *c, int64_t job);
/* Closed rounds of cj queued, not yet being written (lock held). */
int       co_record_backlog(const co_job *cj);
void     *co_recorder_main(void *arg);

/* metrics.c: one answered request; the /metrics page */
void      co_metrics_request(gf_coordinator *c, int long_poll, double seconds, size_t bytes_in, size_t bytes_out,
                             int status);
gf_status co_metrics_reply(gf_coordinator *c, gf_http_response *resp);
/* a deferred request's answer (counted as a request when it was routed) */
void      co_metrics_answer(gf_coordinator *c, size_t bytes_out, int status);

/* api_secagg.c: the secure-aggregation routes of a round ("secagg/...") and
 * the masked upload. */
gf_status co_secagg_route(gf_coordinator *c, const gf_http_request *req, int64_t id, int64_t round,
                          const char *rest, gf_http_response *resp);

/* coordinator.c, lock held */
void     co_thread_setup(const gf_coordinator *c);   /* first in each thread that runs its loops */
void     co_wake(gf_coordinator *c);  /* wakes waiters; the driver looks again even if busy now */
co_site *co_site_seen(gf_coordinator *c, const char *name, double now);
co_job  *co_job_find(gf_coordinator *c, int64_t id);
/* Why job cj opens no round now, when it waits for sites ("" otherwise). */
void     co_job_waiting(const gf_coordinator *c, const co_job *cj, char *out, size_t cap);
/* Whether the round driver runs jobs of this store kind ("federated", "statistics"). */
int      co_kind_is_round(const char *kind);
/* Appends to the audit log; takes the reference to detail (NULL: {}). */
void     co_audit(gf_coordinator *c, const char *actor, const char *event, struct json_t *detail);
/* n (at most GF_AUDIT_BATCH_MAX) entries of one actor in one append (one
 * flush), all or none; the details' references are taken. */
void     co_audit_many(gf_coordinator *c, const char *actor, int n, const char *const *events,
                       struct json_t **details);
void     co_log(gf_coordinator *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
