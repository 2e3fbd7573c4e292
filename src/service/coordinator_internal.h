/* What the coordinator's parts share: the process state, guarded by one
 * lock. coordinator.c owns the lifecycle, the site registry and the driver
 * thread that runs the rounds; api.c owns the HTTP routes. */
#ifndef GF_SERVICE_COORDINATOR_INTERNAL_H
#define GF_SERVICE_COORDINATOR_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include "net/https_server.h"
#include "service/audit.h"
#include "service/coordinator.h"
#include "service/fedjob.h"
#include "service/store.h"

typedef struct {
    char   name[GF_JOBSPEC_NAME_MAX + 1];
    double last_seen;           /* gf_now() of its last request */
    int    polling;             /* long-polls in progress */
} co_site;

typedef struct {
    gf_fedjob *fj;
    int        cancelled;       /* the API cancelled it; the driver drops it */
} co_job;

struct gf_coordinator {
    gf_coordinator_config cfg;
    char             data_dir[PATH_MAX], tls_dir[PATH_MAX];
    gf_store        *store;
    gf_audit        *audit;
    gf_https_server *http;
    int              sites_total;     /* kits issued (for SCAFFOLD's N with "all") */

    pthread_mutex_t  lock;            /* everything below */
    pthread_cond_t   changed;         /* broadcast on any change sites or the driver wait for */
    int              stopping;
    int              look_for_queued; /* a job was submitted */
    int              kicked;          /* something changed since the driver last looked */
    co_job          *jobs;            /* (njobs) running federated jobs */
    int              njobs, capjobs;
    co_site         *sites;           /* (nsites) every site seen since start */
    int              nsites, capsites;
    pthread_t        driver;
};

/* api.c */
gf_status co_handle(void *ctx, const gf_http_request *req, gf_http_response *resp);

/* coordinator.c, lock held */
void     co_wake(gf_coordinator *c);  /* wakes waiters; the driver looks again even if busy now */
co_site *co_site_seen(gf_coordinator *c, const char *name, double now);
co_job  *co_job_find(gf_coordinator *c, int64_t id);
struct json_t;
/* Appends to the audit log; takes the reference to detail (NULL: {}). */
void     co_audit(gf_coordinator *c, const char *actor, const char *event, struct json_t *detail);
void     co_log(gf_coordinator *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
