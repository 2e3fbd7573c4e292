/* The coordinator's scheduler of central jobs (scheduler.c), run on the
 * driver thread without the coordinator's lock:
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
/* Adopts the running central jobs of an earlier coordinator. */
void      co_sched_recover(gf_coordinator *c);
/* One pass: poll, finish, order, hold, start, publish. */
void      co_sched_tick(gf_coordinator *c);
/* Stops the local executor's jobs (they are this process's children) and
 * fails them with the reason; frees everything. */
void      co_sched_free(gf_coordinator *c);

/* From the API (any thread): cancel a running central job. GF_ERR_ARG if it
 * is not running. */
gf_status co_sched_cancel(gf_coordinator *c, int64_t job_id);

/* Snapshots of the last pass for the API (new references; any thread): the
 * queue in priority order (*queued: its length), the fair-share tree, and
 * the number of running central jobs. */
struct json_t;
struct json_t *co_sched_queue(gf_coordinator *c, int *queued);
struct json_t *co_sched_fairshare(gf_coordinator *c);
int            co_sched_running(gf_coordinator *c);

#endif
