/* Program jobs: a tenant's own program run by the facility in its sandbox
 * (sandbox.h), what is done around the sandbox: the job's folder, the
 * start, how it ended, and reading what the program wrote.
 *
 * A job's folder DATA/jobs/ID holds the facility's files (stdout.log,
 * stderr.log); its sub-folder work/ is the program's /job: the bundle's
 * files (bundle.h), output/ ($GF_OUTPUT) and metrics.jsonl ($GF_METRICS),
 * handed to the job's Unix user. Everything under work/ is the program's:
 * it is read only through gf_program_open_output (no link followed,
 * regular files only). The coordinator's side (the datasets resolved by its
 * registry, the ledger's usage) is service/program.h. */
#ifndef GF_FACILITY_PROGRAM_H
#define GF_FACILITY_PROGRAM_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "facility/proc.h"
#include "facility/sandbox.h"

#define GF_PROGRAM_WORK "work"      /* DATA/jobs/ID/work: the program's /job */

/* One program job to run: its spec's command and resources
 * (jobspec/jobspec_program.h) and what the executor resolved for it. */
typedef struct {
    int64_t            job_id;
    int64_t            tenant_id;    /* its sandbox user (sandbox.h) */
    const char        *job_dir;      /* DATA/jobs/ID, created */
    const char        *gf_path;      /* the gf binary (Slurm: gf program-batch) */
    const char *const *argv;         /* NULL-terminated */
    const char *const *env;          /* (nenv) "NAME=VALUE" */
    int                nenv;
    int                cores, gpus, processes;
    int64_t            memory_mb, time_limit_s;
    const gf_sandbox_data *data;     /* its datasets, resolved (ndata) */
    int                ndata;
    const char *const *gpu_devices;  /* local: the GPUs granted (ngpus) host device files */
    const int         *gpu_index;    /* (ngpus) their indices in the executor's list */
    int                ngpus;
} gf_program_run;

/* Whether a queued program job's work folder is in place (the submission
 * creates it, with the bundle's files, once the job exists): the scheduler
 * starts no program job before. */
int gf_program_ready(const char *job_dir);

/* Creates job_dir/work and work/output (kept when they exist: a bundle
 * unpacked there), with `ranks`, work/ranks too (where the local sandbox's
 * ranks leave their exit statuses), and hands them to the tenant's sandbox
 * user; work[PATH_MAX] and output[PATH_MAX + 16] get their paths. Both
 * executors' first step. */
gf_status gf_program_work_prepare(const gf_program_run *r, int ranks, char *work, char *output);

/* gf_program_work_prepare, then starts the program in its sandbox. */
gf_status gf_program_spawn(const gf_program_run *r, int cpu_offset, gf_proc **proc, gf_sandbox **sb);

/* How an ended program job ended (not cancelled, not timed out): *succeeded
 * (1, else it failed) and the reason into reason[cap], from its
 * out-of-memory kills, exit status and stderr. */
void gf_program_outcome(const gf_sandbox *sb, const gf_proc_usage *pu, const char *job_dir, int64_t job_id,
                        int64_t memory_mb, int processes, int *succeeded, char *reason, size_t cap);

/* Opens job_dir/work/rel (rel: "output/NAME..." or "metrics.jsonl") for
 * reading without following any link, refusing "..", absolute paths and
 * anything but a regular file. An fd, or -1 with errno (ENOENT, EINVAL for
 * a refused name, ELOOP for a link, EISDIR/EPERM for a non-regular file). */
int gf_program_open_output(const char *job_dir, const char *rel);

#endif
