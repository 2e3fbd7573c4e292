/* The coordinator's durable store: jobs, their rounds, the sites' results of
 * each round and a log of every job state change, in one SQLite database
 * (DIR/state.db, WAL journal, synchronous=FULL, foreign keys on).
 *
 * Schema, version 1 (the table schema_version holds one row, the version):
 *
 *   jobs(id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
 *        spec_json TEXT NOT NULL,               -- gf_jobspec_to_json's output
 *        state TEXT NOT NULL CHECK(state IN ('queued','running','succeeded',
 *                                  'failed','cancelled','timed-out')),
 *        reason TEXT,                           -- reason of the last change
 *        round INTEGER NOT NULL DEFAULT 0,      -- last completed round
 *        created_at TEXT NOT NULL, updated_at TEXT NOT NULL)
 *   rounds(job_id REFERENCES jobs, round INTEGER >= 1,
 *          state TEXT CHECK(state IN ('open','completed','aborted')),
 *          sites INTEGER, duration_s REAL, train_loss REAL, accuracy REAL,
 *          reason TEXT,                         -- why it was aborted
 *          started_at TEXT NOT NULL, closed_at TEXT,
 *          PRIMARY KEY(job_id, round))
 *   round_results(job_id, round, site TEXT, samples INTEGER, loss REAL,
 *          accuracy REAL, bytes_up INTEGER, bytes_down INTEGER,
 *          received_at TEXT NOT NULL,
 *          PRIMARY KEY(job_id, round, site),    -- one result per site and round
 *          FOREIGN KEY(job_id, round) REFERENCES rounds)
 *   job_state_log(job_id REFERENCES jobs, at TEXT NOT NULL, from_state TEXT
 *          (NULL when created), to_state TEXT NOT NULL, reason TEXT NOT NULL)
 *
 * Times are UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ". A NaN loss or accuracy is
 * stored as NULL ("not reported") and read back as NaN; infinities are
 * refused (GF_ERR_NUMERIC).
 *
 * Schema version 2 adds tenants, tokens, jobs.tenant_id, job_exec and the
 * ledger (tenants.h, ledger.h); version 3 the datasets registry
 * (datasets.h) and tenant names unique regardless of case; version 4 the
 * sites granted to tenants (site_grants.h); version 5 widens the datasets
 * registry to every reader (formats plink..imagedir and their options;
 * .npz entries, stored as 'csv' before, become 'npz').
 *
 * Job states (every change is logged with its reason):
 *   queued  -> running | cancelled | failed (cannot be run)
 *   running -> succeeded | failed | cancelled | timed-out
 *   succeeded, failed, cancelled, timed-out: final.
 * running -> queued is not allowed: a restarted coordinator continues a
 * running job from its last completed round instead of requeueing it.
 * Entering a final state aborts the job's open round (its results dropped).
 *
 * Rounds of a job (only while the job is running):
 *   round_open(r) needs r == job.round + 1. If round r is already open (a
 *   coordinator restarted mid-round) it is returned as-is with the results
 *   received so far; if it was aborted it is opened again, empty.
 *   round_complete marks the round completed AND sets job.round = r in one
 *   transaction, so after a crash either both happened or neither did. A
 *   completed round can never be reopened or changed.
 *   round_abort drops the round's results; the round may be opened again.
 *
 * Every operation is one SQLite transaction (writes take BEGIN IMMEDIATE):
 * when it returns GF_OK it is on disk and survives kill -9 or power loss;
 * when it fails nothing of it is kept. Errors: GF_ERR_ARG for bad arguments
 * or an unknown job or round; GF_ERR_MISMATCH for a conflict (illegal state
 * change, duplicate result, round not open, wrong round number);
 * GF_ERR_NUMERIC for infinite values; GF_ERR_IO with SQLite's message for
 * database errors (GF_ERR_FORMAT when the file is not a database or is
 * corrupt).
 *
 * Threads: a gf_store is one SQLite connection (SQLITE_OPEN_FULLMUTEX)
 * guarded by a mutex held for each whole operation, so any number of threads
 * may share one. Callbacks run with that mutex held: they must not call back
 * into the same gf_store. Several processes may open the same DIR (WAL;
 * writers wait up to 5 s for each other). Do not carry an open gf_store
 * across fork(): open one in the child. */
#ifndef GF_SERVICE_STORE_H
#define GF_SERVICE_STORE_H

#include <stdint.h>
#include "core/error.h"

#define GF_STORE_SCHEMA_VERSION 5
#define GF_STORE_NAME_MAX   64     /* job and site names: 1..64 bytes */
#define GF_STORE_KIND_MAX   31     /* job kind ("federated", "central"): 1..31 bytes */
#define GF_STORE_REASON_MAX 511    /* reasons: 1..511 bytes */
#define GF_STORE_TIME_LEN   24     /* YYYY-MM-DDTHH:MM:SS.mmmZ */

typedef struct gf_store gf_store;

typedef enum {
    GF_STORE_JOB_QUEUED,
    GF_STORE_JOB_RUNNING,
    GF_STORE_JOB_SUCCEEDED,
    GF_STORE_JOB_FAILED,
    GF_STORE_JOB_CANCELLED,
    GF_STORE_JOB_TIMED_OUT,
} gf_store_job_state;

typedef enum {
    GF_STORE_ROUND_OPEN,
    GF_STORE_ROUND_COMPLETED,
    GF_STORE_ROUND_ABORTED,
} gf_store_round_state;

typedef struct {
    int64_t id;
    char name[GF_STORE_NAME_MAX + 1];
    char kind[GF_STORE_KIND_MAX + 1];
    char *spec_json;                         /* malloc'd; gf_store_job_free */
    gf_store_job_state state;
    char reason[GF_STORE_REASON_MAX + 1];    /* of the last state change */
    int64_t round;                           /* last completed round (0: none) */
    char created_at[GF_STORE_TIME_LEN + 1];
    char updated_at[GF_STORE_TIME_LEN + 1];
    int64_t tenant_id;                       /* 0: none (the operator's own job) */
    char tenant[GF_STORE_NAME_MAX + 1];      /* its name, "" when none */
} gf_store_job;

typedef struct {
    int64_t job_id, round;
    gf_store_round_state state;
    int sites;                               /* completed rounds; else 0 */
    double duration_s, train_loss, accuracy; /* completed rounds; else NaN */
    char reason[GF_STORE_REASON_MAX + 1];    /* aborted rounds; else "" */
    char started_at[GF_STORE_TIME_LEN + 1];
    char closed_at[GF_STORE_TIME_LEN + 1];   /* "" while open */
} gf_store_round;

typedef struct {
    int64_t job_id, round;
    char site[GF_STORE_NAME_MAX + 1];
    int64_t samples;
    double loss, accuracy;                   /* NaN: not reported */
    int64_t bytes_up, bytes_down;
    char received_at[GF_STORE_TIME_LEN + 1];
} gf_store_result;

typedef struct {
    int64_t job_id;
    char at[GF_STORE_TIME_LEN + 1];
    int has_from;                            /* 0 for the creation entry */
    gf_store_job_state from, to;
    char reason[GF_STORE_REASON_MAX + 1];
} gf_store_log_entry;

/* Callbacks get one row (valid during the call only); return 0 to go on,
 * non-zero to stop early (the listing still returns GF_OK). */
typedef int (*gf_store_job_fn)(const gf_store_job *job, void *ctx);
typedef int (*gf_store_round_fn)(const gf_store_round *round, void *ctx);
typedef int (*gf_store_result_fn)(const gf_store_result *result, void *ctx);
typedef int (*gf_store_log_fn)(const gf_store_log_entry *entry, void *ctx);

/* "queued", "running", ..., "timed-out" / "open", "completed", "aborted". */
const char *gf_store_job_state_name(gf_store_job_state st);
const char *gf_store_round_state_name(gf_store_round_state st);

/* Opens DIR/state.db, creating DIR (0700) and the database (0600) when
 * missing, and brings its schema up to GF_STORE_SCHEMA_VERSION in one
 * transaction. A database written by a newer version is GF_ERR_MISMATCH; a
 * file that is not a database, or an SQLite database of something else, is
 * GF_ERR_FORMAT. */
gf_status gf_store_open(const char *dir, gf_store **out);

/* Closes the connection (NULL is fine). */
void gf_store_close(gf_store *s);

/* Adds a job in state queued (logged with reason "submitted") owned by tenant
 * tenant_id (0: none; else an existing tenant, GF_ERR_ARG otherwise); *id gets
 * its id (> 0). spec_json: non-empty text, stored as given. */
gf_status gf_store_job_create(gf_store *s, int64_t tenant_id, const char *name, const char *kind,
                              const char *spec_json, int64_t *id);
/* The same, refused with GF_ERR_MISMATCH (nothing created) when tenant_id is
 * not 0, max_active > 0 and the tenant already has max_active jobs of this
 * kind queued or running: the count and the insert are one transaction, so
 * concurrent submissions cannot pass the cap together. */
gf_status gf_store_job_create_capped(gf_store *s, int64_t tenant_id, const char *name, const char *kind,
                                     const char *spec_json, int max_active, int64_t *id);

/* Reads job id into *out (zeroed first); GF_ERR_ARG if there is none. */
gf_status gf_store_job_get(gf_store *s, int64_t id, gf_store_job *out);

/* Frees out->spec_json and zeroes *job (NULL is fine). */
void gf_store_job_free(gf_store_job *job);

/* Calls fn for every job, in id order. */
gf_status gf_store_job_list(gf_store *s, gf_store_job_fn fn, void *ctx);

/* Moves job id to state `to` if the rules above allow it (GF_ERR_MISMATCH
 * otherwise, also for to == the current state); reason is required. */
gf_status gf_store_job_set_state(gf_store *s, int64_t id, gf_store_job_state to, const char *reason);

/* Moves job id from queued to cancelled, checked and done in one
 * transaction: GF_ERR_MISMATCH (naming its state) when it is no longer
 * queued, e.g. a scheduler started it meanwhile; it is then left as it is. */
gf_status gf_store_job_cancel_queued(gf_store *s, int64_t id, const char *reason);

/* Sets the reason of a queued or running job without a state change (why a
 * queued job waits: "held: quota ..."); not logged. GF_ERR_MISMATCH for a
 * job in a final state. */
gf_status gf_store_job_set_reason(gf_store *s, int64_t id, const char *reason);

/* Calls fn for every logged state change of job id, oldest first. */
gf_status gf_store_job_log(gf_store *s, int64_t id, gf_store_log_fn fn, void *ctx);

/* Opens round `round` of job `job` (see the rules above). */
gf_status gf_store_round_open(gf_store *s, int64_t job, int64_t round);

/* Records one site's result for an open round. samples, bytes_up and
 * bytes_down >= 0. A second result from the same site in the same round is
 * GF_ERR_MISMATCH and changes nothing. */
gf_status gf_store_round_add_result(gf_store *s, int64_t job, int64_t round, const char *site, int64_t samples,
                                    double loss, double accuracy, int64_t bytes_up, int64_t bytes_down);

/* Calls fn for every stored result of the round, in site order; round 0:
 * of every round of the job, in (round, site) order (one query). */
gf_status gf_store_round_results(gf_store *s, int64_t job, int64_t round, gf_store_result_fn fn, void *ctx);
/* The results of every round numbered above `after`, in (round, site) order. */
gf_status gf_store_results_after(gf_store *s, int64_t job, int64_t after, gf_store_result_fn fn, void *ctx);

/* Completes the open round `round` (== job.round + 1) and advances job.round
 * to it, in one transaction. sites must equal the number of stored results
 * (at least 1: abort a round that got none); duration_s >= 0. */
gf_status gf_store_round_complete(gf_store *s, int64_t job, int64_t round, int sites, double duration_s,
                                  double train_loss, double accuracy);

/* All of a round's end in one transaction (one sync): records the n results
 * (site, samples, loss, accuracy, bytes_up, bytes_down; the rest ignored),
 * completes the round as gf_store_round_complete with sites = n, and, when
 * open_next, opens round + 1. Nothing is kept if any part fails. */
gf_status gf_store_round_finish(gf_store *s, int64_t job, int64_t round, const gf_store_result *results, int n,
                                double duration_s, double train_loss, double accuracy, int open_next);

/* One closed round for gf_store_rounds_finish: as gf_store_round_finish's
 * arguments, and when it closed and when the round after it opened (wall
 * clock, seconds since 1970; NAN: the transaction's own time). */
typedef struct {
    int64_t                round;
    const gf_store_result *results;   /* (n) */
    int                    n;
    double                 duration_s, train_loss, accuracy;
    double                 closed_at, next_opened_at;
} gf_store_round_done;

/* Several consecutive rounds' ends in one transaction (one sync), oldest
 * first, as gf_store_round_finish each, with the stamps given: each round
 * after the first is opened (at the one before's next_opened_at), gets its
 * results and is completed; when open_next, the round after the last is
 * opened too. Nothing is kept if any part fails. */
gf_status gf_store_rounds_finish(gf_store *s, int64_t job, const gf_store_round_done *rounds, int count,
                                 int open_next);

/* Aborts the open round, dropping its results; reason is required. */
gf_status gf_store_round_abort(gf_store *s, int64_t job, int64_t round, const char *reason);

/* Reads one round into *out; GF_ERR_ARG if the job or round does not exist. */
gf_status gf_store_round_get(gf_store *s, int64_t job, int64_t round, gf_store_round *out);

/* Calls fn for every round of the job, in round order; _after: only the
 * rounds numbered above `after`. */
gf_status gf_store_rounds_after(gf_store *s, int64_t job, int64_t after, gf_store_round_fn fn, void *ctx);
gf_status gf_store_rounds(gf_store *s, int64_t job, gf_store_round_fn fn, void *ctx);

#endif
