/* Executors: how the coordinator runs a central job (the engine's `gf train`
 * as a process tree) and reads its outcome and usage back. One small table
 * of functions per backend:
 *
 *   local  (executor_local.c): child processes on this machine (facility/proc),
 *          within the coordinator's core and GPU slots; the scheduler decides
 *          what starts when (fair share, quotas).
 *   slurm  (executor_slurm.c): every job goes to a real slurmctld at once, to
 *          the tenant's Slurm account; Slurm queues, prioritises and runs it,
 *          and its accounting (sacct) is the usage.
 *
 * Every function runs on the scheduler's thread only (scheduler.h), or
 * during the coordinator's start and stop when that thread does not run. */
#ifndef GF_SERVICE_EXECUTOR_H
#define GF_SERVICE_EXECUTOR_H

#include <stdint.h>
#include "core/error.h"
#include "facility/gpus.h"
#include "facility/sandbox.h"
#include "jobspec/jobspec.h"
#include "service/ledger.h"
#include "service/store.h"

typedef struct {
    int64_t          job_id;
    const gf_jobspec *spec;          /* a central job */
    const char       *tenant;        /* the job's tenant ("" none) */
    int64_t           tenant_shares; /* its fair-share shares (Slurm: the account's) */
    const char       *job_dir;       /* DATA/jobs/ID, created; logs, metrics and the model go here */
    const char       *gf_path;       /* the gf binary the job runs */
    const char       *dataset;       /* the reader spec of spec->dataset, resolved by the registry (datasets.h) */
    int64_t           tenant_id;     /* a program job's sandbox user (facility/sandbox.h) */
    const gf_sandbox_data *data;     /* a program job's datasets, resolved (ndata) */
    int               ndata;
    /* set by the local executor for gf_program_spawn: the GPUs it granted */
    const char *const *gpu_devices;  /* (ngpus) host device files (facility/gpus.h) */
    const int        *gpu_index;     /* (ngpus) their indices in the coordinator's list */
    int               ngpus;
    char             *granted;       /* out (may be NULL): the GPUs granted, in words ("" none) */
    size_t            granted_cap;
} gf_exec_request;

/* What a running job is doing now. */
typedef struct {
    int                ended;
    gf_store_job_state state;        /* when ended: succeeded | failed | cancelled | timed-out */
    char               reason[GF_STORE_REASON_MAX + 1];   /* when ended: why; else what it waits for, or "" */
    gf_store_usage     usage;        /* when ended: its ledger row (core_s, cpu_s, gpu_s, peak, wall, times) */
} gf_exec_status;

typedef struct gf_executor gf_executor;
struct gf_executor {
    const char *name;                /* "local" | "slurm" */
    int         queues_itself;       /* 1: submit every job at once (Slurm schedules); 0: the coordinator's
                                        scheduler starts jobs within cores/gpus */
    int         cores, gpus;         /* local: the slots; slurm: 0 (Slurm knows) */
    int64_t     memory_mb;           /* local: the memory for jobs (MiB); slurm: 0 */
    int64_t     max_job_folder_mb;   /* local: a program job's folder quota (MiB; 0 none), executor_local.c */
    /* Starts (or submits) the job; handle gets what poll/cancel need later. */
    gf_status (*start)(gf_executor *x, const gf_exec_request *r, char handle[GF_EXEC_HANDLE_MAX + 1]);
    /* Non-blocking: the job's status now. */
    gf_status (*poll)(gf_executor *x, const gf_store_exec *run, const gf_jobspec *spec, gf_exec_status *out);
    /* Asks the job to stop (its processes get SIGTERM, then SIGKILL); poll reports the end. */
    gf_status (*cancel)(gf_executor *x, const gf_store_exec *run);
    /* After a coordinator restart: a job an earlier coordinator started.
     * *attached = 1 when poll can follow it from here (Slurm); else the job
     * has been stopped and out says how it ended (local: its processes were
     * the dead coordinator's children; their exit status cannot be read). */
    gf_status (*adopt)(gf_executor *x, const gf_store_exec *run, const gf_jobspec *spec, const char *job_dir,
                       int *attached, gf_exec_status *out);
    void      (*free)(gf_executor *x);
};

/* The local executor with `cores` core slots and the GPUs of `gpus` (its
 * slots: gpus->n; NULL: none). A job gets the lowest free GPU indices
 * (facility/gpus.h), held until its end is seen (poll); a program job's
 * sandbox binds their device files only. */
gf_status gf_executor_local(int cores, const gf_gpu_list *gpus, gf_executor **out);
/* The Slurm executor: SLURM_CONF at conf (NULL: Slurm's default). */
gf_status gf_executor_slurm(const char *conf, const char *gpu_devices, gf_executor **out);

/* The `gf train` command line of a central job with `threads` threads per
 * process (NULL-terminated; strings point into buf): argv[0] = gf_path, or,
 * with resources.processes > 1, Debian's OpenMPI mpirun starting that many
 * ranks of it (executor_local.c says with which options). 0, or -1 if buf
 * or max is too small. */
int gf_exec_train_argv(const gf_exec_request *r, int threads, char *buf, size_t cap, const char **argv, int max);
/* The environment entry a `gf train` of `processes` ranks needs beside that
 * command line: in a sanitized build with processes > 1, ASAN_OPTIONS with
 * detect_leaks=0 (OpenMPI keeps allocations until exit, in components it
 * has unloaded by then: a sanitized gf train checks leaks as one process
 * only), written to buf; else NULL. */
const char *gf_exec_train_env(int processes, char *buf, size_t cap);

#endif
