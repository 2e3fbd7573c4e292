/* The usage ledger and the runtime record of executed jobs, in the store
 * (tables ledger and job_exec, schema version 2).
 *
 * The ledger is append-only (SQLite triggers refuse UPDATE and DELETE): one
 * row per job and "site" ("" for the job itself; a federated job also gets
 * one row per site with the bytes it sent and received). A row is written in
 * the same transaction that moves the job to its final state, and
 * UNIQUE(job_id, site) refuses a second one: after any crash a finished job
 * is in the ledger exactly once, and an unfinished one not at all.
 *
 * Units: core_s = allocated cores x wall seconds (what fair share and quotas
 * charge, as Slurm's CPUTimeRAW); cpu_s = measured CPU time (user + system);
 * gpu_s = allocated GPUs x wall seconds; peak_mem_kb = peak resident set. */
#ifndef GF_SERVICE_LEDGER_H
#define GF_SERVICE_LEDGER_H

#include <stdint.h>
#include "core/error.h"
#include "service/store.h"

#define GF_EXEC_HANDLE_MAX 127

/* How a running central job is executed (job_exec). */
typedef struct {
    int64_t job_id;
    char    executor[16];                      /* "local" | "slurm" */
    char    handle[GF_EXEC_HANDLE_MAX + 1];    /* local: "PID:STARTTICKS"; slurm: the job id */
    char    started_at[GF_STORE_TIME_LEN + 1];
    double  started_unix;
    int     cores, gpus;
    int     cancel_requested;
} gf_store_exec;

typedef struct {
    int64_t seq, job_id, tenant_id;
    char    tenant[GF_STORE_NAME_MAX + 1];     /* "" when the job has none */
    char    site[GF_STORE_NAME_MAX + 1];       /* "" for the job's own row */
    char    kind[GF_STORE_KIND_MAX + 1];       /* "central" | "federated" */
    char    executor[16];                      /* "local" | "slurm" | "federation" */
    double  core_s, cpu_s, gpu_s;
    int64_t peak_mem_kb;
    double  wall_s;
    int64_t bytes_up, bytes_down;
    char    started_at[GF_STORE_TIME_LEN + 1]; /* "" when unknown */
    char    ended_at[GF_STORE_TIME_LEN + 1];
    double  ended_unix;
} gf_store_usage;

/* The job_exec row of a queued job and, when running, queued -> running,
 * in one transaction. running 0: the job went to an executor's own queue
 * (Slurm) and stays queued, with `reason` as its reason, until it runs. */
gf_status gf_store_job_start(gf_store *s, int64_t id, const gf_store_exec *x, int running, const char *reason);
/* The job_exec row of job id (GF_ERR_ARG if none). */
gf_status gf_store_job_exec_get(gf_store *s, int64_t id, gf_store_exec *out);
/* Records that a cancel was asked for (survives a restart). */
gf_status gf_store_job_exec_cancel(gf_store *s, int64_t id);

/* Moves job id to the final state `to` and appends its ledger rows, in one
 * transaction. u: the job's own row (job_id, tenant and kind are taken from
 * the job; ended_at/ended_unix now when ended_unix is 0), or NULL for none
 * (a job that never ran). A federated job (u NULL or not) also gets one row
 * per site with the bytes of its stored round results, and its own row with
 * the wall time since it started running. */
gf_status gf_store_job_finish(gf_store *s, int64_t id, gf_store_job_state to, const char *reason,
                              const gf_store_usage *u);

typedef int (*gf_store_usage_fn)(const gf_store_usage *u, void *ctx);
/* Ledger rows in seq order; tenant_id 0: all tenants (-1: only rows without
 * a tenant); since: "" or NULL for all, else rows that ended at or after it
 * (an ISO date or time, compared as text: "2026-11-27" works). */
gf_status gf_store_ledger(gf_store *s, int64_t tenant_id, const char *since, gf_store_usage_fn fn, void *ctx);

#endif
