/* The coordinator's scheduler of central jobs (scheduler.c), on a thread of
 * its own: a pass every quarter second, and at once when a central job is
 * submitted (co_sched_wake) or cancelled. The round driver never calls it
 * and it never takes the coordinator's lock: the two share only the store,
 * so an executor command that hangs (a Slurm tool up to its timeout) holds
 * up the queue, never a federated round. Each pass:
 *
 *   - follows every running central job through its executor and, when it
 *     ends, moves it to its final state and appends its ledger row in one
 *     store transaction;
 *   - orders the queued ones as Slurm's multifactor plugin does (age +
 *     fair share, Fair Tree over the tenants, usage in core-seconds decayed
 *     with a half-life), holds the ones that would pass their tenant's quota
 *     (with the reason), and starts what fits in the local executor's core
 *     and GPU slots in priority order, or hands every job to Slurm;
 *   - publishes the queue and the fair-share tree for the API (/v1/queue,
 *     /v1/fairshare) and for /metrics.
 *
 * The API threads see the scheduler through the calls below only: they
 * read the snapshots of the last pass and hand cancels over, under the
 * scheduler's own lock, which is never held across an executor command or
 * a store call. The store stays the truth: every change of a job is written
 * there before it is published.
 *
 * Restart: central jobs the store says are running are adopted: followed on
 * (Slurm) or stopped and failed with the reason (local). */
#ifndef GF_SERVICE_SCHEDULER_H
#define GF_SERVICE_SCHEDULER_H

#include <stdint.h>
#include "core/error.h"

typedef struct gf_coordinator gf_coordinator;
typedef struct co_sched co_sched;

/* Multifactor weights (Slurm's PriorityWeightFairshare / PriorityWeightAge
 * / PriorityMaxAge defaults scaled as in its documentation's examples). */
#define CO_SCHED_W_FAIRSHARE 10000.0
#define CO_SCHED_W_AGE       1000.0
#define CO_SCHED_MAX_AGE_S   (7 * 86400.0)

gf_status co_sched_create(gf_coordinator *c, co_sched **out);
/* Adopts the running central jobs of an earlier coordinator (before
 * co_sched_start). */
void      co_sched_recover(gf_coordinator *c);
/* Starts the scheduler's thread. */
gf_status co_sched_start(gf_coordinator *c);
/* Asks the thread to stop and joins it: it ends its pass first, so this
 * waits for an executor command in flight (a Slurm tool: at most its
 * timeout). A no-op when it does not run. */
void      co_sched_stop(gf_coordinator *c);
/* co_sched_stop, then stops the local executor's jobs (they are this
 * process's children) and fails them with the reason; frees everything. */
void      co_sched_free(gf_coordinator *c);

/* Any thread: look at the queue now (a central job was submitted). */
void      co_sched_wake(gf_coordinator *c);
/* From the API (any thread): cancel a running central job (the scheduler's
 * thread sends it to the executor at once). GF_ERR_ARG if it is not running. */
gf_status co_sched_cancel(gf_coordinator *c, int64_t job_id);

/* Snapshots of the last pass for the API (new references; any thread): the
 * queue in priority order (*queued: its length), the fair-share tree, and
 * the number of running central jobs. */
struct json_t;
struct json_t *co_sched_queue(gf_coordinator *c, int *queued);
struct json_t *co_sched_fairshare(gf_coordinator *c);
int            co_sched_running(gf_coordinator *c);

#endif
