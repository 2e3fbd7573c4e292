/* A site's own privacy ledger: the record-level DP-SGD it has spent on its
 * data, per (federation, job), kept in the site's state folder so that a
 * restart or a kill -9 of `gf site` never resets it.
 *
 * What is kept is the accountant's input, not a rounded epsilon: for every
 * (coordinator, job, noise multiplier, sample rate) the number of noisy
 * steps taken. Epsilon is recomputed from it by composing the RDP curves of
 * all entries over the accountant's default orders (privacy/accountant.h),
 * so rounds at different rates or noise compose exactly.
 *
 * The file is DIR/privacy-budget.json, written with gf_fs_write_atomic
 * (mode 0600) on every change:
 *   {"format": "gf-site-privacy-budget", "version": 1,
 *    "spends": [{"coordinator": HEX, "job": J, "noise": SIGMA, "q": Q,
 *                "steps": N}, ...]}
 * The site records a round's steps before it uploads the update that spends
 * them, so a crash can only over-count. A file that is there but cannot be
 * read back in full is an error (never an empty ledger): the site refuses
 * to start rather than forget what it spent. */
#ifndef GF_FED_SITE_BUDGET_H
#define GF_FED_SITE_BUDGET_H

#include <stdint.h>
#include "core/error.h"

#define GF_SITE_BUDGET_FILE    "privacy-budget.json"
#define GF_SITE_BUDGET_FORMAT  "gf-site-privacy-budget"
#define GF_SITE_BUDGET_COORD_MAX 64   /* longest coordinator id: [0-9a-z-], 1..64 */

/* Noisy steps taken at one (noise, q) for one job of one federation. */
typedef struct {
    char    coordinator[GF_SITE_BUDGET_COORD_MAX + 1];
    int64_t job;        /* > 0 */
    double  noise;      /* sigma >= 0 (0: no guarantee, epsilon +inf) */
    double  q;          /* sample rate in (0, 1] */
    int64_t steps;      /* >= 0 */
} gf_site_spend;

typedef struct {
    char          *path;       /* the ledger file; NULL: in memory only */
    gf_site_spend *e;          /* (n) */
    int            n, cap;
    int            lock_fd;    /* with a path: DIR/lock, held (flock) while the ledger is open */
} gf_site_budget;

/* Opens the ledger in dir (created 0700 when missing; NULL: a ledger in
 * memory only) and holds an exclusive lock on DIR/lock until
 * gf_site_budget_free: two processes on one ledger would each overwrite
 * the other's spends, so a second one gets GF_ERR_ARG. An absent file is an
 * empty ledger; a file that does not read back (see gf_site_budget_read) is
 * GF_ERR_FORMAT naming it. */
gf_status gf_site_budget_open(const char *dir, gf_site_budget *b);

/* Reads the ledger file at path into b (which then keeps no path).
 * GF_ERR_IO when it cannot be read; GF_ERR_FORMAT naming the path and what
 * is wrong when it is not JSON, has another format or version, or an entry
 * with a missing or out-of-range field. */
gf_status gf_site_budget_read(const char *path, gf_site_budget *b);

/* Adds steps at (noise, q) to the job's entry and, with a path, rewrites the
 * file durably before returning. On a failed write the ledger in memory is
 * as it was. */
gf_status gf_site_budget_add(gf_site_budget *b, const char *coordinator, int64_t job, double noise, double q,
                             int64_t steps);

/* Epsilon at delta spent by the entries that match (coordinator NULL: every
 * federation; job 0: every job), plus `extra` when it is not NULL (what a
 * task would spend): 0 for no steps, +inf when some step had no noise. */
gf_status gf_site_budget_epsilon(const gf_site_budget *b, const char *coordinator, int64_t job,
                                 const gf_site_spend *extra, double delta, double *eps);

/* Noisy steps recorded for the matching entries (as above). */
int64_t   gf_site_budget_steps(const gf_site_budget *b, const char *coordinator, int64_t job);

void      gf_site_budget_free(gf_site_budget *b);

#endif
