/* The site agent (`gf site`): runs next to a data holder's data, connects
 * out to the coordinator only (HTTPS with the site's kit), long-polls for
 * tasks, downloads the round's global model, trains locally with the
 * engine, uploads the update and its metrics, and reconnects with backoff
 * when the coordinator is gone. One process serves any number of jobs, one
 * task at a time. The data never leaves: only the update travels.
 *
 * Whose jobs it serves: the coordinator sends a site only tasks of the
 * operator's own jobs and of tenants the operator granted the site to
 * (gf site-grant); each task names its tenant ("tenant": NAME, or null for
 * the operator's job). With allow_tenants the site takes only the tasks of
 * the tenants listed (GF_SITE_ALLOW_OPERATOR for the operator's jobs) and
 * declines every other task through the round's decline route, giving the
 * reason, so the coordinator records the refusal.
 *
 * Per-site evaluation: a task with "evaluate" (fed/task.h) has the site
 * score the model it downloaded on its test split and send the report
 * (fed/evalreport.h) before it trains; an evaluation-only round trains
 * nothing and sends no update, and a site without a test split declines it.
 *
 * Secure rounds use the kit's signing key (net/pki.h) and are declined,
 * with the reason, when their parameters fall below secagg_policy.
 *
 * Privacy it spends: the record-level DP-SGD steps of every round it trains
 * go into its own ledger in state_dir (fed/site_budget.h), written before
 * the update leaves, so a restart continues the count. With max_epsilon the
 * site declines, with the reason and before training anything, a task whose
 * steps would bring the epsilon spent on its records (over all its jobs, at
 * budget_delta) past max_epsilon, and every task that trains without
 * DP-SGD (its epsilon is unbounded). */
#ifndef GF_FED_SITE_H
#define GF_FED_SITE_H

#include <signal.h>
#include "core/error.h"
#include "data/dataset.h"
#include "privacy/secagg_policy.h"

#define GF_SITE_ALLOW_OPERATOR "@operator"   /* in allow_tenants: the operator's own jobs (no tenant) */

typedef struct {
    const char       *kit_dir;        /* sites/NAME from gf provision */
    const char       *url;            /* NULL: the kit's coordinator.url */
    const gf_dataset *train;          /* local training data */
    const gf_dataset *val;            /* local validation split (may be empty) */
    const gf_dataset *test;           /* local test split for per-site evaluation (NULL or
                                       * empty: a task that asks for one is answered without) */
    int               threads;
    int               poll_wait_s;    /* long-poll length; 0: 25 */
    double            max_backoff_s;  /* longest pause between reconnects; 0: 5 */
    int               max_tasks;      /* return after this many uploads; 0: run until *stop */
    volatile sig_atomic_t *stop;      /* set (by a signal handler) to return */
    const char       *secagg_record_dir; /* NULL, or where to keep this site's own quantised
                                         * inputs of securely aggregated rounds (audits) */
    const char *const *allow_tenants; /* NULL: any task the coordinator sends; else the
                                         * nallow tenants whose tasks this site takes
                                         * (names compared ignoring case, as the coordinator's) */
    int               nallow;
    gf_secagg_policy  secagg_policy;  /* this site's minimums for secure rounds (zeros: defaults) */
    const char       *state_dir;      /* the site's privacy ledger's folder (created 0700); NULL: in memory */
    double            max_epsilon;    /* > 0: this site's own budget on its records; 0: none */
    double            budget_delta;   /* the delta of max_epsilon; 0: GF_DPSGD_DEFAULT_DELTA */
    void            (*log)(const char *line);   /* may be NULL */
} gf_site_config;

/* Runs until *stop or max_tasks. Connection failures are retried with
 * backoff forever; a refusal of the site itself (403 on polling: revoked,
 * or not a site certificate) ends the run with GF_ERR_ARG. A ledger in
 * state_dir that does not read back ends it before it polls (GF_ERR_FORMAT). */
gf_status gf_site_run(const gf_site_config *cfg);

/* The pause before a reconnect: uniform in [backoff/2, backoff], drawn from
 * libsodium's CSPRNG, so that each site process draws its own sequence. */
double    gf_site_backoff_jitter(double backoff);

#endif
